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
