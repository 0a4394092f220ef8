"""helpers.embeddings.nplm against Bengio et al.'s equation written out by hand, the adaptive
softmax against its two-level formula, and the vocabulary treatment against week 1's n-gram
models (same predicted tokens, same perplexity for the same probabilities).

Tolerances: float64 throughout, rtol=1e-10 / atol=1e-12 (the same arithmetic up to summation order).
"""

import math
from collections import Counter

import pytest
import torch
from torch.nn import functional as F

from helpers.embeddings import (
    NeuralLM,
    NeuralLMConfig,
    by_frequency,
    context_windows,
    nplm_scores,
    perplexity,
    train_nplm,
)
from helpers.ngrams import NGramLM, count_ngrams

torch.set_num_threads(1)

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    config = NeuralLMConfig(**{"vocab_size": 30, "context": 3, "embed_dim": 5, "hidden": 7, **kw})
    model = NeuralLM(config).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.7)  # no zero direct connections, and tanh far from linear
    return model


def _contexts(model, B=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    c = model.config
    return torch.randint(0, c.vocab_size + 1, (B, c.context), generator=g)  # <s> = vocab_size included


def _random_grads(out, params, seed=2):
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return torch.autograd.grad((out * weights).sum(), params, allow_unused=True)


@pytest.mark.parametrize("direct", [False, True])
def test_full_softmax_is_the_papers_equation(direct):
    model = _model(direct=direct)
    ctx = _contexts(model)
    C, H, d, U, b = model.C.weight, model.H.weight, model.H.bias, model.U.weight, model.U.bias
    x = torch.cat([C[ctx[:, j]] for j in range(ctx.shape[1])], dim=1)  # oldest word first
    y = b + torch.tanh(d + x @ H.T) @ U.T
    if direct:
        y = y + x @ model.W.weight.T
    by_hand = y - torch.logsumexp(y, dim=1, keepdim=True)
    ours = model(ctx)
    torch.testing.assert_close(ours, by_hand, **TOL)
    torch.testing.assert_close(nplm_scores(model.features(ctx), model.H, model.U, model.W), y, **TOL)
    params = list(model.parameters())
    for a, e in zip(_random_grads(ours, params), _random_grads(by_hand, params), strict=True):
        torch.testing.assert_close(a, e, **TOL)


@pytest.mark.parametrize("direct", [False, True])
def test_adaptive_softmax_is_the_two_level_softmax(direct):
    model = _model(direct=direct, cutoffs=(8, 20), div_value=2.0)
    ctx = _contexts(model, B=9)
    a = torch.tanh(model.H(model.features(ctx)))
    z = torch.cat([a, model.features(ctx)], dim=1) if direct else a
    head = F.log_softmax(model.adaptive.head(z), dim=1)  # 8 frequent words, then one entry per cluster
    expected = torch.empty(len(ctx), 30, dtype=torch.float64)
    expected[:, :8] = head[:, :8]
    for k, (lo, hi) in enumerate([(8, 20), (20, 30)]):
        within = F.log_softmax(model.adaptive.tail[k](z), dim=1)  # (B, hi - lo)
        expected[:, lo:hi] = head[:, 8 + k : 9 + k] + within
    torch.testing.assert_close(model(ctx), expected, **TOL)
    targets = torch.arange(len(ctx)) * 3  # words of every cluster
    torch.testing.assert_close(model.nll(ctx, targets), -expected.gather(1, targets[:, None])[:, 0], **TOL)


@pytest.mark.parametrize("kw", [{}, {"direct": True}, {"cutoffs": (5,)}, {"cutoffs": (4, 11, 25), "direct": True, "div_value": 2.0}])
def test_every_distribution_sums_to_one(kw):
    model = _model(context=2, **kw)
    ctx = torch.cartesian_prod(*[torch.arange(31)] * 2)[::7]  # contexts over the whole vocabulary, <s> too
    total = model(ctx).exp().sum(dim=1)
    torch.testing.assert_close(total, torch.ones_like(total), **TOL)
    assert (model(ctx) <= 0).all()


def test_context_windows_predict_what_week1_predicts():
    train = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat", "ran", "off"]]
    test = [["the", "cat", "ran"], ["an", "owl", "sat"]]
    counts = count_ngrams(train, order=2, min_count=2)
    words = counts.outcomes  # the vocabulary of week 1's models: <unk>, </s> and the kept words
    X, y = context_windows(test, words, n=3)
    assert len(y) == sum(len(s) + 1 for s in test)  # every word and each sentence end
    i = {w: k for k, w in enumerate(words)}
    bos = len(words)
    assert X[0].tolist() == [bos, bos] and y[0] == i["the"]
    assert X[4].tolist() == [bos, bos] and y[4] == i["<unk>"]  # "an" was seen once: <unk>
    assert y[3] == i["</s>"] and X[3].tolist() == [i["cat"], i["<unk>"]]  # "ran" is rare too
    # A network whose scores are the log unigram frequencies is week 1's MLE unigram model:
    # the same probabilities on the same tokens give the same perplexity.
    unigram = NGramLM(1, smoothing="add-k", k=0.5).fit(counts)
    model = NeuralLM(NeuralLMConfig(len(words), context=2, embed_dim=3, hidden=4)).double()
    with torch.no_grad():
        model.U.weight.zero_()
        model.U.bias.copy_(torch.log(torch.tensor(unigram.distribution(), dtype=torch.float64)))
    assert perplexity(model, X, y) == pytest.approx(unigram.perplexity(test), rel=1e-10)


def test_uniform_network_has_perplexity_v():
    model = _model(vocab_size=50)
    with torch.no_grad():
        model.U.weight.zero_(), model.U.bias.zero_()
    X = torch.randint(0, 51, (100, 3))
    assert perplexity(model, X, torch.randint(0, 50, (100,))) == pytest.approx(50.0, rel=1e-10)


def test_by_frequency_orders_as_the_counts_say():
    sentences = [["b", "c", "b"], ["a", "b", "zz"], ["b"]]
    order = by_frequency(["</s>", "<unk>", "a", "b"], sentences)
    counts = Counter({"b": 4, "</s>": 3, "<unk>": 2, "a": 1})
    assert order == sorted(counts, key=lambda w: -counts[w])


def test_training_recovers_a_known_bigram_process():
    """Sentences drawn from a random bigram table: the trained network's held-out perplexity
    comes close to the table's own (the best any model can do), far below the unigram model's."""
    g = torch.Generator().manual_seed(0)
    V = 12  # words 0..9, <unk> = 10 (never used), </s> = 11
    table = torch.softmax(2.5 * torch.randn(V + 1, V, generator=g), dim=1)  # rows: previous word, <s> = 12
    table[:, 10] = 0.0
    table /= table.sum(dim=1, keepdim=True)

    def draw(n):
        out = []
        for _ in range(n):
            s, prev = [], V
            while len(s) < 30:
                w = int(torch.multinomial(table[prev], 1, generator=g))
                if w == 11:
                    break
                s.append(str(w))
                prev = w
            out.append(s)
        return out

    words = [str(w) for w in range(10)] + ["<unk>", "</s>"]
    X, y = context_windows(draw(1000), words, n=2)
    X_test, y_test = context_windows(draw(300), words, n=2)
    torch.manual_seed(0)
    model = NeuralLM(NeuralLMConfig(V, context=1, embed_dim=8, hidden=32))
    train_nplm(model, X, y, epochs=4, batch_size=128, lr=1e-2, progress=False)
    prev = X_test[:, 0]
    best = math.exp(-torch.log(table[prev, y_test]).mean().item())
    unigram = torch.bincount(y, minlength=V).double() / len(y)
    unigram_ppl = math.exp(-torch.log(unigram[y_test]).mean().item())
    ours = perplexity(model, X_test, y_test)
    assert ours < best * 1.05, (ours, best)
    assert ours < 0.7 * unigram_ppl, (ours, unigram_ppl)


def test_training_is_reproducible():
    X, y = torch.randint(0, 21, (300, 3)), torch.randint(0, 20, (300,))
    states = []
    for _ in range(2):
        torch.manual_seed(3)
        model = NeuralLM(NeuralLMConfig(20, 3, 4, 6, cutoffs=(5,)))
        history = train_nplm(model, X, y, epochs=1, batch_size=32, seed=7, progress=False)
        states.append((model.state_dict(), history.loss))
    assert states[0][1] == states[1][1]
    for a, b in zip(states[0][0].values(), states[1][0].values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_clear_errors():
    with pytest.raises(ValueError, match="hidden"):
        NeuralLMConfig(10, hidden=0)
    with pytest.raises(ValueError, match="cutoffs"):
        NeuralLMConfig(10, cutoffs=(5, 3))
    with pytest.raises(ValueError, match="cutoffs"):
        NeuralLMConfig(10, cutoffs=())
    with pytest.raises(ValueError, match="cutoffs"):
        NeuralLMConfig(10, cutoffs=(9,))
    with pytest.raises(ValueError, match="width"):
        NeuralLMConfig(10, hidden=8, cutoffs=(2, 4))  # 8 // 4**2 = 0
    model = NeuralLM(NeuralLMConfig(10, context=2))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        model(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="one target per context"):
        model.nll(torch.zeros(4, 2, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="<unk>"):
        context_windows([["a"]], ["a", "</s>"], 3)
    with pytest.raises(ValueError, match="<s> is never predicted"):
        context_windows([["a"]], ["a", "<unk>", "</s>", "<s>"], 3)
    with pytest.raises(ValueError, match="list of tokens"):
        context_windows(["a b"], ["a", "<unk>", "</s>"], 3)
    with pytest.raises(ValueError, match="n=1"):
        context_windows([["a"]], ["a", "<unk>", "</s>"], 1)
    with pytest.raises(ValueError, match="epochs"):
        train_nplm(model, torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, dtype=torch.long), epochs=0)
