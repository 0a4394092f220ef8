"""Scaling laws: fit a power law to measured losses, and the compute-optimal model size.

**Loss against model size.** Kaplan et al. (2020, equation 1.1) fit L(N) = (N_c / N)^alpha_N;
Hoffmann et al. (2022, equation 2) add an irreducible loss E, the entropy of text that no model
removes. :func:`fit_power_law` fits

    L(N) = E + A / N^alpha          (``irreducible=False``: E = 0, a straight line in log-log)

by least squares on log L (errors relative to the loss), with E in [0, min L), from several
starting points, keeping the best (the fit is not convex). Confidence intervals come from the
bootstrap (Efron 1979): refit on measurements resampled with replacement; the interval is the
middle ``confidence`` share of the refitted values (percentile method).

**Loss against size and data** (Hoffmann et al. 2022, section 3.3, "approach 3"):

    L(N, D) = E + A / N^alpha + B / D^beta

:func:`fit_loss_surface` minimises, as the paper does (Appendix D.2), the Huber loss
(delta = 1e-3) between the predicted and measured log L, written with a log-sum-exp,
LSE(a - alpha log N, b - beta log D, e) with A = e^a, B = e^b, E = e^e, by L-BFGS from a grid of
starting points (the paper's grid: ``grid="paper"``, 4500 starts; default a coarser one).
For a compute budget C = 6 N D, the L-minimising split is (the paper's equation 4)

    N_opt(C) = G (C / 6)^a,   D_opt(C) = (C / 6)^b / G,   G = (alpha A / (beta B))^(1 / (alpha + beta)),
    a = beta / (alpha + beta),   b = alpha / (alpha + beta)

:data:`CHINCHILLA_LAW` holds the published constants (:mod:`helpers.scaling.published`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from helpers.scaling.published import CHINCHILLA

__all__ = ["CHINCHILLA_LAW", "LossSurface", "PowerLawFit", "fit_loss_surface", "fit_power_law"]


@dataclass(frozen=True)
class PowerLawFit:
    """L(N) = E + A / N^alpha, with bootstrap intervals (``intervals[name] = (low, high)``)."""

    E: float
    A: float
    alpha: float
    n_points: int
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    confidence: float = 0.95
    samples: np.ndarray | None = None  # bootstrap estimates (n_bootstrap, 3): E, A, alpha

    def predict(self, N) -> np.ndarray:
        return self.E + self.A * np.asarray(N, dtype=float) ** -self.alpha


def _as_measurements(name_values: dict[str, object], minimum: int) -> list[np.ndarray]:
    arrays = []
    for name, values in name_values.items():
        a = np.asarray(values, dtype=float)
        if a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {a.shape}")
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"every {name} must be a positive finite number; got {a[~(np.isfinite(a) & (a > 0))][:3]}")
        arrays.append(a)
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"{', '.join(name_values)} must have the same length, got {[len(a) for a in arrays]}")
    if lengths.pop() < minimum:
        raise ValueError(
            f"need at least {minimum} measurements to fit this law with confidence, got {len(arrays[0])}: measure more sizes"
        )
    return arrays


def _fit_offset_law(x: np.ndarray, y: np.ndarray, starts: list[tuple[float, float, float]]):
    """Least squares of log L = log(E + exp(a - alpha x)) over (a, alpha, E); x = log(N / N_ref)."""
    from scipy.optimize import least_squares

    upper_E = np.exp(y.min()) * (1 - 1e-9)

    def residuals(p):
        a, alpha, E = p
        return np.log(E + np.exp(a - alpha * x)) - y

    def jacobian(p):  # d residual / d (a, alpha, E)
        a, alpha, E = p
        t = np.exp(a - alpha * x)  # A' N^-alpha
        return np.stack([t / (E + t), -x * t / (E + t), 1 / (E + t)], axis=1)

    best = None
    for start in starts:
        start = (start[0], float(np.clip(start[1], 0, 10)), float(np.clip(start[2], 0, upper_E * 0.999)))
        result = least_squares(residuals, start, jac=jacobian, bounds=([-np.inf, 0.0, 0.0], [np.inf, 10.0, upper_E]), method="trf")
        if best is None or result.cost < best.cost:
            best = result
    return best.x


def _starts(x: np.ndarray, y: np.ndarray, shares=(0.0, 0.3, 0.6, 0.8, 0.9, 0.97)) -> list[tuple[float, float, float]]:
    """Starting points: for E0 a share of min L, a line through log(L - E0) against x."""
    starts = []
    L = np.exp(y)
    for share in shares:
        E0 = share * L.min()
        slope, intercept = np.polyfit(x, np.log(L - E0), 1)
        starts.append((intercept, -slope, E0))
    return starts


def fit_power_law(
    N,
    L,
    irreducible: bool = True,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PowerLawFit:
    """Fit L(N) = E + A / N^alpha to measured losses ``L`` of models of sizes ``N``.

    ``bootstrap`` resamples (0: no intervals); ``seed`` makes them reproducible.

    >>> N = np.array([1e3, 1e4, 1e5, 1e6])
    >>> fit = fit_power_law(N, 2.0 + 30.0 * N**-0.5, bootstrap=0)
    >>> round(fit.E, 6), round(fit.A, 4), round(fit.alpha, 6)
    (2.0, 30.0, 0.5)
    """
    n_params = 3 if irreducible else 2
    N, L = _as_measurements({"N": N, "L": L}, minimum=n_params + 1)
    if len(np.unique(N)) < n_params:
        raise ValueError(f"need at least {n_params} different sizes N, got {len(np.unique(N))}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must be between 0 and 1")
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise ValueError(f"bootstrap={bootstrap!r} must be a non-negative number of resamples")
    log_ref = np.log(N).mean()  # fit in log(N / N_ref): well-conditioned whatever the units

    def fit(Ns, Ls, starts=None):
        x, y = np.log(Ns) - log_ref, np.log(Ls)
        if not irreducible:
            slope, intercept = np.polyfit(x, y, 1)
            return 0.0, float(np.exp(intercept - slope * log_ref)), float(-slope)
        a, alpha, E = _fit_offset_law(x, y, starts if starts is not None else _starts(x, y))
        return float(E), float(np.exp(a + alpha * log_ref)), float(alpha)

    E, A, alpha = fit(N, L)
    intervals, samples = {}, None
    if bootstrap:
        rng = np.random.default_rng(seed)
        warm = [(np.log(A) - alpha * log_ref, alpha, E)]  # the full fit, as the first start
        estimates = []
        for _ in range(bootstrap):
            idx = rng.integers(0, len(N), len(N))
            if len(np.unique(N[idx])) < n_params:
                continue  # too few distinct sizes in this resample to determine the law
            x = np.log(N[idx]) - log_ref
            starts = warm + _starts(x, np.log(L[idx]), shares=(0.5,)) if irreducible else None
            estimates.append(fit(N[idx], L[idx], starts))
        samples = np.array(estimates)
        lo, hi = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2
        for i, name in enumerate(("E", "A", "alpha")):
            intervals[name] = (float(np.percentile(samples[:, i], lo)), float(np.percentile(samples[:, i], hi)))
    return PowerLawFit(E, A, alpha, len(N), intervals, confidence, samples)


@dataclass(frozen=True)
class LossSurface:
    """L(N, D) = E + A / N^alpha + B / D^beta and the compute-optimal split it implies."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def loss(self, N, D) -> np.ndarray:
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.E + self.A * N**-self.alpha + self.B * D**-self.beta

    @property
    def a(self) -> float:
        """N_opt grows as C^a."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """D_opt grows as C^b."""
        return self.alpha / (self.alpha + self.beta)

    def optimal(self, C) -> tuple[np.ndarray, np.ndarray]:
        """(N_opt, D_opt) minimising the loss at compute C = 6 N D FLOPs (equation 4).

        >>> N, D = CHINCHILLA_LAW.optimal(5.76e23)  # Gopher's and Chinchilla's budget
        >>> round(float(N) / 1e9, 1), round(float(D / N), 1)  # billions of parameters, tokens per parameter
        (32.2, 92.6)
        """
        C = np.asarray(C, dtype=float)
        if np.any(C <= 0):
            raise ValueError("compute budgets must be positive numbers of FLOPs")
        G = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        return G * (C / 6) ** self.a, (C / 6) ** self.b / G


CHINCHILLA_LAW = LossSurface(**CHINCHILLA)  # Hoffmann et al. 2022, equation (10)


def _huber_lse(params, log_N, log_D, log_L, delta):
    """Huber loss of LSE(a - alpha log N, b - beta log D, e) - log L, and its gradient."""
    a, b, e, alpha, beta = params
    u = np.stack([a - alpha * log_N, b - beta * log_D, np.full_like(log_N, e)])  # (3, n)
    top = u.max(axis=0)
    lse = top + np.log(np.exp(u - top).sum(axis=0))
    s = np.exp(u - lse)  # (3, n) softmax shares: d lse / d u
    r = lse - log_L
    small = np.abs(r) <= delta
    loss = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta)).sum()
    h = np.where(small, r, delta * np.sign(r))  # Huber'(r)
    grad = np.array([(h * s[0]).sum(), (h * s[1]).sum(), (h * s[2]).sum(), -(h * s[0] * log_N).sum(), -(h * s[1] * log_D).sum()])
    return loss, grad


GRIDS = {
    "paper": (np.arange(0, 2.01, 0.5), np.arange(0, 2.01, 0.5), np.arange(-1, 1.01, 0.5), np.arange(0, 26, 5), np.arange(0, 26, 5)),
    "coarse": (np.array([0.2, 0.5, 1.0]), np.array([0.2, 0.5, 1.0]), np.array([-1.0, 0.0, 1.0]), np.array([0.0, 5, 10, 20]), np.array([0.0, 5, 10, 20])),
}  # alpha, beta, e, a, b (Hoffmann et al. 2022, Appendix D.2)


def fit_loss_surface(N, D, L, huber_delta: float = 1e-3, grid: str = "coarse", bootstrap: int = 0, seed: int = 0) -> LossSurface:
    """Fit L(N, D) = E + A / N^alpha + B / D^beta to losses ``L`` of models of ``N`` parameters
    trained on ``D`` tokens (Hoffmann et al. 2022, approach 3). ``bootstrap`` > 0 adds percentile
    intervals (95%) from that many resamples, each refitted from the full fit's optimum and eight
    points of the coarse grid."""
    from scipy.optimize import minimize

    if grid not in GRIDS:
        raise ValueError(f"grid={grid!r} must be one of {tuple(GRIDS)}")
    N, D, L = _as_measurements({"N": N, "D": D, "L": L}, minimum=6)
    if len(np.unique(N)) < 2 or len(np.unique(D)) < 2:
        raise ValueError("need at least two model sizes and two data sizes to separate their effects")
    bounds = [(None, None), (None, None), (None, None), (0.0, 5.0), (0.0, 5.0)]

    def fit(idx, starts):
        args = (np.log(N[idx]), np.log(D[idx]), np.log(L[idx]), huber_delta)
        best = None
        for alpha, beta, e, a, b in starts:
            result = minimize(_huber_lse, [a, b, e, alpha, beta], args=args, jac=True, method="L-BFGS-B", bounds=bounds)
            if best is None or result.fun < best.fun:
                best = result
        return best.x

    everything = np.arange(len(N))
    a, b, e, alpha, beta = fit(everything, itertools.product(*GRIDS[grid]))
    intervals = {}
    if bootstrap:
        rng = np.random.default_rng(seed)
        starts = [(alpha, beta, e, a, b), *list(itertools.product(*GRIDS["coarse"]))[::54]]  # the optimum and 8 more
        estimates = np.array([fit(rng.integers(0, len(N), len(N)), starts) for _ in range(bootstrap)])
        values = {"E": np.exp(estimates[:, 2]), "A": np.exp(estimates[:, 0]), "B": np.exp(estimates[:, 1]),
                  "alpha": estimates[:, 3], "beta": estimates[:, 4]}  # fmt: skip
        intervals = {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in values.items()}
    return LossSurface(float(np.exp(e)), float(np.exp(a)), float(np.exp(b)), float(alpha), float(beta), intervals)
