"""Seeding, device choice and the training loop."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from helpers.course import History, get_device, seed_everything, train_loop, warmup_cosine


def test_seed_everything_reproduces_all_generators():
    seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(2))
    seed_everything(3)
    second = (random.random(), np.random.rand(), torch.rand(2))
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
    with pytest.raises(ValueError, match="seed=-1"):
        seed_everything(-1)


def test_get_device(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            get_device("cuda")
        monkeypatch.setenv("NEXTWORD_DEVICE", "cpu")
        assert get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        get_device("tpu")


def _regression(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
    return [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]


def _loss(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x).squeeze(-1), y)


def test_train_loop_learns_and_records():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    evals = lambda m: {"val_loss": _loss(m, _regression(1)[0]).item()}  # noqa: E731
    history = train_loop(model, _regression(), _loss, opt, steps=100, eval_fn=evals, eval_every=25, progress=False)
    assert len(history.loss) == 100 and history.steps[-1] == 100
    assert history.loss[-1] < 0.01 * history.loss[0]  # cycles through the 8 batches
    assert history.eval_steps == [25, 50, 75, 100] and history.eval[-1]["val_loss"] < 1e-3
    assert len(history.smoothed(10)) == 100


def test_train_loop_is_reproducible():
    def run():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        return train_loop(model, _regression(), _loss, opt, steps=20, progress=False).loss

    assert run() == run()


def test_train_loop_errors():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="steps=0"):
        train_loop(model, _regression(), _loss, opt, steps=0)
    with pytest.raises(ValueError, match="ran out after 8 steps"):
        train_loop(model, iter(_regression()), _loss, opt, steps=10, progress=False)
    with pytest.raises(ValueError, match="scalar"):
        train_loop(model, _regression(), lambda m, b: m(b[0]), opt, steps=1, progress=False)


def test_history_plot():
    import matplotlib

    matplotlib.use("Agg")
    h = History(steps=[1, 2, 3], loss=[3.0, 2.0, 1.0], eval_steps=[3], eval=[{"val_loss": 1.5}])
    ax = h.plot(window=2)
    assert ax.get_ylabel().startswith("loss") and len(ax.lines) == 3


def test_warmup_cosine_drives_the_optimizer():
    """A linear warm-up then a cosine decay to 0, as the learning rates the optimizer really uses."""
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.5)
    sched = warmup_cosine(opt, steps=40, warmup=5)
    seen = []
    for _ in range(45):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [0.5 * min(1.0, (s + 1) / 5) * 0.5 * (1 + math.cos(math.pi * min(s, 40) / 40)) for s in range(45)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12, atol=1e-15)
    assert seen[4] == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 4 / 40))) and seen[40:] == [0.0] * 5
    with pytest.raises(ValueError, match="steps"):
        warmup_cosine(opt, steps=0)
