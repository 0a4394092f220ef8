"""A noisy channel learned from real misspellings: how the word meant becomes the string typed.

Kernighan, Church & Gale (1990, COLING, "A spelling correction program based on a noisy
channel model") count, over pairs of (intended, typed) words, how often each letter was
deleted, inserted, substituted or swapped with its neighbour, and divide by how often that
letter (or pair of letters) occurs in the intended words, e.g.
``P(typed | intended) = sub[x, y] / count[y]`` for a ``y`` typed as ``x``. Brill & Moore (2000,
ACL, "An improved error model for noisy channel spelling correction") let an edit rewrite a
whole substring, ``alpha -> beta`` ("ant" -> "ent", "ph" -> "f", "e$" -> "$"), which also
gives each edit its neighbouring letters as context.

**Estimation** (Brill & Moore, §3): align each training pair letter by letter with a
minimum-edit (Damerau-Levenshtein) alignment, :func:`align`; merge adjacent edits into one
region (``"ie" -> "ei"``), and count the region with 0 to ``window`` letters of unchanged
context on either side (the word boundaries ``^`` and ``$`` count as letters):

.. math::  P(\\alpha \\to \\beta) = \\frac{\\mathrm{count}(\\alpha \\to \\beta)}{\\mathrm{count}(\\alpha)},

where ``count(alpha)`` is how often ``alpha`` occurs in the intended words of the training
pairs. With ``window = 0`` and regions of one letter this is Kernighan, Church & Gale's model.

**Scoring**: the typed ``x`` is the intended ``c`` rewritten piece by piece; the channel takes
the best way of cutting both into aligned pieces (Brill & Moore, eq. 2), found by dynamic
programming like the edit distance:

.. math::  \\log Q(x \\mid c) = \\max_{\\text{partitions}} \\sum_i \\log P(\\alpha_i \\to \\beta_i),

where a letter kept as it is costs nothing. ``Q`` is the distribution of the typed string
*given that a typo happened*; the corrector multiplies it by ``1 - P(no typo)``.

Departures, each a choice of ours:
- Rules seen fewer than ``min_count`` times are dropped unless they are a single edit without
  context (Brill & Moore prune rare rules too; the threshold is ours, chosen on a split of the
  training half, never on the test half).
- Edits never seen in training get a back-off probability: the rate of their kind (deletion,
  insertion, substitution, transposition) per letter, times ``unseen_weight``, so that every
  string has a finite probability.
- Paths more than ``band`` letters off the diagonal are not searched (candidates are at most
  two edits away).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["EditChannel", "align", "error_regions"]

START, END = "^", "$"


def align(intended: str, typed: str) -> list[tuple[str, str]]:
    """A minimum-edit alignment of ``intended`` with ``typed``, as pieces ``(from, to)``:
    ``("a", "a")`` kept, ``("a", "b")`` substituted, ``("a", "")`` deleted, ``("", "b")``
    inserted, ``("ab", "ba")`` swapped. Joining the first (second) elements gives back
    ``intended`` (``typed``). Restricted Damerau-Levenshtein (no edit inside a swap); ties
    prefer keeping, then substituting, deleting, inserting.

    >>> align("spelling", "speling")
    [('s', 's'), ('p', 'p'), ('e', 'e'), ('l', ''), ('l', 'l'), ('i', 'i'), ('n', 'n'), ('g', 'g')]
    >>> [p for p in align("the", "teh") if p[0] != p[1]]
    [('he', 'eh')]
    """
    a, b = intended, typed
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]  # d[i][j]: distance between a[:i] and b[:j]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(
                d[i - 1][j - 1] + (a[i - 1] != b[j - 1]),  # keep or substitute
                d[i - 1][j] + 1,  # delete a[i-1]
                d[i][j - 1] + 1,  # insert b[j-1]
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and a[i - 1] != a[i - 2]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)  # swap two neighbours
    pieces = []
    i, j = n, m
    while i > 0 or j > 0:  # walk back along one optimal path
        if i and j and d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            pieces.append((a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            pieces.append((a[i - 1], ""))
            i -= 1
        elif j and d[i][j] == d[i][j - 1] + 1:
            pieces.append(("", b[j - 1]))
            j -= 1
        else:
            pieces.append((a[i - 2 : i], b[j - 2 : j]))
            i, j = i - 2, j - 2
    return pieces[::-1]


def error_regions(intended: str, typed: str) -> list[tuple[int, int, str, str]]:
    """The edits of :func:`align`, adjacent ones merged, as ``(start, end, alpha, beta)``:
    ``alpha = c[start:end]`` of the bounded intended word ``c = "^" + intended + "$"`` became
    ``beta``.

    >>> error_regions("receive", "recieve")
    [(4, 6, 'ei', 'ie')]
    """
    regions, pos, current = [], 1, None  # pos: index in "^intended$"
    for source, target in align(intended, typed):
        if source == target:
            if current is not None:
                regions.append(tuple(current))
                current = None
        else:
            if current is None:
                current = [pos, pos, "", ""]
            current[1] += len(source)
            current[2] += source
            current[3] += target
        pos += len(source)
    if current is not None:
        regions.append(tuple(current))
    return regions


@dataclass(frozen=True)
class ChannelOptions:
    """Options of :meth:`EditChannel.fit`, with their sources.

    - ``window``: letters of context counted on each side of an edit; Brill & Moore (2000,
      Table 2) find most of the gain with 1 to 3. 2 chosen on a split of the training half.
    - ``max_region``: longest substring (either side) counted as one edit (longer ones are
      too rare to learn from).
    - ``min_count``: a rule with context must be seen this often to be kept (ours).
    - ``unseen_weight``: an edit never seen gets this times the rate of its kind (ours).
    - ``band``: how far off the diagonal the scoring dynamic program looks.
    """

    window: int = 2
    max_region: int = 3
    min_count: int = 2
    unseen_weight: float = 0.1
    band: int = 3


class EditChannel:
    """``log Q(typed | intended)``, learned from ``(typed, intended)`` pairs of real typos.

    >>> ch = EditChannel.fit([("recieve", "receive"), ("beleive", "believe"), ("peice", "piece")])
    >>> ch.logprob("acheive", "achieve") > ch.logprob("achevie", "achieve")
    True
    """

    def __init__(self, rules: dict[str, dict[str, float]], backoff: dict[str, float], options: ChannelOptions):
        self.rules = rules  # rules[alpha][beta] = log P(alpha -> beta)
        self.backoff = backoff  # log probability of an unseen edit, by kind
        self.options = options
        self.max_alpha = max((len(a) for a in rules), default=1)
        self._beta_lengths = {a: sorted({len(b) for b in betas}) for a, betas in rules.items()}
        single = sorted(lp for a, betas in rules.items() if len(a) == 1 for lp in betas.values())
        # A typical one-letter edit, for ranking candidates before they are scored in full.
        self.typical_logprob = single[len(single) // 2] if single else min(backoff.values())

    # ---------------------------------------------------------------- estimation
    @classmethod
    def fit(cls, pairs: Iterable[Sequence[str]], **options) -> EditChannel:
        """Estimate the rules from ``(typed, intended)`` pairs (e.g. ``misspelling_split("train")``)."""
        opts = ChannelOptions(**options)
        if opts.window < 0 or opts.max_region < 1 or opts.min_count < 1 or not 0 < opts.unseen_weight <= 1:
            raise ValueError(f"invalid channel options {opts}: need window >= 0, max_region >= 1, "
                             "min_count >= 1 and 0 < unseen_weight <= 1")  # fmt: skip
        counts: Counter = Counter()
        kinds: Counter = Counter()
        intended_words: list[str] = []
        for pair in pairs:
            typed, intended = pair
            if not (isinstance(typed, str) and isinstance(intended, str)) or typed == intended:
                continue
            intended_words.append(intended)
            c = START + intended + END
            for start, end, alpha, beta in error_regions(intended, typed):
                if max(len(alpha), len(beta)) > opts.max_region:
                    continue
                kinds[_kind(alpha, beta)] += 1
                for left in range(opts.window + 1):
                    for right in range(opts.window + 1):
                        if start - left < 0 or end + right > len(c):
                            continue
                        ctx_l, ctx_r = c[start - left : start], c[end : end + right]
                        a = ctx_l + alpha + ctx_r
                        if a:  # an insertion needs a letter of context to be anchored
                            counts[a, ctx_l + beta + ctx_r] += 1
        if not intended_words:
            raise ValueError("EditChannel.fit needs (typed, intended) pairs of different strings")
        kept = {
            (a, b): n
            for (a, b), n in counts.items()
            if n >= opts.min_count or _is_single_edit(a, b)
        }
        alphas = {a for a, _ in kept}
        longest = max(map(len, alphas))
        occurrences: Counter = Counter()
        letters = pairs_of_letters = 0
        for word in intended_words:
            c = START + word + END
            letters += len(word)
            pairs_of_letters += max(len(word) - 1, 0)
            for i in range(len(c)):
                for j in range(i + 1, min(len(c), i + longest) + 1):
                    if c[i:j] in alphas:
                        occurrences[c[i:j]] += 1
        rules: dict[str, dict[str, float]] = {}
        for (a, b), n in kept.items():
            rules.setdefault(a, {})[b] = math.log(n / occurrences[a])
        w = opts.unseen_weight
        per_letter = {  # the rate of each kind of edit, per place it could happen
            "sub": kinds["sub"] / (25 * letters),
            "del": kinds["del"] / letters,
            "ins": kinds["ins"] / (26 * (letters + len(intended_words))),
            "swap": kinds["swap"] / max(pairs_of_letters, 1),
        }
        floor = min(v for v in per_letter.values() if v > 0) if any(per_letter.values()) else 1e-6
        backoff = {k: math.log(w * (v if v > 0 else floor)) for k, v in per_letter.items()}
        return cls(rules, backoff, opts)

    # ---------------------------------------------------------------- scoring
    def logprob(self, typed: str, intended: str) -> float:
        """``log Q(typed | intended)``: the best partition of both strings into learned
        rewrites (unchanged letters are free; unseen edits get their kind's back-off)."""
        a, b = START + intended + END, START + typed + END
        n, m = len(a), len(b)
        band, rules, lengths = self.options.band, self.rules, self._beta_lengths
        sub, dele, ins, swap = (self.backoff[k] for k in ("sub", "del", "ins", "swap"))
        neg = -math.inf
        best = [[neg] * (m + 1) for _ in range(n + 1)]  # best[i][j]: a[:i] typed as b[:j]
        best[0][0] = 0.0
        # The rules that can rewrite a piece of the intended word starting at each position.
        starting = []
        for i in range(n):
            here = []
            for la in range(1, min(self.max_alpha, n - i) + 1):
                betas = rules.get(a[i : i + la])
                if betas is not None:
                    here.append((best[i + la], betas, lengths[a[i : i + la]]))
            starting.append(here)
        for i in range(n + 1):
            row = best[i]
            for j in range(max(0, i - band), min(m, i + band) + 1):
                s = row[j]
                if s == neg:
                    continue
                if i < n and j < m:
                    step = 0.0 if a[i] == b[j] else sub
                    if s + step > best[i + 1][j + 1]:
                        best[i + 1][j + 1] = s + step
                if i < n and a[i] not in (START, END) and s + dele > best[i + 1][j]:
                    best[i + 1][j] = s + dele
                if j < m and b[j] not in (START, END) and s + ins > row[j + 1]:
                    row[j + 1] = s + ins
                if i + 1 < n and j + 1 < m and a[i] == b[j + 1] and a[i + 1] == b[j] and a[i] != a[i + 1]:
                    if s + swap > best[i + 2][j + 2]:
                        best[i + 2][j + 2] = s + swap
                if i == n:
                    continue
                for target_row, betas, beta_lengths in starting[i]:
                    for lb in beta_lengths:
                        if j + lb > m:
                            break
                        lp = betas.get(b[j : j + lb])
                        if lp is not None and s + lp > target_row[j + lb]:
                            target_row[j + lb] = s + lp
        return best[n][m]

    def explain(self, typed: str, intended: str) -> list[tuple[str, str, float]]:
        """The learned rules that fit each edit of :func:`align`, with their probability:
        for every error region, the rule with the most context that was learned."""
        c = START + intended + END
        found = []
        for start, end, alpha, beta in error_regions(intended, typed):
            best = None
            for left in range(self.options.window, -1, -1):
                for right in range(self.options.window, -1, -1):
                    if start - left < 0 or end + right > len(c):
                        continue
                    a = c[start - left : start] + alpha + c[end : end + right]
                    b = c[start - left : start] + beta + c[end : end + right]
                    lp = self.rules.get(a, {}).get(b)
                    if lp is not None and (best is None or len(a) > len(best[0])):
                        best = (a, b, math.exp(lp))
            found.append(best or (alpha, beta, math.exp(self.backoff[_kind(alpha, beta)])))
        return found

    def __repr__(self) -> str:
        n = sum(len(b) for b in self.rules.values())
        return f"EditChannel({n:,} rules, window={self.options.window})"


def _kind(alpha: str, beta: str) -> str:
    if not beta:
        return "del"
    if not alpha:
        return "ins"
    if len(alpha) == len(beta) == 2 and alpha == beta[::-1]:
        return "swap"
    if len(alpha) < len(beta):
        return "ins"
    if len(alpha) > len(beta):
        return "del"
    return "sub"


def _is_single_edit(alpha: str, beta: str) -> bool:
    """An edit of one letter (or one swap) with at most one letter of context: always kept."""
    return len(alpha) <= 2 and len(beta) <= 2
