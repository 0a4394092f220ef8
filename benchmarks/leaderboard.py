"""The course leaderboard, full run: train every language model of the course from scratch on
the canonical training text, score the canonical test text, and record the results.

    python benchmarks/leaderboard.py        # the same as: nextword leaderboard --retrain --write

Writes ``helpers/course/leaderboard/leaderboard.csv``, ``benchmarks/leaderboard.png`` and the
table in ``benchmarks/README.md`` (with the machine, its load and the time the run took).
"""

import sys

from helpers.course.cli import main

if __name__ == "__main__":
    sys.exit(main(["leaderboard", "--retrain", "--write", *sys.argv[1:]]))
