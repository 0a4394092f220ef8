"""Checks of helpers.pretraining.topics: the title -> topic mapping covers the sample exactly,
the split is by article (no article in two splits), every topic is in every split, the labels
are the mapping's, and everything is reproducible. The baseline is scikit-learn's; checked
here on a task whose answer is known."""

import pytest

from helpers.data import load_corpus, load_polarity
from helpers.pretraining import TOPICS, load_polarity_splits, load_topics, tfidf_baseline
from helpers.pretraining.topics import EXCLUDED, TOPIC_OF


@pytest.fixture(scope="module")
def task():
    return load_topics()


def test_mapping_covers_every_article_once():
    titles = [t for t, _ in load_corpus("wikipedia", with_titles=True)]
    assert set(TOPIC_OF) | set(EXCLUDED) == set(titles)
    assert not set(TOPIC_OF) & set(EXCLUDED)
    assert set(TOPIC_OF.values()) == set(TOPICS)
    assert min(list(TOPIC_OF.values()).count(t) for t in TOPICS) >= 5, "every topic needs articles for three splits"


def test_split_by_article_and_stratified(task):
    parts = [set(task.articles[s]) for s in ("train", "validation", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert parts[0] | parts[1] | parts[2] == set(TOPIC_OF)
    for split in ("train", "validation", "test"):
        rows = getattr(task, split)
        assert {s.source for s in rows} <= set(task.articles[split])
        assert {s.label for s in rows} == set(range(len(TOPICS))), f"every topic in {split}"
        assert all(TOPICS[s.label] == TOPIC_OF[s.source] for s in rows)
        assert all(len(s.text.split()) >= 6 for s in rows)
    train_texts = set(task.texts("train"))
    assert not train_texts & set(task.texts("test")), "no test sentence is a training sentence"
    assert max(sum(1 for s in task.train if s.source == t) for t in task.articles["train"]) <= 40


def test_reproducible_and_seeded(task):
    again = load_topics()
    assert again.train == task.train and again.test == task.test
    other = load_topics(seed=1)
    assert other.articles["test"] != task.articles["test"]
    everything = load_topics(max_per_article=None)
    assert len(everything.train) > len(task.train)
    with pytest.raises(ValueError, match="fractions"):
        load_topics(fractions=(0.5, 0.5, 0.0))


def test_subset_is_balanced_and_seeded(task):
    small = task.subset(60, seed=3)
    counts = [sum(1 for s in small if s.label == k) for k in range(len(TOPICS))]
    assert counts == [10] * 6
    assert small == task.subset(60, seed=3) and small != task.subset(60, seed=4)
    assert set(small) <= set(task.train)
    assert len(task.subset(len(task.train))) == len(task.train)
    with pytest.raises(ValueError, match="between 1 and"):
        task.subset(0)
    assert "train" in task.summary()


def test_polarity_splits_partition_the_sentences():
    task = load_polarity_splits(seed=0)
    assert len(task.train) + len(task.validation) + len(task.test) == len(load_polarity()) == 200
    assert {s.text for s in task.train}.isdisjoint({s.text for s in task.test})
    assert task.labels == ("negative", "positive")


def test_tfidf_baseline_learns_a_known_rule():
    texts = [f"the {w} was {a}" for w in ("film", "plot", "cast", "score") for a in ("wonderful", "superb", "awful", "dreadful")] * 3
    labels = [int(t.endswith(("wonderful", "superb"))) for t in texts]
    model = tfidf_baseline(texts, labels)
    assert model.score(["the acting was superb", "the ending was dreadful"], [1, 0]) == 1.0
    with pytest.raises(ValueError, match="two different labels"):
        tfidf_baseline(["a", "b"], [1, 1])
    with pytest.raises(ValueError, match="one label per text"):
        tfidf_baseline("one text", [1])
