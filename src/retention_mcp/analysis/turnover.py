"""Turnover by group: rate, 95% interval, gaps to overall and to the rest, a Holm-adjusted test of each group
against the rest, small-group suppression, the definition used.

Two data shapes (see ``tools/metrics.yaml``):

- *event* data (hire and termination dates): rate = separations dated in the period ÷ headcount, where
  the headcount is ``average`` (mean of month-end headcounts), ``begin_end`` ((first day + last day) ÷ 2)
  or ``start`` (first day). A person is on the headcount on day d when hire <= d <= termination. The rate
  can exceed 1, so its interval is the exact Poisson (Garwood) interval of the leaver count over the headcount,
  and a group is compared with the rest by the exact conditional (binomial) test of two Poisson rates.
- *snapshot* data (a leaver flag): rate = leavers ÷ rows in the group; Wilson interval; a group is compared
  with the rest by the two-proportion z-test (Fisher's exact test when an expected count is below 5).

``significant`` is the group against everyone else in scope, Holm-adjusted across the groups of the breakdown.

Everything is computed on integer day numbers with numpy (bincount per headcount day), so a million
rows take well under a second once parsed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.analysis.stats import (
    conditional_rate_test,
    gap,
    garwood_intervals,
    holm,
    two_proportion_test,
    wilson_intervals,
)
from retention_mcp.data.dataset import (
    NO_DATE,
    SEP_INVOLUNTARY,
    SEP_VOLUNTARY,
    Dataset,
    date_to_day,
    day_to_date,
)
from retention_mcp.data.dates import add_months
from retention_mcp.data.dimensions import (
    Scope,
    build_dimension,
    decode,
    dimension_key,
    tenure_band_codes,
    tenure_bands,
)
from retention_mcp.data.disclosure import Policy, suppress
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

if TYPE_CHECKING:
    import numpy as np

Denominator = Literal["average", "begin_end", "start"]
SeparationType = Literal["all", "voluntary", "involuntary", "regretted"]

DAYS_PER_MONTH = 365.25 / 12

DENOMINATOR_DEFINITIONS = {
    "average": "average headcount: mean of the headcounts at the end of each month of the period (SHRM)",
    "begin_end": "(headcount on the first day + headcount on the last day) ÷ 2",
    "start": "headcount on the first day of the period",
}
ANNUALISATION = "additive: annualised rate = period rate × 12 ÷ months in the period (SHRM/BLS)"
INTERVALS = {"event": "exact Poisson (Garwood) 95% interval on the leaver count, divided by the headcount",
             "snapshot": "Wilson score interval, 95%"}
SIGNIFICANCE = {
    "event": "the group against the rest of the population in scope: exact conditional test of two Poisson rates "
             "(leavers in the group ~ Binomial(all leavers, group headcount ÷ total headcount) if the rates are "
             "equal), two-sided, Holm-adjusted across the groups of the breakdown; significant when p (Holm) < 0.05",
    "snapshot": "the group against the rest of the population in scope: pooled two-proportion z-test (Fisher's "
                "exact test when an expected count is below 5), two-sided, Holm-adjusted across the groups of the "
                "breakdown; significant when p (Holm) < 0.05",
}
ALPHA = 0.05


class GroupRow(BaseModel):
    group: dict[str, str] = Field(description="the group's value for each `by` dimension")
    label: str = Field(description="the group as one readable label, e.g. 'Sales / night'")
    headcount: float | None = Field(description="denominator: average headcount over the period (event data, "
                                    "per `denominator`) or employees in the group (snapshot); None when suppressed")
    leavers: int | None = Field(description="separations counted (per `separation_type`); None when suppressed")
    rate: float | None = Field(description="leavers ÷ headcount, a fraction (0.1384 = 13.8%) for the period")
    annualised_rate: float | None = Field(None, description="rate × 12 ÷ months (event data only), a fraction")
    ci_low: float | None = Field(description="95% interval of the rate, lower bound, a fraction: Wilson for "
                                 "snapshot data, exact Poisson (Garwood) for event data")
    ci_high: float | None = Field(description="95% interval of the rate, upper bound (event rates may exceed 1)")
    annualised_ci_low: float | None = Field(None, description="the interval × 12 ÷ months (event data)")
    annualised_ci_high: float | None = Field(None, description="the interval × 12 ÷ months (event data)")
    gap_pp: float | None = Field(description="rate − overall rate, in percentage points (3.2 = 3.2 pp)")
    gap_relative: float | None = Field(description="rate ÷ overall rate − 1, a fraction (0.25 = 25% higher)")
    rest_rate: float | None = Field(None, description="the rate of everyone in scope outside this group")
    gap_to_rest_pp: float | None = Field(None, description="rate − rest_rate, in percentage points")
    p_value: float | None = Field(None, description="two-sided p of this group against the rest (see "
                                  "definition.significance)")
    p_holm: float | None = Field(None, description="p_value Holm-adjusted across the groups of this breakdown")
    test: str | None = Field(None, description="the test behind p_value")
    significant: bool | None = Field(description="True when the group differs from the rest of the population: "
                                     "p_holm < 0.05 (None when it cannot be tested)")
    suppressed: bool = Field(description="True when hidden: headcount below min_group_size, or hidden so that "
                             "a single small group cannot be worked out by subtraction")


class Definition(BaseModel):
    shape: Literal["event", "snapshot"] = Field(description="event: hire/termination dates; snapshot: leaver flag")
    shape_source: str
    formula: str
    denominator: str | None = Field(description="average | begin_end | start (event data); None for snapshots")
    denominator_definition: str
    period_start: str | None = Field(description="first day of the period (ISO date), event data")
    period_end: str | None = Field(description="last day of the period (ISO date), event data")
    period_source: str | None
    months: float | None = Field(description="length of the period in months")
    annualisation: str | None
    separation_type: str
    leaver_definition: str
    headcount_days: list[str] = Field(default_factory=list,
                                      description="the days the headcount was measured on (event data)")
    min_group_size: int
    interval: str = Field(description="how the 95% intervals are computed")
    significance: str = Field("", description="what `significant` tests, and how")
    separation_classes: str | None = Field(None, description="how termination types map to voluntary / "
                                           "involuntary / other (tools/separation_types.yaml)")
    unclassified_separations: list[str] = Field(default_factory=list, description="termination-type values in "
                                                "no class (counted as other; add them to the table)")
    tenure_bands: str | None = Field(None, description="how tenure_band is banded, when it is a dimension")
    tenure_column: str | None = Field(None, description="the whole-years tenure column behind year bands")
    columns: dict[str, str] = Field(description="role -> column used")


class BreakdownResult(Evidenced):
    by: list[str]
    overall: GroupRow
    rows: list[GroupRow] = Field(description="groups sorted by rate, highest first; suppressed groups last")
    groups: int = Field(description="number of groups before truncation")
    suppressed_groups: int
    truncated: bool = Field(description="True when rows were cut at max_rows")
    definition: Definition
    scope: str | None = Field(None, description="the `where` filter and the rows in scope, when one was given")
    sensitive: list[str] = Field(default_factory=list, description="`by` columns that are protected attributes "
                                 "(gender, age, marital status, nationality): the text carries a fair-treatment "
                                 "caution")
    notes: list[str] = Field(default_factory=list)


# -- period


def parse_day(value: str | None, name: str) -> int | None:
    import pandas as pd

    from retention_mcp.data.dates import parse_dates

    if value is None or str(value).strip() == "":
        return None
    parsed = parse_dates(pd.Series([str(value)]))
    if parsed.values.isna().iloc[0]:
        raise InputError(f"{name} {value!r} is not a date; write it like 2024-01-01")
    return date_to_day(parsed.values.iloc[0].date())


def months_between(start: dt.date, end: dt.date) -> float:
    """Length of [start, end] (inclusive) in months: whole months plus the remaining days ÷ 30.44."""
    end_exclusive = end + dt.timedelta(days=1)
    whole = (end_exclusive.year - start.year) * 12 + end_exclusive.month - start.month
    while whole > 0 and add_months(start, whole) > end_exclusive:
        whole -= 1
    rest = (end_exclusive - add_months(start, whole)).days
    return round(whole + rest / DAYS_PER_MONTH, 2)


def headcount_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """The end of each month of the period: calendar month ends when the period ends on one, otherwise the
    same day of the month as the period end, counting back; never before the period start."""
    days: list[dt.date] = []
    end_is_month_end = end.day == calendar.monthrange(end.year, end.month)[1]
    k = 0
    while True:
        if end_is_month_end:
            shifted = add_months(dt.date(end.year, end.month, 1), -k)
            day = dt.date(shifted.year, shifted.month, calendar.monthrange(shifted.year, shifted.month)[1])
        else:
            day = add_months(end, -k)
        if day < start:
            break
        days.append(day)
        k += 1
    return sorted(days) or [end]


def resolve_period(ds: Dataset, period_start: str | None, period_end: str | None) -> tuple[int, int, str]:
    start = parse_day(period_start, "period_start")
    end = parse_day(period_end, "period_end")
    if start is None and end is None:
        if ds.as_of is None:
            raise InputError("the file has no usable dates to set a period from; give period_start and period_end")
        end_date = day_to_date(ds.as_of)
        start_date = add_months(end_date, -12) + dt.timedelta(days=1)
        return (date_to_day(start_date), ds.as_of,
                f"default: the 12 months ending at the latest date in the file ({end_date.isoformat()})")
    if start is None:
        end_date = day_to_date(end)  # type: ignore[arg-type]
        start_date = add_months(end_date, -12) + dt.timedelta(days=1)
        start = date_to_day(start_date)
        source = "period_end given; period_start = 12 months earlier"
    elif end is None:
        end_date = add_months(day_to_date(start), 12) - dt.timedelta(days=1)
        end = date_to_day(end_date)
        source = "period_start given; period_end = 12 months later"
    else:
        source = "given"
    if start > end:
        raise InputError(f"period_start ({day_to_date(start)}) is after period_end ({day_to_date(end)}); swap them")
    return start, end, source


# -- the breakdown


def turnover_breakdown(ds: Dataset, *, by: Sequence[str] = (), period_start: str | None = None,
                       period_end: str | None = None, denominator: str = "average",
                       separation_type: str = "all", policy: Policy, min_group_size: int | None = None,
                       scope: Scope | None = None, bins: Mapping[str, Any] | None = None,
                       max_rows: int = 50) -> BreakdownResult:
    """Turnover by the ``by`` dimensions (none: the overall rate only) within ``scope`` (a ``where``
    filter). Small groups, and groups that would give one away by subtraction, are suppressed."""
    import numpy as np

    if ds.shape is None:
        from retention_mcp.analysis.file_kind import looks_like

        raise InputError("turnover needs hire and termination dates (event data) or a leaver flag such as "
                         f"Attrition Yes/No (snapshot data); this file has neither.{looks_like(ds, 'hr')} Otherwise "
                         f"{ds.shape_source}")
    if denominator not in DENOMINATOR_DEFINITIONS:
        raise InputError(f"denominator must be one of average, begin_end, start (got {denominator!r}): average = "
                         "mean month-end headcount (default), begin_end = (start + end) ÷ 2, start = first day")
    if separation_type not in ("all", "voluntary", "involuntary", "regretted"):
        raise InputError(f"separation_type must be all, voluntary, involuntary or regretted (got {separation_type!r})")
    k = policy.min_group(min_group_size)
    scope = scope or Scope()
    if isinstance(by, str):
        by = [by]
    if len(by) > 4:
        raise InputError("`by` takes at most 4 dimensions; cross fewer at a time")
    if len(set(by)) != len(by):
        raise InputError("`by` names the same dimension twice")
    bins = dict(bins or {})
    unknown_bins = [name for name in bins if name not in by]
    if unknown_bins:
        raise InputError(f"bins names {', '.join(unknown_bins)}, which is not in `by`")
    notes: list[str] = []
    by_dims = [build_dimension(ds, name, policy, bins.get(name)) for name in by]
    notes += [d.note for d in by_dims if d.note and d.codes is not None]  # tenure bands: in the definition
    leaver_mask = _leaver_filter(ds, separation_type, notes)
    # The `where` columns lead the cross, so the filtered table is a slice of the one a call without the
    # filter would give, and suppression treats it as such.
    dims = [*scope.dims, *by_dims]

    # Static group code of every row over the non-tenure dimensions; tenure_band handled per headcount day.
    static = np.zeros(ds.rows, dtype="int64")
    sizes = []
    for dim in dims:
        size = len(dim.labels)
        sizes.append(size)
        # tenure_band (codes None) is added per headcount day, see _event_counts
        static = static * size + (dim.codes if dim.codes is not None else 0)
    tenure_position = next((i for i, d in enumerate(dims) if d.codes is None), None)
    multiplier = 1
    if tenure_position is not None:
        multiplier = int(np.prod(sizes[tenure_position + 1:], dtype="int64")) if tenure_position + 1 < len(sizes) else 1
    total_groups = int(np.prod(sizes, dtype="int64")) if sizes else 1

    columns = {k_: v for k_, v in ds.roles.as_dict().items() if k_ not in ds.table.identifying}
    if ds.shape == "event":
        result = _event_counts(ds, static, total_groups, tenure_position, multiplier, leaver_mask,
                               period_start, period_end, denominator)
        heads, leavers, _, _, period = result
        start, end, source, days = period
        months = months_between(day_to_date(start), day_to_date(end))
        definition = Definition(
            shape="event", shape_source=ds.shape_source,
            formula=f"separations dated in the period ÷ {DENOMINATOR_DEFINITIONS[denominator].split(':')[0]}",
            denominator=denominator, denominator_definition=DENOMINATOR_DEFINITIONS[denominator],
            period_start=day_to_date(start).isoformat(), period_end=day_to_date(end).isoformat(),
            period_source=source, months=months, annualisation=ANNUALISATION if months != 12 else
            "none needed: the period is 12 months (annualised rate = rate)",
            separation_type=separation_type, leaver_definition=_leaver_definition(ds, separation_type),
            headcount_days=[d.isoformat() for d in days] if denominator == "average" else
            [day_to_date(start).isoformat(), day_to_date(end).isoformat()][: 1 if denominator == "start" else 2],
            min_group_size=k, interval=INTERVALS["event"], significance=SIGNIFICANCE["event"], columns=columns)
    else:
        if denominator != "average" or period_start or period_end:
            notes.append("snapshot data has no dates to set a period or a headcount by: denominator and period "
                         "are ignored; the rate is leavers ÷ employees in the file")
        heads, leavers, _, _ = _snapshot_counts(ds, static, total_groups, tenure_position, multiplier,
                                                leaver_mask, notes)
        months = None
        definition = Definition(
            shape="snapshot", shape_source=ds.shape_source, formula="leavers ÷ employees in the group",
            denominator=None, denominator_definition="employees (rows) in the group, as in the file",
            period_start=None, period_end=None, period_source="the period the file covers (not stated in it)",
            months=None, annualisation=None, separation_type=separation_type,
            leaver_definition=_leaver_definition(ds, separation_type), min_group_size=k,
            interval=INTERVALS["snapshot"], significance=SIGNIFICANCE["snapshot"], columns=columns)
    if ds.roles.get("termination_type") is not None:
        definition.separation_classes = ds.table.separation_definition
        definition.unclassified_separations = list(ds.unclassified_separations)
    if any(d.codes is None for d in by_dims):
        bands = tenure_bands(ds)
        definition.tenure_bands = bands.note
        if bands.completed_years:
            definition.tenure_column = ds.roles.get(f"tenure_{ds.tenure_unit}")

    shape = tuple(sizes) if sizes else ()
    heads = np.asarray(heads, dtype="float64").reshape(shape)
    leavers = np.asarray(leavers, dtype="int64").reshape(shape)
    # A group's size for suppression: its headcount, or its leavers when more people left than the average held.
    hidden = suppress(np.maximum(heads, leavers), k, scope.selected or None,
                      keys=[dimension_key(d) for d in dims])
    lead = tuple(range(len(scope.dims)))
    for axis, mask in enumerate(scope.selected):
        heads = np.compress(mask, heads, axis=axis)
        leavers = np.compress(mask, leavers, axis=axis)
    if lead:
        heads, leavers = heads.sum(axis=lead), leavers.sum(axis=lead)
    overall_hidden = bool(hidden[()])
    if scope.active and overall_hidden:
        raise InputError(f"the filter {scope.text} selects a group that is suppressed (fewer than {k} people, or "
                         "hidden so that a small group cannot be worked out by subtraction); widen the filter")
    # fsum: the overall headcount does not depend on the order of the groups (English vs Chinese labels)
    overall = _row({}, "Overall", math.fsum(heads.ravel()), int(leavers.sum()), None, months, hide=overall_hidden,
                   shape=ds.shape)
    rows = []
    exposure: dict[int, float] = {}  # id(row) -> unrounded headcount, for the tests against the rest
    if by_dims:
        cell_hidden = hidden[tuple(range(len(by_dims)))].reshape(-1)
        flat_heads, flat_leavers = heads.reshape(-1), leavers.reshape(-1)
        present = np.flatnonzero((flat_heads > 0) | (flat_leavers > 0) | cell_hidden)
        for code in present:
            group = decode(int(code), by_dims)
            label = " / ".join(group.values())
            rows.append(_row(group, label, float(flat_heads[code]), int(flat_leavers[code]), overall.rate, months,
                             hide=bool(cell_hidden[code]), shape=ds.shape))
            exposure[id(rows[-1])] = float(flat_heads[code])
    _test_against_rest(rows, overall, math.fsum(heads.ravel()), exposure, ds.shape)
    rows.sort(key=lambda r: (r.suppressed, -(r.rate if r.rate is not None else -1), r.label))
    truncated = len(rows) > max_rows
    if overall.suppressed:
        notes.append(f"fewer than {k} people in total: all counts are suppressed")
    kept = int(scope.rows.sum()) if scope.active else ds.rows
    sensitive = [d.column for d in by_dims if d.column is not None and ds.is_sensitive(d.column)]
    return BreakdownResult(by=[d.name for d in by_dims], overall=overall, rows=rows[:max_rows], groups=len(rows),
                           suppressed_groups=sum(r.suppressed for r in rows), truncated=truncated,
                           definition=definition, scope=scope.describe(kept, ds.rows) or None, sensitive=sensitive,
                           notes=notes)


def _row(group: dict[str, str], label: str, heads: float, leavers: int, overall_rate: float | None,
         months: float | None, hide: bool, shape: str | None = "snapshot") -> GroupRow:
    if hide:
        return GroupRow(group=group, label=label, headcount=None, leavers=None, rate=None, ci_low=None,
                        ci_high=None, gap_pp=None, gap_relative=None, significant=None, suppressed=True)
    rate = leavers / heads if heads > 0 else None
    if shape == "event":
        low, high = garwood_intervals([leavers], [heads])
    else:
        low, high = wilson_intervals([leavers], [heads])
    ci_low = float(low[0]) if heads > 0 else None
    ci_high = float(high[0]) if heads > 0 else None
    gap_pp, gap_relative = gap(rate, overall_rate) if (rate is not None and overall_rate is not None) else (None, None)
    per_year = 12 / months if months else None
    annualised = rate * per_year if (rate is not None and per_year) else None
    return GroupRow(group=group, label=label, headcount=round(heads, 2), leavers=leavers, rate=rate,
                    annualised_rate=annualised, ci_low=ci_low, ci_high=ci_high,
                    annualised_ci_low=ci_low * per_year if (ci_low is not None and per_year) else None,
                    annualised_ci_high=ci_high * per_year if (ci_high is not None and per_year) else None,
                    gap_pp=gap_pp, gap_relative=gap_relative, significant=None, suppressed=False)


def _test_against_rest(rows: list[GroupRow], overall: GroupRow, overall_heads: float, exposure: dict[int, float],
                       shape: str | None) -> None:
    """Each shown group against everyone else in scope (overall minus the group), Holm-adjusted across the
    groups. The rest's counts follow from two shown rows (overall and group), so nothing hidden is revealed."""
    if overall.suppressed or overall.headcount is None or overall.leavers is None:
        return
    tested: list[GroupRow] = []
    for row in rows:
        if row.suppressed or row.headcount is None or row.leavers is None or row.rate is None:
            continue
        heads = exposure.get(id(row), row.headcount)
        rest_heads = overall_heads - heads
        rest_leavers = overall.leavers - row.leavers
        if rest_heads <= 1e-9:
            continue
        row.rest_rate = rest_leavers / rest_heads
        row.gap_to_rest_pp = (row.rate - row.rest_rate) * 100
        if shape == "event":
            row.p_value = conditional_rate_test(row.leavers, heads, rest_leavers, rest_heads)
            row.test = "exact conditional test of two Poisson rates"
        else:
            row.p_value, row.test = two_proportion_test(row.leavers, round(heads), rest_leavers, round(rest_heads))
        if row.p_value is not None:
            tested.append(row)
    for row, adjusted in zip(tested, holm([r.p_value for r in tested]), strict=True):
        row.p_holm = adjusted
        row.significant = adjusted is not None and adjusted < ALPHA


def _leaver_filter(ds: Dataset, separation_type: str, notes: list[str]) -> np.ndarray:
    """Which rows count as a separation of the requested type (dates are checked separately)."""
    assert ds.leaver is not None
    if separation_type == "all":
        return ds.leaver
    if separation_type == "regretted":
        if ds.regretted is None:
            raise InputError("separation_type='regretted' needs a regretted-leaver column (yes/no); none was "
                             "recognised — name it with column_map, e.g. {\"regretted\": \"Regrettable\"}")
        return ds.leaver & ds.regretted
    if ds.separation is None:
        raise InputError(f"separation_type={separation_type!r} needs a termination-type column (voluntary / "
                         "involuntary, 主动离职 / 被动离职); none was recognised — name it with column_map, "
                         "e.g. {\"termination_type\": \"Exit type\"}, or use separation_type='all'")
    wanted = SEP_VOLUNTARY if separation_type == "voluntary" else SEP_INVOLUNTARY
    return ds.leaver & (ds.separation == wanted)


def _leaver_definition(ds: Dataset, separation_type: str) -> str:
    base = {"event": f"a termination date in {ds.roles.get('termination_date')!r} within the period",
            "snapshot": ds.shape_source.split("leavers from ", 1)[-1]}[ds.shape or "snapshot"]
    if separation_type in ("voluntary", "involuntary"):
        return f"{base}, and {ds.roles.get('termination_type')!r} classified as {separation_type}"
    if separation_type == "regretted":
        return f"{base}, and {ds.roles.get('regretted')!r} = yes"
    return base


def _event_counts(ds: Dataset, static: np.ndarray, total_groups: int, tenure_position: int | None,
                  multiplier: int, leaver_mask: np.ndarray, period_start: str | None, period_end: str | None,
                  denominator: str) -> tuple:
    import numpy as np

    assert ds.hire is not None and ds.term is not None
    start, end, source = resolve_period(ds, period_start, period_end)
    valid = (ds.hire != NO_DATE) & ~((ds.term != NO_DATE) & (ds.term < ds.hire))
    hire, term = ds.hire, ds.term

    def codes_on(day: np.ndarray | int) -> np.ndarray:
        if tenure_position is None:
            return static
        tenure_months = (day - hire) / DAYS_PER_MONTH
        return static + tenure_band_codes(tenure_months) * multiplier

    def count_on(day: int) -> np.ndarray:
        on_books = valid & (hire <= day) & (term >= day)
        return np.bincount(codes_on(day)[on_books], minlength=total_groups).astype("float64")

    period_days = headcount_days(day_to_date(start), day_to_date(end))
    if denominator == "average":
        heads = np.mean([count_on(date_to_day(d)) for d in period_days], axis=0)
    elif denominator == "begin_end":
        heads = (count_on(start) + count_on(end)) / 2
    else:
        heads = count_on(start)
    left = valid & leaver_mask & (term >= start) & (term <= end)
    leaver_codes = codes_on(term)[left] if tenure_position is not None else static[left]
    leavers = np.bincount(leaver_codes, minlength=total_groups)
    # fsum: the overall headcount does not depend on the order of the groups (English vs Chinese labels)
    return heads, leavers, math.fsum(heads), int(leavers.sum()), (start, end, source, period_days)


def _snapshot_counts(ds: Dataset, static: np.ndarray, total_groups: int, tenure_position: int | None,
                     multiplier: int, leaver_mask: np.ndarray, notes: list[str]) -> tuple:
    import numpy as np

    codes = static
    if tenure_position is not None:
        tenure = ds.tenure_months
        if tenure is None:
            if ds.hire is None or ds.as_of is None:
                raise InputError("tenure_band needs a tenure column (years, months or days) or hire dates; none "
                                 "was recognised — name one with column_map, e.g. {\"tenure_years\": \"Service\"}")
            end = np.where(ds.term != NO_DATE, ds.term, ds.as_of) if ds.term is not None else ds.as_of
            tenure = np.where(ds.hire != NO_DATE, (end - ds.hire) / DAYS_PER_MONTH, np.nan)
            notes.append("tenure_band from hire dates up to the termination date or the latest date in the file")
        codes = static + tenure_band_codes(tenure, tenure_bands(ds)) * multiplier
    heads = np.bincount(codes, minlength=total_groups).astype("float64")
    leavers = np.bincount(codes[leaver_mask], minlength=total_groups)
    return heads, leavers, float(len(codes)), int(leaver_mask.sum())


# -- text


def breakdown_markdown(result: BreakdownResult, max_lines: int = 25, language: str = "en",
                       settings: Any = None) -> str:
    """A short markdown summary in ``language`` (en / zh): the definition, the overall rate, a table of groups
    (with the annualised rate when the period is not 12 months), how intervals and significance are computed."""
    from retention_mcp.analysis.wording import sensitive_caution, words
    from retention_mcp.units import percent

    w = words(language, settings)
    d = result.definition
    o = result.overall
    annualise = d.shape == "event" and d.months not in (None, 12) and o.annualised_rate is not None
    separation = w["turnover.separation_types"].get(d.separation_type, d.separation_type)
    lines = []
    if result.scope:
        lines.append(f"_{result.scope}_")
    if d.shape == "event":
        denominator = w["turnover.denominators"].get(d.denominator or "", d.denominator_definition)
        lines.append(w["turnover.title_event"].format(start=d.period_start, end=d.period_end,
                                                      period_source=_period_source(d, w), denominator=denominator,
                                                      separation_type=separation))
        if annualise:
            lines.append(w["turnover.period_annualised"].format(months=f"{d.months:g}",
                                                                annualisation=w["turnover.annualisation"]))
    else:
        lines.append(w["turnover.title_snapshot"].format(leavers=d.leaver_definition, separation_type=separation))
    if o.suppressed:
        lines.append(w["turnover.overall_suppressed"].format(k=d.min_group_size))
    else:
        overall_line = w["turnover.overall"].format(rate=percent(o.rate), leavers=o.leavers,
                                                    headcount=f"{o.headcount:g}", low=percent(o.ci_low),
                                                    high=percent(o.ci_high))
        if annualise:
            overall_line += w["turnover.overall_annualised"].format(rate=percent(o.annualised_rate),
                                                                    low=percent(o.annualised_ci_low),
                                                                    high=percent(o.annualised_ci_high))
        lines.append(overall_line + ("。" if language == "zh" else "."))
    bands = w["turnover.tenure_bands"]
    if result.rows:
        rate_heads = ([w["turnover.col_period_rate"].format(months=f"{d.months:g}"), w["turnover.col_annualised"]]
                      if annualise else [w["turnover.col_rate"]])
        heads = [w["turnover.col_group"], w["turnover.col_headcount"], w["turnover.col_leavers"], *rate_heads,
                 w["turnover.col_ci"], w["turnover.col_gap_overall"], w["turnover.col_gap_rest"], w["turnover.col_p"],
                 w["turnover.col_significant"]]
        lines += ["", "| " + " | ".join(heads) + " |",
                  "|---|---:|---:|" + "---:|" * len(rate_heads) + "---|---:|---:|---:|---|"]
        for r in result.rows[:max_lines]:
            label = " / ".join(bands.get(v, v) for v in r.group.values()) if r.group else r.label
            if r.suppressed:
                lines.append(f"| {label} | — | — | {w['turnover.suppressed_cell'].format(k=d.min_group_size)} |"
                             + " |" * (len(heads) - 4))
                continue
            sig = "" if r.significant is None else w["common.yes"] if r.significant else w["common.no"]
            gap_text = f"{r.gap_pp:+.1f}" if r.gap_pp is not None else ""
            rest_text = f"{r.gap_to_rest_pp:+.1f}" if r.gap_to_rest_pp is not None else ""
            p_text = _p(r.p_holm)
            if annualise:
                rates = f"{percent(r.rate)} | {percent(r.annualised_rate)}"
                interval = f"{percent(r.annualised_ci_low)}–{percent(r.annualised_ci_high)}"
            else:
                rates = percent(r.rate)
                interval = f"{percent(r.ci_low)}–{percent(r.ci_high)}"
            lines.append(f"| {label} | {r.headcount:g} | {r.leavers} | {rates} | {interval} | {gap_text} | "
                         f"{rest_text} | {p_text} | {sig} |")
        hidden = len(result.rows) - min(len(result.rows), max_lines)
        more = result.groups - len(result.rows) + hidden
        if more > 0:
            lines.append("\n" + w["turnover.more_groups"].format(
                count=more, truncated=w["turnover.truncated"] if result.truncated else ""))
        tested = sum(1 for r in result.rows if r.p_holm is not None)
        lines.append("")
        lines.append(" ".join(str(w[f"turnover.interval_{d.shape}"]).split()))
        if tested:
            lines.append(" ".join(str(w[f"turnover.significance_{d.shape}"]).format(groups=tested).split()))
    else:
        lines += ["", " ".join(str(w[f"turnover.interval_{d.shape}"]).split())]
    if d.tenure_bands:
        lines.append(w["turnover.tenure_year_bands"].format(column=d.tenure_column) if d.tenure_column
                     else w["turnover.tenure_month_bands"])
    if d.separation_classes:
        lines.append(w["turnover.classification"].format(definition=_separation_definition(d, language, settings)))
        if d.unclassified_separations:
            lines.append(w["turnover.unclassified"].format(values=", ".join(repr(v) for v in
                                                                            d.unclassified_separations)))
    for note in result.notes:
        lines.append(f"\n{w['common.note']}: {note}")
    if result.sensitive:
        lines.append("\n" + sensitive_caution(result.sensitive, w))
    return "\n".join(lines)


def _period_source(d: Definition, w: dict[str, Any]) -> str:
    source = d.period_source or ""
    if source.startswith("default"):
        return w["turnover.period_default"].format(end=d.period_end)
    if source.startswith("period_end given"):
        return w["turnover.period_end_given"]
    if source.startswith("period_start given"):
        return w["turnover.period_start_given"]
    return w["turnover.period_given"]


def _separation_definition(d: Definition, language: str, settings: Any) -> str:
    """The classification rule in the reader's language (tools/separation_types.yaml definition / definition_zh)."""
    if language != "zh":
        return d.separation_classes or ""
    from retention_mcp.catalog import bundled_dir, catalog_file, read_yaml
    from retention_mcp.data.roles import SEPARATIONS_FILE

    path = catalog_file(settings, SEPARATIONS_FILE) if settings is not None else bundled_dir("tools") / SEPARATIONS_FILE
    text = (read_yaml(path) or {}).get("definition_zh")
    return " ".join(str(text).split()) if text else d.separation_classes or ""


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
