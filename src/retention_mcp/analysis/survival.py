"""Retention curves: Kaplan–Meier by group, median tenure, early attrition, the log-rank test.

Kaplan–Meier and the k-group log-rank test are written out with numpy (no survival library at run
time). Durations come from hire → termination dates (days; people still employed are censored at
the latest date in the file) or from a tenure column with a leaver flag (months).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from retention_mcp.data.dataset import NO_DATE, Dataset, day_to_date
from retention_mcp.data.dimensions import (
    MAX_GROUPS,
    Scope,
    build_dimension,
    combined_codes,
    decode,
    hidden_cells,
    is_tenure_band,
)
from retention_mcp.data.disclosure import Policy
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

if TYPE_CHECKING:
    import numpy as np

DAY_POINTS = (90, 180, 365, 730)
MONTH_POINTS = (3, 6, 12, 24)
EARLY_DAYS = 90
EARLY_MONTHS = 3
#: Most step points kept per group when the curve itself is returned (for charts).
MAX_CURVE_POINTS = 200


# -- the estimators


def kaplan_meier(durations: Any, events: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct times, survival just after each time, people at risk at each time).

    S(t) = Π_{t_j <= t} (1 − d_j / n_j), with n_j counting everyone whose duration is >= t_j (people
    censored at t_j are still at risk at t_j)."""
    import numpy as np

    durations = np.asarray(durations, dtype="float64")
    events = np.asarray(events, dtype="float64")
    times, inverse = np.unique(durations, return_inverse=True)
    deaths = np.bincount(inverse, weights=events, minlength=len(times))
    exits = np.bincount(inverse, minlength=len(times))
    at_risk = len(durations) - np.concatenate([[0], np.cumsum(exits)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.where(at_risk > 0, 1 - deaths / at_risk, 1.0)
    return times, np.cumprod(factors), at_risk


def survival_at(times: np.ndarray, survival: np.ndarray, points: Sequence[float]) -> list[float]:
    """S(t) at each point (1.0 before the first time)."""
    import numpy as np

    index = np.searchsorted(times, np.asarray(points, dtype="float64"), side="right") - 1
    return [float(survival[i]) if i >= 0 else 1.0 for i in index]


def median_time(times: np.ndarray, survival: np.ndarray) -> float | None:
    """The first time S(t) <= 0.5; None when not reached."""
    import numpy as np

    below = np.flatnonzero(survival <= 0.5)
    return float(times[below[0]]) if len(below) else None


def compact_curve(times: np.ndarray, survival: np.ndarray,
                  max_points: int = MAX_CURVE_POINTS) -> list[tuple[float, float]]:
    """The step function as [(time, S just after time)]: the times where S drops, plus the last time
    followed (so the curve runs to the end of follow-up); thinned evenly to ``max_points``."""
    import numpy as np

    if len(times) == 0 or max_points < 1:
        return []
    previous = np.concatenate([[1.0], survival[:-1]])
    keep = np.flatnonzero(survival < previous - 1e-15)
    if not len(keep) or keep[-1] != len(times) - 1:
        keep = np.append(keep, len(times) - 1)
    if len(keep) > max_points:
        # Evenly spaced by index, always keeping the first drop and the end of follow-up.
        keep = keep[np.unique(np.linspace(0, len(keep) - 1, max_points).round().astype(int))]
    return [(round(float(times[i]), 3), round(float(survival[i]), 6)) for i in keep]


def logrank_test(durations: Any, events: Any, groups: Any) -> tuple[float, int, float]:
    """k-group log-rank test: (chi-square, degrees of freedom, p-value)."""
    import numpy as np
    from scipy import stats

    durations = np.asarray(durations, dtype="float64")
    events = np.asarray(events, dtype="float64")
    labels, group = np.unique(np.asarray(groups), return_inverse=True)
    k = len(labels)
    if k < 2:
        return (float("nan"), 0, float("nan"))
    event_times = np.unique(durations[events > 0])
    if len(event_times) == 0:
        return (0.0, k - 1, 1.0)
    at_risk = np.empty((k, len(event_times)))
    deaths = np.empty((k, len(event_times)))
    for g in range(k):
        mine = np.sort(durations[group == g])
        at_risk[g] = len(mine) - np.searchsorted(mine, event_times, side="left")
        died = durations[(group == g) & (events > 0)]
        deaths[g] = np.bincount(np.searchsorted(event_times, died), minlength=len(event_times))
    n = at_risk.sum(axis=0)
    d = deaths.sum(axis=0)
    expected = (at_risk * d / n).sum(axis=1)
    observed = deaths.sum(axis=1)
    share = at_risk / n
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    variance = np.einsum("t,it,jt->ij", weight, share, -share)
    variance[np.diag_indices(k)] += (weight * share).sum(axis=1)
    diff = (observed - expected)[:-1]
    try:
        chi2 = float(diff @ np.linalg.solve(variance[:-1, :-1], diff))
    except np.linalg.LinAlgError:
        chi2 = float(diff @ np.linalg.pinv(variance[:-1, :-1]) @ diff)
    return chi2, k - 1, float(stats.chi2.sf(chi2, k - 1))


# -- the tool's result


class RetentionAt(BaseModel):
    time: float = Field(description="time since hire, in `unit`")
    retention: float | None = Field(description="share still employed at this time (Kaplan–Meier), a fraction; "
                                    "None when suppressed or when nobody was followed that long")
    at_risk: int | None = Field(description="people still employed and observed at this time")


class CurveGroup(BaseModel):
    group: dict[str, str]
    label: str
    people: int | None = Field(description="people in the group (None when suppressed)")
    leavers: int | None
    retention: list[RetentionAt]
    median_tenure: float | None = Field(description="first time retention falls to 50% or below, in `unit`; "
                                        "None when not reached")
    early_attrition: float | None = Field(description="leavers within 90 days (3 months) of hire ÷ hires who could "
                                          "have completed 90 days (3 months), a fraction")
    early_leavers: int | None
    early_cohort: int | None
    suppressed: bool
    curve: list[tuple[float, float]] | None = Field(
        default=None, description="Kaplan–Meier step points [time in `unit`, retention fraction] (at most "
        f"{MAX_CURVE_POINTS}, thinned evenly when there are more); filled only when a chart is asked for")


class CurveDefinition(BaseModel):
    source: str = Field(description="where durations come from: hire/termination dates or a tenure column")
    unit: str = Field(description="days or months")
    as_of: str | None = Field(description="people still employed are followed up to this date (ISO), event data")
    censoring: str
    early_attrition: str
    logrank: str
    min_group_size: int
    columns: dict[str, str]


class CurveResult(Evidenced):
    by: list[str]
    unit: str = Field(description="days (event data) or months (tenure data)")
    time_points: list[float]
    overall: CurveGroup
    groups: list[CurveGroup] = Field(description="groups sorted by 12-month retention, lowest first")
    logrank_chi2: float | None = Field(description="log-rank chi-square across the shown groups")
    logrank_df: int | None
    logrank_p: float | None = Field(description="p-value: a small value (< 0.05) means the curves differ")
    truncated: bool
    definition: CurveDefinition
    scope: str | None = Field(None, description="the `where` filter and the rows in scope, when one was given")
    notes: list[str] = Field(default_factory=list)


def durations_of(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str, str | None]:
    """(durations, events, usable-row mask, unit, source text, as-of ISO date)."""
    import numpy as np

    if ds.hire is not None and ds.term is not None and ds.as_of is not None and bool((ds.hire != NO_DATE).any()):
        end = np.minimum(ds.term, ds.as_of)
        usable = (ds.hire != NO_DATE) & (ds.hire <= ds.as_of) & (end >= ds.hire)
        events = (ds.term != NO_DATE) & (ds.term <= ds.as_of)
        durations = np.where(usable, end - ds.hire, 0).astype("float64")
        source = (f"hire dates ({ds.roles.get('hire_date')}) to termination dates "
                  f"({ds.roles.get('termination_date')})")
        return durations, events & usable, usable, "days", source, day_to_date(ds.as_of).isoformat()
    if ds.tenure_months is not None and ds.leaver is not None:
        unit = "days" if ds.tenure_unit == "days" else "months"
        durations = ds.tenure_months * (365.25 / 12 if unit == "days" else 1.0)
        usable = np.isfinite(durations) & (durations >= 0)
        source = (f"tenure column {ds.roles.get('tenure_' + (ds.tenure_unit or 'months'))!r} "
                  f"({ds.tenure_unit}) with leavers from {ds.shape_source.split('leavers from ', 1)[-1]}")
        return np.where(usable, durations, 0.0), ds.leaver & usable, usable, unit, source, None
    raise InputError("retention_curve needs hire and termination dates, or a tenure column plus a leaver flag; "
                     "name them with column_map, e.g. {\"hire_date\": \"Start\", \"termination_date\": \"End\"} "
                     "or {\"tenure_months\": \"Months\", \"leaver_flag\": \"Left\"}")


def retention_curve(ds: Dataset, *, by: Sequence[str] = (), policy: Policy, min_group_size: int | None = None,
                    scope: Scope | None = None, bins: Mapping[str, Any] | None = None,
                    time_points: Sequence[float] | None = None, max_groups: int = 30,
                    curve_points: int = 0) -> CurveResult:
    """Kaplan–Meier retention overall and per group within ``scope``; ``curve_points`` > 0 also returns each
    shown group's step points (at most that many, capped at MAX_CURVE_POINTS), which charts draw."""
    import numpy as np

    k = policy.min_group(min_group_size)
    scope = scope or Scope()
    if isinstance(by, str):
        by = [by]
    if len(by) > 3:
        raise InputError("`by` takes at most 3 dimensions for retention curves")
    if any(is_tenure_band(b) for b in by):
        raise InputError("tenure_band cannot group a retention curve (tenure is the curve's own time axis); "
                         "group by department, job role, shift, hiring channel and so on")
    durations, events, usable, unit, source, as_of = durations_of(ds)
    points = [float(p) for p in (time_points or (DAY_POINTS if unit == "days" else MONTH_POINTS))]
    if not points or len(points) > 20 or any(not math.isfinite(p) or p <= 0 for p in points):
        raise InputError("time_points must be 1 to 20 positive times since hire (days for date data, months for "
                         "tenure data), e.g. [90, 180, 365]")
    early_limit = EARLY_DAYS if unit == "days" else EARLY_MONTHS
    notes: list[str] = []
    dropped = int((~usable).sum())
    if dropped:
        notes.append(f"{dropped} row(s) without a usable hire date / tenure are left out")
    bins = dict(bins or {})
    dims = [build_dimension(ds, name, policy, bins.get(name)) for name in by]
    notes += [d.note for d in dims if d.note]
    # Suppression sees the filtered groups as a slice of the unfiltered cross (see disclosure.suppress).
    hidden = hidden_cells(ds, scope, dims, k, usable)
    if scope.active:
        if bool(hidden[()]):
            raise InputError(f"the filter {scope.text} selects a group that is suppressed (fewer than {k} people, "
                             "or hidden so that a small group cannot be worked out by subtraction); widen the filter")
        usable = usable & scope.rows
    code = combined_codes(dims, ds.rows)

    def describe(mask: np.ndarray, group: dict[str, str], label: str, hide: bool) -> CurveGroup:
        d, e = durations[mask], events[mask]
        if hide:
            return CurveGroup(group=group, label=label, people=None, leavers=None,
                              retention=[RetentionAt(time=p, retention=None, at_risk=None) for p in points],
                              median_tenure=None, early_attrition=None, early_leavers=None, early_cohort=None,
                              suppressed=True)
        times, surv, _ = kaplan_meier(d, e)
        values = survival_at(times, surv, points)
        curve = compact_curve(times, surv, min(curve_points, MAX_CURVE_POINTS)) if curve_points > 0 else None
        retention = []
        for p, v in zip(points, values, strict=True):
            at_risk = int((d >= p).sum())
            followed = bool((d >= p).any() or (e.astype(bool) & (d <= p)).all())
            retention.append(RetentionAt(time=p, retention=v if followed else None, at_risk=at_risk))
        # Early attrition: hires who could have completed the window (left early, or observed past it).
        cohort = e.astype(bool) & (d <= early_limit) | (d >= early_limit)
        early = e.astype(bool) & (d <= early_limit)
        cohort_n = int(cohort.sum())
        return CurveGroup(group=group, label=label, people=int(mask.sum()), leavers=int(e.sum()),
                          retention=retention, median_tenure=median_time(times, surv),
                          early_attrition=(int(early.sum()) / cohort_n) if cohort_n else None,
                          early_leavers=int(early.sum()), early_cohort=cohort_n, suppressed=False, curve=curve)

    overall = describe(usable, {}, "Overall", hide=bool(hidden[()]))
    groups: list[CurveGroup] = []
    chi2 = df = p_value = None
    if dims:
        present = np.unique(code[usable])
        if len(present) > MAX_GROUPS:
            raise InputError("too many groups for retention curves; pick a dimension with fewer values")
        cell_hidden = hidden[tuple(range(len(dims)))].reshape(-1)
        hide = [bool(cell_hidden[c]) for c in present]
        for c, is_hidden in zip(present, hide, strict=True):
            group = decode(int(c), dims)
            groups.append(describe(usable & (code == c), group, " / ".join(group.values()), is_hidden))
        shown = [c for c, is_hidden in zip(present, hide, strict=True) if not is_hidden]
        if len(shown) >= 2:
            mask = usable & np.isin(code, shown)
            chi2, df, p_value = logrank_test(durations[mask], events[mask], code[mask])
        else:
            notes.append("the log-rank test needs at least two groups that are not suppressed")
        twelve = 365.0 if unit == "days" else 12.0
        groups.sort(key=lambda g: (g.suppressed, _retention_at(g, twelve), g.label))
    truncated = len(groups) > max_groups
    columns = {k: v for k, v in ds.roles.as_dict().items() if k not in ds.table.identifying}
    definition = CurveDefinition(
        source=source, unit=unit, as_of=as_of,
        censoring=("people still employed are censored at the as-of date (the latest date in the file)"
                   if unit == "days" and as_of else "rows not flagged as leavers are censored at their tenure"),
        early_attrition=(f"leavers within {early_limit:g} {unit} of hire ÷ hires who could have completed "
                         f"{early_limit:g} {unit} (left within them, or observed at least that long)"),
        logrank="k-group log-rank test (chi-square, k−1 degrees of freedom) across groups that are not suppressed",
        min_group_size=k, columns=columns)
    kept = int(scope.rows.sum()) if scope.active else ds.rows
    return CurveResult(by=[d.name for d in dims], unit=unit, time_points=points, overall=overall,
                       groups=groups[:max_groups], logrank_chi2=chi2, logrank_df=df, logrank_p=p_value,
                       truncated=truncated, definition=definition, scope=scope.describe(kept, ds.rows) or None,
                       notes=notes)


def _retention_at(group: CurveGroup, time: float) -> float:
    for point in group.retention:
        if point.time == time and point.retention is not None:
            return point.retention
    return 2.0


def curve_markdown(result: CurveResult, max_lines: int = 20) -> str:
    from retention_mcp.units import percent

    unit = result.unit
    heads = [f"{p:g} {'d' if unit == 'days' else 'mo'}" for p in result.time_points]
    lines = [f"**Retention (Kaplan–Meier)** from {result.definition.source}"
             + (f", followed to {result.definition.as_of}" if result.definition.as_of else "") + ".",
             "", f"| group | people | leavers | {' | '.join(heads)} | median tenure | early attrition |",
             "|---|---:|---:|" + "---:|" * len(heads) + "---:|---:|"]
    for g in [result.overall, *result.groups[:max_lines]]:
        if g.suppressed:
            lines.append(f"| {g.label} | — | — |" + " |" * len(heads) + " suppressed | |")
            continue
        cells = " | ".join(percent(r.retention) if r.retention is not None else "n/a" for r in g.retention)
        digits = 0 if unit == "days" else 1
        median = f"{g.median_tenure:.{digits}f} {unit}" if g.median_tenure is not None else "not reached"
        early = percent(g.early_attrition) if g.early_attrition is not None else "n/a"
        lines.append(f"| {g.label} | {g.people} | {g.leavers} | {cells} | {median} | {early} |")
    if result.logrank_p is not None:
        verdict = "the curves differ" if result.logrank_p < 0.05 else "no clear difference"
        lines.append(f"\nLog-rank test across groups: chi² = {result.logrank_chi2:.2f}, df = {result.logrank_df}, "
                     f"p = {result.logrank_p:.3g} ({verdict}).")
    if result.truncated:
        lines.append("\nMore groups than shown (truncated).")
    for note in result.notes:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)
