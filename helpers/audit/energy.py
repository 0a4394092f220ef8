"""Energy and carbon of a training run: an estimate from measured CPU time and stated figures.

    energy (kWh) = CPU seconds x watts per busy core x PUE / 3.6e6
    emissions (g CO2e) = energy (kWh) x grid intensity (g CO2e / kWh)

Only the CPU seconds are measured (``time.process_time`` of the process, or the leaderboard's
``train_cpu_seconds``); the power per core, the data-centre overhead (PUE) and the grid's carbon
intensity are **assumptions**, stated in :class:`PowerAssumptions` with their sources, and the
result is an estimate to the nearest order of magnitude, never a measurement. The method is that
of Strubell et al. (2019) and of the ML CO2 calculator of Lacoste et al. (2019): power x time x
PUE x grid intensity. A wattmeter at the wall, or RAPL counters (what codecarbon reads where it
can) would replace the power assumption by a measurement.

:data:`PUBLISHED` lists published estimates for large models, with their caveats, for scale.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PUBLISHED",
    "EnergyEstimate",
    "PowerAssumptions",
    "PublishedEstimate",
    "estimate_energy",
    "measure_cpu",
]


@dataclass(frozen=True)
class PowerAssumptions:
    """The stated figures of an estimate (change them to your machine and grid)."""

    watts_per_core: float = (
        10.0  # a 65 W desktop CPU with 6 cores, at full load: ~10 W a core (assumption)
    )
    pue: float = 1.0  # a laptop or desktop has no data-centre overhead; Strubell et al. use 1.58
    grid_g_per_kwh: float = (
        475.0  # world average electricity, IEA 2019 (as Lacoste et al. 2019 use)
    )

    def __post_init__(self):
        for name in ("watts_per_core", "pue", "grid_g_per_kwh"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r} must be a positive number")
        if self.pue < 1:
            raise ValueError(f"pue={self.pue!r} cannot be below 1 (total power / computing power)")


@dataclass(frozen=True)
class EnergyEstimate:
    cpu_seconds: float
    kwh: float
    grams_co2e: float
    assumptions: PowerAssumptions

    def __str__(self) -> str:
        a = self.assumptions
        return (
            f"{self.cpu_seconds:,.0f} CPU s -> {1000 * self.kwh:.3g} Wh -> {self.grams_co2e:.3g} g CO2e "
            f"(estimate: {a.watts_per_core:g} W/core, PUE {a.pue:g}, {a.grid_g_per_kwh:g} g/kWh)"
        )


def estimate_energy(
    cpu_seconds: float, assumptions: PowerAssumptions | None = None
) -> EnergyEstimate:
    """kWh and g CO2e of ``cpu_seconds`` of busy cores under ``assumptions``.

    >>> str(estimate_energy(3600.0, PowerAssumptions(10.0, 1.0, 500.0)))
    '3,600 CPU s -> 10 Wh -> 5 g CO2e (estimate: 10 W/core, PUE 1, 500 g/kWh)'
    """
    if not (
        isinstance(cpu_seconds, (int, float)) and math.isfinite(cpu_seconds) and cpu_seconds >= 0
    ):
        raise ValueError(f"cpu_seconds={cpu_seconds!r} must be a non-negative number of seconds")
    a = assumptions or PowerAssumptions()
    kwh = cpu_seconds * a.watts_per_core * a.pue / 3.6e6  # J = W s; 1 kWh = 3.6e6 J
    return EnergyEstimate(float(cpu_seconds), kwh, kwh * a.grid_g_per_kwh, a)


def measure_cpu(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn()``; return its result, the CPU seconds of this process and the wall seconds.

    CPU time counts every thread of the process (two busy threads for 1 s = 2 CPU s), which is
    what the power per core multiplies; work in child processes is not counted.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


@dataclass(frozen=True)
class PublishedEstimate:
    model: str
    tonnes_co2e: float
    source: str
    caveat: str


_LB = 0.45359237  # kg per pound: Strubell et al. report pounds
PUBLISHED: tuple[PublishedEstimate, ...] = (
    PublishedEstimate(
        "Transformer (big), 8 P100 GPUs, 3.5 days",
        192 * _LB / 1000,
        "Strubell, Ganesh & McCallum 2019, ACL, Table 3 (192 lbs)",
        "US average grid mix and PUE 1.58 assumed; GPU power measured on a re-run, not the original",
    ),
    PublishedEstimate(
        "BERT-base, 64 V100 GPUs, 79 hours",
        1438 * _LB / 1000,
        "Strubell et al. 2019, Table 3 (1,438 lbs)",
        "the same assumptions; Google trained BERT on TPUs, the GPU run is hypothetical",
    ),
    PublishedEstimate(
        "Transformer (big) with neural architecture search",
        626_155 * _LB / 1000,
        "Strubell et al. 2019, Table 3 (626,155 lbs)",
        "an extrapolation of the search's full cost; Patterson et al. 2021 argue the search as actually "
        "run emitted about 88x less",
    ),
    PublishedEstimate(
        "BLOOM 176B, final training run (dynamic power)",
        24.7,
        "Luccioni, Viguier & Ligozat 2023, JMLR, section 4",
        "French grid (~57 g CO2e/kWh); 50.5 t when idle power, manufacturing of the hardware and "
        "the rest of the infrastructure are counted",
    ),
)
