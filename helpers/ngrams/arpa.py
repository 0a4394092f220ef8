"""Export an n-gram model in the ARPA back-off format, which SRILM, KenLM and most toolkits read."""

from __future__ import annotations

import math
from pathlib import Path

__all__ = ["write_arpa"]


def write_arpa(model, path: str | Path) -> Path:
    """Write the model in the ARPA back-off format (log10 probabilities) that SRILM,
    KenLM (``kenlm.Model(path)``) and most toolkits read.

    Kneser-Ney is interpolated, but it has an exact back-off form: for a seen n-gram the
    entry holds the interpolated probability, and the back-off weight of a context is its
    interpolation weight gamma, since an unseen word gets exactly gamma times its lower
    order probability. Katz back-off (``"good-turing"``) is a back-off model already.
    The other smoothers have no compact back-off form and raise ``ValueError``.
    """
    estimator = model.estimator
    if model.smoothing not in ("kneser-ney", "good-turing"):
        raise ValueError(
            f"to_arpa supports kneser-ney and good-turing models; {model.smoothing!r} has no back-off form"
        )
    probs, backoffs = estimator.backoff_form()
    path = Path(path)
    lines = ["", "\\data\\"]
    for k in range(1, model.order + 1):
        lines.append(f"ngram {k}={sum(len(f) for f in probs[k].values())}")
    for k in range(1, model.order + 1):
        lines += ["", f"\\{k}-grams:"]
        for context in sorted(probs[k]):
            for word in sorted(probs[k][context]):
                gram = (*context, word)
                p = probs[k][context][word]
                logp = -99.0 if p <= 0 else math.log10(p)
                entry = f"{logp:.7f}\t{' '.join(gram)}"
                if k < model.order:
                    b = backoffs[k + 1].get(gram, 1.0)
                    entry += f"\t{math.log10(b) if b > 0 else -99.0:.7f}"
                lines.append(entry)
    lines += ["", "\\end\\", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
