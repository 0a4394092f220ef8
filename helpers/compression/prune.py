"""Pruning: remove the weights, neurons or attention heads that matter least.

- **Magnitude pruning** (unstructured): zero the fraction ``sparsity`` of weights with the
  smallest |w| (Han et al. 2015, "Learning both weights and connections for efficient neural
  networks", NeurIPS, section 3), either within each layer (``scope="layer"``) or with one
  threshold over all of them (``scope="global"``, so layers with many small weights lose more).
  The masks equal ``torch.nn.utils.prune.l1_unstructured`` / ``global_unstructured`` (tested).
- **Structured pruning** of feed-forward neurons: neuron j of ``fc2(GELU(fc1(x)))`` is row j of
  fc1 (and its bias) and column j of fc2; the neurons whose fc1 row has the smallest L2 norm go
  (the criterion of ``torch.nn.utils.prune.ln_structured(n=2, dim=0)``, tested equal). Unlike
  scattered zeros, whole neurons can be cut out: :func:`shrink_ffn` rebuilds smaller dense
  layers with the same outputs, which is faster on any hardware.
- **Attention heads**: head h of a :class:`~helpers.transformer.MultiHeadAttention` reaches the
  output only through its d_k columns of W^O, so masking those columns removes the head.
  :func:`head_importance` scores heads as Michel et al. 2019 ("Are sixteen heads really better
  than one?", NeurIPS, section 4.1): I_h = E_x |dL/d xi_h| for a gate xi_h = 1 on the head's
  output, which equals |sum of W^O ⊙ dL/dW^O over the head's columns|.

Masks are applied with ``torch.nn.utils.parametrize``: the module's ``weight`` becomes
``original * mask`` at every use, so pruned entries stay exactly zero while the model is
fine-tuned (their gradient is zero too). :func:`remove_masks` makes the zeros permanent.

Left out: iterative prune-retrain schedules and the lottery-ticket rewinding of Frankle &
Carbin 2019, second-order criteria (Optimal Brain Surgeon, SparseGPT), N:M sparsity kernels.
"""

from __future__ import annotations

import fnmatch
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.utils import parametrize

from helpers.course.training import evaluating

__all__ = [
    "SparsityRow",
    "apply_masks",
    "ffn_masks",
    "head_importance",
    "head_masks",
    "magnitude_masks",
    "prunable_weights",
    "remove_masks",
    "shrink_ffn",
    "sparsity_report",
]

SCOPES = ("global", "layer")


class _Mask(nn.Module):
    """A parametrization: weight = original * mask (mask fixed, not trained)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.detach().clone())

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        return original * self.mask.to(original.dtype)


def _check_sparsity(sparsity) -> None:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity={sparsity!r} is the fraction to remove, in [0, 1]")


def prunable_weights(model: nn.Module, targets: list[str] | None = None, exclude=()) -> dict[str, nn.Module]:
    """Module name -> module for every ``nn.Linear`` whose name matches ``targets`` (shell-style
    patterns; default: all) and not ``exclude``."""
    found = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        if targets is not None and not any(fnmatch.fnmatchcase(name, p) for p in targets):
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in exclude):
            continue
        found[name] = module
    if not found:
        raise ValueError(f"no nn.Linear module matches targets={targets!r}, exclude={list(exclude)!r}")
    return found


def _smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """A boolean mask, False at the k smallest scores (as torch.nn.utils.prune picks them)."""
    keep = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    if k > 0:
        keep[torch.topk(scores.reshape(-1), k, largest=False).indices] = False
    return keep.reshape(scores.shape)


def magnitude_masks(
    model: nn.Module, sparsity: float, scope: str = "global", targets: list[str] | None = None, exclude=()
) -> dict[str, torch.Tensor]:
    """Keep-masks (True = kept) for the weights of the chosen linear layers, removing the
    ``round(sparsity * n)`` smallest |w| per layer or over all of them. Keys: module names."""
    _check_sparsity(sparsity)
    if scope not in SCOPES:
        raise ValueError(f"scope={scope!r} must be one of {SCOPES}")
    modules = prunable_weights(model, targets, exclude)
    weights = {name: m.weight.detach() for name, m in modules.items()}
    if scope == "layer":
        return {name: _smallest(w.abs(), round(sparsity * w.numel())) for name, w in weights.items()}
    flat = torch.cat([w.abs().reshape(-1) for w in weights.values()])
    keep = _smallest(flat, round(sparsity * flat.numel()))
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].reshape(w.shape)
        start += w.numel()
    return masks


def _feed_forwards(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if isinstance(getattr(m, "fc1", None), nn.Linear)
            and isinstance(getattr(m, "fc2", None), nn.Linear)}  # fmt: skip


def ffn_masks(model: nn.Module, sparsity: float) -> dict[str, torch.Tensor]:
    """Masks that remove ``round(sparsity * d_ff)`` neurons of every feed-forward network (a
    module with ``fc1`` and ``fc2``): the rows of fc1 with the smallest L2 norm, their fc1
    biases and the matching columns of fc2. Keys: module names (``"...ff.fc1"``, ``"...ff.fc2"``;
    bias masks under ``"...ff.fc1.bias"``)."""
    _check_sparsity(sparsity)
    blocks = _feed_forwards(model)
    if not blocks:
        raise ValueError("the model has no feed-forward network (a module with fc1 and fc2 linear layers)")
    masks = {}
    for name, ff in blocks.items():
        w1 = ff.fc1.weight.detach()  # (d_ff, d_model)
        keep = _smallest(w1.norm(dim=1), round(sparsity * w1.shape[0]))  # (d_ff,)
        masks[f"{name}.fc1"] = keep[:, None].expand_as(w1).clone()
        if ff.fc1.bias is not None:
            masks[f"{name}.fc1.bias"] = keep.clone()
        masks[f"{name}.fc2"] = keep[None, :].expand_as(ff.fc2.weight).clone()
    return masks


def _attentions(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules()
            if all(hasattr(m, a) for a in ("n_heads", "d_k", "out_proj")) and isinstance(m.out_proj, nn.Linear)}  # fmt: skip


def head_masks(model: nn.Module, heads: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """Masks on W^O that remove the listed heads: ``{attention module name: [head, ...]}``."""
    attentions = _attentions(model)
    masks = {}
    for name, pruned in heads.items():
        if name not in attentions:
            raise ValueError(f"{name!r} is not a multi-head attention module; those are {sorted(attentions)}")
        attn = attentions[name]
        bad = [h for h in pruned if not 0 <= h < attn.n_heads]
        if bad:
            raise ValueError(f"{name} has heads 0..{attn.n_heads - 1}, not {bad}")
        keep = torch.ones_like(attn.out_proj.weight, dtype=torch.bool)  # (d_model, n_heads * d_k)
        for h in pruned:
            keep[:, h * attn.d_k : (h + 1) * attn.d_k] = False
        masks[f"{name}.out_proj"] = keep
    return masks


def head_importance(model: nn.Module, batches, loss_fn, steps: int = 8) -> dict[str, torch.Tensor]:
    """Michel et al. 2019's I_h = mean over batches of |dL/d xi_h| for every head, as
    ``{attention module name: (n_heads,) tensor}``. ``loss_fn(model, batch)`` gives the loss;
    the model's weights are not changed (gradients are cleared afterwards)."""
    attentions = _attentions(model)
    if not attentions:
        raise ValueError("the model has no multi-head attention modules (with n_heads, d_k and out_proj)")
    scores = {name: torch.zeros(a.n_heads) for name, a in attentions.items()}
    source = iter(batches)
    with evaluating(model):
        try:
            for _ in range(steps):
                model.zero_grad(set_to_none=True)
                loss_fn(model, next(source)).backward()
                for name, a in attentions.items():
                    w = a.out_proj.weight
                    gate = (w.detach() * w.grad).reshape(w.shape[0], a.n_heads, a.d_k).sum(dim=(0, 2))  # dL/dxi_h
                    scores[name] += gate.abs().cpu() / steps
        finally:
            model.zero_grad(set_to_none=True)
    return scores


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Apply keep-masks in place (like ``torch.nn.utils.prune``): module ``name``'s weight (or
    ``name.bias``'s bias) becomes original * mask from now on, also while training. Returns ``model``."""
    modules = dict(model.named_modules())
    for key, mask in masks.items():
        name, tensor = (key[: -len(".bias")], "bias") if key.endswith(".bias") and key not in modules else (key, "weight")
        if name not in modules or getattr(modules[name], tensor, None) is None:
            raise ValueError(f"{key!r} names no module with a {tensor} in this model")
        module = modules[name]
        if tuple(mask.shape) != tuple(getattr(module, tensor).shape):
            raise ValueError(f"mask for {key!r} has shape {tuple(mask.shape)}, the {tensor} {tuple(getattr(module, tensor).shape)}")
        if parametrize.is_parametrized(module, tensor):  # combine with the mask already there
            current = module.parametrizations[tensor][0].mask
            parametrize.remove_parametrizations(module, tensor, leave_parametrized=False)
            mask = mask.to(current.device) & current.bool()
        parametrize.register_parametrization(module, tensor, _Mask(mask.to(getattr(module, tensor).device)))
    return model


def remove_masks(model: nn.Module) -> nn.Module:
    """Make the masks permanent (the zeros are written into the weights) and drop them. In place."""
    for module in model.modules():
        if parametrize.is_parametrized(module):
            for tensor in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, tensor, leave_parametrized=True)
    return model


class SparsityRow(NamedTuple):
    name: str  # module name
    parameters: int  # entries of its weight
    zeros: int  # of them exactly zero
    sparsity: float


def sparsity_report(model: nn.Module) -> list[SparsityRow]:
    """Zeros per linear layer (of the weight as used, masks applied), and a last row "total"."""
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            w = module.weight.detach()
            zeros = int((w == 0).sum())
            rows.append(SparsityRow(name, w.numel(), zeros, zeros / w.numel()))
    n, z = sum(r.parameters for r in rows), sum(r.zeros for r in rows)
    rows.append(SparsityRow("total", n, z, z / max(1, n)))
    return rows


def shrink_ffn(model: nn.Module) -> nn.Module:
    """Cut the removed neurons out of every feed-forward network, in place: neurons whose fc1
    row and bias are all zero (GELU(0) = 0, so they add nothing) are dropped from fc1 and fc2.
    Masks are made permanent first. The outputs do not change. Returns ``model``."""
    remove_masks(model)
    for ff in _feed_forwards(model).values():
        w1, b1 = ff.fc1.weight.detach(), ff.fc1.bias
        dead = (w1 == 0).all(dim=1)
        if b1 is not None:
            dead &= b1.detach() == 0
        keep = (~dead).nonzero().reshape(-1)
        if len(keep) == w1.shape[0]:
            continue
        if len(keep) == 0:
            keep = torch.zeros(1, dtype=torch.long, device=w1.device)  # keep one (zero) neuron: shapes stay valid
        fc1 = nn.Linear(ff.fc1.in_features, len(keep), bias=b1 is not None).to(w1.device, w1.dtype)
        fc2 = nn.Linear(len(keep), ff.fc2.out_features, bias=ff.fc2.bias is not None).to(w1.device, w1.dtype)
        with torch.no_grad():
            fc1.weight.copy_(w1[keep])
            if b1 is not None:
                fc1.bias.copy_(b1.detach()[keep])
            fc2.weight.copy_(ff.fc2.weight.detach()[:, keep])
            if ff.fc2.bias is not None:
                fc2.bias.copy_(ff.fc2.bias.detach())
        ff.fc1, ff.fc2 = fc1, fc2
    return model
