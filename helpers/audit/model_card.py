"""Model cards (Mitchell et al. 2019, "Model cards for model reporting", FAT*): a short document
that travels with a model and says what it is, what it is for, and how it performs, measured.

The nine sections of the paper (its Figure 1), in its order: model details, intended use,
factors, metrics, evaluation data, training data, quantitative analyses, ethical considerations,
caveats and recommendations. :class:`ModelCard` holds them; ``metrics`` and ``quantitative`` are
**numbers measured on the model** (a name -> value mapping: ``{"bits per character (test)":
2.28}``), so that a card cannot be written without measuring. :meth:`ModelCard.to_markdown`
writes the card; a section left empty raises a ``ValueError`` naming it, rather than printing a
card with a hole in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

__all__ = ["SECTIONS", "ModelCard"]

SECTIONS = (
    ("details", "Model details"),
    ("intended_use", "Intended use"),
    ("factors", "Factors"),
    ("metrics", "Metrics"),
    ("evaluation_data", "Evaluation data"),
    ("training_data", "Training data"),
    ("quantitative", "Quantitative analyses"),
    ("ethics", "Ethical considerations"),
    ("caveats", "Caveats and recommendations"),
)


@dataclass
class ModelCard:
    """The sections of a card: text, except ``metrics`` and ``quantitative`` (name -> number)."""

    name: str
    details: str
    intended_use: str
    factors: str
    metrics: dict[str, float]
    evaluation_data: str
    training_data: str
    quantitative: dict[str, float]
    ethics: str
    caveats: str
    notes: dict[str, str] = field(default_factory=dict)  # optional remarks per section key

    def check(self) -> None:
        """Raise ``ValueError`` for an empty section or a metric that is not a finite number."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("a model card needs the model's name")
        for f in fields(self):
            if f.name in ("name", "notes"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, dict):
                if not value:
                    raise ValueError(
                        f"section {f.name!r} is empty: give at least one measured number"
                    )
                for key, number in value.items():
                    if (
                        isinstance(number, bool)
                        or not isinstance(number, (int, float))
                        or not math.isfinite(number)
                    ):
                        raise ValueError(
                            f"{f.name}[{key!r}] = {number!r} must be a finite number you measured"
                        )
            elif not isinstance(value, str) or not value.strip():
                raise ValueError(
                    f"section {f.name!r} is empty: write what the paper's section asks for"
                )
        unknown = set(self.notes) - {key for key, _ in SECTIONS}
        if unknown:
            raise ValueError(
                f"notes for unknown sections {sorted(unknown)}; use {[k for k, _ in SECTIONS]}"
            )

    def to_markdown(self, digits: int = 4) -> str:
        """The card as Markdown: a title, then the nine sections in the paper's order."""
        self.check()
        lines = [f"# Model card: {self.name}", ""]
        for key, title in SECTIONS:
            lines += [f"## {title}", ""]
            value = getattr(self, key)
            if isinstance(value, dict):
                lines += ["| measure | value |", "|---|---|"]
                lines += [f"| {k} | {v:,.{digits}g} |" for k, v in value.items()]
            else:
                lines.append(value.strip())
            if key in self.notes:
                lines += ["", f"*{self.notes[key].strip()}*"]
            lines.append("")
        return "\n".join(lines)
