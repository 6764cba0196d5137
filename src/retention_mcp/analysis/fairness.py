"""Schedule fairness: how evenly unfavourable shifts (night / weekend / holiday) fall across agents.

The customer-service retention plan asks for a "排班公平指数": the Gini coefficient of unfavourable shifts
per agent (target ≤ 0.25) and the rate of consecutive-night violations (more than 3 nights in a row;
target < 2%); the targets live in ``tools/call_center.yaml``.
Gini is the population form Σᵢ Σⱼ |xᵢ − xⱼ| ÷ (2 n² x̄). Outputs never carry agent identifiers
from a file: the per-agent distribution is returned as anonymous sorted counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from retention_mcp.data.cellkey import Cells
from retention_mcp.data.dataset import Dataset
from retention_mcp.data.dates import parse_dates
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.units import percent, plain_number
from retention_mcp.wording import ResultLanguage, Words, words

if TYPE_CHECKING:
    import pandas as pd

MAX_SORTED_COUNTS = 500     # output stays bounded
#: A roster has one row per shift; an agent on more rows than this on a typical date is in a call log, not a roster.
MAX_SHIFTS_PER_DAY = 2


class CategoryStats(BaseModel):
    category: str = Field(description="unfavourable (any of the below), night, weekend or holiday")
    shifts: int = Field(description="shifts of this kind in total")
    gini: float = Field(description="population Gini of shifts per agent, 0 (equal) .. 1")
    top20_share: float = Field(description="fraction of these shifts carried by the top 20% of agents")
    min_possible_gini: float = Field(0.0, description="Gini of the most even split of these shifts in whole shifts "
                                     "(above 0 when they cannot be shared equally, e.g. 3 holidays among 10 agents)")
    meets_target: bool | None = Field(None, description="Gini <= target, or as even as whole shifts allow; None "
                                      "when there are no shifts of this kind")


class FairnessResult(Evidenced):
    agents: int = Field(description="agents in the analysis (including those with no unfavourable shift)")
    shifts: int | None = Field(description="shifts read from the file (None for per-agent counts)")
    unfavourable_shifts: float = Field(description="night, weekend or holiday shifts (each shift counted once)")
    mean_per_agent: float
    gini: float = Field(description="population Gini of unfavourable shifts per agent: Σ|xi−xj| ÷ (2n²x̄)")
    top20_share: float = Field(description="fraction of unfavourable shifts carried by the top ⌈20%⌉ of agents")
    categories: list[CategoryStats] = Field(description="per kind of shift (file input only)")
    night_limit: int = Field(description="most consecutive nights allowed (the retention plan's limit: 3)")
    night_shifts: int | None = Field(description="night shifts in the file (None when not computable)")
    night_runs: int | None = Field(description="runs of consecutive nights (a single night is a run of 1)")
    runs_over_limit: int | None = Field(description="runs longer than night_limit")
    longest_night_run: int | None
    violation_rate: float | None = Field(
        description="night shifts worked beyond the limit within a run (the 4th, 5th … night) ÷ all night "
                    "shifts, fraction")
    agents_with_violation_share: float | None = Field(description="fraction of agents with at least one run over "
                                                                  "the limit")
    gini_target: float
    meets_gini_target: bool = Field(description="True only when unfavourable shifts overall AND each kind (night, "
                                    "weekend, holiday) meet the Gini target (or are as even as whole shifts allow)")
    failing_categories: list[str] = Field(default_factory=list, description="kinds of shift whose Gini misses the "
                                          "target: the headline fails when any does")
    violation_target: float
    meets_violation_target: bool | None
    sorted_counts: list[float] | None = Field(
        description="unfavourable shifts per agent, highest first, without identifiers (None when suppressed "
                    "for fewer than min_group_size agents)")
    sorted_counts_truncated: bool = False
    definitions: list[str]
    notes: list[str]
    language: ResultLanguage = "en"


def gini(values: Sequence[float]) -> float:
    """Population Gini Σᵢ Σⱼ |xᵢ − xⱼ| ÷ (2 n² x̄); 0 for an empty list or all zeros."""
    xs = sorted(float(v) for v in values)
    n = len(xs)
    total = sum(xs)
    if n == 0 or total == 0:
        return 0.0
    # Sorted form of the double sum: Σᵢ Σⱼ |xᵢ − xⱼ| = 2 Σᵢ (2i − n − 1) x₍ᵢ₎, i = 1..n.
    weighted = sum((2 * i - n - 1) * x for i, x in enumerate(xs, start=1))
    return weighted / (n * total)


def most_even_gini(total: float, agents: int) -> float:
    """Gini of the most even split of ``total`` whole shifts among ``agents`` (q or q + 1 each)."""
    if agents <= 0 or total <= 0:
        return 0.0
    whole = round(total)
    q, r = divmod(whole, agents)
    return gini([q + 1] * r + [q] * (agents - r))


def top_share(values: Sequence[float], fraction: float = 0.2) -> float:
    """Share of the total carried by the top ⌈fraction × n⌉ values (0 when the total is 0)."""
    import math

    xs = sorted((float(v) for v in values), reverse=True)
    total = sum(xs)
    if not xs or total == 0:
        return 0.0
    top = max(1, math.ceil(round(fraction * len(xs), 9)))
    return sum(xs[:top]) / total


def night_runs(night_dates: Sequence[date]) -> list[int]:
    """Lengths of runs of consecutive calendar days in a set of night-shift dates."""
    days = sorted(set(night_dates))
    runs: list[int] = []
    for previous, day in zip([None, *days], days, strict=False):
        if previous is not None and day - previous == timedelta(days=1):
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


def _check_counts(counts: Sequence[float]) -> list[float]:
    import math

    values = []
    for i, value in enumerate(counts):
        if value is None or not math.isfinite(value) or value < 0:
            raise InputError(f"agent_counts entry {i + 1} is {value!r}: give a count of unfavourable shifts, "
                             "0 or more, for every agent (include agents with 0)")
        values.append(float(value))
    if len(values) < 2:
        raise InputError("agent_counts needs at least 2 agents to measure fairness (include agents with 0)")
    return values


def fairness_from_counts(counts: Sequence[float], *, catalog: dict[str, Any],
                         night_limit: int | None = None, w: Words | None = None) -> FairnessResult:
    """Gini and top-20% share from per-agent counts the caller already has (no consecutive-night check)."""
    w = w or words("en")
    values = _check_counts(counts)
    targets = catalog["targets"]
    return _result(values, shifts=None, categories=[],
                   night_limit=int(targets["consecutive_nights"]) if night_limit is None else night_limit,
                   runs_per_agent=None, night_shift_total=None, show_counts=True, targets=targets,
                   notes=[w("fairness.notes.counts_only")], w=w)


def _result(values: list[float], *, shifts: int | None, categories: list[CategoryStats], night_limit: int,
            runs_per_agent: list[list[int]] | None, night_shift_total: int | None, show_counts: bool,
            notes: list[str], targets: dict[str, Any], w: Words) -> FairnessResult:
    gini_target, violation_target = float(targets["gini"]), float(targets["night_violation_rate"])
    total = sum(values)
    g = gini(values)
    if runs_per_agent is not None and night_shift_total is not None:
        all_runs = [r for runs in runs_per_agent for r in runs]
        over = [r for r in all_runs if r > night_limit]
        beyond = sum(r - night_limit for r in over)
        violation_rate = beyond / night_shift_total if night_shift_total else 0.0
        agents_violating = sum(1 for runs in runs_per_agent if any(r > night_limit for r in runs))
        run_fields = dict(night_shifts=night_shift_total, night_runs=len(all_runs), runs_over_limit=len(over),
                          longest_night_run=max(all_runs, default=0), violation_rate=violation_rate,
                          agents_with_violation_share=agents_violating / len(values),
                          meets_violation_target=violation_rate < violation_target)
    else:
        run_fields = dict(night_shifts=None, night_runs=None, runs_over_limit=None, longest_night_run=None,
                          violation_rate=None, agents_with_violation_share=None, meets_violation_target=None)
    ordered = sorted(values, reverse=True)
    failing = []
    for category in categories:
        if category.shifts == 0:
            category.meets_target = None
            continue
        category.min_possible_gini = most_even_gini(category.shifts, len(values))
        category.meets_target = category.gini <= max(gini_target, category.min_possible_gini) + 1e-12
        if not category.meets_target:
            failing.append(category.category)
    overall_meets = g <= max(gini_target, most_even_gini(total, len(values)) if float(total).is_integer() else 0.0)
    if not overall_meets and "unfavourable" not in failing:
        failing.insert(0, "unfavourable")
    d = "fairness.definitions"
    definitions = [
        w(f"{d}.gini"), w(f"{d}.top20"),
        w(f"{d}.violation", limit=night_limit, next=night_limit + 1, after=night_limit + 2),
        w(f"{d}.targets", gini=f"{gini_target:.2f}", violation=percent(violation_target, 0)),
        w(f"{d}.kinds"),
    ]
    return FairnessResult(
        agents=len(values), shifts=shifts, unfavourable_shifts=total, mean_per_agent=total / len(values), gini=g,
        top20_share=top_share(values), categories=categories, night_limit=night_limit,
        meets_gini_target=not failing, failing_categories=failing, gini_target=gini_target,
        violation_target=violation_target,
        sorted_counts=ordered[:MAX_SORTED_COUNTS] if show_counts else None,
        sorted_counts_truncated=show_counts and len(ordered) > MAX_SORTED_COUNTS,
        definitions=definitions, notes=notes, language=w.language, **run_fields,
    )


# -- reading a roster


def _parse_datetimes(series: pd.Series) -> pd.Series:
    """Dates that may carry a time of day ('2024-03-05 22:00'); the shared date parser drops the time."""
    import pandas as pd

    text = series.astype("string").str.strip()
    # 2024年3月5日 -> 2024-3-5; 2024/3/5 and 2024-03-05 parse as they are.
    text = text.str.replace(r"(\d{4})年(\d{1,2})月(\d{1,2})日?", r"\1-\2-\3", regex=True)
    return pd.to_datetime(text, errors="coerce", format="mixed")


TIME_ONLY = re.compile(r"^(\d{1,2})(?::(\d{2}))?(?::\d{2})?$")


def _start_hours(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(hour of day, date when the value carries one) from '22:00', '22', or '2024-03-05 22:00'."""
    import pandas as pd

    text = series.astype("string").str.strip()
    hours = pd.Series(pd.NA, index=series.index, dtype="Float64")
    dates = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    matched = text.str.extract(TIME_ONLY)
    is_time = matched[0].notna()
    hours[is_time] = matched.loc[is_time, 0].astype(float) + matched.loc[is_time, 1].fillna("0").astype(float) / 60
    rest = ~is_time & text.notna()
    if rest.any():
        parsed = _parse_datetimes(text[rest])
        hours[rest] = parsed.dt.hour + parsed.dt.minute / 60
        dates[rest] = parsed.dt.normalize()
    return hours, dates


def fairness_from_roster(ds: Dataset, *, catalog: dict[str, Any], holidays: Sequence[str] = (),
                         night_from_hour: float = 20, night_until_hour: float = 5,
                         weekend_days: Sequence[int] = (5, 6), night_limit: int | None = None,
                         min_group_size: int = 5, w: Words | None = None,
                         cells: Cells | None = None) -> FairnessResult:
    """Classify each roster row (one shift) and measure how evenly unfavourable shifts fall.

    A shift is *night* when its label says so (night/夜/通宵, or the code 'N') or it starts at or after
    ``night_from_hour`` or before ``night_until_hour``; *weekend* when its date falls on ``weekend_days``
    (Monday = 0) or its label says weekend/周末; *holiday* when its date is in ``holidays`` or its label
    says holiday/节假日/假日/法定.
    """
    import pandas as pd

    w = w or words("en")
    targets = catalog["targets"]
    roster_words = catalog["roster"]
    night_limit = int(targets["consecutive_nights"]) if night_limit is None else night_limit
    if night_limit < 1:
        raise InputError("night_limit must be at least 1 (3 consecutive nights is the usual limit)")
    from retention_mcp.analysis.file_kind import looks_like

    df = ds.frame
    agent_col = ds.roles.get("agent") or ds.roles.get("employee_id") or ds.roles.get("name")
    date_col = ds.roles.get("shift_date")
    shift_col = ds.roles.get("shift")
    start_col = ds.roles.get("shift_start")
    missing = []
    if agent_col is None:
        missing.append("an agent column (agent, 坐席, 工号 …; name it with agent_column)")
    if date_col is None and start_col is None:
        missing.append("a shift date column (date, 日期, 排班日期 …; date_column)")
    if shift_col is None and start_col is None:
        missing.append("a shift label (shift, 班次 …; shift_column) or a shift start time (start_time, 开始时间 …; "
                       "start_column)")
    if missing:
        raise InputError("this is not a shift roster (one row per agent per shift); missing: "
                         + "; ".join(missing) + "." + looks_like(ds, "roster")
                         + f" Columns: {', '.join(ds.columns[:60])}")
    notes: list[str] = []

    cells = cells or Cells()

    def counted(mask: Any) -> int:
        """Rows of ``df`` in a mask, as the notes show them: exact, or perturbed in protected mode."""
        import numpy as np

        mask = np.asarray(mask, dtype=bool)
        return cells.over(np.arange(len(df))).count(mask) if cells.protected else int(mask.sum())

    agents = df[agent_col].astype("string").str.strip()
    keep = agents.notna() & (agents != "")
    if (~keep).any():
        notes.append(w("fairness.notes.no_agent", count=_count_text(counted(~keep), min_group_size, w)))
    frame = pd.DataFrame({"agent": agents[keep]})
    index = frame.index

    labels = (df.loc[index, shift_col].astype("string").str.strip().str.lower().fillna("")
              if shift_col else pd.Series("", index=index, dtype="string"))
    night_codes, night_words = set(roster_words["night_codes"]), tuple(roster_words["night_words"])
    label_night = labels.apply(lambda s: s in night_codes or any(w in s for w in night_words)).astype(bool)
    label_holiday = labels.apply(lambda s: any(word in s for word in roster_words["holiday_words"])).astype(bool)
    label_weekend = labels.apply(lambda s: any(word in s for word in roster_words["weekend_words"])).astype(bool)

    shift_dates = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    if date_col:
        # The shared parser: every date format the HR reader knows (Excel serials, m/d/yyyy, 2024年3月5日 ...).
        shift_dates = parse_dates(df.loc[index, date_col]).values.dt.normalize()
    start_night = pd.Series(False, index=index)
    if start_col:
        hours, start_dates = _start_hours(df.loc[index, start_col])
        shift_dates = shift_dates.fillna(start_dates)
        night_window = ((hours >= night_from_hour) | (hours < night_until_hour)) if night_from_hour > night_until_hour \
            else ((hours >= night_from_hour) & (hours < night_until_hour))
        start_night = night_window.fillna(False).astype(bool)
        unparsed = counted(df.index.isin(index[hours.isna().to_numpy(dtype=bool)]))
        if unparsed:
            notes.append(w("fairness.notes.unparsed_start", count=_count_text(unparsed, min_group_size, w)))
    has_dates = bool(shift_dates.notna().any())
    if (date_col or start_col) and not has_dates:
        raise InputError("no dates could be read from the roster; write them like 2024-03-05, 2024/3/5 or "
                         "2024年3月5日 (or name the column with date_column)")
    if has_dates:
        per_day = (pd.DataFrame({"agent": frame["agent"], "date": shift_dates}).dropna()
                   .groupby(["agent", "date"]).size())
        if len(per_day) and float(per_day.median()) > MAX_SHIFTS_PER_DAY:
            raise InputError(f"this is not a shift roster: an agent appears {float(per_day.median()):g} times on a "
                             f"typical date, where a roster has one row per shift (at most {MAX_SHIFTS_PER_DAY})."
                             + looks_like(ds, "roster"))
    missing_dates = counted(df.index.isin(index[shift_dates.isna().to_numpy(dtype=bool)])) if has_dates else 0
    if missing_dates:
        notes.append(w("fairness.notes.missing_dates", count=_count_text(missing_dates, min_group_size, w)))

    holiday_dates = set()
    for text in holidays:
        parsed = parse_dates(pd.Series([text])).values[0]
        if pd.isna(parsed):
            raise InputError(f"holiday {text!r} is not a date; write holidays like '2024-10-01'")
        holiday_dates.add(parsed.normalize())

    frame["night"] = label_night | start_night
    frame["weekend"] = label_weekend | shift_dates.dt.day_of_week.isin(list(weekend_days)).fillna(False).astype(bool)
    frame["holiday"] = label_holiday | shift_dates.isin(holiday_dates).astype(bool)
    frame["unfavourable"] = frame["night"] | frame["weekend"] | frame["holiday"]
    frame["date"] = shift_dates

    per_agent = frame.groupby("agent")[["unfavourable", "night", "weekend", "holiday"]].sum()
    if len(per_agent) < 2:
        raise InputError("the roster has fewer than 2 agents; fairness compares agents with each other")
    view = cells.over(df.index.get_indexer(index))
    if view.protected:
        # Each agent's shifts of a kind are a set of rows: counted as every figure is (perturbed), and the Gini,
        # the top-20% share and the totals are computed from those counts.
        import numpy as np

        codes = frame["agent"].map({a: i for i, a in enumerate(per_agent.index)}).to_numpy(dtype="int64")
        for name in ("unfavourable", "night", "weekend", "holiday"):
            per_agent[name] = view.counts(codes, len(per_agent), frame[name].to_numpy(dtype=bool))
        everyone = np.ones(len(frame), dtype=bool)
    categories = [
        CategoryStats(category=name, shifts=int(per_agent[name].sum()), gini=gini(per_agent[name].tolist()),
                      top20_share=top_share(per_agent[name].tolist()))
        for name in ("unfavourable", "night", "weekend", "holiday")
    ]

    runs_per_agent: list[list[int]] | None = None
    night_total: int | None = None
    runs_shown: dict[str, Any] | None = None
    if has_dates:
        nights = frame[frame["night"] & frame["date"].notna()]
        runs_per_agent = [night_runs([d.date() for d in nights.loc[nights["agent"] == a, "date"]])
                          for a in per_agent.index]
        night_total = int(nights.groupby("agent")["date"].nunique().sum())
        if view.protected:
            runs_shown = _protected_runs(view, frame, nights[~nights.duplicated(["agent", "date"])], night_limit)
            night_total = runs_shown["nights"]
    else:
        notes.append(w("fairness.notes.no_dates"))
    if not frame["night"].any():
        notes.append(w("fairness.notes.no_nights"))

    show = len(per_agent) >= min_group_size
    if not show:
        notes.append(w("fairness.notes.few_agents", k=min_group_size))
    elif view.protected:
        # Each agent's exact count, and by its length the exact number of agents in a scope the caller chooses:
        # two scopes one agent apart would show that agent's count. Protected mode shows the Ginis, not the list.
        show = False
        notes.append(w("fairness.notes.protected_distribution"))
    notes.append(w("fairness.notes.columns", agent=agent_col, date=date_col, shift=shift_col, start=start_col,
                   **{"from": plain_number(night_from_hour), "until": plain_number(night_until_hour)}))
    result = _result([float(v) for v in per_agent["unfavourable"].tolist()],
                     shifts=view.count(everyone) if view.protected else len(frame), categories=categories,
                     night_limit=night_limit, runs_per_agent=runs_per_agent, night_shift_total=night_total,
                     show_counts=show, notes=notes, targets=targets, w=w)
    if view.protected:
        # Agents are counted as every figure is: a perturbed count of one shift per agent.
        result.agents = max(2, view.count(~frame["agent"].duplicated().to_numpy()))
        result.mean_per_agent = result.unfavourable_shifts / result.agents
    if runs_shown is not None:
        result.night_runs, result.runs_over_limit = runs_shown["runs"], runs_shown["over"]
        result.violation_rate = min(1.0, runs_shown["beyond"] / runs_shown["nights"])
        result.meets_violation_target = result.violation_rate < result.violation_target
        result.agents_with_violation_share = min(1.0, runs_shown["agents_violating"] / result.agents)
        result.longest_night_run = None  # one agent's own run: not shown in protected mode
    return result


def _run_positions(nights: pd.DataFrame) -> pd.Series:
    """Each night shift's place in its run of consecutive nights (1 = the run's first night), by the nights' index."""
    ordered = nights.sort_values(["agent", "date"])
    step = ordered["date"].diff().dt.days
    new_run = (ordered["agent"] != ordered["agent"].shift()) | (step != 1)
    # Arrow-backed columns (a caller's scope re-reads the table) compare to nullable booleans, which have no cumsum;
    # a null (the first row) starts a run.
    run = new_run.fillna(True).astype("int64").cumsum().to_numpy()
    return ordered.groupby(run).cumcount() + 1


def _protected_runs(view: Any, frame: pd.DataFrame, nights: pd.DataFrame, limit: int) -> dict[str, Any]:
    """The run figures as protected mode shows them, each a perturbed count of a set of shifts: nights (one per agent
    and date), runs (their first nights), runs over the limit (their night ``limit`` + 1), nights beyond the limit,
    and agents with a run over the limit (the first such night of each). The exact counts are of shifts in a scope
    the caller chooses: two scopes one shift apart would show whether it was a night, or ended a run."""
    position = _run_positions(nights)
    over_starts = position[position == limit + 1]
    first_violation = nights.loc[over_starts.index, "agent"].drop_duplicates().index

    def count(index: Any) -> int:
        return view.count(frame.index.isin(index))

    return dict(nights=max(1, count(nights.index)), runs=count(position.index[position == 1]),
                over=count(over_starts.index), beyond=count(position.index[position > limit]),
                agents_violating=count(first_violation))


def _count_text(count: int, floor: int, w: Words) -> str:
    """A count for a note: exact from the minimum group size up, "fewer than 5" below it."""
    return w("dataset.fewer_than", k=floor) if 0 < count < floor else f"{count:,}"


def fairness_text(result: FairnessResult, w: Words | None = None) -> str:
    w = w or words(result.language)
    t = "fairness.text"

    def mark(ok: bool | None) -> str:
        return "—" if ok is None else (w(f"{t}.meets") if ok else w(f"{t}.misses"))

    def kind(name: str) -> str:
        return w.option("fairness.kinds", name)

    by_kind = {c.category: c for c in result.categories}
    failing_kinds = [k for k in result.failing_categories if k != "unfavourable"]
    measured = [c for c in result.categories if c.shifts] or None
    worst = max(measured, key=lambda c: c.gini - max(result.gini_target, c.min_possible_gini)) if measured else None
    overall_ok = "unfavourable" not in result.failing_categories
    headline = (f"| {w(f'{t}.headline')} | "
                + (w(f"{t}.worst", kind=kind(worst.category), gini=f"{worst.gini:.3f}") if worst is not None
                   else f"{result.gini:.3f}")
                + f" | ≤ {result.gini_target:.2f} | {mark(result.meets_gini_target)} |\n"
                f"| {w(f'{t}.overall')} | {result.gini:.3f} | ≤ {result.gini_target:.2f} | {mark(overall_ok)} |")
    lines = [w(f"{t}.title", agents=result.agents,
               shifts=w(f"{t}.shifts", count=result.shifts) if result.shifts is not None else "",
               unfavourable=plain_number(result.unfavourable_shifts), mean=f"{result.mean_per_agent:.1f}")]
    if result.failing_categories:
        reasons = []
        for name in result.failing_categories:
            c = by_kind.get(name)
            if c is not None:
                reasons.append(w(f"{t}.kind_missed", kind=kind(name), gini=f"{c.gini:.3f}",
                                 target=f"{result.gini_target:.2f}", share=percent(c.top20_share)))
            elif name == "unfavourable":
                reasons.append(w(f"{t}.overall_missed", gini=f"{result.gini:.3f}", target=f"{result.gini_target:.2f}"))
        lines.append("")
        lines.append(w(f"{t}.missed", reasons=w.semicolon.join(reasons))
                     + (w(f"{t}.hidden") if failing_kinds and result.gini <= result.gini_target else w.stop))
    lines += ["", w(f"{t}.columns"), "|---|---:|---:|---|", headline,
              f"| {w(f'{t}.top20')} | {percent(result.top20_share)} | | |"]
    if result.violation_rate is not None:
        lines.append(f"| {w(f'{t}.violation', limit=result.night_limit)} | {percent(result.violation_rate)} | "
                     f"< {percent(result.violation_target, 0)} | {mark(result.meets_violation_target)} |")
        lines.append(f"| {w(f'{t}.runs')} | {result.runs_over_limit} / {result.night_runs} | | |")
        lines.append(f"| {w(f'{t}.agents_violating')} | {percent(result.agents_with_violation_share)} | | |")
        longest = result.longest_night_run if result.longest_night_run is not None else w("common.not_available")
        lines.append(f"| {w(f'{t}.longest')} | {longest} | ≤ {result.night_limit} | |")
    if result.categories:
        lines += ["", w(f"{t}.kind_columns"), "|---|---:|---:|---:|---:|---|"]
        for c in result.categories:
            target = f"≤ {max(result.gini_target, c.min_possible_gini):.2f}" if c.shifts else ""
            lines.append(f"| {kind(c.category)} | {c.shifts} | {c.gini:.3f} | {percent(c.top20_share)} | {target} | "
                         f"{mark(c.meets_target)} |")
    if result.sorted_counts is not None:
        shown = ", ".join(plain_number(v) for v in result.sorted_counts[:40])
        more = " …" if len(result.sorted_counts) > 40 else ""
        lines += ["", w(f"{t}.per_agent", counts=shown, more=more)]
    lines += [""] + [f"- {d}" for d in result.definitions] + [f"- {n}" for n in result.notes]
    return "\n".join(lines)
