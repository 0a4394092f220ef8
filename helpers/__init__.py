"""nextword: tested kernels for a course on next-word prediction, from n-grams to transformers.

One subpackage per week, named by its topic, whose ``__init__`` exports the week's API
(``from helpers.ngrams import NGramLM``): ``ngrams`` (week 1), ``embeddings`` (2), ``rnn`` (3),
``seq2seq`` (4), ``transformer`` (5), ``tokenization`` (8), and the weeks after them. Beside
the topics: ``helpers.data`` (offline corpora, evaluation sets, vocabularies and generated tasks),
``helpers.course`` (the ``nextword`` command, the notebook runner, the doctor, seeding and
training loops) and ``helpers.grading`` (the autograder and the checks of every test cell).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nextword")
except PackageNotFoundError:  # a checkout on sys.path, not installed
    __version__ = "0.0.0+checkout"
