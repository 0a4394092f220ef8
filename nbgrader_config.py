"""nbgrader configuration for the course.

Source notebooks (with solutions and hidden tests) live in ``solutions/weekNN/``; the student
versions that ``nextword release`` generates from them live in ``assignments/weekNN/``.
Grading goes through ``nextword grade`` (see README, "Instructor guide"), which reads these
same settings; plain ``nbgrader`` commands also work from the repository root.
"""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
# Everything nbgrader itself writes (its database, collected submissions) stays out of git.
c.CourseDirectory.submitted_directory = os.path.join("build", "nbgrader", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("build", "nbgrader", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("build", "nbgrader", "feedback")
os.makedirs(os.path.join(here, "build", "nbgrader"), exist_ok=True)
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "build", "nbgrader", "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info", ".DS_Store"]

# The stub students see in place of a solution region.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that runs longer than this is stopped (nextword grade --timeout overrides it).
c.ExecutePreprocessor.timeout = 120
