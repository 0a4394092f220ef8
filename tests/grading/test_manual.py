"""Manually graded answers (nbgrader markdown cells with solution and grade) are listed, not scored."""

import nbformat

from helpers.grading.batch import summarise
from helpers.grading.runner import MANUAL, manual_parts


def test_manual_answers_are_listed_with_their_points_and_summarised():
    nb = nbformat.v4.new_notebook()
    grade = {"grade": True, "solution": True, "grade_id": "card", "points": 4, "locked": False, "schema_version": 3}
    nb.cells = [
        nbformat.v4.new_markdown_cell("intro", metadata={"nbgrader": {"grade": False, "solution": False, "grade_id": "intro"}}),
        nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": grade}),
        nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {**grade, "grade_id": "code_answer", "grade": False}}),
    ]
    parts = manual_parts(nb)
    assert parts == [{"part": "card", "points": 0.0, "max_points": 4.0, "bonus": False, "status": MANUAL,
                      "message": "graded by hand by a TA; not part of the autograded score"}]  # fmt: skip
    record = {"student_id": "s", "score": 3.0, "max_score": 3.0, "status": "graded",
              "parts": [{"part": "test_x", "points": 3.0, "max_points": 3.0, "status": "passed", "message": ""}, *parts]}  # fmt: skip
    text = summarise([record], 1.0, "bubblewrap")
    assert f"card{' ' * 28} {MANUAL} (4 points, not in the score above)" in text and "out of 3" in text
