"""``python -m helpers``: the same command line as ``nextword`` (for an environment whose
scripts folder is not on PATH, e.g. an unactivated virtual environment)."""

import sys

from helpers.course.cli import main

sys.exit(main())
