r"""LoRA: a frozen linear layer plus a trainable low-rank update, and how to put it in a model.

Implements low-rank adaptation as in Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large
Language Models" (ICLR 2022), section 4.1, equation (3):

    h = W_0 x + \Delta W x = W_0 x + (\alpha / r) B A x,      A (r x d_in),  B (d_out x r)

``W_0`` (and its bias) is frozen; only ``A`` and ``B`` train. ``B`` starts at zero, so the model
starts exactly where the pre-trained one is; ``A`` is drawn like an ``nn.Linear`` weight
(Kaiming-uniform with a = sqrt(5), as PyTorch and the ``peft`` library do; the paper, section
4.1, says "random Gaussian"). Dropout acts on the input of the low-rank path only. The scale
``\alpha / r`` keeps the size of the update roughly independent of ``r`` (section 4.1);
rank-stabilised LoRA (Kalajdzievski 2023, "A Rank Stabilization Scaling Factor for Fine-Tuning
with LoRA", equation 6) uses ``\alpha / \sqrt{r}`` instead (``rslora=True``).

``merge()`` folds the update into the weight, ``W = W_0 + (\alpha/r) B A`` (section 4.1: "no
additional inference latency"); ``unmerge()`` takes it out again.

:func:`inject_lora` replaces the linear layers of any model whose name matches a pattern (the
rules of ``peft.LoraConfig.target_modules``: a list of names matches a module whose name is, or
ends with ``.`` + , one of them; a string is a regular expression for the full name). It
handles ``nn.Linear`` and the ``Conv1D`` of Hugging Face's GPT-2, whose weight is stored
transposed (d_in x d_out). The tests check outputs, gradients and merges against ``peft``.

Left out: LoRA on embeddings and convolutions, several adapters per layer, quantized bases
(QLoRA, Dettmers et al. 2023), DoRA and other variants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["LoRAConfig", "LoRALinear", "inject_lora", "lora_layers", "mark_only_lora_trainable", "merge_lora",
           "unmerge_lora", "matches_target"]  # fmt: skip


@dataclass(frozen=True)
class LoRAConfig:
    """The hyper-parameters of an adapter; defaults from Hu et al. 2021 (section 7.1: r = 4 or 8,
    alpha chosen once and not tuned; Table 9 uses dropout 0.1 for GPT-2)."""

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    rslora: bool = False  # scale alpha / sqrt(r) (Kalajdzievski 2023) instead of alpha / r

    def __post_init__(self):
        if not isinstance(self.r, int) or isinstance(self.r, bool) or self.r < 1:
            raise ValueError(f"r={self.r!r} must be a positive integer (the rank of the update)")
        if (
            not isinstance(self.alpha, (int, float))
            or isinstance(self.alpha, bool)
            or self.alpha <= 0
        ):
            raise ValueError(f"alpha={self.alpha!r} must be a positive number")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout!r} must be in [0, 1)")

    @property
    def scaling(self) -> float:
        return self.alpha / (math.sqrt(self.r) if self.rslora else self.r)


def _is_conv1d(module: nn.Module) -> bool:
    """Hugging Face's ``Conv1D`` (GPT-2): ``y = x W + b`` with W (d_in, d_out)."""
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf") and hasattr(module, "weight")


def _dims(base: nn.Module) -> tuple[int, int]:
    if isinstance(base, nn.Linear):
        return base.in_features, base.out_features
    if _is_conv1d(base):
        d_in, d_out = base.weight.shape
        return d_in, d_out
    raise ValueError(f"LoRA wraps nn.Linear or GPT-2's Conv1D, got {type(base).__name__}")


class LoRALinear(nn.Module):
    """``base(x) + scaling * B A dropout(x)`` around a frozen ``nn.Linear`` (or GPT-2 ``Conv1D``).

    >>> layer = LoRALinear(nn.Linear(6, 4), r=2, alpha=4, generator=torch.Generator().manual_seed(0))
    >>> layer.lora_B.abs().sum().item(), layer.scaling       # starts as the base layer
    (0.0, 2.0)
    >>> [n for n, p in layer.named_parameters() if p.requires_grad]
    ['lora_A', 'lora_B']
    """

    def __init__(
        self,
        base: nn.Module,
        r: int = 8,
        alpha: float = 16.0,
        dropout: float = 0.0,
        rslora: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.config = LoRAConfig(r, alpha, dropout, rslora)
        self.in_features, self.out_features = _dims(base)
        self.fan_in_fan_out = _is_conv1d(base)  # weight stored (d_in, d_out): the update is (B A)^T
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        A = torch.empty(r, self.in_features)  # drawn on the CPU: the same adapter on every device
        nn.init.kaiming_uniform_(A, a=math.sqrt(5), generator=generator)  # as nn.Linear and peft
        self.lora_A = nn.Parameter(A.to(device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(
            torch.zeros(self.out_features, r, device=w.device, dtype=w.dtype)
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    @property
    def r(self) -> int:
        return self.config.r

    @property
    def scaling(self) -> float:
        return self.config.scaling

    def delta_weight(self) -> torch.Tensor:
        """``scaling * B A`` (d_out, d_in), transposed to the base weight's layout for ``Conv1D``."""
        delta = self.scaling * (self.lora_B @ self.lora_A)  # (d_out, d_in)
        return delta.T if self.fan_in_fan_out else delta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"input has {x.shape[-1]} features, the layer expects {self.in_features}"
            )
        out = self.base(x)
        if self.merged:
            return out
        update = self.dropout(x) @ self.lora_A.T @ self.lora_B.T  # (..., r) then (..., d_out)
        return out + self.scaling * update

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the base weight (one matrix product at inference)."""
        if self.merged:
            raise ValueError("this layer is already merged: call unmerge() first")
        self.base.weight += self.delta_weight().to(self.base.weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out of the base weight again (to keep training the adapter)."""
        if not self.merged:
            raise ValueError("this layer is not merged: nothing to unmerge")
        self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
        self.merged = False

    def extra_repr(self) -> str:
        return (f"in={self.in_features}, out={self.out_features}, r={self.r}, scaling={self.scaling:g}"
                f"{', conv1d' if self.fan_in_fan_out else ''}{', merged' if self.merged else ''}")  # fmt: skip


# ----------------------------------------------------------------------------- injection
def matches_target(name: str, target_modules: str | Sequence[str]) -> bool:
    """Whether module ``name`` is targeted: ``name`` equals, or ends with ``"." +``, an entry of
    the list; a string is a regular expression that must match the whole name (peft's rules).

    >>> matches_target("blocks.0.attn.q_proj", ["q_proj", "v_proj"]), matches_target("blocks.0.attn.q_proj", r".*\\.0\\..*proj")
    (True, True)
    """
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return any(name == t or name.endswith("." + t) for t in target_modules)


def inject_lora(
    model: nn.Module,
    target_modules: str | Sequence[str],
    r: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.0,
    rslora: bool = False,
    seed: int = 0,
) -> nn.Module:
    """Freeze every parameter of ``model`` and replace each targeted ``nn.Linear`` / ``Conv1D``
    by a :class:`LoRALinear` around it, in place; returns the model.

    Layers are visited in ``named_modules()`` order and each ``A`` is drawn from one generator
    seeded with ``seed``, so the same call gives the same adapter. A target that matches no
    layer, or matches a module that is not linear, is an error (a typo would otherwise train
    nothing). Tied weights stay tied: the base weight is not copied.
    """
    if isinstance(target_modules, str):
        try:
            re.compile(target_modules)
        except re.error as error:
            raise ValueError(
                f"target_modules={target_modules!r} is not a valid regular expression: {error}"
            ) from None
    elif not target_modules or not all(isinstance(t, str) and t for t in target_modules):
        raise ValueError(
            f"target_modules={target_modules!r} must be a regex or a non-empty list of module names"
        )
    LoRAConfig(r, alpha, dropout, rslora)  # check the numbers before touching the model
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError(
            "the model already has LoRA layers: inject once (or merge_lora and reload the base)"
        )
    names = {n: m for n, m in model.named_modules() if n and matches_target(n, target_modules)}
    wrong = [
        f"{n} ({type(m).__name__})"
        for n, m in names.items()
        if not (isinstance(m, nn.Linear) or _is_conv1d(m))
    ]
    if wrong:
        raise ValueError(f"target_modules={target_modules!r} matches modules LoRA cannot wrap: {', '.join(wrong[:5])}; "
                         "target linear layers only")  # fmt: skip
    if not names:
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) or _is_conv1d(m)]
        raise ValueError(
            f"target_modules={target_modules!r} matches no layer; linear layers are named e.g. {linear[:6]}"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    for name, module in names.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(module, r, alpha, dropout, rslora, generator=generator))
    return model


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The :class:`LoRALinear` layers of ``model`` by name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def _require_lora(model: nn.Module) -> dict[str, LoRALinear]:
    layers = lora_layers(model)
    if not layers:
        raise ValueError(
            "the model has no LoRA layers: call inject_lora(model, target_modules, ...) first"
        )
    return layers


def mark_only_lora_trainable(model: nn.Module) -> nn.Module:
    """Freeze everything except the ``lora_A`` / ``lora_B`` matrices."""
    _require_lora(model)
    for name, p in model.named_parameters():
        p.requires_grad_(name.endswith("lora_A") or name.endswith("lora_B"))
    return model


def merge_lora(model: nn.Module, unload: bool = False) -> nn.Module:
    """Merge every adapter into its base weight; ``unload=True`` also replaces each
    :class:`LoRALinear` by its (now merged) base layer, like ``peft``'s ``merge_and_unload``."""
    for name, layer in _require_lora(model).items():
        if not layer.merged:
            layer.merge()
        if unload:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, layer.base)
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Undo :func:`merge_lora` (without ``unload``)."""
    for layer in _require_lora(model).values():
        if layer.merged:
            layer.unmerge()
    return model
