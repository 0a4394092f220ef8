"""Reference checks for helpers.embeddings and helpers.embeddings.search.

Oracles: gensim's KeyedVectors on the same vectors (most_similar, most_similar_cosmul,
evaluate_word_analogies, evaluate_word_pairs, the word2vec text format, get_mean_vector),
scipy's spearmanr, scikit-learn's TruncatedSVD and cosine_similarity.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from helpers.data import load_analogies, load_sentences, load_word_similarity
from helpers.embeddings import (
    DocumentIndex,
    Embeddings,
    Word2Vec,
    average_vector,
    evaluate_analogies,
    evaluate_similarity,
    first_component,
    sif_weights,
    spearman,
)

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")  # gensim's own


def to_gensim(emb) -> KeyedVectors:
    kv = KeyedVectors(vector_size=emb.vectors.shape[1])
    kv.add_vectors(emb.words, np.asarray(emb.vectors, dtype=np.float32))
    return kv


def write_questions(path, questions):
    with open(path, "w", encoding="utf-8") as f:
        for section, items in questions.items():
            f.write(f": {section}\n")
            f.writelines(" ".join(q) + "\n" for q in items)
    return str(path)


def write_pairs(path, pairs):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{a}\t{b}\t{s}\n" for a, b, s in pairs)
    return str(path)


@pytest.fixture(scope="module")
def wiki_model():
    """Real vectors: a short training run on a third of the Wikipedia sample."""
    sentences = load_sentences("wikipedia")[::3]
    return Word2Vec(dim=32, epochs=2, min_count=3, seed=0).fit(sentences, progress=False)


@pytest.fixture
def random_embeddings():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)]
    return Embeddings(words, rng.normal(size=(200, 16)).astype(np.float32))


def test_most_similar_matches_gensim(random_embeddings):
    kv = to_gensim(random_embeddings)
    for word in ["w0", "w17", "w199"]:
        ours, ref = random_embeddings.most_similar(word, k=10), kv.most_similar(word, topn=10)
        assert [w for w, _ in ours] == [w for w, _ in ref]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in ref], atol=1e-6)
    vector = random_embeddings.vector("w3") + random_embeddings.vector("w4")
    assert [w for w, _ in random_embeddings.most_similar(vector, k=5)] == [w for w, _ in kv.most_similar(vector, topn=5)]
    assert random_embeddings.similarity("w1", "w2") == pytest.approx(float(kv.similarity("w1", "w2")), abs=1e-6)


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_matches_gensim(random_embeddings, method):
    kv = to_gensim(random_embeddings)
    for a, b, c in [("w0", "w1", "w2"), ("w10", "w50", "w77"), ("w5", "w6", "w5")]:
        if method == "3cosadd":
            ref = kv.most_similar(positive=[b, c], negative=[a], topn=5)
            ours = random_embeddings.analogy(a, b, c, k=5)
        else:  # gensim's epsilon is 1e-6; Levy & Goldberg's (our default) 1e-3
            ref = kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=5)
            ours = random_embeddings.analogy(a, b, c, k=5, method="3cosmul", epsilon=1e-6)
        assert [w for w, _ in ours] == [w for w, _ in ref]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in ref], rtol=1e-5)
        assert not {a, b, c} & {w for w, _ in ours}


def test_evaluate_analogies_matches_gensim(wiki_model, tmp_path):
    questions = load_analogies()
    ours = evaluate_analogies(wiki_model, questions)
    score, sections = to_gensim(wiki_model).evaluate_word_analogies(write_questions(tmp_path / "q.txt", questions))
    assert ours.answered > 500  # enough answered questions for the comparison to mean something
    assert ours.accuracy == pytest.approx(score, abs=1e-12)
    for section in sections[:-1]:
        correct, answered, asked = ours.sections[section["section"]]
        assert (correct, answered) == (len(section["correct"]), len(section["correct"]) + len(section["incorrect"]))
        assert asked == len(questions[section["section"]])
    assert ours.asked == sum(map(len, questions.values()))
    assert ours.coverage == pytest.approx(ours.answered / ours.asked)
    wrong = {tuple(w.upper() for w in a[1:5]) for a in ours.answers if a[4].upper() != a[5].upper()}
    assert wrong == set(sections[-1]["incorrect"])
    # the predicted words themselves, for a sample of the questions
    kv = to_gensim(wiki_model)
    for _, a, b, c, _, predicted in ours.answers[::10]:
        best = kv.most_similar(positive=[b.lower(), c.lower()], negative=[a.lower()], topn=1)[0][0]
        assert predicted == best


def test_evaluate_analogies_on_planted_offsets(tmp_path):
    """Vectors built so that about half the analogies hold: the counts must still agree."""
    rng = np.random.default_rng(5)
    words, vectors, questions = [], [], {}
    for section in ("capitals", "plurals"):
        offset = rng.normal(size=24)
        pairs = []
        for i in range(15):
            x = rng.normal(size=24)
            words += [f"{section}{i}a", f"{section}{i}b"]
            vectors += [x, x + offset + rng.normal(scale=1.4, size=24)]
            pairs.append((f"{section}{i}a", f"{section}{i}b"))
        questions[section] = [(a, b, c, d) for a, b in pairs for c, d in pairs if a != c]
    words += [f"noise{i}" for i in range(50)]
    vectors += list(rng.normal(size=(50, 24)))
    emb = Embeddings(words, np.array(vectors))
    ours = evaluate_analogies(emb, questions)
    score, sections = to_gensim(emb).evaluate_word_analogies(write_questions(tmp_path / "q.txt", questions))
    assert 0.2 < ours.accuracy < 0.8
    assert ours.accuracy == pytest.approx(score, abs=1e-12)
    for section in sections[:-1]:
        correct, answered, _ = ours.sections[section["section"]]
        assert (correct, answered) == (len(section["correct"]), len(section["correct"]) + len(section["incorrect"]))


def test_evaluate_analogies_case_variants_and_restrict_vocab(tmp_path):
    """A vocabulary with several spellings of one word: the most frequent (first) one is used,
    and no spelling of a question word may be the answer (as in gensim)."""
    rng = np.random.default_rng(1)
    base = ["paris", "france", "rome", "italy", "berlin", "germany", "madrid", "spain", "tokyo", "japan"]
    words = base + ["Paris", "ROME", "Italy", "SPAIN", "Japan"] + [f"x{i}" for i in range(40)]
    vectors = rng.normal(size=(len(words), 8))
    vectors[words.index("Italy")] = vectors[words.index("rome")] + 0.01  # a tempting wrong spelling
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    # another spelling of an input word right on the 3CosAdd target of paris : france :: rome : ?
    target = unit[words.index("france")] - unit[words.index("paris")] + unit[words.index("rome")]
    vectors[words.index("ROME")] = target
    vectors[words.index("italy")] = target + rng.normal(scale=0.05, size=8)  # the right answer, second
    emb = Embeddings(words, vectors)
    capitals = [("paris", "france"), ("rome", "italy"), ("berlin", "germany"), ("madrid", "spain"), ("tokyo", "japan")]
    questions = {
        "capitals": [(a.capitalize(), b.capitalize(), c.capitalize(), d.capitalize()) for a, b in capitals for c, d in capitals if a != c],
        "reversed": [(b, a, d, c) for a, b in capitals for c, d in capitals if a != c],
        "unknown": [("paris", "france", "oslo", "norway")],
    }
    path = write_questions(tmp_path / "q.txt", questions)
    ours = evaluate_analogies(emb, questions)
    assert ("capitals", "Paris", "France", "Rome", "Italy", "italy") in ours.answers  # not "ROME"
    for restrict in (None, 8):
        for case_insensitive in (True, False):
            ours = evaluate_analogies(emb, questions, case_insensitive=case_insensitive, restrict_vocab=restrict)
            _, sections = to_gensim(emb).evaluate_word_analogies(
                path, restrict_vocab=restrict or 300000, case_insensitive=case_insensitive
            )
            for section in sections[:-1]:
                correct, answered, _ = ours.sections[section["section"]]
                assert (correct, answered) == (len(section["correct"]), len(section["correct"]) + len(section["incorrect"]))


def test_evaluate_analogies_3cosmul_and_plain_lists(wiki_model):
    questions = load_analogies()["capital-common-countries"]
    add = evaluate_analogies(wiki_model, questions)
    mul = evaluate_analogies(wiki_model, questions, method="3cosmul")
    assert add.sections.keys() == {"all"} and add.answered == mul.answered > 0
    kv = to_gensim(wiki_model)
    known = [q for q in questions if all(w.lower() in kv.key_to_index for w in q)]
    expected = sum(
        kv.most_similar_cosmul(positive=[b.lower(), c.lower()], negative=[a.lower()], topn=1)[0][0] == d.lower()
        for a, b, c, d in known
    )
    assert evaluate_analogies(wiki_model, questions, method="3cosmul", epsilon=1e-6).correct == expected
    with pytest.raises(ValueError, match="method"):
        evaluate_analogies(wiki_model, questions, method="cosine")


def test_evaluate_similarity_matches_gensim(wiki_model, tmp_path):
    for name in ("wordsim353", "simlex999"):
        pairs = load_word_similarity(name)
        ours = evaluate_similarity(wiki_model, pairs)
        _, (rho, _), oov_percent = to_gensim(wiki_model).evaluate_word_pairs(write_pairs(tmp_path / f"{name}.tsv", pairs))
        assert ours.rho == pytest.approx(rho, abs=1e-6)
        assert ours.coverage == pytest.approx(1 - oov_percent / 100)
        assert ours.total == len(pairs)


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=50), rng.normal(size=50)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    xt, yt = rng.integers(0, 5, size=40), rng.integers(0, 4, size=40)  # many ties
    assert spearman(xt, yt) == pytest.approx(spearmanr(xt, yt).statistic, abs=1e-12)
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2], [1, 2, 3])


def test_word2vec_format_round_trip_with_gensim(random_embeddings, tmp_path):
    path = tmp_path / "vectors.txt"
    random_embeddings.save_word2vec_format(path)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=False)
    assert kv.index_to_key == random_embeddings.words
    np.testing.assert_array_equal(kv.vectors, random_embeddings.vectors)
    to_gensim(random_embeddings).save_word2vec_format(str(tmp_path / "gensim.txt"))
    back = Embeddings.load_word2vec_format(tmp_path / "gensim.txt")
    assert back.words == random_embeddings.words
    np.testing.assert_allclose(back.vectors, random_embeddings.vectors, rtol=1e-6)


def test_embedding_errors(random_embeddings):
    with pytest.raises(KeyError, match="'zebra'"):
        random_embeddings.vector("zebra")
    with pytest.raises(KeyError, match="'zebra'"):
        random_embeddings.analogy("w1", "zebra", "w2")
    with pytest.raises(ValueError, match="k=0"):
        random_embeddings.most_similar("w1", k=0)
    with pytest.raises(ValueError, match="shape"):
        random_embeddings.most_similar(np.zeros(3))
    with pytest.raises(ValueError, match="one vector per word"):
        Embeddings(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="repeated"):
        Embeddings(["a", "a"], np.zeros((2, 2)))


# ---------------------------------------------------------------- documents


def test_average_vector_matches_gensim(random_embeddings):
    kv = to_gensim(random_embeddings)
    tokens = ["w1", "w2", "unknown", "w2", "w9"]
    expected = kv.get_mean_vector(tokens, pre_normalize=False, post_normalize=False, ignore_missing=True)
    np.testing.assert_allclose(average_vector(random_embeddings, tokens), expected, rtol=1e-6)
    assert not average_vector(random_embeddings, ["nothing", "known"]).any()


def test_sif_removes_the_common_component(random_embeddings):
    from sklearn.decomposition import TruncatedSVD

    rng = np.random.default_rng(3)
    docs = [[f"w{i}" for i in rng.integers(0, 200, size=12)] for _ in range(30)]
    counts = {f"w{i}": int(c) for i, c in enumerate(rng.integers(1, 1000, size=200))}
    index = DocumentIndex(random_embeddings, docs, weighting="sif", counts=counts, a=1e-2)
    weights = sif_weights(counts, a=1e-2)
    total = sum(counts.values())
    assert weights["w0"] == pytest.approx(1e-2 / (1e-2 + counts["w0"] / total))
    raw = np.stack([average_vector(random_embeddings, d, weights) for d in docs])
    svd = TruncatedSVD(n_components=1, n_iter=20, random_state=0).fit(raw)
    u = svd.components_[0]
    np.testing.assert_allclose(abs(first_component(raw) @ u), 1.0, atol=1e-8)
    np.testing.assert_allclose(index.vectors, raw - np.outer(raw @ u, u), atol=1e-8)
    np.testing.assert_allclose(index.vectors @ u, 0.0, atol=1e-8)
    np.testing.assert_allclose(index.embed(docs[4]), index.vectors[4], atol=1e-10)


def test_search_ranks_by_cosine(random_embeddings):
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(4)
    docs = [" ".join(f"w{i}" for i in rng.integers(0, 200, size=8)) for _ in range(25)]
    index = DocumentIndex(random_embeddings, docs)
    query = "w3 w4 w5"
    expected = cosine_similarity(index.embed(query)[None], index.vectors)[0]
    hits = index.search(query, k=25)
    assert [i for i, _ in hits] == list(np.argsort(-expected, kind="stable"))
    np.testing.assert_allclose([s for _, s in hits], np.sort(expected)[::-1], atol=1e-12)
    assert index.search(docs[7], k=1)[0][0] == 7  # a document finds itself
    with pytest.raises(ValueError, match="weighting"):
        DocumentIndex(random_embeddings, docs, weighting="tfidf")
    with pytest.raises(ValueError, match="counts"):
        DocumentIndex(random_embeddings, docs, weighting="sif")
