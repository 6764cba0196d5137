"""Call-log profile (``call_log_profile``): arrivals per interval, answer rate, service level, AHT, ASA, CSAT.

Input: one row per call, read with the call-log roles of ``tools/column_aliases.yaml`` (call_date, call_time,
answered, asa, aht, csat, resolved; an agent column is never shown). Definitions (stated in every result):

- **offered** = calls with a known answered flag; **answer rate** = answered ÷ offered;
- **arrivals**: calls per interval (``interval_minutes``) on each date; for a weekday and time of day, the
  mean over the *days observed* — dates of that weekday with at least one call in the log — and the busiest
  single interval; the peak is the weekday × time with the highest mean;
- **service level** within T seconds (speed of answer ≤ T): of answered calls (answered within T ÷ answered
  calls with a speed of answer) and of offered calls (answered within T ÷ offered: abandoned calls count as
  missed, the KPI catalog's definition);
- **AHT** = mean duration of answered calls as logged (talk time when the log has only talk); **ASA** = mean
  speed of answer of answered calls; both in seconds, with Student t intervals;
- **CSAT**: ratings of answered calls; 0 on a 1-5 scale means no rating (missing, not zero).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from retention_mcp.analysis.patience import PatienceEstimate
from retention_mcp.data.dataset import Dataset, day_numbers, day_to_date
from retention_mcp.data.dimensions import Scope
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: Figures that are fractions: build_kpis takes percent KPIs in points (× 100).
FRACTION_FIGURES = frozenset({"answer_rate", "unanswered_rate", "service_level_offered", "service_level_answered",
                              "resolution_rate", "csat_top_box_share"})
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*([AaPp][Mm])?")


class IntervalRow(BaseModel):
    weekday: str
    start: str = Field(description="start of the interval, hh:mm")
    calls: int = Field(description="calls in this interval over all the days observed")
    days: int = Field(description="days observed: dates of this weekday with at least one call")
    mean_calls: float = Field(description="calls ÷ days: the mean arrivals in this interval")
    max_calls: int = Field(description="the busiest single interval")


class TimeOfDayRow(BaseModel):
    start: str
    calls: int
    days: int
    mean_calls: float


class WeekdayRow(BaseModel):
    weekday: str
    days: int
    calls: int
    mean_calls_per_day: float


class CsatLevel(BaseModel):
    rating: int
    count: int
    share: float


class ErlangInputs(BaseModel):
    calls: float = Field(description="erlang_staffing `calls`: mean calls in the peak interval")
    interval_minutes: int = Field(description="erlang_staffing `interval_minutes`")
    aht_seconds: float = Field(description="erlang_staffing `aht_seconds`: AHT of answered calls")
    answer_within_seconds: float = Field(description="erlang_staffing `answer_within_seconds`")
    patience_seconds: float | None = Field(None, description="erlang_staffing `patience_seconds` (Erlang A): mean "
                                           "caller patience estimated from the abandoned calls")
    peak: str = Field(description="which interval the calls are from")


class KpiBaseline(BaseModel):
    id: str = Field(description="KPI catalog id (build_kpis items[].id)")
    baseline: float = Field(description="build_kpis items[].baseline, in the KPI's unit (percent KPIs in points)")
    source: str = Field(description="the figure of this profile it is")


class CallProfile(Evidenced):
    calls_in_scope: int = Field(description="rows (calls) in scope")
    calls_offered: int = Field(description="calls with a known answered flag (all calls when there is no flag)")
    calls_answered: int | None
    answer_rate: float | None = Field(description="answered ÷ offered, a fraction")
    answer_rate_ci_low: float | None = None
    answer_rate_ci_high: float | None = None
    unanswered_rate: float | None = Field(None, description="1 − answer rate (abandoned or not answered)")
    answer_within_seconds: float
    service_level_answered: float | None = Field(description="answered within T ÷ answered calls with a speed of "
                                                 "answer, a fraction")
    service_level_answered_ci_low: float | None = None
    service_level_answered_ci_high: float | None = None
    service_level_offered: float | None = Field(description="answered within T ÷ offered calls (abandoned count as "
                                                "missed), a fraction")
    service_level_offered_ci_low: float | None = None
    service_level_offered_ci_high: float | None = None
    aht_seconds: float | None = Field(description="mean duration of answered calls, seconds")
    aht_ci_low: float | None = None
    aht_ci_high: float | None = None
    aht_median_seconds: float | None = None
    aht_calls: int = 0
    asa_seconds: float | None = Field(description="mean speed of answer of answered calls, seconds")
    asa_ci_low: float | None = None
    asa_ci_high: float | None = None
    asa_calls: int = 0
    csat_mean: float | None = None
    csat_ci_low: float | None = None
    csat_ci_high: float | None = None
    csat_rated: int = 0
    csat_top_box_share: float | None = Field(None, description="share of ratings in the top box (4-5 of 5)")
    csat_top_box_ci_low: float | None = None
    csat_top_box_ci_high: float | None = None
    csat_distribution: list[CsatLevel] = Field(default_factory=list)
    patience: PatienceEstimate | None = Field(None, description="callers' mean patience (Erlang A) from the abandoned "
                                              "calls, with its method and 95% interval")
    resolution_rate: float | None = Field(None, description="resolved ÷ answered calls with a resolved flag")
    resolution_rate_ci_low: float | None = None
    resolution_rate_ci_high: float | None = None
    first_date: str | None = None
    last_date: str | None = None
    days_observed: int = 0
    calendar_days: int = 0
    interval_minutes: int
    intervals: list[IntervalRow] = Field(default_factory=list, description="weekday × time of day")
    by_time_of_day: list[TimeOfDayRow] = Field(default_factory=list, description="all days observed together")
    by_weekday: list[WeekdayRow] = Field(default_factory=list)
    peaks: list[IntervalRow] = Field(default_factory=list, description="the intervals with the highest mean")
    erlang_inputs: ErlangInputs | None = None
    kpi_baselines: list[KpiBaseline] = Field(default_factory=list)
    agents: int | None = Field(None, description="distinct agents in scope (a count; agents are never named)")
    columns_used: dict[str, str]
    definitions: list[str]
    scope: str | None = None
    notes: list[str] = Field(default_factory=list)


def time_of_day_seconds(series: Any) -> Any:
    """Seconds since midnight from '9:12:58', '09:12', '9:12 PM', '2021-01-01 09:12:58', datetimes or Excel day
    fractions (0.38); NaN where there is no time."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt
        return (values.hour * 3600 + values.minute * 60 + values.second).to_numpy(dtype="float64", na_value=np.nan)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        return np.where((numbers >= 0) & (numbers < 1), numbers * 86400, np.nan)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    parsed = np.full(len(uniques), np.nan)
    for i, value in enumerate(uniques):
        if hasattr(value, "hour") and hasattr(value, "minute"):
            parsed[i] = value.hour * 3600 + value.minute * 60 + getattr(value, "second", 0)
            continue
        match = _CLOCK.search(str(value))
        if match is None:
            continue
        hour, minute = int(match.group(1)), int(match.group(2))
        second = float(match.group(3) or 0)
        meridiem = (match.group(4) or "").lower()
        if meridiem == "pm" and hour < 12:
            hour += 12
        elif meridiem == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60 and second < 61:
            parsed[i] = hour * 3600 + minute * 60 + second
    return np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(uniques) else np.nan, np.nan)


def call_log_profile(ds: Dataset, *, scope: Scope | None = None, interval_minutes: int = 30,
                     answer_within_seconds: float = 20, catalog: Mapping[str, Any] | None = None) -> CallProfile:
    """The profile of a call log within ``scope``: see the module docstring."""
    import numpy as np

    from retention_mcp.analysis.patience import estimate_patience
    from retention_mcp.analysis.scorecard import to_number, to_seconds
    from retention_mcp.analysis.stats import t_interval, wilson_interval
    from retention_mcp.data.dates import parse_flags

    catalog = dict(catalog or {})
    if interval_minutes not in (15, 30, 60):
        raise InputError("interval_minutes must be 15, 30 or 60")
    if isinstance(answer_within_seconds, bool) or not (isinstance(answer_within_seconds, int | float)
                                                       and math.isfinite(answer_within_seconds)
                                                       and 0 < answer_within_seconds <= 3600):
        raise InputError("answer_within_seconds must be a number of seconds between 0 and 3600, e.g. 20")
    scope = scope or Scope()
    rows = scope.rows if scope.active else np.ones(ds.rows, dtype=bool)
    frame = ds.frame
    roles = {role: ds.roles.get(role) for role in ("call_date", "call_time", "answered", "asa", "aht", "csat",
                                                     "resolved", "agent")}
    used = {role: column for role, column in roles.items() if column is not None and role != "agent"}
    for role, column in used.items():
        if ds.identity(column) is not None:
            raise InputError(f"{column!r} identifies or names people; it cannot be the {role} column")
    if not any(roles[r] for r in ("call_date", "call_time", "answered", "asa", "aht", "csat")):
        raise InputError("this does not look like a call log: no date, time, answered, speed-of-answer, talk-time or "
                         "CSAT column was recognised. Name them with column_map, e.g. {\"call_date\": \"Date\", "
                         "\"call_time\": \"Time\", \"answered\": \"Answered\", \"asa\": \"Wait\", \"aht\": \"Talk\"}")
    notes: list[str] = []
    words = (ds.table.true_words, ds.table.false_words)
    in_scope = int(rows.sum())
    definitions = [
        "Offered = calls with a known answered flag; answer rate = answered ÷ offered (Wilson 95% interval).",
        f"Arrivals: calls per {interval_minutes}-minute interval; mean over the days observed (dates of that "
        "weekday with at least one call), and the busiest single interval.",
        f"Service level: speed of answer ≤ {answer_within_seconds:g} s; of answered calls (÷ answered calls with a "
        "speed of answer) and of offered calls (÷ offered: abandoned calls count as missed, the KPI catalog's "
        "definition).",
        "AHT = mean duration of answered calls as logged; ASA = mean speed of answer of answered calls; seconds, "
        "Student t 95% intervals.",
        "CSAT: ratings of answered calls; 0 on a 1-5 scale = no rating (missing).",
    ]

    # answered
    if roles["answered"] is not None:
        flags = parse_flags(frame[roles["answered"]], words).values.to_numpy(dtype="float64", na_value=np.nan)
        known = rows & np.isfinite(flags)
        unknown = in_scope - int(known.sum())
        if unknown:
            notes.append(f"{unknown} call(s) have an answered value that is not yes/no (or blank); they are left out "
                         "of the offered calls")
        answered = known & (flags > 0.5)
        offered_mask = known
    else:
        answered = rows.copy()
        offered_mask = rows
        notes.append("no answered column: every call is treated as answered, so the answer rate and the service "
                     "level of offered calls are not available")
    offered = int(offered_mask.sum())
    n_answered = int(answered.sum())
    if offered == 0:
        raise InputError("no call in scope has a yes/no answered value; name the answered column with column_map")
    result = CallProfile(calls_in_scope=in_scope, calls_offered=offered,
                         calls_answered=n_answered if roles["answered"] is not None else None,
                         answer_rate=None, answer_within_seconds=float(answer_within_seconds),
                         service_level_answered=None, service_level_offered=None, aht_seconds=None, asa_seconds=None,
                         interval_minutes=interval_minutes, columns_used=used, definitions=definitions,
                         scope=scope.describe(in_scope, ds.rows) or None, notes=notes)
    if roles["answered"] is not None:
        result.answer_rate = n_answered / offered
        result.answer_rate_ci_low, result.answer_rate_ci_high = wilson_interval(n_answered, offered)
        result.unanswered_rate = 1 - result.answer_rate

    def mean_with_interval(values: Any) -> tuple[float | None, float | None, float | None, int]:
        present = values[np.isfinite(values)]
        if not len(present):
            return None, None, None, 0
        mean = float(present.mean())
        low, high = t_interval(mean, float(present.std(ddof=1)), len(present)) if len(present) > 1 else (None, None)
        return mean, low, high, len(present)

    # speed of answer and service level
    if roles["asa"] is not None:
        asa = to_seconds(frame[roles["asa"]]).to_numpy(dtype="float64", na_value=np.nan)
        asa = np.where(asa >= 0, asa, np.nan)
        answered_asa = np.where(answered, asa, np.nan)
        result.asa_seconds, result.asa_ci_low, result.asa_ci_high, result.asa_calls = mean_with_interval(answered_asa)
        with_asa = answered & np.isfinite(asa)
        within = with_asa & (asa <= answer_within_seconds)
        n_with, n_within = int(with_asa.sum()), int(within.sum())
        if n_with:
            result.service_level_answered = n_within / n_with
            result.service_level_answered_ci_low, result.service_level_answered_ci_high = wilson_interval(n_within,
                                                                                                          n_with)
        if roles["answered"] is not None:
            result.service_level_offered = n_within / offered
            result.service_level_offered_ci_low, result.service_level_offered_ci_high = wilson_interval(n_within,
                                                                                                        offered)
        if roles["answered"] is not None:
            unanswered = known & ~answered
            lost_waits = asa[unanswered]
            has_lost_waits = bool(unanswered.any()) and bool(np.isfinite(lost_waits).all())
            result.patience = estimate_patience(asa[with_asa], offered,
                                                lost_waits if has_lost_waits else None,
                                                abandoned=int(unanswered.sum()))
        missing = n_answered - n_with
        if missing:
            notes.append(f"{missing} answered call(s) have no speed of answer; they are left out of ASA and of the "
                         "service level of answered calls, and count as missed in the service level of offered "
                         "calls")
    else:
        notes.append("no speed-of-answer column: no ASA and no service level")

    # handle time
    if roles["aht"] is not None:
        aht = to_seconds(frame[roles["aht"]]).to_numpy(dtype="float64", na_value=np.nan)
        aht = np.where(answered & (aht >= 0), aht, np.nan)
        result.aht_seconds, result.aht_ci_low, result.aht_ci_high, result.aht_calls = mean_with_interval(aht)
        if result.aht_calls:
            result.aht_median_seconds = float(np.median(aht[np.isfinite(aht)]))
        notes.append(f"AHT is the logged duration ({roles['aht']!r}); if it is talk time only, add hold and "
                     "after-call work before passing it to erlang_staffing")
    else:
        notes.append("no talk or handle time column: no AHT, so no erlang_staffing inputs")

    # CSAT
    if roles["csat"] is not None:
        ratings = to_number(frame[roles["csat"]]).to_numpy(dtype="float64", na_value=np.nan)
        rated_values = ratings[answered & np.isfinite(ratings)]
        top = float(rated_values.max()) if len(rated_values) else math.nan
        if math.isfinite(top) and top <= 5:
            zeros = int((answered & np.isfinite(ratings) & (ratings < 1)).sum())
            ratings = np.where(ratings >= 1, ratings, np.nan)
            if zeros:
                notes.append(f"{zeros} answered call(s) have a CSAT of 0 on a 1-5 scale: no rating (missing)")
        csat = np.where(answered, ratings, np.nan)
        result.csat_mean, result.csat_ci_low, result.csat_ci_high, result.csat_rated = mean_with_interval(csat)
        present = csat[np.isfinite(csat)]
        if len(present):
            levels, counts = np.unique(present, return_counts=True)
            if len(levels) <= 11 and bool((levels == np.round(levels)).all()):
                result.csat_distribution = [CsatLevel(rating=int(v), count=int(c), share=int(c) / len(present))
                                            for v, c in zip(levels, counts, strict=True)]
            box = [float(b) for b in catalog.get("csat_top_box") or (4, 5)]
            if float(present.max()) <= 5:
                hits = int(np.isin(present, box).sum())
                result.csat_top_box_share = hits / len(present)
                result.csat_top_box_ci_low, result.csat_top_box_ci_high = wilson_interval(hits, len(present))

    # resolution
    if roles["resolved"] is not None:
        resolved = parse_flags(frame[roles["resolved"]], words).values.to_numpy(dtype="float64", na_value=np.nan)
        base = answered & np.isfinite(resolved)
        if base.any():
            hits = int((base & (resolved > 0.5)).sum())
            result.resolution_rate = hits / int(base.sum())
            result.resolution_rate_ci_low, result.resolution_rate_ci_high = wilson_interval(hits, int(base.sum()))

    # arrivals
    _arrivals(ds, frame, roles, rows, interval_minutes, catalog, result, notes)

    if roles["agent"] is not None:
        agents = frame[roles["agent"]][rows].dropna().astype(str).str.strip()
        result.agents = int(agents[agents != ""].nunique())
        notes.append("agents are counted, never named")

    if result.peaks and result.aht_seconds is not None:
        peak = result.peaks[0]
        result.erlang_inputs = ErlangInputs(calls=peak.mean_calls, interval_minutes=interval_minutes,
                                            aht_seconds=result.aht_seconds,
                                            answer_within_seconds=float(answer_within_seconds),
                                            patience_seconds=(result.patience.patience_seconds
                                                              if result.patience is not None else None),
                                            peak=f"{peak.weekday} {peak.start} (mean over {peak.days} days)")
    figures = {name: getattr(result, name) for name in ("answer_rate", "unanswered_rate", "service_level_offered",
                                                        "service_level_answered", "asa_seconds", "aht_seconds",
                                                        "csat_mean", "resolution_rate")}
    for kpi_id, figure in (catalog.get("kpi_baselines") or {}).items():
        value = figures.get(str(figure))
        if value is None:
            continue
        baseline = value * 100 if figure in FRACTION_FIGURES else value
        result.kpi_baselines.append(KpiBaseline(id=str(kpi_id), baseline=round(float(baseline), 4), source=figure))
    result.notes = notes  # (the model keeps a copy of the list it was given)
    return result


def _slot_label(slot: int, interval_minutes: int) -> str:
    minutes = slot * interval_minutes
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _arrivals(ds: Dataset, frame: Any, roles: Mapping[str, str | None], rows: Any, interval_minutes: int,
              catalog: Mapping[str, Any], result: CallProfile, notes: list[str]) -> None:
    import numpy as np

    from retention_mcp.data.dataset import NO_DATE
    from retention_mcp.data.dates import parse_dates

    date_column = roles["call_date"] or roles["call_time"]
    if date_column is None:
        notes.append("no date column: arrivals per interval need the date and time of each call")
        return
    parsed = parse_dates(frame[date_column])
    days = day_numbers(parsed.values)
    if roles["call_time"] is None:
        notes.append("no time-of-day column: arrivals are per day only, so there are no erlang_staffing inputs")
        seconds = np.full(ds.rows, np.nan)
    else:
        seconds = time_of_day_seconds(frame[roles["call_time"]])
    dated = rows & (days != NO_DATE)
    undated = int(rows.sum()) - int(dated.sum())
    if undated:
        notes.append(f"{undated} call(s) have no readable date in {date_column!r}; they are left out of arrivals")
    if not dated.any():
        return
    weekday_names = list(catalog.get("weekdays") or WEEKDAYS)
    if len(weekday_names) != 7:
        weekday_names = list(WEEKDAYS)
    day_list = days[dated]
    first, last = int(day_list.min()), int(day_list.max())
    observed = np.unique(day_list)
    result.first_date, result.last_date = day_to_date(first).isoformat(), day_to_date(last).isoformat()
    result.days_observed = len(observed)
    result.calendar_days = last - first + 1
    if result.calendar_days > result.days_observed:
        notes.append(f"{result.calendar_days - result.days_observed} day(s) between the first and last date have no "
                     "call (closed, or missing from the export); means are over days with calls")
    observed_weekday = (observed + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    days_per_weekday = np.bincount(observed_weekday, minlength=7)
    calls_per_weekday = np.bincount((day_list + 3) % 7, minlength=7)
    result.by_weekday = [WeekdayRow(weekday=weekday_names[w], days=int(days_per_weekday[w]),
                                    calls=int(calls_per_weekday[w]),
                                    mean_calls_per_day=float(calls_per_weekday[w] / days_per_weekday[w]))
                         for w in range(7) if days_per_weekday[w]]
    timed = dated & np.isfinite(seconds)
    untimed = int(dated.sum()) - int(timed.sum())
    if roles["call_time"] is not None and untimed:
        notes.append(f"{untimed} call(s) have no readable time of day; they are left out of the interval table")
    if not timed.any():
        return
    slots_per_day = 24 * 60 // interval_minutes
    slot = np.minimum((seconds[timed] // (interval_minutes * 60)).astype("int64"), slots_per_day - 1)
    day_index = np.searchsorted(observed, days[timed])
    per_day = np.zeros((len(observed), slots_per_day), dtype="int64")
    np.add.at(per_day, (day_index, slot), 1)
    used = np.flatnonzero(per_day.sum(axis=0))
    span = range(int(used.min()), int(used.max()) + 1)
    intervals = []
    for w in range(7):
        mine = observed_weekday == w
        if not mine.any():
            continue
        block = per_day[mine]
        for s in span:
            calls = int(block[:, s].sum())
            intervals.append(IntervalRow(weekday=weekday_names[w], start=_slot_label(s, interval_minutes), calls=calls,
                                         days=int(mine.sum()), mean_calls=calls / int(mine.sum()),
                                         max_calls=int(block[:, s].max())))
    result.intervals = intervals
    result.by_time_of_day = [TimeOfDayRow(start=_slot_label(s, interval_minutes), calls=int(per_day[:, s].sum()),
                                          days=len(observed), mean_calls=float(per_day[:, s].sum() / len(observed)))
                             for s in span]
    order = {name: i for i, name in enumerate(weekday_names)}
    count = max(1, int(catalog.get("peak_intervals", 5)))
    result.peaks = sorted(intervals, key=lambda r: (-r.mean_calls, order[r.weekday], r.start))[:count]


def call_profile_markdown(result: CallProfile) -> str:
    from retention_mcp.units import percent

    def seconds(value: float | None, low: float | None = None, high: float | None = None) -> str:
        if value is None:
            return "n/a"
        interval = f" (95% CI {low:.1f}–{high:.1f})" if low is not None and high is not None else ""
        return f"{value:.1f} s{interval}"

    def share(value: float | None, low: float | None = None, high: float | None = None) -> str:
        if value is None:
            return "n/a"
        interval = f" (95% CI {percent(low)}–{percent(high)})" if low is not None and high is not None else ""
        return f"{percent(value)}{interval}"

    span = (f"{result.first_date} to {result.last_date}, {result.days_observed} days with calls"
            if result.first_date else "no dates")
    answered = result.calls_answered if result.calls_answered is not None else "n/a"
    sl_answered = share(result.service_level_answered, result.service_level_answered_ci_low,
                        result.service_level_answered_ci_high)
    sl_offered = share(result.service_level_offered, result.service_level_offered_ci_low,
                       result.service_level_offered_ci_high)
    threshold = f"{result.answer_within_seconds:g} s"
    lines = [f"**Call-log profile** — {result.calls_in_scope:,} calls ({span}).", "",
             "| measure | value |", "|---|---|",
             f"| offered / answered | {result.calls_offered:,} / {answered} |",
             f"| answer rate | {share(result.answer_rate, result.answer_rate_ci_low, result.answer_rate_ci_high)} |",
             f"| service level ≤ {threshold}, of answered | {sl_answered} |",
             f"| service level ≤ {threshold}, of offered | {sl_offered} |",
             f"| ASA (answered) | {seconds(result.asa_seconds, result.asa_ci_low, result.asa_ci_high)} |",
             f"| AHT (answered) | {seconds(result.aht_seconds, result.aht_ci_low, result.aht_ci_high)} |"]
    if result.csat_mean is not None:
        interval = (f" (95% CI {result.csat_ci_low:.2f}–{result.csat_ci_high:.2f})"
                    if result.csat_ci_low is not None and result.csat_ci_high is not None else "")
        lines.append(f"| CSAT mean ({result.csat_rated:,} rated) | {result.csat_mean:.2f}{interval} |")
    if result.csat_top_box_share is not None:
        top_box = share(result.csat_top_box_share, result.csat_top_box_ci_low, result.csat_top_box_ci_high)
        lines.append(f"| CSAT top box (4-5) | {top_box} |")
    if result.csat_distribution:
        lines.append("| CSAT distribution | " + ", ".join(f"{c.rating}: {percent(c.share)}"
                                                         for c in result.csat_distribution) + " |")
    if result.resolution_rate is not None:
        resolved = share(result.resolution_rate, result.resolution_rate_ci_low, result.resolution_rate_ci_high)
        lines.append(f"| resolved (of answered) | {resolved} |")
    if result.patience is not None and result.patience.patience_seconds is not None:
        pat = result.patience
        lines.append(f"| caller patience (Erlang A) | {seconds(pat.patience_seconds, pat.ci_low, pat.ci_high)} |")
    if result.peaks:
        lines += ["", f"**Peak {result.interval_minutes}-minute intervals** (mean calls over the days observed):", "",
                  "| weekday | start | mean calls | days | busiest |", "|---|---|---:|---:|---:|"]
        lines += [f"| {p.weekday} | {p.start} | {p.mean_calls:.1f} | {p.days} | {p.max_calls} |" for p in result.peaks]
    if result.by_time_of_day:
        busiest = sorted(result.by_time_of_day, key=lambda r: -r.mean_calls)[:3]
        lines.append("\nBusiest times of day (all days): " + ", ".join(f"{r.start} {r.mean_calls:.1f} calls"
                                                                        for r in busiest) + ".")
    if result.erlang_inputs is not None:
        e = result.erlang_inputs
        lines += ["", f"For `erlang_staffing`: calls={e.calls:.2f}, interval_minutes={e.interval_minutes}, "
                      f"aht_seconds={e.aht_seconds:.1f}, answer_within_seconds={e.answer_within_seconds:g}"
                      + (f", patience_seconds={e.patience_seconds:.0f}" if e.patience_seconds is not None else "")
                      + f" (peak: {e.peak})."]
    if result.kpi_baselines:
        lines.append("For `build_kpis` (items: id, baseline; percent KPIs in points): "
                     + ", ".join(f"{{'id': '{b.id}', 'baseline': {b.baseline:g}}}" for b in result.kpi_baselines)
                     + ".")
    lines += ["", *result.definitions]
    if result.patience is not None:
        lines.append(f"Caller patience: {result.patience.method_text}.")
    if result.scope:
        lines.append(f"\nScope: {result.scope}.")
    for note in result.notes:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)
