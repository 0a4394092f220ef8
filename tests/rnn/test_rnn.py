"""helpers.rnn (simple RNN, LSTM, GRU) against PyTorch's own recurrent modules (the oracle), given the
same weights.

Tolerances: float64 rtol=1e-10, atol=1e-12 (the same arithmetic up to summation order);
float32 rtol=1e-5, atol=1e-6 (a few units in the last place after a few dozen steps).
"""

import pytest
import torch
from torch import nn

from helpers.rnn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNCell,
    detach_state,
    gru_cell,
    gru_gates,
    lstm_cell,
    rnn_cell,
    set_forget_bias,
)

torch.set_num_threads(1)  # tiny tensors: more threads only add overhead (and CI runs test files in parallel)

TOL = {torch.float64: {"rtol": 1e-10, "atol": 1e-12}, torch.float32: {"rtol": 1e-5, "atol": 1e-6}}


def _pair(ours_cls, ref_cls, *args, dtype=torch.float64, **kwargs):
    """A torch module with random weights and our module loaded from its state dict."""
    ref = ref_cls(*args, dtype=dtype, **kwargs)
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.5)  # larger than the default init, so that nonlinearities bend
    ours = ours_cls(*args, dtype=dtype, **kwargs)
    ours.load_state_dict(ref.state_dict())  # strict: same names and shapes
    return ours, ref


def _grads(outputs, inputs, seed=0):
    """Gradients of a random linear function of ``outputs`` with respect to ``inputs``."""
    g = torch.Generator().manual_seed(seed)
    flat = [o for o in (outputs if isinstance(outputs, (tuple, list)) else [outputs])]
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in flat)
    return torch.autograd.grad(loss, inputs, allow_unused=True)


def _leaf(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype).requires_grad_()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell_matches_torch(dtype, nonlinearity, bias):
    ours, ref = _pair(RNNCell, nn.RNNCell, 3, 5, bias=bias, nonlinearity=nonlinearity, dtype=dtype)
    x, h = _leaf((4, 3), dtype, 1), _leaf((4, 5), dtype, 2)
    out_ours, out_ref = ours(x, h), ref(x, h)
    torch.testing.assert_close(out_ours, out_ref, **TOL[dtype])
    wrt_ours = [x, h, *ours.parameters()]
    wrt_ref = [x, h, *ref.parameters()]
    for a, b in zip(_grads(out_ours, wrt_ours), _grads(out_ref, wrt_ref), strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_matches_torch(dtype, bias):
    ours, ref = _pair(LSTMCell, nn.LSTMCell, 3, 6, bias=bias, dtype=dtype)
    x, h, c = _leaf((4, 3), dtype, 1), _leaf((4, 6), dtype, 2), _leaf((4, 6), dtype, 3)
    out_ours, out_ref = ours(x, (h, c)), ref(x, (h, c))
    for a, b in zip(out_ours, out_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])
    wrt_ours, wrt_ref = [x, h, c, *ours.parameters()], [x, h, c, *ref.parameters()]
    for a, b in zip(_grads(out_ours, wrt_ours), _grads(out_ref, wrt_ref), strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_matches_torch(dtype, bias):
    ours, ref = _pair(GRUCell, nn.GRUCell, 3, 6, bias=bias, dtype=dtype)
    x, h = _leaf((4, 3), dtype, 1), _leaf((4, 6), dtype, 2)
    out_ours, out_ref = ours(x, h), ref(x, h)
    torch.testing.assert_close(out_ours, out_ref, **TOL[dtype])
    wrt_ours, wrt_ref = [x, h, *ours.parameters()], [x, h, *ref.parameters()]
    for a, b in zip(_grads(out_ours, wrt_ours), _grads(out_ref, wrt_ref), strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])
    # and the other way round: torch's cell runs on a state dict saved from ours
    back = nn.GRUCell(3, 6, bias=bias, dtype=dtype)
    back.load_state_dict(ours.state_dict())
    torch.testing.assert_close(back(x, h), out_ours, **TOL[dtype])


def test_gru_gate_order_is_r_z_n():
    # Only the update gate's bias is large: z = sigmoid(5), so h_t is mostly h_{t-1}
    cell = GRUCell(2, 3, dtype=torch.float64)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.bias_ih[3:6] = 5.0  # rows H..2H are the update gate z
        cell.bias_hh[6:9] = 0.7  # rows 2H..3H: b_hn, which the reset gate r = 1/2 scales
    h0 = torch.ones(1, 3, dtype=torch.float64)
    z = torch.sigmoid(torch.tensor(5.0, dtype=torch.float64))
    n = torch.tanh(torch.tensor(0.5 * 0.7, dtype=torch.float64))
    torch.testing.assert_close(cell(torch.zeros(1, 2, dtype=torch.float64), h0), (1 - z) * n + z * h0)


def test_gru_reset_gate_acts_after_the_product_as_in_torch():
    """Cho et al. (2014, Eq. 8) reset the state before the product; PyTorch after it. With the
    reset gate forced open (r = 1) the two forms agree; half open, they differ."""
    g = torch.Generator().manual_seed(4)
    n_in, H = 3, 4
    w_ih, w_hh = torch.randn(3 * H, n_in, generator=g, dtype=torch.float64), torch.randn(3 * H, H, generator=g, dtype=torch.float64)
    x, h = torch.randn(2, n_in, generator=g, dtype=torch.float64), torch.randn(2, H, generator=g, dtype=torch.float64)

    def cho(w_ih, w_hh, b_r=0.0):  # the paper's candidate: tanh(W x + U (r * h)); a bias on r only
        r = torch.sigmoid(x @ w_ih[:H].T + h @ w_hh[:H].T + b_r)
        z = torch.sigmoid(x @ w_ih[H : 2 * H].T + h @ w_hh[H : 2 * H].T)
        n = torch.tanh(x @ w_ih[2 * H :].T + (r * h) @ w_hh[2 * H :].T)
        return (1 - z) * n + z * h

    assert not torch.allclose(gru_cell(x, h, w_ih, w_hh), cho(w_ih, w_hh))
    w_ih_open, w_hh_open = w_ih.clone(), w_hh.clone()
    w_ih_open[:H], w_hh_open[:H] = 0.0, 0.0
    bias_ih = torch.zeros(3 * H, dtype=torch.float64)
    bias_ih[:H] = 60.0  # r = sigmoid(60) = 1 in float64
    torch.testing.assert_close(gru_cell(x, h, w_ih_open, w_hh_open, bias_ih, None), cho(w_ih_open, w_hh_open, 60.0))


def test_cells_default_state_and_unbatched_input_like_torch():
    for ours_cls, ref_cls in [(RNNCell, nn.RNNCell), (LSTMCell, nn.LSTMCell), (GRUCell, nn.GRUCell)]:
        ours, ref = _pair(ours_cls, ref_cls, 3, 4)
        x = torch.randn(2, 3, dtype=torch.float64)
        for inp in (x, x[0]):  # batched (B, I) and unbatched (I,)
            a, b = ours(inp), ref(inp)
            for u, v in zip(a if isinstance(a, tuple) else [a], b if isinstance(b, tuple) else [b], strict=True):
                assert u.shape == v.shape
                torch.testing.assert_close(u, v, **TOL[torch.float64])


def test_lstm_gate_order_is_i_f_g_o():
    # Only the forget gate's bias is large: then c_t = sigmoid(5) c_{t-1} + sigmoid(0) tanh(0).
    cell = LSTMCell(2, 3, dtype=torch.float64)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.bias_ih[3:6] = 5.0  # rows H..2H are the forget gate
    c0 = torch.ones(1, 3, dtype=torch.float64)
    h, c = cell(torch.zeros(1, 2, dtype=torch.float64), (torch.zeros(1, 3, dtype=torch.float64), c0))
    expected_c = torch.sigmoid(torch.tensor(5.0, dtype=torch.float64)) * c0
    torch.testing.assert_close(c, expected_c)
    torch.testing.assert_close(h, 0.5 * torch.tanh(expected_c))  # o = sigmoid(0) = 1/2


def test_same_initialisation_as_torch():
    """Same parameter order and init: with the same seed, ours and torch's start equal."""
    for ours_cls, ref_cls, kw in [
        (RNNCell, nn.RNNCell, {}),
        (LSTMCell, nn.LSTMCell, {}),
        (GRUCell, nn.GRUCell, {}),
        (RNN, nn.RNN, {"num_layers": 2}),
        (LSTM, nn.LSTM, {"num_layers": 2}),
        (GRU, nn.GRU, {"num_layers": 2}),
    ]:
        torch.manual_seed(0)
        ours = ours_cls(3, 5, **kw)
        torch.manual_seed(0)
        ref = ref_cls(3, 5, **kw)
        assert list(ours.state_dict()) == list(ref.state_dict())
        for a, b in zip(ours.state_dict().values(), ref.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rnn_layer_matches_torch(fast, num_layers, dtype):
    for nonlinearity in ("tanh", "relu"):
        ours, ref = _pair(RNN, nn.RNN, 3, 5, num_layers=num_layers, nonlinearity=nonlinearity, batch_first=True, dtype=dtype)
        ours.fast = fast
        x, h0 = _leaf((2, 7, 3), dtype, 1), _leaf((num_layers, 2, 5), dtype, 2)
        for hx in (None, h0):
            (out_a, h_a), (out_b, h_b) = ours(x, hx), ref(x, hx)
            torch.testing.assert_close(out_a, out_b, **TOL[dtype])
            torch.testing.assert_close(h_a, h_b, **TOL[dtype])
            wrt_a, wrt_b = [x, *ours.parameters()], [x, *ref.parameters()]
            for a, b in zip(_grads([out_a, h_a], wrt_a), _grads([out_b, h_b], wrt_b), strict=True):
                torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lstm_layer_matches_torch(fast, num_layers, dtype):
    ours, ref = _pair(LSTM, nn.LSTM, 4, 6, num_layers=num_layers, batch_first=True, dtype=dtype)
    ours.fast = fast
    x = _leaf((3, 9, 4), dtype, 1)
    h0, c0 = _leaf((num_layers, 3, 6), dtype, 2), _leaf((num_layers, 3, 6), dtype, 3)
    for hx in (None, (h0, c0)):
        (out_a, (h_a, c_a)), (out_b, (h_b, c_b)) = ours(x, hx), ref(x, hx)
        for a, b in [(out_a, out_b), (h_a, h_b), (c_a, c_b)]:
            torch.testing.assert_close(a, b, **TOL[dtype])
        wrt_a, wrt_b = [x, *ours.parameters()], [x, *ref.parameters()]
        for a, b in zip(_grads([out_a, h_a, c_a], wrt_a), _grads([out_b, h_b, c_b], wrt_b), strict=True):
            torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gru_layer_matches_torch(fast, num_layers, dtype):
    ours, ref = _pair(GRU, nn.GRU, 4, 6, num_layers=num_layers, batch_first=True, dtype=dtype)
    ours.fast = fast
    x, h0 = _leaf((3, 9, 4), dtype, 1), _leaf((num_layers, 3, 6), dtype, 2)
    for hx in (None, h0):
        (out_a, h_a), (out_b, h_b) = ours(x, hx), ref(x, hx)
        torch.testing.assert_close(out_a, out_b, **TOL[dtype])
        torch.testing.assert_close(h_a, h_b, **TOL[dtype])
        wrt_a, wrt_b = [x, *ours.parameters()], [x, *ref.parameters()]
        for a, b in zip(_grads([out_a, h_a], wrt_a), _grads([out_b, h_b], wrt_b), strict=True):
            torch.testing.assert_close(a, b, **TOL[dtype])


def test_gru_layer_dropout_like_torch():
    ref = nn.GRU(3, 4, num_layers=2, dropout=0.5, batch_first=True, dtype=torch.float64)
    ours = GRU(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x)[0], ref(x)[0])
    ours.train()
    assert not torch.allclose(ours(x)[0], ref(x)[0])


def test_layers_without_bias_and_unbatched_like_torch():
    for ours_cls, ref_cls in [(RNN, nn.RNN), (LSTM, nn.LSTM), (GRU, nn.GRU)]:
        for fast in (False, True):
            ref = ref_cls(3, 4, num_layers=2, bias=False, batch_first=True, dtype=torch.float64)
            ours = ours_cls(3, 4, num_layers=2, bias=False, fast=fast, dtype=torch.float64)
            ours.load_state_dict(ref.state_dict())
            x = torch.randn(5, 3, dtype=torch.float64)  # unbatched (T, I)
            (out_a, s_a), (out_b, s_b) = ours(x), ref(x)
            assert out_a.shape == out_b.shape == (5, 4)
            torch.testing.assert_close(out_a, out_b, **TOL[torch.float64])
            for a, b in zip(s_a if isinstance(s_a, tuple) else [s_a], s_b if isinstance(s_b, tuple) else [s_b], strict=True):
                assert a.shape == b.shape == (2, 4)
                torch.testing.assert_close(a, b, **TOL[torch.float64])


def test_dropout_between_layers_only_in_training():
    ref = nn.LSTM(3, 4, num_layers=2, dropout=0.5, batch_first=True, dtype=torch.float64)
    ours = LSTM(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x)[0], ref(x)[0])  # no dropout at evaluation
    ours.train()
    assert not torch.allclose(ours(x)[0], ref(x)[0])  # dropout applied in training
    # the first layer's final state is computed before any dropout
    torch.testing.assert_close(ours(x)[1][0][0], ref(x)[1][0][0])


def test_trace_matches_forward_and_the_equations():
    lstm = LSTM(3, 5, num_layers=2, dtype=torch.float64)
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    trace = lstm.trace(x)
    assert set(trace) == {"i", "f", "g", "o", "c", "h"}
    assert all(v.shape == (2, 2, 7, 5) for v in trace.values())
    out, (h_n, c_n) = lstm(x)
    torch.testing.assert_close(trace["h"][-1], out)
    torch.testing.assert_close(trace["h"][:, :, -1], h_n)
    torch.testing.assert_close(trace["c"][:, :, -1], c_n)
    i, f, g, o, c = (trace[k] for k in "ifgoc")
    c_prev = torch.cat([torch.zeros_like(c[:, :, :1]), c[:, :, :-1]], dim=2)
    torch.testing.assert_close(c, f * c_prev + i * g)
    torch.testing.assert_close(trace["h"], o * torch.tanh(c))
    assert (i >= 0).all() and (i <= 1).all() and (g.abs() <= 1).all()
    single = lstm.trace(x[0])  # unbatched
    torch.testing.assert_close(single["h"], trace["h"][:, 0])


def test_cell_of_a_layer_shares_parameters():
    for layer_cls in (RNN, LSTM, GRU):
        layer = layer_cls(3, 4, num_layers=2, dtype=torch.float64)
        x = torch.randn(2, 5, 3, dtype=torch.float64)
        out, _ = layer(x)
        cells = [layer.cell(0), layer.cell(1)]
        assert cells[1].weight_hh is layer.weight_hh_l1
        seq = x
        for cell in cells:
            state, steps = None, []
            for t in range(seq.shape[1]):
                state = cell(seq[:, t], state)
                steps.append(state[0] if isinstance(state, tuple) else state)
            seq = torch.stack(steps, dim=1)
        torch.testing.assert_close(seq, out)


def test_pure_functions_match_modules():
    cell = LSTMCell(3, 4, dtype=torch.float64)
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))
    a = lstm_cell(x, (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for u, v in zip(a, cell(x, (h, c)), strict=True):
        torch.testing.assert_close(u, v)
    rcell = RNNCell(3, 4, nonlinearity="relu", dtype=torch.float64)
    torch.testing.assert_close(
        rnn_cell(x, h, rcell.weight_ih, rcell.weight_hh, rcell.bias_ih, rcell.bias_hh, "relu"), rcell(x, h)
    )
    gcell = GRUCell(3, 4, dtype=torch.float64)
    torch.testing.assert_close(gru_cell(x, h, gcell.weight_ih, gcell.weight_hh, gcell.bias_ih, gcell.bias_hh), gcell(x, h))
    r, z, n = gru_gates(x, h, gcell.weight_ih, gcell.weight_hh, gcell.bias_ih, gcell.bias_hh)
    assert ((r > 0) & (r < 1) & (z > 0) & (z < 1) & (n.abs() < 1)).all()
    torch.testing.assert_close(gcell(x, h), (1 - z) * n + z * h)


def test_set_forget_bias_on_ours_and_torch():
    for module in (nn.LSTMCell(2, 3), LSTMCell(2, 3), nn.LSTM(2, 3, num_layers=2), LSTM(2, 3, num_layers=2)):
        set_forget_bias(module, 2.0)
        for name, p in module.named_parameters():
            if "bias" in name:
                expected = 2.0 if "bias_ih" in name else 0.0
                assert torch.all(p[3:6] == expected)
    for module in (nn.GRUCell(2, 4), GRUCell(2, 4), nn.GRU(2, 4, num_layers=2), GRU(2, 4, num_layers=2)):
        set_forget_bias(module, 2.0)  # the update gate z: rows H..2H of the GRU's r, z, n
        for name, p in module.named_parameters():
            if "bias" in name:
                assert torch.all(p[4:8] == (2.0 if "bias_ih" in name else 0.0))
    for cell in (nn.GRUCell(2, 4), GRUCell(2, 4)):
        with torch.no_grad():
            for p in cell.parameters():
                p.zero_()
        set_forget_bias(cell, 2.0)  # now z = sigmoid(2), r = 1/2, n = tanh(0) = 0
        h = cell(torch.randn(3, 2), torch.ones(3, 4))
        torch.testing.assert_close(h, torch.full((3, 4), torch.sigmoid(torch.tensor(2.0)).item()))
    rnn = RNNCell(2, 4)  # 4 units: a bias of 4 = 4 x 1 rows must not be taken for an LSTM's
    before = rnn.bias_ih.clone()
    with pytest.raises(ValueError, match="LSTM or GRU"):
        set_forget_bias(rnn)
    torch.testing.assert_close(rnn.bias_ih, before, rtol=0, atol=0)
    with pytest.raises(ValueError, match="LSTM or GRU"):
        set_forget_bias(RNNCell(2, 3))


def test_detach_state():
    h = torch.randn(2, 3, requires_grad=True) * 2
    assert not detach_state(h).requires_grad
    a, b = detach_state((h, h))
    assert not a.requires_grad and not b.requires_grad
    assert detach_state(None) is None


def test_clear_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match=r"input must have shape \(B, 3\)"):
        RNNCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="hidden state must have shape"):
        LSTMCell(3, 4)(torch.randn(2, 3), (torch.zeros(2, 5), torch.zeros(2, 5)))
    with pytest.raises(ValueError, match="tuple"):
        LSTMCell(3, 4)(torch.randn(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="GRUCell must be a tensor"):
        GRUCell(3, 4)(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))
    with pytest.raises(ValueError, match="a tensor h_0 for an RNN or a GRU"):
        GRU(3, 4)(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match=r"\(B, T, 3\)"):
        LSTM(3, 4)(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="T = 0"):
        RNN(3, 4)(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match="layers, batch, hidden"):
        RNN(3, 4, num_layers=2)(torch.randn(2, 5, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="layer"):
        LSTM(3, 4).cell(1)
    with pytest.raises(ValueError, match="batch_first"):
        RNN(3, 4, batch_first=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_gpu_matches_torch():
    # float64: in float32, cuDNN may use TF32 (torch.backends.cudnn.allow_tf32 is True by default)
    # while our clear loop does not, and the two then differ by about 1e-3.
    for ours_cls, ref_cls in [(RNN, nn.RNN), (LSTM, nn.LSTM), (GRU, nn.GRU)]:
        for fast in (False, True):
            torch.manual_seed(0)
            ref = ref_cls(4, 8, num_layers=2, batch_first=True, dtype=torch.float64).cuda()
            ours = ours_cls(4, 8, num_layers=2, fast=fast, dtype=torch.float64).cuda()
            ours.load_state_dict(ref.state_dict())
            x = torch.randn(3, 10, 4, device="cuda", dtype=torch.float64, requires_grad=True)
            out_a, out_b = ours(x)[0], ref(x)[0]
            torch.testing.assert_close(out_a, out_b, **TOL[torch.float64])
            for a, b in zip(_grads(out_a.cpu(), [x, *ours.parameters()]), _grads(out_b.cpu(), [x, *ref.parameters()]), strict=True):
                torch.testing.assert_close(a, b, **TOL[torch.float64])
