"""Small statistics shared by the analyses: Wilson and exact Poisson intervals, gap to a reference rate, tests of a
group against the rest (two proportions, two Poisson rates), Holm's adjustment, one-way ANOVA, χ², Kruskal–Wallis.

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


# -- exact Poisson (Garwood) interval for event counts


def garwood_intervals(counts: Any, exposure: Any, level: float = 0.95) -> tuple[Any, Any]:
    """Exact Poisson 95% interval for a count over an exposure (Garwood 1936), vectorised.

    For x events: lower = χ²(α/2; 2x) ÷ 2, upper = χ²(1 − α/2; 2x + 2) ÷ 2, both divided by the exposure;
    written with the inverse regularised gamma function (χ²(p; 2a) ÷ 2 = P⁻¹(a, p)). NaN where exposure <= 0.
    Published check: 0 events -> [0, 3.689], 10 events -> [4.795, 18.39]."""
    import numpy as np
    from scipy.special import gammaincinv

    x = np.asarray(counts, dtype="float64")
    e = np.asarray(exposure, dtype="float64")
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(x > 0, gammaincinv(np.maximum(x, 1e-300), alpha / 2), 0.0)
        high = gammaincinv(x + 1, 1 - alpha / 2)
        low = np.where(e > 0, low / e, np.nan)
        high = np.where(e > 0, high / e, np.nan)
    return low, high


# -- tests of a group against the rest, and Holm's adjustment


def holm(p_values: Any) -> list[float | None]:
    """Holm (1979) step-down adjusted p-values; None entries stay None and do not count as tests."""
    present = [(p, i) for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def _two_sided_discrete(log_pmf: Any, observed: int) -> float:
    """Two-sided p of a discrete test: the total probability of outcomes no more likely than the observed one
    (the rule of R's binom.test and fisher.test, with the same relative tolerance)."""
    import numpy as np

    pmf = np.exp(log_pmf - log_pmf.max())
    pmf /= pmf.sum()
    return float(min(1.0, pmf[pmf <= pmf[observed] * (1 + 1e-7)].sum()))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact test, two-sided, for the 2×2 table [[a, b], [c, d]] (hypergeometric, margins fixed)."""
    import numpy as np
    from scipy.special import gammaln

    row1, col1, total = a + b, a + c, a + b + c + d
    low, high = max(0, col1 - (total - row1)), min(row1, col1)
    x = np.arange(low, high + 1, dtype="float64")
    log_pmf = (gammaln(row1 + 1) - gammaln(x + 1) - gammaln(row1 - x + 1)
               + gammaln(total - row1 + 1) - gammaln(col1 - x + 1) - gammaln(total - row1 - col1 + x + 1))
    return _two_sided_discrete(log_pmf, int(a - low))


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> tuple[float | None, str]:
    """p-value of k1/n1 against k2/n2: the pooled two-proportion z-test when every expected count of the 2×2
    table is at least 5, Fisher's exact test otherwise. Returns (p, the test used)."""
    if n1 <= 0 or n2 <= 0:
        return None, ""
    total, leavers = n1 + n2, k1 + k2
    expected = [n1 * leavers / total, n1 * (total - leavers) / total, n2 * leavers / total,
                n2 * (total - leavers) / total]
    if min(expected) < 5:
        return fisher_exact(int(k1), int(n1 - k1), int(k2), int(n2 - k2)), "Fisher's exact test"
    pooled = leavers / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0, "two-proportion z-test"
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2)), "two-proportion z-test"


def conditional_rate_test(x1: int, exposure1: float, x2: int, exposure2: float) -> float | None:
    """Exact test that two Poisson rates are equal: given x1 + x2 events, x1 ~ Binomial(x1 + x2,
    exposure1 ÷ (exposure1 + exposure2)) under equal rates (Przyborowski & Wilenski 1940); two-sided p."""
    import numpy as np
    from scipy.special import gammaln

    if exposure1 <= 0 or exposure2 <= 0:
        return None
    n = int(x1 + x2)
    if n == 0:
        return 1.0
    share = exposure1 / (exposure1 + exposure2)
    # Outcomes more than 40 standard deviations from the mean have probability below e^-800: leave them out, but
    # keep the observed one (the window then still holds every outcome at least as likely as it).
    mean, sd = n * share, math.sqrt(n * share * (1 - share))
    low = max(0, min(int(x1), math.floor(mean - 40 * sd - 1)))
    high = min(n, max(int(x1), math.ceil(mean + 40 * sd + 1)))
    k = np.arange(low, high + 1, dtype="float64")
    log_pmf = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + k * math.log(share) + (n - k) * math.log1p(-share)
    return _two_sided_discrete(log_pmf, int(x1) - low)


# -- means and rates of groups (agents)


def t_interval(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Student-t interval for a mean: mean ± t(1 − α/2; n − 1) × sd ÷ √n; (None, None) when n < 2."""
    from scipy.special import stdtrit

    if n is None or n < 2 or sd is None or math.isnan(sd) or math.isnan(mean):
        return None, None
    half = float(stdtrit(n - 1, 1 - (1 - level) / 2)) * sd / math.sqrt(n)
    return mean - half, mean + half


def one_way_anova(groups: list[Any]) -> tuple[float, int, int, float] | None:
    """One-way ANOVA F test that the group means are equal: (F, df between, df within, p); None when undefined."""
    import numpy as np
    from scipy.special import fdtrc

    groups = [np.asarray(g, dtype="float64") for g in groups if len(g)]
    k, n = len(groups), sum(len(g) for g in groups)
    if k < 2 or n - k < 1:
        return None
    grand = np.concatenate(groups).mean()
    between = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    within = sum(((g - g.mean()) ** 2).sum() for g in groups)
    if within <= 0:
        return None
    f = (between / (k - 1)) / (within / (n - k))
    return float(f), k - 1, n - k, float(fdtrc(k - 1, n - k, f))


def chi2_homogeneity(successes: Any, totals: Any) -> tuple[float, int, float] | None:
    """Pearson χ² test that k groups share one proportion (a k × 2 table, no continuity correction):
    (χ², k − 1, p); None when undefined."""
    import numpy as np
    from scipy.special import chdtrc

    s = np.asarray(successes, dtype="float64")
    t = np.asarray(totals, dtype="float64")
    keep = t > 0
    s, t = s[keep], t[keep]
    if len(t) < 2:
        return None
    pooled = s.sum() / t.sum()
    if pooled in (0.0, 1.0):
        return 0.0, len(t) - 1, 1.0
    expected_yes, expected_no = t * pooled, t * (1 - pooled)
    chi2 = float((((s - expected_yes) ** 2) / expected_yes).sum()
                 + ((((t - s) - expected_no) ** 2) / expected_no).sum())
    return chi2, len(t) - 1, float(chdtrc(len(t) - 1, chi2))


def average_ranks(values: Any) -> Any:
    """Ranks 1..n with ties given their average rank."""
    import numpy as np

    values = np.asarray(values, dtype="float64")
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, len(values)))
    mean_rank = first + (counts + 1) / 2
    ranks = np.empty(len(values))
    ranks[order] = mean_rank[group]
    return ranks


def kruskal_wallis(groups: list[Any]) -> tuple[float, int, float] | None:
    """Kruskal–Wallis H test with the tie correction: (H, k − 1, p from χ²); None when undefined."""
    import numpy as np
    from scipy.special import chdtrc

    groups = [np.asarray(g, dtype="float64") for g in groups if len(g)]
    if len(groups) < 2:
        return None
    pooled = np.concatenate(groups)
    n = len(pooled)
    ranks = average_ranks(pooled)
    _, ties = np.unique(pooled, return_counts=True)
    correction = 1 - float((ties ** 3 - ties).sum()) / (n ** 3 - n)
    if correction <= 0:
        return None
    h, start = 0.0, 0
    for g in groups:
        h += ranks[start:start + len(g)].sum() ** 2 / len(g)
        start += len(g)
    h = (12 / (n * (n + 1)) * h - 3 * (n + 1)) / correction
    return float(h), len(groups) - 1, float(chdtrc(len(groups) - 1, h))


def normal_two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


# -- intervals for group profiles and impact estimates (describe_groups, estimate_impact, call_log_profile)


def welch_interval(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int,
                   level: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """Welch (1947) interval for mean1 − mean2 with the Welch–Satterthwaite degrees of freedom:
    se = √(s1²/n1 + s2²/n2), df = se⁴ ÷ ((s1²/n1)²/(n1−1) + (s2²/n2)²/(n2−1)). Returns (low, high, df);
    Nones when a side has fewer than 2 values or both variances are 0."""
    from scipy.special import stdtrit

    if n1 < 2 or n2 < 2:
        return (None, None, None)
    v1, v2 = sd1 * sd1 / n1, sd2 * sd2 / n2
    se2 = v1 + v2
    if not se2 > 0:
        return (None, None, None)
    df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    half = float(stdtrit(df, 0.5 + level / 2)) * math.sqrt(se2)
    difference = mean1 - mean2
    return (difference - half, difference + half, float(df))


def median_interval(sorted_values: Any, level: float = 0.95) -> tuple[float | None, float | None]:
    """Distribution-free interval for a median from order statistics (Conover, Practical Nonparametric
    Statistics, 3rd ed., §3.2): ranks l = the smallest k with P(B <= k) >= α/2 for B ~ Binomial(n, ½) and
    u = n − l + 1 (1-based); coverage at least ``level``. (None, None) when n is too small (n <= 5 at 95%)."""
    import numpy as np
    from scipy.special import bdtr

    n = len(sorted_values)
    if n == 0:
        return (None, None)
    # The smallest k with P(B <= k) >= α/2: the binomial quantile, from its distribution function.
    cumulative = bdtr(np.arange(n + 1), n, 0.5)
    lower = int(np.searchsorted(cumulative, (1 - level) / 2 - 1e-12))
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
    """Exact (Garwood 1936) interval for one rate count ÷ exposure (see :func:`garwood_intervals`)."""
    if exposure is None or not exposure > 0 or count is None or count < 0:
        return (None, None)
    low, high = garwood_intervals([count], [exposure], level)
    return (float(low[0]), float(high[0]))


def correlation_p(r: float, n: int) -> float | None:
    """Two-sided p of a correlation r over n pairs: t = r·√((n − 2) ÷ (1 − r²)) on n − 2 degrees of freedom
    (the test scipy's pearsonr, pointbiserialr and spearmanr use)."""
    from scipy.special import stdtr

    if n < 3 or r is None or math.isnan(r):
        return None
    if abs(r) >= 1:
        return 0.0
    t = r * math.sqrt((n - 2) / (1 - r * r))
    return float(2 * stdtr(n - 2, -abs(t)))
