"""Grading for the course's assignments.

For students and test cells (light, no nbgrader needed): the checks in
:mod:`helpers.grading.checks` and :func:`check`, which runs an assignment's visible tests in
the current notebook. The instructor side (``nextword grade``) lives in the other modules of
this package and is imported only by the command line.
"""

from helpers.grading.checks import (
    GradingFailure,
    as_array,
    as_float,
    as_int,
    as_str,
    check_callable,
    check_close,
    check_equal,
    check_raises,
    check_shape,
    check_true,
    check_type,
    is_instance,
    plain,
    type_name,
)
from helpers.grading.origins import check_own_work, fresh_import, run_in_notebook, seed_notebook

__all__ = [
    "GradingFailure",
    "as_array",
    "as_float",
    "as_int",
    "as_str",
    "check",
    "check_callable",
    "check_close",
    "check_equal",
    "check_own_work",
    "check_raises",
    "check_shape",
    "check_true",
    "check_type",
    "fresh_import",
    "is_instance",
    "plain",
    "run_in_notebook",
    "seed_notebook",
    "type_name",
]


def check(assignment: str, namespace: dict | None = None, verbose: bool = True):
    """Run the visible tests of ``assignment`` (e.g. ``"week01"``) against your notebook's
    variables and say which parts pass. Works in any Jupyter, Colab included."""
    from helpers.grading.selfcheck import run_visible_tests

    return run_visible_tests(assignment, namespace=namespace, verbose=verbose)
