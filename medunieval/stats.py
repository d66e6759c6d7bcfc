"""Small, dependency-free statistics used by the leaderboard and the regression gate."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion (95% by default); None when ``n == 0``."""
    if n <= 0:
        return None
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (binomial test of
    ``min(b, c)`` under p = 1/2). 1.0 when there is no discordant pair."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap_ci(
    lost: int, gained: int, n: int, reps: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap interval for a paired difference of accuracies (candidate minus
    baseline) over ``n`` paired samples, ``lost`` of them right only in the baseline and
    ``gained`` right only in the candidate. The pairs are resampled with replacement (a
    multinomial draw over the three kinds of pair), seeded, so the interval is reproducible.
    None when ``n == 0``."""
    if n <= 0:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    same = n - lost - gained
    draws = rng.multinomial(n, [lost / n, gained / n, same / n], size=reps)
    diffs = (draws[:, 1] - draws[:, 0]) / n
    tail = (1 - level) / 2
    lo, hi = np.quantile(diffs, [tail, 1 - tail])
    return float(lo), float(hi)
