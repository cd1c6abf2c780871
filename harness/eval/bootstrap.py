"""A paired bootstrap over instances: the confidence interval of the mean difference between two
configs measured on the same instances (resolved 0/1, cost). Pairing keeps each instance's
difficulty out of the interval; the fixed seed makes a table reproducible."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
CONFIDENCE = 0.95
SEED = 20_240_924


@dataclass(frozen=True)
class Interval:
    mean: float  # the observed mean difference (b - a)
    low: float
    high: float
    n: int  # the instances both configs have

    def excludes_zero(self) -> bool:
        return self.n > 0 and (self.low > 0 or self.high < 0)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, resamples: int = RESAMPLES,
                     confidence: float = CONFIDENCE, seed: int = SEED) -> Interval:
    """The percentile interval of mean(b - a) over ``resamples`` resamplings of the instances
    (with replacement); ``a[i]`` and ``b[i]`` are the same instance."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    if not a:
        return Interval(0.0, 0.0, 0.0, 0)
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // len(diff))  # bounded memory for large sets
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        picks = rng.integers(0, len(diff), size=(size, len(diff)))
        means[start:start + size] = diff[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(diff.mean()), float(low), float(high), len(diff))
