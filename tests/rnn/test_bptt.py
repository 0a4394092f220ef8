"""helpers.rnn.bptt: clipping against torch.nn.utils.clip_grad_norm_, truncated BPTT against the
untruncated forward pass, and the gradient-by-distance tool against gradients derived by hand."""

import math

import pytest
import torch
from torch import nn

from helpers.course import train_loop
from helpers.rnn import (
    CharLM,
    CharLMConfig,
    GRUCell,
    LSTMCell,
    RNNCell,
    TruncatedBPTT,
    clip_grad_norm,
    state_gradient_norms,
    stream_batches,
)

torch.set_num_threads(1)  # tiny tensors: more threads only add overhead (and CI runs test files in parallel)


def _with_grads(seed, scale):
    g = torch.Generator().manual_seed(seed)
    params = [nn.Parameter(torch.randn(shape, generator=g)) for shape in [(3, 4), (5,), (2, 2, 2)]]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * scale
    return params


@pytest.mark.parametrize("scale, max_norm", [(10.0, 1.0), (0.01, 1.0), (1.0, 3.0)])
def test_clip_grad_norm_matches_torch(scale, max_norm):
    ours, ref = _with_grads(0, scale), _with_grads(0, scale)
    norm_ours = clip_grad_norm(ours, max_norm)
    norm_ref = torch.nn.utils.clip_grad_norm_(ref, max_norm)
    torch.testing.assert_close(norm_ours, norm_ref, rtol=1e-6, atol=0)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-9)
    after = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in ours))
    assert after <= max_norm * (1 + 1e-5)


def test_clip_grad_norm_skips_missing_grads_and_checks_max_norm():
    params = _with_grads(1, 5.0) + [nn.Parameter(torch.zeros(3))]  # the last has no .grad
    ref = _with_grads(1, 5.0)
    torch.testing.assert_close(clip_grad_norm(params, 1.0), torch.nn.utils.clip_grad_norm_(ref, 1.0))
    assert params[-1].grad is None
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(params, 0)


def test_stream_batches_cover_the_streams_in_order():
    ids = torch.arange(103)
    B, bptt = 4, 7
    chunks = list(stream_batches(ids, B, bptt, epochs=1))
    n = (len(ids) - 1) // B
    x = torch.cat([c[0] for c in chunks], dim=1)
    y = torch.cat([c[1] for c in chunks], dim=1)
    assert torch.equal(x, ids[: n * B].view(B, n))
    assert torch.equal(y, x + 1)  # targets are the next ids
    assert [c[2] for c in chunks] == [True] + [False] * (len(chunks) - 1)
    assert all(c[0].shape[1] <= bptt for c in chunks)
    endless = stream_batches(ids, B, bptt)
    flags = [next(endless)[2] for _ in range(2 * len(chunks))]
    assert flags[len(chunks)] is True  # a new pass starts over (and resets the state)
    with pytest.raises(ValueError, match="too few"):
        next(stream_batches(torch.arange(3), 4, 2))


def _char_model(cell, seed=0):
    torch.manual_seed(seed)
    return CharLM(CharLMConfig(vocab_size=11, hidden_size=8, embed_dim=5, cell=cell)).double()


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_carried_state_sees_the_whole_past(cell):
    """Chunked forward with the state carried = one forward over the whole stream."""
    model = _char_model(cell)
    ids = torch.randint(0, 11, (61,), generator=torch.Generator().manual_seed(0))
    loss_fn = TruncatedBPTT()
    chunk_losses = [loss_fn(model, batch) for batch in stream_batches(ids, 3, 5, epochs=1)]
    x = ids[:60].view(3, 20)
    y = ids[1:61].view(3, 20)
    logits, _ = model(x)
    full = nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1), reduction="none").view(3, 20)
    expected = [full[:, t : t + 5].mean() for t in range(0, 20, 5)]
    torch.testing.assert_close(torch.stack(chunk_losses), torch.stack(expected))


def test_truncation_stops_gradients_at_the_chunk_boundary():
    model = _char_model("lstm")
    ids = torch.randint(0, 11, (21,), generator=torch.Generator().manual_seed(1))
    batches = stream_batches(ids, 1, 10, epochs=1)
    loss_fn = TruncatedBPTT()
    first = next(batches)
    loss_fn(model, first)
    carried = loss_fn.state
    loss2 = loss_fn(model, next(batches))
    # the second chunk's loss reaches the first chunk only through the (detached) state
    assert all(s.requires_grad for s in carried)
    grads = torch.autograd.grad(loss2, carried, allow_unused=True)
    assert all(g is None for g in grads)
    # without truncation the same dependence is there
    logits, state = model(first[0])
    logits2, _ = model(next(stream_batches(ids, 1, 10, epochs=1))[0], state)
    assert torch.autograd.grad(logits2.sum(), state[0])[0].abs().sum() > 0


def test_truncated_bptt_trains_with_train_loop():
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(vocab_size=4, hidden_size=16, embed_dim=4))
    ids = torch.tensor([0, 1, 2, 3] * 200)
    history = train_loop(model, stream_batches(ids, 4, 16), TruncatedBPTT(),
                         torch.optim.Adam(model.parameters(), lr=1e-2), 150, progress=False)  # fmt: skip
    assert history.loss[0] > 1.0 and sum(history.loss[-10:]) / 10 < 0.05  # a cycle is easy to learn


def test_gradient_norms_of_a_linear_rnn_are_powers_of_w():
    """relu RNN with positive weights and inputs stays linear: dh_T/dh_{T-k} = w^k exactly."""
    w, T = 0.7, 12
    cell = RNNCell(1, 1, nonlinearity="relu", dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.fill_(w), cell.weight_ih.fill_(1.0), cell.bias_ih.fill_(0.1), cell.bias_hh.zero_()
    x = torch.rand(3, T, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.1
    norms = state_gradient_norms(cell, x)
    assert norms.shape == (T + 1,)
    torch.testing.assert_close(norms, torch.tensor([w**k for k in range(T + 1)], dtype=torch.float64))


def test_gradient_norms_of_a_tanh_rnn_follow_the_chain_rule():
    """Scalar tanh RNN: dh_T/dh_{T-k} = prod_{j=T-k+1}^{T} w (1 - h_j^2), computed by hand."""
    w, T = 1.3, 9
    cell = RNNCell(1, 1, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.fill_(w)
    x = torch.randn(1, T, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h, hs = torch.zeros(1, 1, dtype=torch.float64), []
    with torch.no_grad():
        for t in range(T):
            h = cell(x[:, t], h)
            hs.append(float(h))
    expected = [1.0]
    for j in range(T - 1, -1, -1):  # h_{j+1} = hs[j]
        expected.append(expected[-1] * abs(w * (1 - hs[j] ** 2)))
    torch.testing.assert_close(state_gradient_norms(cell, x), torch.tensor(expected, dtype=torch.float64))


def test_lstm_memory_gradient_is_the_product_of_forget_gates():
    """With W_hh = 0 the memory path is the only one: dL/dc_{T-k} = dL/dc_T * prod f."""
    T = 8
    cell = LSTMCell(2, 1, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.zero_()
    x = torch.randn(1, T, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    h = c = torch.zeros(1, 1, dtype=torch.float64)
    f, o, cs = [], [], []
    with torch.no_grad():
        for t in range(T):
            z = x[:, t] @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh
            f.append(float(torch.sigmoid(z[0, 1])))
            o.append(float(torch.sigmoid(z[0, 3])))
            h, c = cell(x[:, t], (h, c))
            cs.append(float(c))
    expected = [abs(o[-1] * (1 - math.tanh(cs[-1]) ** 2))]  # dh_T/dc_T
    for j in range(T - 1, -1, -1):
        expected.append(expected[-1] * f[j])
    torch.testing.assert_close(state_gradient_norms(cell, x, wrt="c"), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("ours_cls, ref_cls", [(LSTMCell, nn.LSTMCell), (GRUCell, nn.GRUCell)])
def test_gradient_norms_same_for_torch_cells_and_custom_loss(ours_cls, ref_cls):
    torch.manual_seed(0)
    ref = ref_cls(3, 5)
    ours = ours_cls(3, 5)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 15, 3)
    readout = nn.Linear(5, 2)
    target = torch.tensor([0, 1, 1, 0])

    def loss_fn(h):
        return nn.functional.cross_entropy(readout(h), target, reduction="sum")

    a = state_gradient_norms(ours, x, loss_fn=loss_fn)
    b = state_gradient_norms(ref, x, loss_fn=loss_fn)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-9)
    assert a[1:].max() < a[0]  # at initialisation the gradient shrinks with distance


def test_gradient_norm_errors():
    with pytest.raises(ValueError, match="memory cell"):
        state_gradient_norms(RNNCell(2, 3), torch.randn(1, 4, 2), wrt="c")
    with pytest.raises(ValueError, match=r"\(B, T, I\)"):
        state_gradient_norms(RNNCell(2, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="wrt"):
        state_gradient_norms(RNNCell(2, 3), torch.randn(1, 4, 2), wrt="x")
