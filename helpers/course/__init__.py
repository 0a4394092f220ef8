"""The course's own tooling: the ``nextword`` command (:mod:`~helpers.course.cli`), the notebook
runner (:mod:`~helpers.course.notebooks`), the environment doctor (:mod:`~helpers.course.doctor`),
and what every lecture uses: seeding, device choice, a training loop and its learning-rate schedule
(:mod:`~helpers.course.training`), timing (:mod:`~helpers.course.lesson`).
"""

from helpers.course.lesson import best_time
from helpers.course.training import History, get_device, seed_everything, train_loop, warmup_cosine

__all__ = ["History", "best_time", "get_device", "seed_everything", "train_loop", "warmup_cosine"]
