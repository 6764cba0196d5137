"""Small statistics shared by the analyses: Wilson interval, gap to a reference rate, suppression.

Import freely from other analysis modules: numpy is imported inside the functions.
"""

from __future__ import annotations

import math
from typing import Any

Z_95 = 1.959963984540054


def wilson_interval(successes: float, n: float, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion successes/n (Wilson 1927). n may be non-integer
    (an average headcount). The observed proportion is clipped to [0, 1]. (nan, nan) when n <= 0."""
    if n is None or n <= 0 or successes is None or math.isnan(n) or math.isnan(successes):
        return (math.nan, math.nan)
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def wilson_intervals(successes: Any, n: Any, z: float = Z_95) -> tuple[Any, Any]:
    """Vectorised :func:`wilson_interval` over numpy arrays."""
    import numpy as np

    k = np.asarray(successes, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.clip(k / n, 0.0, 1.0)
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        low = np.where(n > 0, np.maximum(0.0, centre - half), np.nan)
        high = np.where(n > 0, np.minimum(1.0, centre + half), np.nan)
    return low, high


def gap(rate: float, reference: float) -> tuple[float | None, float | None]:
    """(rate − reference in percentage points, rate ÷ reference − 1); None where undefined."""
    if rate is None or reference is None or math.isnan(rate) or math.isnan(reference):
        return (None, None)
    pp = (rate - reference) * 100
    relative = (rate / reference - 1) if reference > 0 else None
    return (pp, relative)


# -- intervals for group profiles and impact estimates (describe_groups, estimate_impact, call_log_profile)


def t_interval(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Student t interval for a mean: mean ± t(1 − α/2, n − 1) · sd / √n. (None, None) when n < 2."""
    from scipy import stats

    if n is None or n < 2 or not math.isfinite(sd):
        return (None, None)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def welch_interval(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int,
                   level: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """Welch (1947) interval for mean1 − mean2 with the Welch–Satterthwaite degrees of freedom:
    se = √(s1²/n1 + s2²/n2), df = se⁴ ÷ ((s1²/n1)²/(n1−1) + (s2²/n2)²/(n2−1)). Returns (low, high, df);
    Nones when a side has fewer than 2 values or both variances are 0."""
    from scipy import stats

    if n1 < 2 or n2 < 2:
        return (None, None, None)
    v1, v2 = sd1 * sd1 / n1, sd2 * sd2 / n2
    se2 = v1 + v2
    if not se2 > 0:
        return (None, None, None)
    df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * math.sqrt(se2)
    difference = mean1 - mean2
    return (difference - half, difference + half, float(df))


def median_interval(sorted_values: Any, level: float = 0.95) -> tuple[float | None, float | None]:
    """Distribution-free interval for a median from order statistics (Conover, Practical Nonparametric
    Statistics, 3rd ed., §3.2): ranks l = the smallest k with P(B <= k) >= α/2 for B ~ Binomial(n, ½) and
    u = n − l + 1 (1-based); coverage at least ``level``. (None, None) when n is too small (n <= 5 at 95%)."""
    from scipy import stats

    n = len(sorted_values)
    if n == 0:
        return (None, None)
    lower = int(stats.binom.ppf((1 - level) / 2, n, 0.5))
    if lower < 1:
        return (None, None)
    upper = n - lower + 1
    return (float(sorted_values[lower - 1]), float(sorted_values[upper - 1]))


def newcombe_difference(k1: float, n1: float, k2: float, n2: float,
                        z: float = Z_95) -> tuple[float | None, float | None, float | None]:
    """Difference of two independent proportions k1/n1 − k2/n2 with Newcombe's hybrid score interval
    (Newcombe 1998, Stat Med 17:873, method 10), built from the two Wilson intervals:
    low = d − √((p1 − l1)² + (u2 − p2)²), high = d + √((u1 − p1)² + (p2 − l2)²)."""
    if not n1 or not n2 or n1 <= 0 or n2 <= 0:
        return (None, None, None)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    difference = p1 - p2
    return (difference, difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def poisson_interval(count: float, exposure: float, level: float = 0.95) -> tuple[float | None, float | None]:
    """Exact (Garwood 1936) interval for a rate count ÷ exposure: χ²(α/2, 2x)/2 and χ²(1 − α/2, 2x + 2)/2
    leavers, divided by the exposure (an average headcount)."""
    from scipy import stats

    if exposure is None or not exposure > 0 or count is None or count < 0:
        return (None, None)
    alpha = 1 - level
    low = 0.0 if count == 0 else float(stats.chi2.ppf(alpha / 2, 2 * count)) / 2
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return (low / exposure, high / exposure)
