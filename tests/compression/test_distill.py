"""Distillation loss: the hand-derived gradient, PyTorch's KL divergence, Hinton et al.'s limits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.compression.distill import distillation_lm_loss, distillation_loss, soft_targets
from helpers.transformer.gpt import GPT, GPTConfig


def _logits(shape=(3, 5, 11), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * 2, torch.randn(*shape, generator=g, dtype=dtype) * 2, torch.randint(0, shape[-1], shape[:-1], generator=g)


@pytest.mark.parametrize("temperature, alpha", [(1.0, 0.5), (2.0, 0.5), (4.0, 0.9), (0.5, 0.3), (8.0, 1.0), (3.0, 0.0)])
def test_gradient_equals_the_hand_derived_one(temperature, alpha):
    """dL/dz_i = [alpha T (q_i - p_i) + (1 - alpha)(softmax(z)_i - y_i)] / N, with p, q at temperature T."""
    z, v, y = _logits()
    z.requires_grad_(True)
    distillation_loss(z, v, y, temperature, alpha).backward()
    T, N = temperature, y.numel()
    q, p = torch.softmax(z.detach() / T, -1), torch.softmax(v / T, -1)
    expected = (alpha * T * (q - p) + (1 - alpha) * (torch.softmax(z.detach(), -1) - F.one_hot(y, 11))) / N
    torch.testing.assert_close(z.grad, expected, rtol=1e-10, atol=1e-12)


def test_value_equals_torch_kl_div_times_t_squared_plus_cross_entropy():
    z, v, y = _logits(dtype=torch.float32)
    T, alpha = 3.0, 0.7
    flat_z, flat_v = z.reshape(-1, 11), v.reshape(-1, 11)
    soft = F.kl_div(F.log_softmax(flat_z / T, -1), F.softmax(flat_v / T, -1), reduction="batchmean") * T**2
    expected = alpha * soft + (1 - alpha) * F.cross_entropy(flat_z, y.reshape(-1))
    torch.testing.assert_close(distillation_loss(z, v, y, T, alpha), expected, rtol=1e-5, atol=1e-6)


def test_high_temperature_limit_is_logit_matching():
    """Hinton et al. 2015, equation 4: for large T and zero-mean logits, dL_soft/dz_i -> (z_i - v_i) / V (with the T^2 factor)."""
    z, v, _ = _logits((4, 11))
    z, v = z - z.mean(-1, keepdim=True), v - v.mean(-1, keepdim=True)
    z.requires_grad_(True)
    distillation_loss(z, v, temperature=1e4, alpha=1.0).backward()
    # the next term of the expansion is (z_i^2 - v_i^2 - mean z^2 + mean v^2) / (2 T V), about 1e-4 here
    torch.testing.assert_close(z.grad * 4, (z.detach() - v) / 11, rtol=0, atol=5e-4)
    assert float(((z.grad * 4) - (z.detach() - v) / 11).abs().max()) > 0  # an approximation, not an identity


def test_soft_term_is_zero_for_a_copy_and_positive_otherwise():
    z, v, _ = _logits()
    assert float(distillation_loss(v.clone(), v, alpha=1.0)) == pytest.approx(0.0, abs=1e-12)
    assert float(distillation_loss(z, v, alpha=1.0)) > 0
    # T^2 keeps the soft term's gradient on the hard term's scale as T grows
    grads = []
    for T in (2.0, 8.0):
        zz = z.clone().requires_grad_(True)
        distillation_loss(zz, v, temperature=T, alpha=1.0).backward()
        grads.append(float(zz.grad.norm()))
    assert 0.1 < grads[1] / grads[0] < 1.5  # without T^2 the ratio would be about (2/8)^2 smaller still


def test_ignored_positions_count_in_neither_term():
    z, v, y = _logits()
    y = y.clone()
    y[:, :2] = -100
    keep = y != -100
    full = distillation_loss(z, v, y, 2.0, 0.4)
    kept = distillation_loss(z[keep], v[keep], y[keep], 2.0, 0.4)
    torch.testing.assert_close(full, kept)


def test_teacher_gets_no_gradient_and_soft_targets_sum_to_one():
    z, v, y = _logits()
    v.requires_grad_(True)
    distillation_loss(z.requires_grad_(True), v, y).backward()
    assert v.grad is None
    torch.testing.assert_close(soft_targets(v.detach(), 3.0).sum(-1), torch.ones(3, 5, dtype=torch.float64))


def test_lm_loss_for_train_loop():
    torch.manual_seed(0)
    teacher = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16))
    student = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=1, n_embd=8))
    x, y = torch.randint(0, 20, (4, 8)), torch.randint(0, 20, (4, 8))
    loss = distillation_lm_loss(teacher, 2.0, 0.5)(student, (x, y))
    with torch.no_grad():
        expected = distillation_loss(student(x), teacher(x), y, 2.0, 0.5)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters()) and student.head.weight.grad is not None
    assert all(p.requires_grad for p in teacher.parameters())  # the caller's model is not frozen behind its back


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(temperature=0), "temperature"), (dict(alpha=1.5), "alpha"), (dict(targets=None, alpha=0.5), "alpha=1.0")],
)
def test_bad_arguments_are_named(kwargs, match):
    z, v, y = _logits()
    with pytest.raises(ValueError, match=match):
        distillation_loss(z, v, **{"targets": y, **kwargs})
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(z, v[..., :5], y)
