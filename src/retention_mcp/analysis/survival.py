"""Retention curves: Kaplan–Meier (or an actuarial life table) by group, median tenure, early attrition, log-rank.

Kaplan–Meier and the k-group log-rank test are written out with numpy (no survival library at run
time). Durations come from hire → termination dates (days; people still employed are censored at
the latest date in the file) or from a tenure column with a leaver flag, in the column's own unit (days,
months or years). A tenure column recorded in whole units (completed years or months) is grouped data: a
leaver with 1 completed year left somewhere in the second year, so its curve is the actuarial life table
(Cutler & Ederer 1958), which puts each interval's leavers inside the interval and counts the people still
employed in it as at risk for half of it. Early (90-day) attrition is reported only where the data can show it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.data.dataset import NO_DATE, Dataset, day_to_date, leaver_source_text
from retention_mcp.data.dimensions import (
    MAX_GROUPS,
    Scope,
    build_dimension,
    combined_codes,
    decode,
    hidden_cells,
    is_tenure_band,
    refuse_outcome_dimension,
)
from retention_mcp.data.disclosure import Policy
from retention_mcp.data.vocabulary import EARLY_DAYS
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, words

if TYPE_CHECKING:
    import numpy as np

DAY_POINTS = (90, 180, 365, 730)
MONTH_POINTS = (3, 6, 12, 24)
YEAR_POINTS = (1, 2, 3, 5)
POINTS = {"days": DAY_POINTS, "months": MONTH_POINTS, "years": YEAR_POINTS}
EARLY_MONTHS = 3
#: Early attrition needs tenure recorded at least this finely (months): 90 days is about 2.96 months.
EARLY_RESOLUTION_MONTHS = 1.0
MONTHS_PER_UNIT = {"days": 12 / 365.25, "months": 1.0, "years": 12.0}
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
    slots = _whole_slots(durations)
    if slots is not None:
        # Whole days (the usual case): count per day with bincount, no sort — linear in rows.
        exits = np.bincount(slots, minlength=1)
        deaths = np.bincount(slots, weights=events, minlength=1)
        times = np.flatnonzero(exits)
        exits, deaths = exits[times], deaths[times]
        times = times.astype("float64")
    else:
        times, inverse = np.unique(durations, return_inverse=True)
        deaths = np.bincount(inverse, weights=events, minlength=len(times))
        exits = np.bincount(inverse, minlength=len(times))
    at_risk = len(durations) - np.concatenate([[0], np.cumsum(exits)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.where(at_risk > 0, 1 - deaths / at_risk, 1.0)
    return times, np.cumprod(factors), at_risk


#: Whole-number durations up to this many units are counted with bincount (150 years of days).
MAX_COUNTED_DURATION = 55_000


def _whole_slots(durations: Any) -> Any:
    """The durations as non-negative integers when they all are whole and not too large, else None."""
    import numpy as np

    if not len(durations) or durations.min() < 0 or durations.max() > MAX_COUNTED_DURATION:
        return None
    slots = durations.astype("int64")
    return slots if np.array_equal(slots, durations) else None


def life_table(durations: Any, events: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actuarial life table for durations recorded in whole units (completed years or months).

    Interval j covers [j, j + 1): d_j leavers and c_j people still employed have j completed units, n_j people
    enter it. With n'_j = n_j − c_j ÷ 2 (the censored are at risk for half the interval on average),
    q_j = d_j ÷ n'_j and S(j + 1) = Π_{i <= j} (1 − q_i) (Cutler & Ederer 1958). Returns (interval ends j + 1,
    S at each end, people entering each interval), in the shape kaplan_meier returns."""
    import numpy as np

    units = np.floor(np.asarray(durations, dtype="float64") + 1e-9).astype("int64")
    events = np.asarray(events, dtype=bool)
    if not len(units):
        return np.zeros(0), np.zeros(0), np.zeros(0)
    size = int(units.max()) + 1
    deaths = np.bincount(units[events], minlength=size).astype("float64")
    censored = np.bincount(units[~events], minlength=size).astype("float64")
    entering = len(units) - np.concatenate([[0.0], np.cumsum(deaths + censored)[:-1]])
    effective = entering - censored / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(effective > 0, deaths / effective, 0.0)
    return np.arange(1, size + 1, dtype="float64"), np.cumprod(1 - np.minimum(q, 1.0)), entering


def life_table_median(ends: np.ndarray, survival: np.ndarray) -> tuple[float | None, int | None]:
    """Median of a life table by linear interpolation inside the interval where S crosses 0.5, and the index of
    that interval; (None, None) when S stays above 0.5."""
    import numpy as np

    below = np.flatnonzero(survival <= 0.5)
    if not len(below):
        return None, None
    j = int(below[0])
    start = 1.0 if j == 0 else float(survival[j - 1])
    end = float(survival[j])
    fraction = (start - 0.5) / (start - end) if start > end else 0.0
    return float(ends[j] - 1 + fraction), j


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

    durations = np.asarray(durations, dtype="float64")
    events = np.asarray(events, dtype="float64")
    labels, group = np.unique(np.asarray(groups), return_inverse=True)
    k = len(labels)
    if k < 2:
        return (float("nan"), 0, float("nan"))
    slots = _whole_slots(durations)
    if slots is not None and k * (int(slots.max()) + 1) <= 20_000_000:
        # Whole days: exits and deaths per (group, day) by one bincount each, at risk by a reversed cumulative sum.
        span = int(slots.max()) + 1
        exits = np.bincount(group * span + slots, minlength=k * span).reshape(k, span)
        died_all = np.bincount(group * span + slots, weights=events, minlength=k * span).reshape(k, span)
        present = np.flatnonzero(died_all.sum(axis=0) > 0)
        if len(present) == 0:
            return (0.0, k - 1, 1.0)
        at_risk = np.cumsum(exits[:, ::-1], axis=1)[:, ::-1][:, present].astype("float64")
        deaths = died_all[:, present]
    else:
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
    return logrank_from_counts(at_risk, deaths)


def logrank_from_counts(at_risk: Any, deaths: Any) -> tuple[float, int, float]:
    """The k-group log-rank statistic from people at risk and leavers per group (rows) and time (columns):
    O_g − E_g with E_g = Σ_t n_gt·d_t ÷ n_t and the hypergeometric covariance; chi-square on k − 1 df."""
    import numpy as np
    from scipy.special import chdtrc

    at_risk = np.asarray(at_risk, dtype="float64")
    deaths = np.asarray(deaths, dtype="float64")
    k = at_risk.shape[0]
    keep = (at_risk.sum(axis=0) > 0) & (deaths.sum(axis=0) > 0)
    at_risk, deaths = at_risk[:, keep], deaths[:, keep]
    if k < 2:
        return (float("nan"), 0, float("nan"))
    if not at_risk.shape[1]:
        return (0.0, k - 1, 1.0)
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
    return chi2, k - 1, float(chdtrc(k - 1, chi2))


# -- the tool's result


class RetentionAt(BaseModel):
    time: float = Field(description="time since hire, in `unit`")
    retention: float | None = Field(description="share still employed at this time (Kaplan–Meier or life table), "
                                    "a fraction; None when suppressed or when nobody was followed that long")
    at_risk: int | None = Field(description="people still employed and observed at this time")


class CurveGroup(BaseModel):
    group: dict[str, str]
    label: str
    people: int | None = Field(description="people in the group (None when suppressed)")
    leavers: int | None
    retention: list[RetentionAt]
    median_tenure: float | None = Field(description="first time retention falls to 50% or below, in `unit`; "
                                        "None when not reached, or reached with fewer than min_group_size at risk")
    median_at_risk: int | None = Field(None, description="people still at risk where the median is read: a small "
                                       "number means an imprecise median")
    early_attrition: float | None = Field(description="90-day attrition of hires: the share of a hire cohort who "
                                          "left within 90 days (3 months) of hire, a fraction (see "
                                          "definition.early_attrition; not turnover_breakdown's '<=3 months' band "
                                          "rate); None when the data cannot show it (tenure in whole years)")
    early_leavers: int | None = Field(description="leavers within 90 days (3 months) of hire")
    early_cohort: int | None = Field(description="hires at least 90 days before the as-of date (event data); "
                                     "None when early attrition is estimated from the curve or not available")
    suppressed: bool
    curve: list[tuple[float, float]] | None = Field(
        default=None, description="step points [time in `unit`, retention fraction] (at most "
        f"{MAX_CURVE_POINTS}, thinned evenly when there are more); filled only when a chart is asked for")


class CurveDefinition(BaseModel):
    source: str = Field(description="where durations come from: hire/termination dates or a tenure column")
    unit: str = Field(description="days, months or years: the unit of the tenure column (days for dates)")
    resolution: str = Field("", description="how finely tenure is recorded, and what that allows")
    estimator: str = Field("", description="Kaplan–Meier (exact times) or the actuarial life table (whole units)")
    as_of: str | None = Field(description="people still employed are followed up to this date (ISO), event data")
    censoring: str
    early_attrition: str
    early_kind: Literal["cohort", "curve", "unavailable"] = Field(
        "cohort", description="cohort: leavers within 90 days ÷ hires at least 90 days before the as-of date; "
        "curve: 1 − retention at 90 days / 3 months (no hire dates); unavailable: the data cannot show it")
    tenure_column: str | None = Field(None, description="the tenure column, for tenure data")
    logrank: str
    median: str = Field("", description="how the median tenure is read")
    min_group_size: int
    columns: dict[str, str]
    language: ResultLanguage = "en"
    estimator_name: str = Field("", description="the estimator's short name, for titles")


class CurveResult(Evidenced):
    by: list[str]
    unit: str = Field(description="days (dates), or the tenure column's unit: months or years")
    time_points: list[float]
    overall: CurveGroup
    groups: list[CurveGroup] = Field(description="groups sorted by 12-month retention, lowest first")
    logrank_chi2: float | None = Field(description="log-rank chi-square across the shown groups")
    logrank_df: int | None
    logrank_p: float | None = Field(description="p-value: a small value (< 0.05) means the curves differ")
    truncated: bool
    definition: CurveDefinition
    scope: str | None = Field(None, description="the `where` filter and the rows in scope, when one was given")
    sensitive: list[str] = Field(default_factory=list, description="`by` columns that are protected attributes: "
                                 "the text carries a fair-treatment caution")
    notes: list[str] = Field(default_factory=list)


@dataclass
class Durations:
    durations: Any  # in `unit`; completed units when `grouped`
    events: Any
    usable: Any
    unit: str  # days | months | years
    source: str
    as_of: str | None
    grouped: bool  # whole units (completed years or months): actuarial life table
    early_limit: float | None  # 90 days / 3 months in `unit`; None when the data cannot show it
    early_reason: str  # why early attrition is missing, or how it is computed
    resolution: str
    early_kind: str = "cohort"
    column: str | None = None
    hire: Any = None  # day numbers (event data): the early-attrition cohort needs them
    as_of_day: int | None = None


def durations_of(ds: Dataset, w: Words | None = None, as_of_day: int | None = None) -> Durations:
    """Durations, events, usable rows, and what the data's unit and resolution allow (texts in ``w``'s language).
    Event data is followed up to ``as_of_day`` (a day number) when given — people hired after it are left out,
    leaving after it is staying — else to the latest date in the file."""
    import numpy as np

    w = w or words("en")
    follow = as_of_day if as_of_day is not None else ds.as_of
    if ds.hire is not None and ds.term is not None and follow is not None and bool((ds.hire != NO_DATE).any()):
        end = np.minimum(ds.term, follow)
        usable = (ds.hire != NO_DATE) & (ds.hire <= follow) & (end >= ds.hire)
        events = (ds.term != NO_DATE) & (ds.term <= follow)
        durations = np.where(usable, end - ds.hire, 0).astype("float64")
        source = w("retention.source_dates", hire=ds.roles.get("hire_date"), term=ds.roles.get("termination_date"))
        as_of = day_to_date(follow).isoformat()
        return Durations(durations, events & usable, usable, "days", source, as_of, False, EARLY_DAYS,
                         w("retention.early_cohort", as_of=as_of), w("retention.dates_resolution"), hire=ds.hire,
                         as_of_day=follow)
    if as_of_day is not None:
        raise InputError("as_of applies to hire and termination dates; this file has tenure instead (it is followed "
                         "up to the tenure recorded): leave as_of out")
    if ds.tenure_months is not None and ds.leaver is not None:
        unit = ds.tenure_unit or "months"
        column = ds.roles.get(f"tenure_{unit}") or ds.roles.get("tenure_months") or "tenure"
        unit_word = w(f"retention.unit_words.{unit}")
        durations = ds.tenure_months / MONTHS_PER_UNIT[unit]
        usable = np.isfinite(durations) & (durations >= 0)
        resolution = ds.tenure_resolution_months
        whole = resolution is not None and abs(resolution - MONTHS_PER_UNIT[unit]) < 1e-9
        grouped = whole and unit in ("years", "months")
        if whole:
            recorded = w("retention.recorded_whole", column=column, unit=unit_word)
        elif resolution:
            recorded = w("retention.recorded_to", column=column, unit=unit_word,
                         step=f"{resolution / MONTHS_PER_UNIT[unit]:.3g}")
        else:
            recorded = w("retention.recorded", column=column, unit=unit_word)
        source = w("retention.source_tenure", column=column, unit=unit_word, leavers=leaver_source_text(ds, w))
        if resolution is not None and resolution > EARLY_RESOLUTION_MONTHS + 1e-9:
            early_limit = None
            reason = w("retention.early_unavailable", recorded=recorded)
        else:
            early_limit = EARLY_DAYS if unit == "days" else EARLY_MONTHS / MONTHS_PER_UNIT[unit]
            reason = w("retention.early_curve", limit=f"{early_limit:g}", unit=unit_word,
                       curve=w("retention.curve_life_table") if grouped else w("retention.curve_km"))
        resolution_text = recorded + (w("retention.grouped") if grouped else "")
        return Durations(np.where(usable, durations, 0.0), ds.leaver & usable, usable, unit, source, None, grouped,
                         early_limit, reason, resolution_text, "unavailable" if early_limit is None else "curve",
                         column)
    from retention_mcp.analysis.file_kind import looks_like

    raise InputError("retention_curve needs hire and termination dates, or a tenure column plus a leaver flag; "
                     f"this file has neither.{looks_like(ds, 'hr')} Otherwise name them with column_map, e.g. "
                     '{"hire_date": "Start", "termination_date": "End"} or '
                     '{"tenure_months": "Months", "leaver_flag": "Left"}')


def retention_curve(ds: Dataset, *, by: Sequence[str] = (), policy: Policy, min_group_size: int | None = None,
                    scope: Scope | None = None, bins: Mapping[str, Any] | None = None,
                    time_points: Sequence[float] | None = None, max_groups: int = 30,
                    curve_points: int = 0, w: Words | None = None, as_of: str | None = None) -> CurveResult:
    """Kaplan–Meier (or life-table) retention overall and per group within ``scope``; ``curve_points`` > 0 also
    returns each shown group's step points (at most that many, capped at MAX_CURVE_POINTS), which charts draw.
    ``as_of`` (event data): follow people up to this date instead of the latest date in the file. Texts in
    ``w``'s language."""
    import numpy as np

    from retention_mcp.analysis.turnover import parse_day

    w = w or words("en")

    k = policy.min_group(min_group_size)
    scope = scope or Scope()
    if isinstance(by, str):
        by = [by]
    if len(by) > 3:
        raise InputError("`by` takes at most 3 dimensions for retention curves")
    if any(is_tenure_band(b) for b in by):
        raise InputError("tenure_band cannot group a retention curve (tenure is the curve's own time axis); "
                         "group by department, job role, shift, hiring channel and so on")
    data = durations_of(ds, w, parse_day(as_of, "as_of"))
    durations, events, usable, unit = data.durations, data.events, data.usable, data.unit
    points = [float(p) for p in (time_points or POINTS[unit])]
    if not points or len(points) > 20 or any(not math.isfinite(p) or p <= 0 for p in points):
        raise InputError(f"time_points must be 1 to 20 positive times since hire in {unit} (the unit of this "
                         f"data), e.g. {list(POINTS[unit])}")
    notes: list[str] = []
    dropped = int((~usable).sum())
    if dropped:
        notes.append(w("retention.dropped", count=policy.count_words(dropped, w)))
    bins = dict(bins or {})
    dims = [build_dimension(ds, name, policy, bins.get(name), w=w) for name in by]
    for dim in dims:
        refuse_outcome_dimension(ds, dim, "retention curve")
    notes += [d.note for d in dims if d.note]
    # Suppression sees the filtered groups as a slice of the unfiltered cross (see disclosure.suppress).
    hidden = hidden_cells(ds, scope, dims, k, usable)
    if scope.active:
        if bool(hidden[()]):
            raise InputError(f"the filter {scope.text} selects a group that is suppressed (fewer than {k} people, "
                             "or hidden so that a small group cannot be worked out by subtraction); widen the filter")
        usable = usable & scope.rows
    code = combined_codes(dims, ds.rows)
    cells = policy.cells(ds)
    grid = reporting_grid(data, usable, points, policy.floor) if cells.protected else list(points)
    early_limit = data.early_limit
    if data.hire is not None and data.as_of_day is not None:
        in_cohort = data.hire <= data.as_of_day - EARLY_DAYS  # hired at least 90 days before the as-of date
    else:
        in_cohort = None

    def describe(mask: np.ndarray, group: dict[str, str], label: str, hide: bool) -> CurveGroup:
        d, e = durations[mask], events[mask].astype(bool)
        if hide:
            return CurveGroup(group=group, label=label, people=None, leavers=None,
                              retention=[RetentionAt(time=p, retention=None, at_risk=None) for p in points],
                              median_tenure=None, early_attrition=None, early_leavers=None, early_cohort=None,
                              suppressed=True)
        if cells.protected:
            table, row = (overall_table, 0) if group == {} else (group_table, group_row)
            return protected_group(table, row, data, group, label, points, grid, k, curve_points > 0)
        if data.grouped:
            times, surv, at_risk_by_time = life_table(d, e)
            median, index = life_table_median(times, surv)
        else:
            times, surv, at_risk_by_time = kaplan_meier(d, e)
            median = median_time(times, surv)
            index = int(np.searchsorted(times, median)) if median is not None else None
        median_at_risk = int(at_risk_by_time[index]) if median is not None and index is not None else None
        if median_at_risk is not None and median_at_risk < k:
            median = median_at_risk = None  # carried by fewer than min_group_size people: too few to estimate or show
        values = survival_at(times, surv, points)
        # The curve stops where fewer than min_group_size people remain at risk: past that each step is one or two
        # people's leaving (too few to estimate, and it would show them), as the median is withheld there.
        shown = np.asarray(at_risk_by_time) >= k
        curve = (compact_curve(times[shown], surv[shown], min(curve_points, MAX_CURVE_POINTS))
                 if curve_points > 0 else None)
        retention = []
        for p, v in zip(points, values, strict=True):
            at_risk = int((d >= p).sum())
            followed = bool((d >= p).any() or (e & (d <= p)).all())
            retention.append(RetentionAt(time=p, retention=v if followed else None, at_risk=at_risk))
        early = early_leavers = cohort_n = None
        if early_limit is not None:
            within = (d < early_limit) if data.grouped else (d <= early_limit)
            if in_cohort is not None:  # event data: the hires who could have completed 90 days
                cohort = in_cohort[mask]
                cohort_n = int(cohort.sum())
                early_leavers = int((cohort & e & within).sum())
                early = early_leavers / cohort_n if cohort_n else None
            else:  # tenure data: estimated from the curve
                early_leavers = int((e & within).sum())
                early = 1 - survival_at(times, surv, [early_limit])[0]
        return CurveGroup(group=group, label=label, people=int(mask.sum()), leavers=int(e.sum()),
                          retention=retention, median_tenure=median, median_at_risk=median_at_risk,
                          early_attrition=early,
                          early_leavers=early_leavers, early_cohort=cohort_n, suppressed=False, curve=curve)

    if cells.protected:
        # Every count of every group at once (one pass per count over the rows), then read per group.
        size = int(np.prod([len(d.labels) for d in dims], dtype="int64")) if dims else 1
        overall_table = protected_counts(cells, data, usable, np.zeros(ds.rows, dtype="int64"), 1, grid, in_cohort)
        group_table = protected_counts(cells, data, usable, code, size, grid, in_cohort) if dims else overall_table
    group_row = 0
    overall = describe(usable, {}, w("retention.overall_label"), hide=bool(hidden[()]))
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
            group_row = int(c)
            groups.append(describe(usable & (code == c), group, " / ".join(group.values()), is_hidden))
        shown = [c for c, is_hidden in zip(present, hide, strict=True) if not is_hidden]
        if len(shown) >= 2:
            mask = usable & np.isin(code, shown)
            if cells.protected:
                chi2, df, p_value = protected_logrank(group_table, shown)
            else:
                chi2, df, p_value = logrank_test(durations[mask], events[mask], code[mask])
        else:
            single = [dim.name for dim, sel in zip(scope.dims, scope.selected, strict=True)
                      if dim.name in [d.name for d in dims] and int(sel.sum()) == 1]
            hint = w("retention.logrank_filtered_hint", column=single[0]) if single else ""
            notes.append(w("retention.logrank_needs_two", hint=hint))
        twelve = {"days": 365.0, "months": 12.0, "years": 1.0}[unit]
        groups.sort(key=lambda g: (g.suppressed, _retention_at(g, twelve), g.label))
    truncated = len(groups) > max_groups
    columns = {k: v for k, v in ds.roles.as_dict().items() if k not in ds.table.identifying}
    grouped = data.grouped or cells.protected
    estimator = w("retention.estimators.life_table") if data.grouped else w("retention.estimators.kaplan_meier")
    reading = w("retention.reading_interpolated") if data.grouped else w("retention.reading_step")
    if cells.protected:
        estimator = w("retention.estimators.protected_life_table", k=policy.floor)
        reading = w("retention.reading_protected")
    definition = CurveDefinition(
        source=data.source, unit=unit, resolution=data.resolution, estimator=estimator, as_of=data.as_of,
        censoring=w("retention.censoring_dates") if data.as_of else w("retention.censoring_snapshot"),
        early_attrition=data.early_reason, early_kind=data.early_kind, tenure_column=data.column,
        logrank=w("retention.logrank_definition"),
        median=w("retention.median_definition", reading=reading, unit=w(f"retention.unit_words.{unit}"), k=k),
        min_group_size=k, columns=columns, language=w.language,
        estimator_name=w("retention.estimator_short.life_table") if grouped else
        w("retention.estimator_short.kaplan_meier"))
    if early_limit is None:
        notes.append(w("retention.early_missing", reason=data.early_reason))
    sensitive = [d.column for d in dims if d.column is not None and ds.is_sensitive(d.column)]
    return CurveResult(by=[d.name for d in dims], unit=unit, time_points=points, overall=overall,
                       groups=groups[:max_groups], logrank_chi2=chi2, logrank_df=df, logrank_p=p_value,
                       truncated=truncated, definition=definition, scope=scope.describe(cells) or None,
                       sensitive=sensitive, notes=notes)


# -- protected mode: the curve from perturbed counts


def _interval_index(data: Durations, points: Sequence[float], side: str = "left") -> Any:
    """Each row's reporting interval: 0 for [0, t1], j for (t_j, t_j+1], len(points) beyond the last point.

    Whole units (completed years or months) are grouped data: a leaver with j completed units left during
    (j, j + 1), so the row is placed at j + ½."""
    import numpy as np

    times = data.durations + (0.5 if data.grouped else 0.0)
    return np.searchsorted(np.asarray(points, dtype="float64"), times, side=side)


def _interval_counts(cells: Any, data: Durations, mask: Any, codes: Any, groups: int,
                     points: Sequence[float]) -> dict[str, Any]:
    """Shown counts per (group, interval): people entering each interval, leaving in it, censored in it, and
    still at risk at each point (time since hire >= the point)."""
    import numpy as np

    m = len(points) + 1
    index = _interval_index(data, points)
    cell = codes * m + index
    events = np.asarray(data.events, dtype=bool)
    everyone = cells.tally(cell, groups * m, mask).reshape((groups, m))
    out = {
        "entering": cells.shown(everyone.from_here_on(axis=1)),
        "leaving": cells.shown(cells.tally(cell, groups * m, mask & events).reshape((groups, m))),
        "censored": cells.shown(cells.tally(cell, groups * m, mask & ~events).reshape((groups, m))),
    }
    # at risk at a point: time since hire >= the point (the durations as recorded, as exact mode counts them)
    at = np.searchsorted(np.asarray(points, dtype="float64"), data.durations, side="right")
    at_point = cells.tally(codes * m + at, groups * m, mask).reshape((groups, m)).from_here_on(axis=1)
    out["at_risk"] = cells.shown(at_point)[:, 1:]
    return out


def _actuarial(entering: Any, leaving: Any, censored: Any) -> Any:
    """S at the end of each interval: Π (1 − d ÷ (n − c/2)), each factor within [0, 1]."""
    import numpy as np

    exposed = entering - censored / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(exposed > 0, np.clip(leaving / np.where(exposed > 0, exposed, 1.0), 0.0, 1.0), 0.0)
    return np.cumprod(1.0 - q, axis=-1)


def reporting_grid(data: Durations, usable: Any, points: Sequence[float], floor: int) -> list[float]:
    """The times protected curves are read at: the requested points, the early-attrition limit, and a ladder of
    the leavers' times (each step at least ``floor`` leavers, at most 20 steps, rounded to whole months of days
    or whole units) so the median can be read beyond the last point. Chosen from the data in scope, never from
    a call, and the same for every group of a call (the log-rank test compares groups on it)."""
    import numpy as np

    from retention_mcp.data.dimensions import band_ladder

    times = data.durations + (0.5 if data.grouped else 0.0)
    leavers = np.asarray(usable, dtype=bool) & np.asarray(data.events, dtype=bool)
    ladder = list(band_ladder(np.where(leavers, times, np.nan), floor))
    if leavers.any():
        ladder.append(float(times[leavers].max()))  # the last step closes after the last leaver
    step = 30.0 if data.unit == "days" else 1.0
    rounded = {float(max(step, np.ceil(t / step) * step)) for t in ladder}
    extra = {data.early_limit} if data.early_kind == "curve" and data.early_limit else set()
    return sorted({*map(float, points), *rounded, *extra})


@dataclass
class ShownCounts:
    """Protected mode: the shown (perturbed) counts per group code — per reporting interval (people entering it,
    leaving in it, censored in it, at risk at its point) and per group (people, leavers, the early-attrition cohort
    and its early leavers)."""

    entering: Any
    leaving: Any
    censored: Any
    at_risk: Any
    people: Any
    leavers: Any
    cohort: Any
    early: Any


def protected_counts(cells: Any, data: Durations, rows: Any, codes: Any, size: int, grid: Sequence[float],
                     in_cohort: Any) -> ShownCounts:
    import numpy as np

    counts = _interval_counts(cells, data, rows, codes, size, grid)
    events = np.asarray(data.events, dtype=bool)
    cohort = early = None
    if data.early_limit is not None:
        within = (data.durations < data.early_limit) if data.grouped else (data.durations <= data.early_limit)
        base = rows & in_cohort if in_cohort is not None else rows
        cohort = cells.counts(codes, size, base) if in_cohort is not None else None
        early = cells.counts(codes, size, base & events & within)
    return ShownCounts(counts["entering"], counts["leaving"], counts["censored"], counts["at_risk"],
                       cells.counts(codes, size, rows), cells.counts(codes, size, rows & events), cohort, early)


def protected_group(table: ShownCounts, g: int, data: Durations, group: dict[str, str], label: str,
                    points: Sequence[float], grid: Sequence[float], k: int, with_curve: bool) -> CurveGroup:
    """A group's curve in protected mode: every count perturbed, the curve read from those counts on the grid."""
    import numpy as np

    entering, leaving, censored = table.entering[g], table.leaving[g], table.censored[g]
    survival = _actuarial(entering[:-1].astype(float), leaving[:-1].astype(float), censored[:-1].astype(float))
    position = {t: i for i, t in enumerate(grid)}
    retention = []
    for p in points:
        i = position[float(p)]
        followed = entering[i + 1] > 0 or leaving[: i + 1].sum() >= entering[0]
        retention.append(RetentionAt(time=p, retention=float(survival[i]) if followed else None,
                                     at_risk=int(max(0, table.at_risk[g][i]))))
    median = median_at_risk = None
    below = np.flatnonzero(survival <= 0.5)
    if len(below):
        j = int(below[0])
        start_time, start_s = (0.0, 1.0) if j == 0 else (float(grid[j - 1]), float(survival[j - 1]))
        fraction = (start_s - 0.5) / (start_s - float(survival[j])) if start_s > survival[j] else 0.0
        median = start_time + fraction * (float(grid[j]) - start_time)
        median_at_risk = int(entering[j])
        if median_at_risk < k:
            median = median_at_risk = None
    early = early_leavers = cohort_n = None
    if data.early_limit is not None:
        early_leavers = max(0, int(table.early[g]))
        if table.cohort is not None:
            cohort_n = max(0, int(table.cohort[g]))
            early = min(1.0, early_leavers / cohort_n) if cohort_n > 0 else None
        else:
            early = 1 - float(survival[position[float(data.early_limit)]])
    curve = None
    if with_curve:  # as in exact mode, the curve stops where fewer than min_group_size enter an interval
        below = np.flatnonzero(entering[:-1] < k)  # perturbed counts can rise again after a dip: stop at the first
        shown = int(below[0]) if len(below) else len(grid)
        curve = [(0.0, 1.0), *((float(t), round(float(v), 6)) for t, v in zip(grid[:shown], survival[:shown],
                                                                               strict=True))]
    return CurveGroup(group=group, label=label, people=max(0, int(table.people[g])),
                      leavers=max(0, int(table.leavers[g])), retention=retention, median_tenure=median,
                      median_at_risk=median_at_risk, early_attrition=early, early_leavers=early_leavers,
                      early_cohort=cohort_n, suppressed=False, curve=curve)


def protected_logrank(table: ShownCounts, shown: Sequence[int]) -> tuple[float, int, float]:
    """The log-rank test on the reporting intervals from the shown counts: at risk = entering − censored ÷ 2."""
    import numpy as np

    rows = np.asarray(shown, dtype="int64")
    at_risk = np.maximum(table.entering[rows] - table.censored[rows] / 2.0, 0.0)
    deaths = np.minimum(np.maximum(table.leaving[rows], 0), at_risk)
    return logrank_from_counts(at_risk, deaths)


def _retention_at(group: CurveGroup, time: float) -> float:
    for point in group.retention:
        if point.time == time and point.retention is not None:
            return point.retention
    return 2.0


def curve_markdown(result: CurveResult, max_lines: int = 20, w: Words | None = None) -> str:
    """Markdown in ``w``'s language (the result's own by default): the estimator and source, a table of retention
    at the time points, median tenure and 90-day attrition of hires per group (with why it is missing), the
    log-rank test."""
    from retention_mcp.units import percent
    from retention_mcp.wording import sensitive_caution

    d = result.definition
    w = w or words(d.language)
    unit = result.unit
    short = w(f"retention.unit_short.{unit}")
    unit_word = w(f"retention.unit_words.{unit}")
    heads = [f"{p:g} {short}" for p in result.time_points]
    followed = w("retention.followed", as_of=d.as_of) if d.as_of else ""
    lines = []
    if result.scope:
        lines.append(f"_{result.scope}_")
    lines += [w("retention.title", estimator=d.estimator_name or d.estimator, source=d.source, followed=followed),
              "", f"| {w('retention.col_group')} | {w('retention.col_people')} | {w('retention.col_leavers')} | "
              f"{' | '.join(heads)} | {w('retention.col_median')}{w.paren(unit_word)} | "
              f"{w('retention.col_early')} |",
              "|---|---:|---:|" + "---:|" * len(heads) + "---:|---:|"]
    for g in [result.overall, *result.groups[:max_lines]]:
        if g.suppressed:
            lines.append(f"| {g.label} | — | — |" + " |" * len(heads) + f" {w('common.suppressed')} | |")
            continue
        cells = " | ".join(percent(r.retention) if r.retention is not None else w("common.not_available")
                           for r in g.retention)
        digits = 0 if unit == "days" else 1
        median = (w("retention.median_cell", value=f"{g.median_tenure:.{digits}f}", at_risk=g.median_at_risk)
                  if g.median_tenure is not None else w("common.not_reached"))
        early = percent(g.early_attrition) if g.early_attrition is not None else w("common.not_available")
        lines.append(f"| {g.label} | {g.people} | {g.leavers} | {cells} | {median} | {early} |")
    if result.logrank_p is not None:
        verdict = w("retention.differ") if result.logrank_p < 0.05 else w("retention.no_difference")
        lines.append("\n" + w("retention.logrank", chi2=f"{result.logrank_chi2:.2f}", df=result.logrank_df,
                                p=f"{result.logrank_p:.3g}", verdict=verdict))
    if result.truncated:
        lines.append("\n" + w("retention.truncated"))
    lines.append("\n" + w("retention.early_definition", definition=d.early_attrition))
    if d.early_kind == "cohort":
        lines.append(w("retention.early_vs_band"))
    note = w("common.note") + w.colon
    lines.append(note + w.sentence(d.resolution + w.semicolon + d.median))
    if not d.as_of:
        lines.append(note + w.sentence(d.censoring))
    for text in result.notes:
        if text != w("retention.early_missing", reason=d.early_attrition):
            lines.append(f"\n{note}{text}")
    if result.sensitive:
        lines.append("\n" + sensitive_caution(result.sensitive, w))
    return "\n".join(lines)
