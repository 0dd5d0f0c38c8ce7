"""Pieces every benchmark shares: the failure that makes the runner exit non-zero, time limits, summaries."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass


class BenchFailure(Exception):
    """Something functionally broke. Slow figures never raise this: benchmarks measure, they do not judge."""


class Deadline:
    """A time budget, so that every loop ends even when the code under test gets slow."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: always one of the measured values, never an interpolation between two."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    n: int
    min: float
    median: float
    mean: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise BenchFailure("no samples were taken")
        ordered = sorted(values)
        return cls(
            n=len(ordered),
            min=ordered[0],
            median=statistics.median(ordered),
            mean=statistics.fmean(ordered),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1],
        )

    def to_json(self, digits: int = 3) -> dict[str, float | int]:
        return {
            "n": self.n,
            "min": round(self.min, digits),
            "median": round(self.median, digits),
            "mean": round(self.mean, digits),
            "p95": round(self.p95, digits),
            "p99": round(self.p99, digits),
            "max": round(self.max, digits),
        }


def ms_since(start: float, end: float) -> float:
    return (end - start) * 1000.0
