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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from retention_mcp.analysis.stats import (
    conditional_rate_test,
    gap,
    garwood_intervals,
    holm,
    two_proportion_test,
    wilson_intervals,
)
from retention_mcp.data.cellkey import Cells, Tally
from retention_mcp.data.dataset import (
    NO_DATE,
    SEP_INVOLUNTARY,
    SEP_VOLUNTARY,
    Dataset,
    date_to_day,
    day_to_date,
    leaver_source_text,
    shape_text,
)
from retention_mcp.data.dates import add_months
from retention_mcp.data.dimensions import (
    DAYS_PER_MONTH,
    Scope,
    build_dimension,
    decode,
    dimension_key,
    forced_cells,
    refuse_outcome_dimension,
    scope_slice,
    tenure_band_codes,
    tenure_bands,
    tenure_dimension,
    tenure_note,
)
from retention_mcp.data.disclosure import Policy, suppress
from retention_mcp.data.vocabulary import parse_period, separation_argument
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, words

if TYPE_CHECKING:
    import numpy as np

Denominator = Literal["average", "begin_end", "start"]
SeparationType = Literal["all", "voluntary", "involuntary", "regretted"]

DENOMINATORS = ("average", "begin_end", "start")
#: The tests stats.two_proportion_test names, by their wording key (tools/wording/stats.yaml).
TEST_CODES = {"Fisher's exact test": "fisher", "two-proportion z-test": "two_proportion_z"}
ALPHA = 0.05


class GroupRow(BaseModel):
    group: dict[str, str] = Field(description="the group's value for each `by` dimension")
    label: str = Field(description="the group as one readable label, e.g. 'Sales / night'")
    headcount: float | None = Field(description="denominator: average headcount over the period (event data, "
                                    "per `denominator`, unrounded: every tool computes it the same way) or employees "
                                    "in the group (snapshot); None when suppressed")
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
    annualised_gap_pp: float | None = Field(None, description="annualised rate − annualised overall rate, pp "
                                            "(event data): the gap in the unit of the annualised table")
    rest_rate: float | None = Field(None, description="the rate of everyone in scope outside this group")
    gap_to_rest_pp: float | None = Field(None, description="rate − rest_rate, in percentage points")
    annualised_gap_to_rest_pp: float | None = Field(None, description="gap_to_rest_pp × 12 ÷ months (event data)")
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
    # the period's name when it is a calendar year, half, quarter or month (2024-Q3 / 2024年第3季度), for the text;
    # derivable from period_start and period_end, so left out of the output schema (tools/list is paid per client)
    period_name: SkipJsonSchema[str | None] = None
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
    language: ResultLanguage = "en"
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
    """A day number from a date (2024-01-01, 2024/1/1, 2024年1月1日), or from a period name (2024-Q3, 2024年第3季度
    ...): its first day for period_start, its last day for period_end."""
    import pandas as pd

    from retention_mcp.data.dates import parse_dates

    if value is None or str(value).strip() == "":
        return None
    try:  # ISO dates, the usual argument, without the full parser (tens of milliseconds a call)
        return date_to_day(dt.date.fromisoformat(str(value).strip()))
    except ValueError:
        pass
    period = parse_period(str(value))
    if period is not None:
        return date_to_day(period.end if name == "period_end" else period.start)
    parsed = parse_dates(pd.Series([str(value)]))
    if parsed.values.isna().iloc[0]:
        raise InputError(f"{name} {value!r} is not a date or a period name; write it like 2024-01-01, 2024-Q3 or "
                         "2024年第3季度")
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


def resolve_period(ds: Dataset, period_start: str | None, period_end: str | None,
                   w: Words | None = None) -> tuple[int, int, str]:
    """(first day, last day, how the period was chosen, in ``w``'s language). A period name given alone (in either
    argument) is that whole period: period_start='2024-Q3' is July to September 2024."""
    w = w or words("en")
    named = [parse_period(v) for v in (period_start, period_end) if v not in (None, "")]
    if len(named) == 1 and named[0] is not None:
        period = named[0]
        return date_to_day(period.start), date_to_day(period.end), w("turnover.period_name_given",
                                                                        name=period.name(w))
    start = parse_day(period_start, "period_start")
    end = parse_day(period_end, "period_end")
    if start is None and end is None:
        if ds.as_of is None:
            raise InputError("the file has no usable dates to set a period from; give period_start and period_end")
        end_date = day_to_date(ds.as_of)
        start_date = add_months(end_date, -12) + dt.timedelta(days=1)
        return date_to_day(start_date), ds.as_of, w("turnover.period_default", end=end_date.isoformat())
    if start is None:
        end_date = day_to_date(end)  # type: ignore[arg-type]
        start_date = add_months(end_date, -12) + dt.timedelta(days=1)
        start = date_to_day(start_date)
        source = w("turnover.period_end_given")
    elif end is None:
        end_date = add_months(day_to_date(start), 12) - dt.timedelta(days=1)
        end = date_to_day(end_date)
        source = w("turnover.period_start_given")
    else:
        source = w("turnover.period_given")
    if start > end:
        raise InputError(f"period_start ({day_to_date(start)}) is after period_end ({day_to_date(end)}); swap them")
    return start, end, source


def period_name(start: dt.date, end: dt.date) -> Any:
    """The calendar period [start, end] is exactly, if any (a year, half, quarter or month)."""
    from retention_mcp.data.vocabulary import Period

    for kind, parts in (("year", (0,)), ("half", (1, 2)), ("quarter", (1, 2, 3, 4)), ("month", range(1, 13))):
        for part in parts:
            period = Period(kind, start.year, part)
            if period.start == start and period.end == end:
                return period
    return None


# -- the breakdown


def turnover_breakdown(ds: Dataset, *, by: Sequence[str] = (), period_start: str | None = None,
                       period_end: str | None = None, denominator: str = "average",
                       separation_type: str = "all", policy: Policy, min_group_size: int | None = None,
                       scope: Scope | None = None, bins: Mapping[str, Any] | None = None,
                       max_rows: int = 50, w: Words | None = None) -> BreakdownResult:
    """Turnover by the ``by`` dimensions (none: the overall rate only) within ``scope`` (a ``where``
    filter). Small groups, and groups that would give one away by subtraction, are suppressed. Texts (definition,
    notes, group labels of derived dimensions) in ``w``'s language."""
    import numpy as np

    w = w or words("en")

    if ds.shape is None:
        from retention_mcp.analysis.file_kind import looks_like

        raise InputError("turnover needs hire and termination dates (event data) or a leaver flag such as "
                         f"Attrition Yes/No (snapshot data); this file has neither.{looks_like(ds, 'hr')} Otherwise "
                         f"{ds.shape_source}")
    if denominator not in DENOMINATORS:
        raise InputError(f"denominator must be one of average, begin_end, start (got {denominator!r}): average = "
                         "mean month-end headcount (default), begin_end = (start + end) ÷ 2, start = first day")
    separation_type = separation_argument(separation_type)
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
    by_dims = [build_dimension(ds, name, policy, bins.get(name), w=w) for name in by]
    for dim in by_dims:
        refuse_outcome_dimension(ds, dim, "turnover breakdown")
    notes += [d.note for d in by_dims if d.note and d.codes is not None]  # tenure bands: in the definition
    leaver_mask = _leaver_filter(ds, separation_type)
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
    cells = policy.cells(ds)
    if ds.shape == "event":
        head_tallies, leaver_tally, period = _event_counts(ds, cells, static, total_groups, tenure_position,
                                                           multiplier, leaver_mask, period_start, period_end,
                                                           denominator, w)
        start, end, source, days = period
        months = months_between(day_to_date(start), day_to_date(end))
        named = period_name(day_to_date(start), day_to_date(end))
        definition = Definition(
            shape="event", shape_source=shape_text(ds, w),
            formula=w("turnover.formula_event", denominator=w(f"turnover.denominator_names.{denominator}")),
            denominator=denominator, denominator_definition=w(f"turnover.denominators.{denominator}"),
            period_start=day_to_date(start).isoformat(), period_end=day_to_date(end).isoformat(),
            period_source=source, period_name=named.name(w) if named else None, months=months,
            annualisation=w("turnover.annualisation") if months != 12 else w("turnover.annualisation_none"),
            separation_type=separation_type, leaver_definition=_leaver_definition(ds, separation_type, w),
            headcount_days=[d.isoformat() for d in days] if denominator == "average" else
            [day_to_date(start).isoformat(), day_to_date(end).isoformat()][: 1 if denominator == "start" else 2],
            min_group_size=k, interval=w("turnover.interval_definition.event"),
            significance=w("turnover.significance_definition.event"), columns=columns, language=w.language)
        if tenure_position is not None and any(d.kind == "tenure_band" for d in by_dims):
            notes.append(w("turnover.band_vs_early"))
    else:
        if denominator != "average" or period_start or period_end:
            notes.append(w("turnover.snapshot_ignores_period"))
        head_tally, leaver_tally = _snapshot_counts(ds, cells, static, total_groups, tenure_position, multiplier,
                                                    leaver_mask, notes, w)
        head_tallies = [head_tally]
        months = None
        definition = Definition(
            shape="snapshot", shape_source=shape_text(ds, w), formula=w("turnover.formula_snapshot"),
            denominator=None, denominator_definition=w("turnover.denominator_snapshot"),
            period_start=None, period_end=None, period_source=w("turnover.snapshot_period"),
            months=None, annualisation=None, separation_type=separation_type,
            leaver_definition=_leaver_definition(ds, separation_type, w), min_group_size=k,
            interval=w("turnover.interval_definition.snapshot"),
            significance=w("turnover.significance_definition.snapshot"), columns=columns, language=w.language)
    if ds.roles.get("termination_type") is not None:
        definition.separation_classes = separation_classes(ds, w)
        definition.unclassified_separations = list(ds.unclassified_separations)
    if any(d.codes is None for d in by_dims):
        bands = tenure_bands(ds)
        definition.tenure_bands = tenure_note(bands, w)
        if bands.completed_years:
            definition.tenure_column = bands.column

    shape = tuple(sizes) if sizes else ()
    head_tallies = [t.reshape(shape) for t in head_tallies]
    leaver_tally = leaver_tally.reshape(shape)
    # Headcounts: the mean over the headcount days of whole counts per day, so every grouping of the same people
    # gives the same total (one computation, whatever the `by`).
    true_heads = np.mean([t.n for t in head_tallies], axis=0)
    # A group's size for suppression: its headcount, or its leavers when more people left than the average held.
    hidden = suppress(np.maximum(true_heads, leaver_tally.n), k, scope.selected or None,
                      keys=[dimension_key(d) for d in dims], forced=forced_cells(ds, dims, k))
    # The filtered table: the `where` axes cut to their selected values and added up (cell keys add too).
    head_tallies = [scope_slice(t, scope) for t in head_tallies]
    leaver_tally = scope_slice(leaver_tally, scope)
    overall_hidden = bool(hidden[()])
    if scope.active and overall_hidden:
        raise InputError(f"the filter {scope.text} selects a group that is suppressed (fewer than {k} people, or "
                         "hidden so that a small group cannot be worked out by subtraction); widen the filter")
    # Headcounts as shown: the mean of each headcount day's count (exact, or perturbed set by set).
    overall_heads = float(np.mean([cells.shown(t.total()) for t in head_tallies]))
    overall_leavers = _leavers_shown(cells, leaver_tally.total(), overall_heads, ds.shape)
    overall = _row({}, w("turnover.overall_label"), overall_heads, overall_leavers, None, months,
                   hide=overall_hidden, shape=ds.shape)
    rows = []
    exposure: dict[int, float] = {}  # id(row) -> unrounded headcount, for the tests against the rest
    if by_dims:
        cell_hidden = hidden[tuple(range(len(by_dims)))].reshape(-1)
        flat_true = np.mean([t.n for t in head_tallies], axis=0).reshape(-1)
        flat_heads = np.mean([cells.shown(t) for t in head_tallies], axis=0).reshape(-1)
        flat_leaver_tally = leaver_tally.reshape(-1)
        present = np.flatnonzero((flat_true > 0) | (flat_leaver_tally.n > 0) | cell_hidden)
        flat_leavers = cells.shown(flat_leaver_tally)
        for code in present:
            group = decode(int(code), by_dims)
            label = " / ".join(group.values())
            heads_shown = float(flat_heads[code])
            leavers_shown = _clip_leavers(int(flat_leavers[code]), heads_shown, ds.shape)
            rows.append(_row(group, label, heads_shown, leavers_shown, overall.rate, months,
                             hide=bool(cell_hidden[code]), shape=ds.shape))
            exposure[id(rows[-1])] = heads_shown
    _test_against_rest(rows, overall, overall_heads, exposure, ds.shape, w)
    rows.sort(key=lambda r: (r.suppressed, -(r.rate if r.rate is not None else -1), r.label))
    truncated = len(rows) > max_rows
    if overall.suppressed:
        notes.append(w("turnover.all_suppressed", k=k))
    notes += _missing_restates_leaving(ds, by_dims, rows, overall, w)
    sensitive = [d.column for d in by_dims if d.column is not None and ds.is_sensitive(d.column)]
    return BreakdownResult(by=[d.name for d in by_dims], overall=overall, rows=rows[:max_rows], groups=len(rows),
                           suppressed_groups=sum(r.suppressed for r in rows), truncated=truncated,
                           definition=definition, scope=scope.describe(cells) or None, sensitive=sensitive,
                           notes=notes)


#: A joined column's (missing) group leaving at this many times the overall rate says more about the file than
#: about the column.
MISSING_RATE_RATIO = 2.0


def _missing_restates_leaving(ds: Dataset, by_dims: Sequence[Any], rows: Sequence[GroupRow],
                              overall: GroupRow, w: Words) -> list[str]:
    """A warning when a linked dataset's joined column is missing mostly for leavers: a file that lists only the
    people of one date or period (a Q4 payroll, a current rating list) leaves out those who left before it, so its
    (missing) group restates leaving rather than saying anything about the column."""
    if ds.linked is None or overall.rate is None or overall.rate <= 0:
        return []
    notes = []
    for position, dim in enumerate(by_dims):
        origin = ds.linked.origin(dim.column) if dim.column else None
        if origin is None:
            continue
        missing_label = dim.label(len(dim.labels) - 1)  # "(missing)" as shown in the caller's language
        missing = [r for r in rows if list(r.group.values())[position] == missing_label and r.rate is not None]
        if missing and max(r.rate for r in missing) >= MISSING_RATE_RATIO * overall.rate:
            notes.append(w("turnover.missing_restates_leaving", name=dim.title(w), file=origin[0].spec.path,
                           ratio=f"{max(r.rate for r in missing) / overall.rate:.1f}"))
    return notes


def _clip_leavers(leavers: int, heads: float, shape: str | None) -> int:
    """A share of people cannot exceed them: perturbed snapshot leavers are capped at the perturbed headcount."""
    if shape == "snapshot":
        return max(0, min(leavers, round(heads)))
    return max(0, leavers)


def _leavers_shown(cells: Any, tally: Any, heads: float, shape: str | None) -> int:
    return _clip_leavers(int(cells.shown(tally)), heads, shape)


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
    return GroupRow(group=group, label=label, headcount=heads, leavers=leavers, rate=rate,
                    annualised_rate=annualised, ci_low=ci_low, ci_high=ci_high,
                    annualised_ci_low=ci_low * per_year if (ci_low is not None and per_year) else None,
                    annualised_ci_high=ci_high * per_year if (ci_high is not None and per_year) else None,
                    gap_pp=gap_pp, gap_relative=gap_relative,
                    annualised_gap_pp=gap_pp * per_year if (gap_pp is not None and per_year) else None,
                    significant=None, suppressed=False)


def _test_against_rest(rows: list[GroupRow], overall: GroupRow, overall_heads: float, exposure: dict[int, float],
                       shape: str | None, w: Words) -> None:
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
        # Perturbed figures are not additive: the rest (overall − group) is kept a possible count.
        rest_leavers = max(0, min(rest_leavers, round(rest_heads) if shape != "event" else rest_leavers))
        row.rest_rate = rest_leavers / rest_heads
        row.gap_to_rest_pp = (row.rate - row.rest_rate) * 100
        if row.annualised_gap_pp is not None and row.gap_pp:
            row.annualised_gap_to_rest_pp = row.gap_to_rest_pp * row.annualised_gap_pp / row.gap_pp
        elif row.annualised_rate is not None and row.rate:
            row.annualised_gap_to_rest_pp = row.gap_to_rest_pp * row.annualised_rate / row.rate
        if shape == "event":
            row.p_value = conditional_rate_test(row.leavers, heads, rest_leavers, rest_heads)
            row.test = w("stats.tests.poisson_conditional")
        else:
            row.p_value, test = two_proportion_test(row.leavers, round(heads), rest_leavers, round(rest_heads))
            row.test = w.option("stats.tests", TEST_CODES.get(test, test)) if test else test
        if row.p_value is not None:
            tested.append(row)
    for row, adjusted in zip(tested, holm([r.p_value for r in tested]), strict=True):
        row.p_holm = adjusted
        row.significant = adjusted is not None and adjusted < ALPHA


def _leaver_filter(ds: Dataset, separation_type: str) -> np.ndarray:
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


def _leaver_definition(ds: Dataset, separation_type: str, w: Words) -> str:
    base = (w("turnover.leaver_event", column=ds.roles.get("termination_date")) if ds.shape == "event"
            else leaver_source_text(ds, w))
    if separation_type in ("voluntary", "involuntary"):
        return w("turnover.leaver_kind", base=base, column=ds.roles.get("termination_type"),
                 kind=w.option("vocabulary.separation", separation_type))
    if separation_type == "regretted":
        return w("turnover.leaver_regretted", base=base, column=ds.roles.get("regretted"))
    return base


def separation_classes(ds: Dataset, w: Words) -> str:
    """How termination types map to voluntary / involuntary / other, in ``w``'s language
    (tools/separation_types.yaml: definition, definition_zh)."""
    if not w.zh:
        return ds.table.separation_definition
    from retention_mcp.catalog import bundled_dir, read_yaml
    from retention_mcp.data.roles import SEPARATIONS_FILE

    text = (read_yaml(bundled_dir("tools") / SEPARATIONS_FILE) or {}).get("definition_zh")
    return " ".join(str(text).split()) if text else ds.table.separation_definition


def _event_counts(ds: Dataset, cells: Cells, static: np.ndarray, total_groups: int, tenure_position: int | None,
                  multiplier: int, leaver_mask: np.ndarray, period_start: str | None, period_end: str | None,
                  denominator: str, w: Words) -> tuple:
    """(a tally of the people on the books per group on each headcount day, the leavers in the period per group,
    the period)."""

    assert ds.hire is not None and ds.term is not None
    start, end, source = resolve_period(ds, period_start, period_end, w)
    valid = (ds.hire != NO_DATE) & ~((ds.term != NO_DATE) & (ds.term < ds.hire))
    hire, term = ds.hire, ds.term

    def codes_on(day: np.ndarray | int) -> np.ndarray:
        if tenure_position is None:
            return static
        tenure_months = (day - hire) / DAYS_PER_MONTH
        return static + tenure_band_codes(tenure_months) * multiplier

    def count_on(day: int) -> Tally:
        on_books = valid & (hire <= day) & (term >= day)
        return cells.tally(codes_on(day), total_groups, on_books)

    period_days = headcount_days(day_to_date(start), day_to_date(end))
    if denominator == "average":
        heads = [count_on(date_to_day(d)) for d in period_days]
    elif denominator == "begin_end":
        heads = [count_on(start), count_on(end)]
    else:
        heads = [count_on(start)]
    left = valid & leaver_mask & (term >= start) & (term <= end)
    leavers = cells.tally(codes_on(term) if tenure_position is not None else static, total_groups, left)
    return heads, leavers, (start, end, source, period_days)


def _snapshot_counts(ds: Dataset, cells: Cells, static: np.ndarray, total_groups: int, tenure_position: int | None,
                     multiplier: int, leaver_mask: np.ndarray, notes: list[str], w: Words) -> tuple[Tally, Tally]:

    codes = static
    if tenure_position is not None:
        tenure = tenure_dimension(ds, w, static=True)  # the bands every tool gives a person
        if tenure.note and not tenure_bands(ds).completed_years:
            notes.append(tenure.note)
        codes = static + tenure.codes * multiplier
    return cells.tally(codes, total_groups), cells.tally(codes, total_groups, leaver_mask)


# -- text


def breakdown_markdown(result: BreakdownResult, max_lines: int = 25, w: Words | None = None) -> str:
    """A short markdown summary in ``w``'s language (the result's own, by default): the definition, the overall
    rate, a table of groups (annualised throughout when the period is not 12 months), how intervals and
    significance are computed."""
    from retention_mcp.units import percent
    from retention_mcp.wording import sensitive_caution

    d = result.definition
    w = w or words(d.language)
    o = result.overall
    annualise = d.shape == "event" and d.months not in (None, 12) and o.annualised_rate is not None
    separation = w.option("vocabulary.separation", d.separation_type)
    lines = []
    if result.scope:
        lines.append(f"_{result.scope}_")
    if d.shape == "event":
        span = (w("turnover.period_named", name=d.period_name, start=d.period_start, end=d.period_end)
                if d.period_name else w("turnover.period_span", start=d.period_start, end=d.period_end))
        lines.append(w("turnover.title_event", period=span, period_source=d.period_source,
                       denominator=d.denominator_definition, separation_type=separation))
        if annualise:
            lines.append(w("turnover.period_annualised", months=f"{d.months:g}", annualisation=d.annualisation))
    else:
        lines.append(w("turnover.title_snapshot", leavers=d.leaver_definition, separation_type=separation))
    if o.suppressed:
        lines.append(w("turnover.overall_suppressed", k=d.min_group_size))
    else:
        overall_line = w("turnover.overall", rate=percent(o.rate), leavers=o.leavers, headcount=_heads(o.headcount),
                         low=percent(o.ci_low), high=percent(o.ci_high))
        if annualise:
            overall_line += w("turnover.overall_annualised", rate=percent(o.annualised_rate),
                              low=percent(o.annualised_ci_low), high=percent(o.annualised_ci_high))
        lines.append(overall_line + w.stop)
    if result.rows:
        if annualise:
            rate_heads = [w("turnover.col_period_rate", months=f"{d.months:g}"), w("turnover.col_annualised")]
            gap_heads = [w("turnover.col_ci_annualised"), w("turnover.col_gap_overall_annualised"),
                         w("turnover.col_gap_rest_annualised")]
        else:
            rate_heads = [w("turnover.col_rate")]
            gap_heads = [w("turnover.col_ci"), w("turnover.col_gap_overall"), w("turnover.col_gap_rest")]
        heads = [w("turnover.col_group"), w("turnover.col_headcount"), w("turnover.col_leavers"), *rate_heads,
                 *gap_heads, w("turnover.col_p"), w("turnover.col_significant")]
        lines += ["", "| " + " | ".join(heads) + " |",
                  "|---|---:|---:|" + "---:|" * len(rate_heads) + "---|---:|---:|---:|---|"]
        for r in result.rows[:max_lines]:
            if r.suppressed:
                lines.append(f"| {r.label} | — | — | {w('turnover.suppressed_cell', k=d.min_group_size)} |"
                             + " |" * (len(heads) - 4))
                continue
            sig = "" if r.significant is None else w("common.yes") if r.significant else w("common.no")
            if annualise:
                rates = f"{percent(r.rate)} | {percent(r.annualised_rate)}"
                interval = f"{percent(r.annualised_ci_low)}–{percent(r.annualised_ci_high)}"
                gap_overall, gap_rest = r.annualised_gap_pp, r.annualised_gap_to_rest_pp
            else:
                rates = percent(r.rate)
                interval = f"{percent(r.ci_low)}–{percent(r.ci_high)}"
                gap_overall, gap_rest = r.gap_pp, r.gap_to_rest_pp
            gap_text = f"{gap_overall:+.1f}" if gap_overall is not None else ""
            rest_text = f"{gap_rest:+.1f}" if gap_rest is not None else ""
            lines.append(f"| {r.label} | {_heads(r.headcount)} | {r.leavers} | {rates} | {interval} | {gap_text} | "
                         f"{rest_text} | {_p(r.p_holm)} | {sig} |")
        hidden = len(result.rows) - min(len(result.rows), max_lines)
        more = result.groups - len(result.rows) + hidden
        if more > 0:
            lines.append("\n" + w("turnover.more_groups", count=more,
                                   truncated=w("turnover.truncated") if result.truncated else ""))
        tested = sum(1 for r in result.rows if r.p_holm is not None)
        lines.append("")
        lines.append(w(f"turnover.interval_{d.shape}"))
        if tested:
            lines.append(w(f"turnover.significance_{d.shape}", groups=tested))
    else:
        lines += ["", w(f"turnover.interval_{d.shape}")]
    if d.tenure_bands:
        lines.append(d.tenure_bands)
    if d.separation_classes:
        lines.append(w("turnover.classification", definition=d.separation_classes))
        if d.unclassified_separations:
            lines.append(w("turnover.unclassified", values=w.enumeration.join(repr(v) for v in
                                                                               d.unclassified_separations)))
    for note in result.notes:
        lines.append(f"\n{w('common.note')}{w.colon}{note}")
    if result.sensitive:
        lines.append("\n" + sensitive_caution(result.sensitive, w))
    return "\n".join(lines)


def _heads(value: float | None) -> str:
    """A headcount as text: whole numbers as they are, averages to one decimal."""
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
