"""Reference calculations for the tests, written the textbook way (loops over people and times), so that
the vectorised code in the package is checked against an independent implementation."""

from __future__ import annotations

import numpy as np


def reference_km(durations, events, points):
    """Product-limit estimate written the textbook way: walk the distinct event times in order."""
    durations = [float(d) for d in durations]
    events = [bool(e) for e in events]
    survival, out = 1.0, []
    event_times = sorted({d for d, e in zip(durations, events, strict=True) if e})
    curve = []
    for t in event_times:
        at_risk = sum(1 for d in durations if d >= t)
        deaths = sum(1 for d, e in zip(durations, events, strict=True) if e and d == t)
        survival *= 1 - deaths / at_risk
        curve.append((t, survival))
    for p in points:
        value = 1.0
        for t, s in curve:
            if t <= p:
                value = s
        out.append(value)
    median = next((t for t, s in curve if s <= 0.5), None)
    return out, median


def reference_logrank(durations, events, groups):
    """k-group log-rank statistic from its definition: sum over event times of O - E and the
    hypergeometric covariance, one time at a time."""
    from scipy import stats

    labels = sorted(set(groups))
    k = len(labels)
    rows = list(zip(durations, events, groups, strict=True))
    o_minus_e = np.zeros(k)
    cov = np.zeros((k, k))
    for t in sorted({d for d, e, _ in rows if e}):
        n = np.array([sum(1 for d, _, g in rows if g == lab and d >= t) for lab in labels], dtype=float)
        dth = np.array([sum(1 for d, e, g in rows if g == lab and e and d == t) for lab in labels], dtype=float)
        big_n, big_d = n.sum(), dth.sum()
        o_minus_e += dth - n * big_d / big_n
        if big_n > 1:
            factor = big_d * (big_n - big_d) / (big_n - 1)
            cov += factor * (np.diag(n / big_n) - np.outer(n / big_n, n / big_n))
    chi2 = float(o_minus_e[:-1] @ np.linalg.solve(cov[:-1, :-1], o_minus_e[:-1]))
    return chi2, k - 1, float(stats.chi2.sf(chi2, k - 1))


def reference_life_table(units, events, points):
    """Actuarial (Cutler–Ederer) life table written out interval by interval: durations are completed units
    (whole years or months); people still employed with j completed units are at risk for half of interval j.
    Returns S(t) at each integer point t (1.0 at t = 0)."""
    units = [int(u) for u in units]
    events = [bool(e) for e in events]
    survival = {0: 1.0}
    value = 1.0
    for j in range(max(units) + 1):
        entering = sum(1 for u in units if u >= j)
        deaths = sum(1 for u, e in zip(units, events, strict=True) if u == j and e)
        censored = sum(1 for u, e in zip(units, events, strict=True) if u == j and not e)
        effective = entering - censored / 2
        value *= 1 - (deaths / effective if effective > 0 else 0.0)
        survival[j + 1] = value
    last = max(survival)
    return [survival[min(int(p), last)] for p in points]


def reference_turnover(hire, term, groups, end):
    """Turnover by group over the 12 months ending ``end`` (a date), average month-end headcount, written out day
    by day: the month ends are the calendar month ends when ``end`` is one, else the same day of each earlier month;
    a person counts on day d when hire <= d <= termination (or no termination). Returns {group: (heads, leavers)}
    with ``hire``/``term`` as lists of dates (None for no termination) and ``groups`` one label per row."""
    import calendar
    import datetime as dt

    def add_months(day, months):
        y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
        return dt.date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))

    if end.day == calendar.monthrange(end.year, end.month)[1]:
        firsts = [add_months(dt.date(end.year, end.month, 1), -k) for k in range(12)]
        days = [dt.date(f.year, f.month, calendar.monthrange(f.year, f.month)[1]) for f in firsts]
    else:
        days = [add_months(end, -k) for k in range(12)]
    start = add_months(end, -12) + dt.timedelta(days=1)
    out = {}
    for h, t, g in zip(hire, term, groups, strict=True):
        heads, leavers = out.get(g, (0.0, 0))
        if h is not None:
            heads += sum(1 for d in days if h <= d and (t is None or t >= d)) / 12
            leavers += int(t is not None and start <= t <= end)
        out[g] = (heads, leavers)
    return out
