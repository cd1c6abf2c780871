"""The repository's central files: PageRank over the import graph with a uniform teleport (no
ticket), the map's fallback when a ticket names nothing the repository holds. Heavily imported
modules rank first; tests rank below code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DAMPING = 0.85
ITERATIONS = 40


def centrality(paths: Sequence[str], imports: Mapping[str, Sequence[str]],
               is_test: Sequence[bool]) -> np.ndarray:
    """A positive score per path (same order), summing to about 1 before tests are halved."""
    n = len(paths)
    if n == 0:
        return np.zeros(0)
    pos = {p: i for i, p in enumerate(paths)}
    src = np.array([pos[a] for a, targets in imports.items() for _ in targets], dtype=np.int64)
    dst = np.array([pos[b] for targets in imports.values() for b in targets], dtype=np.int64)
    out = np.bincount(src, minlength=n).astype(float)
    r = np.full(n, 1.0 / n)
    for _ in range(ITERATIONS):
        share = np.where(out > 0, r / np.maximum(out, 1.0), 0.0)
        moved = np.bincount(dst, weights=share[src], minlength=n) if len(src) else np.zeros(n)
        dangling = r[out == 0].sum()  # files that import nothing hand their rank to everyone
        r = (1 - DAMPING) / n + DAMPING * (moved + dangling / n)
    return np.where(np.array(is_test, dtype=bool), r * 0.5, r)
