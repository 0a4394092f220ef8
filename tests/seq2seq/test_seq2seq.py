"""Attention, the encoder-decoder and its decoding (helpers.seq2seq.attention, helpers.seq2seq,
helpers.seq2seq.decoding, helpers.seq2seq.bleu).

Oracles: a hand computation of Bahdanau's equations in NumPy loops; PyTorch's
``scaled_dot_product_attention`` for the dot score; ``nn.GRU`` run on unpadded sequences for
the encoder and for the decoder without attention; autograd's ``gradcheck``; exhaustive
search over all outputs of a tiny model for beam search; ``sacrebleu`` for BLEU. Invariants:
weights sum to 1 and are 0 on padding, padding never changes a result, beam width 1 = greedy.
"""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.seq2seq import (
    AdditiveAttention,
    DotAttention,
    Memory,
    Seq2Seq,
    Seq2SeqConfig,
    additive_attention,
    beam_search,
    corpus_bleu,
    dot_attention,
    exact_match,
    greedy_decode,
    length_penalty,
    masked_softmax,
    seq2seq_loss,
    sequence_log_prob,
    sequence_loss,
)

TOL = {"rtol": 1e-5, "atol": 1e-6}


def random_mask(lengths, S):
    return torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]


# ----------------------------------------------------------------------------- attention
def test_masked_softmax():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 7, generator=g) * 3
    mask = random_mask([7, 3, 1, 5], 7)
    w = masked_softmax(scores, mask)
    torch.testing.assert_close(w.sum(-1), torch.ones(4))
    assert bool((w[~mask] == 0).all())
    for b, n in enumerate([7, 3, 1, 5]):
        torch.testing.assert_close(w[b, :n], torch.softmax(scores[b, :n], -1))
    torch.testing.assert_close(masked_softmax(scores), torch.softmax(scores, -1))
    with pytest.raises(ValueError, match="at least one True"):
        masked_softmax(scores, torch.zeros(4, 7, dtype=torch.bool))


def bahdanau_by_hand(s, h, W, U, v, lengths):
    """e_ij = v^T tanh(W s + U h_j), alpha = softmax over the real positions, c = sum alpha h."""
    B = s.shape[0]
    contexts, alphas = np.zeros((B, h.shape[2])), np.zeros(h.shape[:2])
    for b in range(B):
        e = []
        for j in range(lengths[b]):
            e.append(sum(v[k] * math.tanh(sum(W[k, l] * s[b, l] for l in range(W.shape[1]))  # noqa: E741
                                          + sum(U[k, m] * h[b, j, m] for m in range(U.shape[1])))
                         for k in range(len(v))))  # fmt: skip
        z = sum(math.exp(x) for x in e)
        for j in range(lengths[b]):
            alphas[b, j] = math.exp(e[j]) / z
            contexts[b] += alphas[b, j] * h[b, j]
    return contexts, alphas


@pytest.mark.parametrize("seed, B, S, n, d_k, n_a", [(0, 3, 5, 4, 6, 3), (1, 2, 8, 5, 2, 7), (2, 1, 1, 3, 3, 2)])
def test_additive_attention_equals_bahdanau_by_hand(seed, B, S, n, d_k, n_a):
    g = torch.Generator().manual_seed(seed)
    s, h = torch.randn(B, n, generator=g, dtype=torch.float64), torch.randn(B, S, d_k, generator=g, dtype=torch.float64)
    W, U, v = (torch.randn(*shape, generator=g, dtype=torch.float64) for shape in [(n_a, n), (n_a, d_k), (n_a,)])
    lengths = [S - (b % S) for b in range(B)]
    mask = random_mask(lengths, S)
    context, alpha = additive_attention(s, h, W, U, v, mask)
    c_ref, a_ref = bahdanau_by_hand(s.numpy(), h.numpy(), W.numpy(), U.numpy(), v.numpy(), lengths)
    np.testing.assert_allclose(context.numpy(), c_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(alpha.numpy(), a_ref, rtol=1e-10, atol=1e-12)
    # the module holds the same three matrices as nn.Linear layers without bias
    module = AdditiveAttention(n, d_k, n_a).double()
    with torch.no_grad():
        module.W_a.weight.copy_(W), module.U_a.weight.copy_(U), module.v_a.weight.copy_(v[None])
    c2, a2 = module(s, h, mask)
    torch.testing.assert_close(c2, context)
    torch.testing.assert_close(a2, alpha)
    c3, a3 = module(s, h, mask, projected_keys=module.project_keys(h))  # pre-computed U_a h_j
    torch.testing.assert_close(c3, context)
    torch.testing.assert_close(a3, alpha)


def test_additive_attention_worked_example():
    # W_a = 0, U_a = 1, v_a = 1 on scalar keys: e_j = tanh(h_j), so alpha = softmax(tanh(h)).
    h = torch.tensor([[[0.0], [1.0], [-2.0]]])
    c, a = additive_attention(torch.zeros(1, 1), h, torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1))
    e = [math.tanh(0.0), math.tanh(1.0), math.tanh(-2.0)]
    expected = [math.exp(x) / sum(math.exp(y) for y in e) for x in e]
    torch.testing.assert_close(a, torch.tensor([expected]))
    torch.testing.assert_close(c, torch.tensor([[expected[1] - 2 * expected[2]]]))


def test_attention_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(3)
    args = [torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
            for shape in [(2, 3), (2, 4, 5), (3, 3), (3, 5), (3,)]]  # fmt: skip
    mask = random_mask([4, 2], 4)
    assert torch.autograd.gradcheck(lambda *a: additive_attention(*a, mask=mask)[0], args)
    assert torch.autograd.gradcheck(lambda q, k: dot_attention(q, k, mask)[0], [args[0], args[1][..., :3]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dot_attention_equals_torch_sdpa(seed):
    g = torch.Generator().manual_seed(seed)
    B, S, d = 4, 6, 8
    q, k = torch.randn(B, d, generator=g), torch.randn(B, S, d, generator=g)
    mask = random_mask([6, 1, 4, 2], S)
    context, weights = dot_attention(q, k, mask)
    ref = F.scaled_dot_product_attention(q[:, None], k, k, attn_mask=mask[:, None, :], scale=1.0)[:, 0]
    torch.testing.assert_close(context, ref, **TOL)
    torch.testing.assert_close(weights, masked_softmax((k @ q[:, :, None])[..., 0], mask), **TOL)
    # scaled=True is the scaled dot product of week 5 (default scale 1/sqrt(d))
    module = DotAttention(d, d, scaled=True)
    ref_scaled = F.scaled_dot_product_attention(q[:, None], k, k, attn_mask=mask[:, None, :])[:, 0]
    torch.testing.assert_close(module(q, k, mask)[0], ref_scaled, **TOL)
    # "general": h_t^T W_a h_s, keys of another size
    general = DotAttention(d, 5, general=True)
    k5 = torch.randn(B, S, 5, generator=g)
    scores = torch.einsum("bd,de,bse->bs", q, general.W_a.weight, k5)
    c, w = general(q, k5, mask)
    torch.testing.assert_close(w, masked_softmax(scores, mask), **TOL)
    torch.testing.assert_close(c, torch.einsum("bs,bse->be", w, k5), **TOL)
    torch.testing.assert_close(general(q, k5, mask, projected_keys=general.project_keys(k5))[0], c)


@pytest.mark.parametrize("attention", ["additive", "general"])
def test_attention_ignores_padding(attention):
    g = torch.Generator().manual_seed(5)
    module = AdditiveAttention(4, 6, 3) if attention == "additive" else DotAttention(4, 6, general=True)
    q, k = torch.randn(2, 4, generator=g), torch.randn(2, 7, 6, generator=g)
    mask = random_mask([7, 3], 7)
    c, w = module(q, k, mask)
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    assert bool((w[~mask] == 0).all())
    garbage = k.clone()
    garbage[~mask] = 1e3 * torch.randn(int((~mask).sum()), 6, generator=g)
    c2, w2 = module(q, garbage, mask)
    torch.testing.assert_close(c2, c)
    torch.testing.assert_close(w2, w)
    c3, w3 = module(q[1:], k[1:, :3], None)  # the second example alone, unpadded
    torch.testing.assert_close(c3, c[1:], **TOL)
    torch.testing.assert_close(w3, w[1:, :3], **TOL)


def test_attention_bad_input():
    with pytest.raises(ValueError, match="query must be"):
        additive_attention(torch.zeros(2, 3), torch.zeros(3, 4, 5), torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2))
    with pytest.raises(ValueError, match="mask must be a bool"):
        dot_attention(torch.zeros(2, 3), torch.zeros(2, 4, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="general"):
        DotAttention(4, 6)
    with pytest.raises(ValueError, match="W_a"):
        dot_attention(torch.zeros(2, 3), torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="positive"):
        AdditiveAttention(4, 0, 3)


# ----------------------------------------------------------------------------- the model
def small_model(attention="additive", cell="gru", seed=0, bidirectional=True, V_src=9, V_tgt=7, **kw):
    torch.manual_seed(seed)
    cfg = Seq2SeqConfig(V_src, V_tgt, emb_dim=5, hidden_dim=6, attn_dim=4, cell=cell, attention=attention,
                        bidirectional=bidirectional, **kw)  # fmt: skip
    return Seq2Seq(cfg).eval()


def random_batch(lengths, V=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    S = max(lengths)
    mask = random_mask(lengths, S)
    src = torch.randint(4, V, (len(lengths), S), generator=g).masked_fill(~mask, 0)
    return src, mask


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_encoder_equals_rnn_on_unpadded_sequences(cell):
    model = small_model(cell=cell)
    src, mask = random_batch([5, 2, 4])
    memory = model.encode(src, mask)
    rnn = model.encoder.rnn
    for b, n in enumerate([5, 2, 4]):
        out, h_n = rnn(model.encoder.embedding(src[b : b + 1, :n]))  # no padding at all
        h_n = h_n[0] if cell == "lstm" else h_n
        torch.testing.assert_close(memory.keys[b, :n], out[0], **TOL)
        assert bool((memory.keys[b, n:] == 0).all())
        # summary = [last forward state; first backward state]
        torch.testing.assert_close(memory.summary[b], torch.cat([h_n[0, 0], h_n[1, 0]]), **TOL)
        torch.testing.assert_close(memory.summary[b, :6], out[0, -1, :6], **TOL)
        torch.testing.assert_close(memory.summary[b, 6:], out[0, 0, 6:], **TOL)


def test_decoder_without_attention_equals_a_gru_over_the_sequence():
    """With a fixed context, the step-by-step decoder is an nn.GRU over [E y; c]."""
    model = small_model(attention="none")
    src, mask = random_batch([4, 3])
    tgt = torch.tensor([[1, 4, 5, 6, 2], [1, 6, 6, 2, 0]])
    logits = model(src, mask, tgt).logits
    dec = model.decoder
    memory = model.encode(src, mask)
    gru = torch.nn.GRU(dec.rnn.input_size, dec.rnn.hidden_size, batch_first=True)
    gru.load_state_dict({"weight_ih_l0": dec.rnn.weight_ih, "weight_hh_l0": dec.rnn.weight_hh,
                         "bias_ih_l0": dec.rnn.bias_ih, "bias_hh_l0": dec.rnn.bias_hh})  # fmt: skip
    emb = dec.embedding(tgt)  # (B, T, E)
    c = memory.summary[:, None, :].expand(-1, tgt.shape[1], -1)
    s, _ = gru(torch.cat([emb, c], -1), torch.tanh(dec.bridge(memory.summary))[None])
    expected = dec.out(torch.cat([s, c, emb], -1))
    torch.testing.assert_close(logits, expected, **TOL)


@pytest.mark.parametrize("attention, cell", [("additive", "gru"), ("general", "lstm"), ("none", "gru")])
def test_padding_does_not_change_the_output(attention, cell):
    model = small_model(attention, cell)
    src, mask = random_batch([6, 2, 4], seed=1)
    tgt = torch.tensor([[1, 4, 5, 2], [1, 6, 2, 0], [1, 5, 5, 5]])
    out = model(src, mask, tgt)
    for b, n in enumerate([6, 2, 4]):
        alone = model(src[b : b + 1, :n], mask[b : b + 1, :n], tgt[b : b + 1])
        torch.testing.assert_close(alone.logits[0], out.logits[b], **TOL)
        if out.weights is not None:
            torch.testing.assert_close(alone.weights[0], out.weights[b, :, :n], **TOL)
    if out.weights is not None:
        torch.testing.assert_close(out.weights.sum(-1), torch.ones(3, 4), **TOL)
        assert bool((out.weights.masked_select(~mask[:, None, :].expand_as(out.weights)) == 0).all())
    else:
        assert attention == "none"


def test_dot_attention_model_and_plugged_in_attention():
    model = small_model("dot", bidirectional=False)
    src, mask = random_batch([3, 2])
    assert model(src, mask, torch.tensor([[1, 4], [1, 5]])).weights.shape == (2, 2, 3)
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(9, 7, emb_dim=5, hidden_dim=6, attention="none")
    plugged = Seq2Seq(cfg, attention=AdditiveAttention(6, 12, 4))  # any module with the same interface
    assert plugged.has_attention and plugged(src, mask, torch.tensor([[1, 4], [1, 5]])).weights is not None


def test_teacher_forcing_zero_feeds_back_the_greedy_tokens():
    model = small_model("additive", seed=3)
    src, mask = random_batch([5, 3, 4], seed=2)
    tokens, _, _ = greedy_decode(model, src, mask, max_len=6)
    gold = torch.randint(3, 7, (3, 6), generator=torch.Generator().manual_seed(9))
    gold[:, 0] = 1
    free = model(src, mask, gold, teacher_forcing=0.0).logits.argmax(-1)  # gold ignored after step 0
    for b, toks in enumerate(tokens):
        assert free[b, : len(toks)].tolist() == toks
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    half1 = model(src, mask, gold, teacher_forcing=0.5, generator=g1).logits
    half2 = model(src, mask, gold, teacher_forcing=0.5, generator=g2).logits
    torch.testing.assert_close(half1, half2)  # reproducible with a generator
    full = model(src, mask, gold, teacher_forcing=1.0).logits
    assert not torch.allclose(half1, full) and not torch.allclose(half1, model(src, mask, gold, 0.0).logits)


def test_sequence_loss_ignores_padding():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(2, 4, 5, generator=g), torch.tensor([[3, 4, 2, 0], [1, 2, 0, 0]])
    keep = targets != 0
    expected = F.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(sequence_loss(logits, targets, pad_id=0), expected)


def test_model_bad_input():
    with pytest.raises(ValueError, match="cell"):
        Seq2SeqConfig(5, 5, cell="rnn")
    with pytest.raises(ValueError, match="attention"):
        Seq2SeqConfig(5, 5, attention="bahdanau")
    with pytest.raises(ValueError, match="bidirectional=False"):
        Seq2SeqConfig(5, 5, attention="dot")
    model = small_model()
    src, mask = random_batch([3, 2])
    with pytest.raises(ValueError, match="pad on the right"):
        model(src, mask.flip(1), torch.tensor([[1], [1]]))
    with pytest.raises(ValueError, match="at least one token"):
        model(src, torch.zeros_like(mask), torch.tensor([[1], [1]]))
    with pytest.raises(ValueError, match="teacher_forcing"):
        model(src, mask, torch.tensor([[1], [1]]), teacher_forcing=1.5)


def test_training_learns_to_reverse_sequences():
    """A working model and loss: with attention it learns to reverse 3-6 symbols in seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny steps: extra threads only fight over a busy machine's cores
    try:
        _learn_to_reverse()
    finally:
        torch.set_num_threads(threads)


def _learn_to_reverse():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(8, 8, emb_dim=16, hidden_dim=32, attn_dim=16))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def make(n):
        lengths = torch.randint(3, 7, (n,), generator=g)
        mask = random_mask(lengths.tolist(), 6)
        src = torch.randint(4, 8, (n, 6), generator=g).masked_fill(~mask, 0)
        tgt = torch.zeros(n, 8, dtype=torch.long)
        tgt[:, 0] = 1
        for b, length in enumerate(lengths.tolist()):
            tgt[b, 1 : length + 1] = src[b, :length].flip(0)
            tgt[b, length + 1] = 2
        return type("Batch", (), {"src": src, "src_mask": mask, "tgt": tgt})

    for _ in range(150):
        loss = seq2seq_loss(model, make(64))
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = make(200)
    tokens, _, _ = greedy_decode(model.eval(), test.src, test.src_mask, max_len=8)
    hyps = [" ".join(map(str, t)) for t in tokens]
    refs = [" ".join(map(str, row[1 : row.tolist().index(2)].tolist())) for row in test.tgt]
    assert exact_match(hyps, refs) > 0.9


# ----------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("attention, cell, seed", [("additive", "gru", 0), ("none", "lstm", 1), ("general", "gru", 2)])
def test_beam_width_one_is_greedy(attention, cell, seed):
    model = small_model(attention, cell, seed=seed)
    src, mask = random_batch([5, 2, 4, 6], seed=seed)
    tokens, _, log_probs = greedy_decode(model, src, mask, max_len=7)
    beams = beam_search(model, src, mask, width=1, max_len=7)
    for b, toks in enumerate(tokens):
        assert list(beams[b][0].tokens) == toks
        assert math.isclose(beams[b][0].log_prob, float(log_probs[b]), rel_tol=1e-5, abs_tol=1e-5)
    for b, toks in enumerate(tokens):  # an output cut at max_len has no end symbol
        lp = sequence_log_prob(model, src[b : b + 1], mask[b : b + 1], [toks], eos=len(toks) < 7)
        torch.testing.assert_close(lp, log_probs[b : b + 1], **TOL)


def test_greedy_weights_and_log_probs():
    model = small_model(seed=4)
    src, mask = random_batch([5, 3], seed=4)
    tokens, weights, log_probs = greedy_decode(model, src, mask, max_len=6)
    for b, n in enumerate([5, 3]):
        assert weights[b].shape == (min(len(tokens[b]) + 1, 6), n)
        torch.testing.assert_close(weights[b].sum(-1), torch.ones(weights[b].shape[0]), **TOL)
    assert bool((log_probs <= 0).all())


@pytest.mark.parametrize("alpha, seed", [(0.0, 0), (0.0, 5), (1.0, 6), (0.6, 7)])
def test_beam_search_finds_the_best_sequence_of_a_tiny_model(alpha, seed):
    """Exhaustive search: every sequence of at most max_len tokens over {a, b} then the end."""
    model = small_model("additive", seed=seed, V_tgt=5)  # ids 3 (unk) and 4 are the symbols
    src, mask = random_batch([4], seed=seed)
    max_len = 5
    outputs = [list(p) for n in range(max_len) for p in itertools.product([3, 4], repeat=n)]
    logp = sequence_log_prob(model, src.expand(len(outputs), -1), mask.expand(len(outputs), -1), outputs)
    scores = [float(lp) / length_penalty(len(y) + 1, alpha) for y, lp in zip(outputs, logp, strict=True)]
    best = outputs[int(np.argmax(scores))]
    hyps = beam_search(model, src, mask, width=10_000, max_len=max_len, alpha=alpha)[0]
    finished = [h for h in hyps if h.finished]
    assert list(finished[0].tokens) == best
    assert math.isclose(finished[0].score, max(scores), rel_tol=1e-5)
    for h in finished[:20]:  # the reported log-probabilities are the model's
        lp = sequence_log_prob(model, src, mask, [list(h.tokens)])
        assert math.isclose(h.log_prob, float(lp), rel_tol=1e-5, abs_tol=1e-6)


class BigramToy:
    """A 'model' whose next-token distribution depends only on the previous token: a worked
    example where greedy decoding misses the most probable output."""

    def __init__(self, table):
        self.config = Seq2SeqConfig(3, 5, attention="none")  # ids: pad 0, bos 1, eos 2, a 3, b 4
        self.log_table = torch.log(torch.tensor(table))

    def encode(self, src, src_mask):
        return Memory(src[..., None].float(), src_mask, src.float())

    def init_state(self, memory):
        return torch.zeros(memory.summary.shape[0], 1)

    def decode_step(self, y_prev, state, memory):
        return self.log_table[y_prev], state, None


def test_beam_search_beats_greedy_on_a_worked_example():
    #        pad  bos  eos    a     b      (rows: the previous token)
    table = [[1.0, 0.0, 0.0, 0.0, 0.0],
             [0.0, 0.0, 0.0, 0.6, 0.4],  # after <s>: a 0.6, b 0.4
             [1.0, 0.0, 0.0, 0.0, 0.0],
             [0.0, 0.0, 0.5, 0.45, 0.05],  # after a: end 0.5
             [0.0, 0.0, 0.9, 0.05, 0.05]]  # after b: end 0.9  # fmt: skip
    toy = BigramToy(table)
    src, mask = torch.ones(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.bool)
    tokens, _, log_probs = greedy_decode(toy, src, mask, max_len=4)
    assert tokens == [[3]] and math.isclose(float(log_probs[0]), math.log(0.6 * 0.5), rel_tol=1e-6)  # "a": 0.30
    best = beam_search(toy, src, mask, width=2, max_len=4)[0][0]
    assert best.tokens == (4,) and math.isclose(best.log_prob, math.log(0.4 * 0.9), rel_tol=1e-6)  # "b": 0.36


@pytest.mark.parametrize("attention, cell, width, alpha", [("additive", "gru", 3, 0.0), ("none", "lstm", 4, 0.6), ("general", "gru", 2, 1.0)])
def test_batched_beam_search_equals_one_source_at_a_time(attention, cell, width, alpha):
    model = small_model(attention, cell, seed=11)
    src, mask = random_batch([5, 2, 6, 3, 4], seed=11)
    clear = beam_search(model, src, mask, width=width, max_len=6, alpha=alpha)
    fast = beam_search(model, src, mask, width=width, max_len=6, alpha=alpha, batched=True)
    for a, b in zip(clear, fast, strict=True):
        assert [(h.tokens, h.finished) for h in a] == [(h.tokens, h.finished) for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=1e-5, atol=1e-6)
    toy = BigramToy([[1, 0, 0, 0, 0], [0, 0, 0, 0.6, 0.4], [1, 0, 0, 0, 0], [0, 0, 0.5, 0.45, 0.05], [0, 0, 0.9, 0.05, 0.05]])
    one = torch.ones(2, 1, dtype=torch.long), torch.ones(2, 1, dtype=torch.bool)
    assert beam_search(toy, *one, width=2, max_len=4, batched=True)[1][0].tokens == (4,)


def test_beam_search_properties_and_errors():
    model = small_model(seed=8)
    src, mask = random_batch([4, 6], seed=8)
    hyps = beam_search(model, src, mask, width=3, max_len=6, alpha=0.7)
    for h in hyps:
        assert 1 <= len(h) and [x.score for x in h] == sorted((x.score for x in h), reverse=True)
        assert all(model.config.eos_id not in x.tokens and model.config.pad_id not in x.tokens for x in h)
    assert length_penalty(1, 0.0) == 1.0 and length_penalty(1, 1.0) == 1.0 and length_penalty(7, 1.0) == 2.0
    with pytest.raises(ValueError, match="width"):
        beam_search(model, src, mask, width=0)
    with pytest.raises(ValueError, match="alpha"):
        beam_search(model, src, mask, alpha=-1.0)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, src, mask, max_len=0)


# ----------------------------------------------------------------------------- scores
def test_exact_match():
    assert exact_match(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == 0.5
    with pytest.raises(ValueError):
        exact_match(["a"], ["a", "b"])


def perturbed_corpus(seed, n=40):
    rng = np.random.default_rng(seed)
    words = "the a cat dog sat on mat ran far away quick brown fox".split()
    refs, hyps = [], []
    for _ in range(n):
        ref = list(rng.choice(words, size=rng.integers(3, 12)))
        hyp = [w if rng.random() > 0.3 else str(rng.choice(words)) for w in ref]
        hyp = hyp[: rng.integers(1, len(hyp) + 1)] if rng.random() < 0.3 else hyp + list(rng.choice(words, size=rng.integers(0, 3)))
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return hyps, refs


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("smooth", ["none", "exp"])
def test_bleu_equals_sacrebleu(seed, smooth):
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps, refs = perturbed_corpus(seed)
    ours = corpus_bleu(hyps, refs, smooth=smooth)
    theirs = sacrebleu.metrics.BLEU(tokenize="none", smooth_method=smooth).corpus_score(hyps, [refs]).score
    assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9)
    # two references per hypothesis
    hyps2, refs2 = perturbed_corpus(seed + 10)
    ours = corpus_bleu(hyps, [[a, b] for a, b in zip(refs, refs2, strict=True)], smooth=smooth)
    theirs = sacrebleu.metrics.BLEU(tokenize="none", smooth_method=smooth).corpus_score(hyps, [refs, refs2]).score
    assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9)
    # characters, as for ISO dates
    dates_h = ["2021-03-03", "1999-12-31 2000-01-01", "2020-02-20", "1911-11-11"]
    dates_r = ["2021-03-03", "1999-12-30 2000-01-01", "2020-02-02", "1911-11-11 1911-11-12"]
    ours = corpus_bleu(dates_h, dates_r, tokenize="char", smooth=smooth)
    theirs = sacrebleu.metrics.BLEU(tokenize="char", smooth_method=smooth).corpus_score(dates_h, [dates_r]).score
    assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9)


def test_bleu_edge_cases():
    assert corpus_bleu(["a b c d e"], ["a b c d e"]) == pytest.approx(100.0)
    assert corpus_bleu(["x y z w"], ["a b c d"]) == 0.0
    assert corpus_bleu(["a b c"], ["a b c"], smooth="none") == 0.0  # no 4-grams at all
    with pytest.raises(ValueError, match="tokenize"):
        corpus_bleu(["a"], ["a"], tokenize="13a")
