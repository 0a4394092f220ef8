"""Knowledge distillation: a small student learns from a large teacher's soft targets.

Implements Hinton, Vinyals & Dean 2015, "Distilling the knowledge in a neural network" (NIPS
deep learning workshop), section 2. The teacher's logits v and the student's logits z are
softened by a temperature T, p = softmax(v / T) and q = softmax(z / T); the student minimises

    L = alpha T^2 KL(p || q) + (1 - alpha) CE(softmax(z), y)

averaged over the positions that have a label. The soft term's gradient is
dL_soft / dz_i = alpha T (q_i - p_i): it shrinks as 1/T^2 without the factor T^2, which is why
Hinton et al. multiply by it ("this ensures that the relative contributions of the hard and
soft targets remain roughly unchanged if the temperature ... is changed"). KL(p || q) differs
from the cross-entropy with soft targets by the teacher's entropy, a constant: the gradient is
the same, and the loss is 0 when the student copies the teacher. For large T (and zero-mean
logits) the gradient tends to (z_i - v_i) / V: distillation becomes matching the logits
(their equation 4; with the T^2 factor, not divided by T^2). The tests check the gradient against
this hand-derived formula and against ``F.kl_div``.

:func:`distillation_lm_loss` makes a ``loss_fn`` for :func:`helpers.course.train_loop` that
trains a language model on (x, y) windows with a frozen teacher.

Left out: matching hidden states or attention maps (DistilBERT's cosine loss, Sanh et al. 2019;
TinyBERT; MiniLM's attention distillation), on-policy distillation of generated text.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["distillation_loss", "distillation_lm_loss", "soft_targets"]


def soft_targets(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """softmax(logits / T) along the last dimension: higher T spreads the probability.

    >>> soft_targets(torch.tensor([2.0, 1.0, 0.0]), temperature=1e6).round(decimals=3)
    tensor([0.3330, 0.3330, 0.3330])
    """
    _check_temperature(temperature)
    return torch.softmax(logits / temperature, dim=-1)


def _check_temperature(temperature) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature={temperature!r} must be a number > 0 (1 = the plain softmax)")


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor | None = None,
    temperature: float = 2.0,
    alpha: float = 0.5,
    ignore_index: int = -100,
) -> torch.Tensor:
    """``alpha T^2 KL(softmax(v/T) || softmax(z/T)) + (1 - alpha) CE(z, y)``, mean over positions.

    ``student_logits`` z and ``teacher_logits`` v have the same shape (..., V); ``targets`` y
    (...) holds class ids, ``ignore_index`` where there is nothing to predict (those positions
    count in neither term). Without targets ``alpha`` must be 1 (soft targets only). No gradient
    flows into the teacher. The defaults T = 2, alpha = 0.5 are a middle ground, not a rule:
    Hinton et al. tried temperatures from 1 to 20.

    >>> z = torch.tensor([[1.0, 0.0]])
    >>> float(distillation_loss(z, z.clone(), alpha=1.0))  # copying the teacher costs nothing
    0.0
    """
    _check_temperature(temperature)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha!r} is the weight of the soft term, in [0, 1]")
    if student_logits.shape != teacher_logits.shape or student_logits.ndim < 1:
        raise ValueError(
            f"student and teacher logits must have the same shape (..., V); got {tuple(student_logits.shape)} "
            f"and {tuple(teacher_logits.shape)}"
        )
    V = student_logits.shape[-1]
    dtype = torch.promote_types(student_logits.dtype, torch.float32)  # half precision is summed in float32
    z = student_logits.reshape(-1, V).to(dtype)  # (N, V)
    v = teacher_logits.detach().reshape(-1, V).to(dtype)  # (N, V): the teacher is fixed
    if targets is None:
        if alpha != 1.0:
            raise ValueError(f"without targets only the soft term exists: pass alpha=1.0 (got {alpha})")
        keep = torch.ones(z.shape[0], dtype=torch.bool, device=z.device)
    else:
        if tuple(targets.shape) != tuple(student_logits.shape[:-1]):
            raise ValueError(f"targets must have shape {tuple(student_logits.shape[:-1])}, got {tuple(targets.shape)}")
        keep = targets.reshape(-1) != ignore_index
    n = keep.sum().clamp(min=1)
    T = float(temperature)
    log_q = F.log_softmax(z / T, dim=-1)  # student at temperature T
    log_p = F.log_softmax(v / T, dim=-1)  # teacher at temperature T
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=-1)  # (N,): KL(p || q) per position
    soft = T * T * (kl * keep).sum() / n
    if alpha == 1.0:
        return soft
    hard = F.cross_entropy(z, targets.reshape(-1), ignore_index=ignore_index, reduction="sum") / n
    return alpha * soft + (1.0 - alpha) * hard


def distillation_lm_loss(
    teacher: nn.Module, temperature: float = 2.0, alpha: float = 0.5
) -> Callable[[nn.Module, tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """A ``loss_fn(student, (x, y))`` for :func:`helpers.course.train_loop`: the teacher (kept in
    eval mode, no gradients) scores the same windows x and the student learns from both its
    soft targets and the next tokens y (the teacher's ``requires_grad`` flags are not touched, so
    the same model can be fine-tuned later). Models return logits (B, T, V) or a tuple starting with them."""
    _check_temperature(temperature)
    teacher.eval()  # the teacher's parameters are left as they are: it runs under no_grad

    def loss_fn(student: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        with torch.no_grad():
            teacher_logits = _logits(teacher(x))
        return distillation_loss(_logits(student(x)), teacher_logits, y, temperature, alpha)

    return loss_fn


def _logits(output) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output
