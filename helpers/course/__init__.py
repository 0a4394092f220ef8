"""The course's own tooling: the ``nextword`` command (:mod:`~helpers.course.cli`), the notebook
runner (:mod:`~helpers.course.notebooks`), the environment doctor (:mod:`~helpers.course.doctor`),
and what every lecture uses: seeding, device choice, a training loop and its learning-rate schedule,
evaluation mode as a ``with`` block (:mod:`~helpers.course.training`), timing (:mod:`~helpers.course.lesson`).
"""

import importlib

__all__ = ["History", "best_time", "evaluating", "get_device", "seed_everything", "train_loop", "warmup_cosine"]

# Loaded on first use (PEP 562): the ``nextword`` command imports this package, and its
# commands that need no torch (--version, release, a clear error) should not wait for it.
_HOME = {"best_time": "helpers.course.lesson", **dict.fromkeys(
    ["History", "evaluating", "get_device", "seed_everything", "train_loop", "warmup_cosine"], "helpers.course.training")}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'helpers.course' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
