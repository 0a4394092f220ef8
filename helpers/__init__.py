"""nextword: tested kernels for a course on next-word prediction, from n-grams to transformers.

One module per concept (see the README's syllabus table); ``helpers.data`` for the offline
corpora, ``helpers.training`` for seeding and training loops, ``helpers.grading`` for the
autograder and the checks used by the assignments.
"""

__version__ = "0.1.0"
