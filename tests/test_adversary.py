"""The automated adversary (tests/adversary.py) against every data tool, on IBM, hrdataset_v14, PwC and a generated
export, in both privacy modes.

``protected``: no exact recovery in at least 10,000 attempts. ``exact``: the recoveries it still finds are the
documented price of exactness (printed; the README quotes them). The big search runs in-process on the tools'
analysis functions (their own `where` parsing, suppression and refusals); test_attack_classes.py sends a
representative slice through the SDK client and checks the client sees the same figures.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest

from adversary import (
    Calls,
    Lone,
    Report,
    binary_outcomes,
    bins_attack,
    count_probe,
    lone_people,
    numeric_reader,
    period_attack,
    rows_of,
    time_point_attack,
    where_attack,
)
from conftest import SHARED_DATASETS, shared_dataset
from retention_mcp.analysis.calls import call_log_profile
from retention_mcp.analysis.drivers import analyse_drivers
from retention_mcp.analysis.profile import describe_groups
from retention_mcp.analysis.survival import durations_of, retention_curve
from retention_mcp.analysis.turnover import resolve_period, turnover_breakdown
from retention_mcp.data.cellkey import column_resolution
from retention_mcp.data.dataset import NO_DATE, load_dataset
from retention_mcp.data.dimensions import build_dimension, parse_where
from retention_mcp.data.disclosure import Policy
from retention_mcp.errors import InputError
from retention_mcp.sample_data import write_sample_company
from retention_mcp.settings import Settings

#: `where` columns of a few values each (a filter's suppression check grows with the cells it crosses).
IBM_COLUMNS = ["Department", "EducationField", "MaritalStatus", "Gender", "BusinessTravel", "OverTime", "JobLevel",
               "Education", "EnvironmentSatisfaction", "WorkLifeBalance", "StockOptionLevel"]
HR_COLUMNS = ["Department", "Sex", "MaritalDesc", "RaceDesc", "PerformanceScore", "CitizenDesc", "EmpSatisfaction"]
SAMPLE_COLUMNS = ["department", "job_role", "shift", "performance", "workload", "growth", "pay_fairness"]
CALL_COLUMNS = ["Agent", "Topic", "Resolved", "Satisfaction rating"]
SCORECARD_COLUMNS = ["Topic", "Resolved"]
#: (a lone call is alone in Date and two of these: a `where` takes at most 3 columns; CSAT left free, so its test runs)
#: Attempts the search aims at per family and mode (protected needs 10,000 in all; exact is reported).
BUDGET = {"protected": 1.0, "exact": 0.25}


def policies(tmp_path: Path) -> dict[str, Policy]:
    """One server secret, both modes."""
    exact = Policy(floor=5, allow_names=False, key_dir=tmp_path / "out")
    return {"exact": exact, "protected": dataclasses.replace(exact, mode="protected")}


def loaded(name: str, folder: Path, kind: str = "hr"):
    settings = Settings(data_dirs=(folder,), output_dir=folder, log_level="WARNING")
    return load_dataset(settings, path=name, kind=kind)


def overall_leavers(covered, row):
    if covered is None:
        return None
    _, result = covered
    overall = result.overall
    if overall.suppressed or overall.leavers is None:
        return None
    return overall.leavers, overall.leavers >= round(overall.headcount or 0)


def scoped(ds, policy, function):
    """A call: the rows a `where` covers, and the tool's result for it."""

    def run(where):
        scope = parse_where(ds, where, policy)
        from retention_mcp.data.dimensions import check_complements

        if scope.active:
            if int(scope.rows.sum()) < policy.floor:
                raise InputError("small")
            check_complements(ds, scope, policy.floor)  # what Job.dataset refuses for every tool
        rows = scope.rows if scope.active else np.ones(ds.rows, dtype=bool)
        return rows, function(scope)

    return Calls(run)


def turnover_where(report, ds, policy, mode, lones, rng, truth, budget, family="where/turnover_breakdown"):
    call = scoped(ds, policy, lambda scope: turnover_breakdown(ds, policy=policy, scope=scope))
    where_attack(report, family, ds, policy, mode, lones, rng, call, overall_leavers, "binary",
                 lambda row: int(truth[row]), budget=budget)


def profile_where(report, ds, policy, mode, lones, rng, columns, budget):
    call = scoped(ds, policy, lambda scope: describe_groups(ds, policy=policy, scope=scope, columns=columns,
                                                           catalog={}))
    for column in columns:
        values = _numbers(ds.frame[column])

        def mean_of(result, column=column):
            summary = next(s for s in result.overall.columns if s.column == column)
            return None if summary.suppressed else summary.mean

        domain = np.unique(values[np.isfinite(values)])
        where_attack(report, f"where/describe_groups:{column}", ds, policy, mode, lones, rng, call,
                     numeric_reader(values, mean_of), "numeric", lambda row, v=values: float(v[row]), domain=domain,
                     tries=2, budget=budget)


def drivers_where(report, ds, policy, mode, lones, rng, outcome, driver, truth, budget):
    """driver_analysis levels inside a `where`: the person's level's leavers."""
    dim = build_dimension(ds, driver, policy)
    call = scoped(ds, policy, lambda scope: analyse_drivers(ds, outcome, policy=policy, scope=scope, drivers=[driver]))

    def read(covered, row):
        if covered is None:
            return None
        _, result = covered
        level = dim.labels[dim.codes[row]]
        found = next((lv for lv in result.drivers[0].levels or [] if lv.level == level), None)
        if found is None or found.suppressed or found.n is None:
            return None
        return round(found.outcome_mean * found.n), False

    usable = [lone for lone in lones if driver not in lone.fixed and driver != lone.varying]
    where_attack(report, f"where/driver_analysis levels:{driver}", ds, policy, mode, usable, rng, call, read,
                 "binary", lambda row: int(truth[row]), tries=2, budget=budget)


def _numbers(series) -> np.ndarray:
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def curve_groups(ds, policy, column) -> dict[str, np.ndarray]:
    dim = build_dimension(ds, column, policy)
    return {label: dim.codes == i for i, label in enumerate(dim.labels)}


def time_points(report, ds, policy, mode, rng, by_columns, calls):
    data = durations_of(ds)
    for by in by_columns:
        def run(points, by=by):
            try:
                return retention_curve(ds, by=[by], policy=policy, time_points=points)
            except InputError:
                return None

        time_point_attack(report, "time points/retention_curve", run, data.durations, data.usable,
                          curve_groups(ds, policy, by), mode, rng, calls, whole_units=data.grouped)


def periods(report, ds, policy, mode, by_columns, rng, windows):
    """Periods from a fixed start ending on consecutive days, in one-year windows around termination dates."""
    term = ds.term
    days = np.unique(term[term != NO_DATE])
    for _ in range(windows):
        start = int(rng.choice(list(days))) - 1
        ends = sorted(int(d) - 1 for d in days if start < d - 1 <= start + 365)
        for by in by_columns:
            def run(end, by=by, start=start):
                try:
                    return turnover_breakdown(ds, by=[by], policy=policy, period_start=_iso(start + 1),
                                              period_end=end, denominator="start")
                except InputError:
                    return None

            period_attack(report, "periods/turnover_breakdown", run, term, curve_groups(ds, policy, by), ends, mode)


def bins(report, ds, policy, mode, columns):
    for column in columns:
        values = _numbers(ds.frame[column])

        def run(count, column=column):
            try:
                return turnover_breakdown(ds, by=[column], bins={column: count}, policy=policy, max_rows=500)
            except InputError:
                return None

        bins_attack(report, f"bins/turnover_breakdown:{column}", run, values, mode)
        # caller edges one unit apart are refused outright
        for edges in ([36, 37], [36.5, 37]):
            try:
                turnover_breakdown(ds, by=[column], bins={column: edges}, policy=policy)
            except InputError:
                report.refused[f"bins/turnover_breakdown:{column}"] += 1


def _iso(day: int) -> str:
    import datetime as dt

    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()


def leavers_in_default_period(ds) -> np.ndarray:
    start, end, _ = resolve_period(ds, None, None)
    return (ds.term != NO_DATE) & (ds.term >= start) & (ds.term <= end) & (ds.hire != NO_DATE)


# -- the other data tools


def split_scoped(ds, policy, function, split):
    """A call whose `where` is only part of what the adversary builds: ``split(where)`` gives (the tool's `where`,
    the tool's other arguments); the rows it covers are the whole built `where`'s (the set the figure is about)."""
    from retention_mcp.data.dimensions import check_complements

    def run(where):
        own, arguments = split(where)
        scope = parse_where(ds, own, policy)
        if scope.active:
            if int(scope.rows.sum()) < policy.floor:
                raise InputError("small")
            check_complements(ds, scope, policy.floor)
        return rows_of(ds, policy, where), function(scope, **arguments)

    return Calls(run)


def in_scope(ds, policy, function):
    """A tool that takes no scope (agent_scorecard, schedule_fairness): the table cut to the `where` rows as
    Job.dataset_in_scope cuts it, record keys from the whole file."""

    def cut(scope):
        if not scope.active:
            return function(ds)
        policy.cells(ds)  # keys of the whole file, carried into the cut
        return function(ds.subset(scope.rows))

    return scoped(ds, policy, cut)


def segment_split(lone_fixed):
    """The lone person's fixed column becomes the segment; the varying list stays the `where`."""

    def split(where):
        own = {k: v for k, v in where.items() if k not in lone_fixed}
        return own, {"segment": {k: where[k] for k in lone_fixed}}

    return split


def impact_where(report, ds, policy, mode, lones, rng, truth, budget):
    """estimate_impact's segment figures: the segment is the column the person shares with others, the `where`
    the list that holds or misses them, so the segment's leavers inside the `where` are a set one person apart."""
    from retention_mcp.analysis.impact import estimate_impact

    family = "where/estimate_impact segment"
    for lone in lones:
        if report.attempts[family] >= budget:
            return
        call = split_scoped(ds, policy, lambda scope, segment: estimate_impact(
            ds, segment=segment, reduction=0.3, policy=policy, scope=scope), segment_split(lone.fixed))

        def read(covered, row):
            if covered is None:
                return None
            segment = covered[1].segment
            return segment.leavers, segment.leavers >= round(segment.headcount)

        where_attack(report, family, ds, policy, mode, [lone], rng, call, read, "binary",
                     lambda row: int(truth[row]), tries=2)


def combined_where(report, ds, policy, mode, lones, rng, truth, budget):
    """estimate_combined_impact: the person's fixed value is one initiative's segment, the column's other values
    the other's; the first initiative's leavers inside the `where` are a set one person apart."""
    from retention_mcp.analysis.combined_impact import estimate_combined

    family = "where/estimate_combined_impact segment"
    for lone in lones:
        if report.attempts[family] >= budget:
            return
        (column, value), = lone.fixed.items()
        others = [label for label in build_dimension(ds, column, policy).labels if label not in (value, "(missing)")]
        if not others:
            continue

        def run(scope, segment, column=column, others=others):
            result, _ = estimate_combined(ds, initiatives=[
                {"name": "one", "segment": segment, "reduction": 0.3},
                {"name": "two", "segment": {column: others}, "reduction": 0.2}], policy=policy, scope=scope)
            return result

        def read(covered, row):
            if covered is None:
                return None
            line = covered[1].initiatives[0]
            return line.leavers, line.leavers >= round(line.headcount)

        where_attack(report, family, ds, policy, mode, [lone], rng,
                     split_scoped(ds, policy, run, segment_split(lone.fixed)), read, "binary",
                     lambda row: int(truth[row]), tries=2)


def forecast_where(report, ds, policy, mode, lones, rng, budget):
    """forecast_leavers' headcount now inside a `where`: is the person still on the books?"""
    from retention_mcp.analysis.forecast import leaver_forecast

    call = scoped(ds, policy, lambda scope: leaver_forecast(ds, policy=policy, scope=scope, backtest=False))
    valid = (ds.hire != NO_DATE) & ~((ds.term != NO_DATE) & (ds.term < ds.hire))
    on_books = valid & (ds.hire <= ds.as_of) & ((ds.term == NO_DATE) | (ds.term > ds.as_of))

    def read(covered, row):
        if covered is None or covered[1].overall.suppressed:
            return None
        return covered[1].overall.headcount, False

    where_attack(report, "where/forecast_leavers headcount", ds, policy, mode, lones, rng, call, read, "binary",
                 lambda row: int(on_books[row]), tries=2, budget=budget)


def cost_where(report, ds, policy, mode, lones, rng, pay_column, budget):
    """cost_per_leaver's basis, the file's mean annual pay inside a `where` (describe_groups with pay_period, as
    the tool calls it): the person's pay."""
    from retention_mcp.analysis.profile import describe_groups as profile

    settings = Settings(data_dirs=(SHARED_DATASETS,), log_level="WARNING")
    from retention_mcp.endpoints.grounding import grounding_catalog

    catalog = grounding_catalog(None, settings).get("describe_groups") or {}
    call = scoped(ds, policy, lambda scope: profile(ds, by=[], columns=[pay_column], policy=policy, scope=scope,
                                                    pay_period="annual", catalog=catalog))
    values = _numbers(ds.frame[pay_column])
    where_attack(report, f"where/cost_per_leaver:{pay_column}", ds, policy, mode, lones, rng, call,
                 numeric_reader(values, lambda result: None if result.overall.suppressed
                                else result.overall.average_annual_cost),
                 "numeric", lambda row: float(values[row]), domain=np.unique(values[np.isfinite(values)]), tries=2,
                 budget=budget)


def scorecard_where(report, ds, policy, mode, lones, rng, answered, aht, budget):
    """agent_scorecard inside a `where` that holds or misses one call: the call's agent's answered contacts (was it
    answered?) and handle time, and the counts behind its tests and its CSAT regression."""
    from retention_mcp.analysis.scorecard import build_scorecard
    from retention_mcp.catalog import load_catalog

    catalog = load_catalog(Settings(data_dirs=(SHARED_DATASETS,), log_level="WARNING"), "call_center.yaml")
    catalog = catalog["scorecard"]
    exact = dataclasses.replace(policy, mode="exact")
    names = ds.frame["Agent"].astype(str).str.strip()
    shown_names, _ = policy.pseudonyms("agent", sorted(set(names)), source="pwc_call_center.csv:Agent")
    label_of = dict(zip(sorted(set(names)), shown_names, strict=True))

    def card(p):
        return in_scope(ds, p, lambda d: build_scorecard(d, policy=p, catalog=catalog, min_contacts=p.floor))

    call, truth_call = card(policy), card(exact)

    def agent_row(covered, row):
        if covered is None:
            return None
        return next((a for a in covered[1].agents if a.agent == label_of[names.iloc[row]]), None)

    def read_answered(covered, row):
        found = agent_row(covered, row)
        return None if found is None or found.answered is None else (found.answered, False)

    where_attack(report, "where/agent_scorecard answered", ds, policy, mode, lones, rng, call, read_answered,
                 "binary", lambda row: int(answered[row]), tries=2, budget=budget)
    with_aht = [lone for lone in lones if np.isfinite(aht[lone.row])]

    def read_aht(covered, row):
        found = agent_row(covered, row)
        if found is None or found.aht_seconds is None:
            return None
        rows = covered[0] & (names == names.iloc[row]).to_numpy() & np.isfinite(aht)
        # The mean shown is the shown sum ÷ the shown count of the agent's answered contacts (each with a talk time).
        return found.aht_seconds * found.answered, float(np.abs(aht[rows]).max()), column_resolution(aht)

    where_attack(report, "where/agent_scorecard aht", ds, policy, mode, with_aht, rng, call, read_aht, "numeric",
                 lambda row: float(aht[row]), domain=np.unique(aht[np.isfinite(aht)]), tries=2, budget=budget)

    def csat_df(covered):
        if covered is None:
            return None
        test = next((t for t in covered[1].metric_tests if t.metric == "csat"), None)
        return None if test is None else int(test.df.split(",")[-1])

    def linkage_n(covered):
        return None if covered is None or covered[1].linkage is None else covered[1].linkage.n

    count_probe(report, "where/agent_scorecard test df", ds, policy, mode, lones, rng, call, truth_call, csat_df,
                budget=budget // 4)
    count_probe(report, "where/agent_scorecard linkage n", ds, policy, mode, lones, rng, call, truth_call,
                linkage_n, budget=budget // 4)


ROSTER_COLUMNS = ["team", "site", "skill", "contract"]


def write_roster(folder: Path, seed: int = 19) -> Path:
    """A generated roster: 24 agents over 10 weeks, one shift a day, with team, site, skill, contract and week columns
    (a few rare values, so that some shifts are alone in a combination)."""
    import datetime as dt

    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for agent in range(24):
        team, site = f"T{agent % 4}", ["North", "South", "East"][agent % 3]
        for day in range(70):
            if rng.random() < 0.25:
                continue  # a day off
            date = (dt.date(2024, 3, 4) + dt.timedelta(day)).isoformat()
            rows.append({"agent": f"Zhang Wei {agent:02d}", "date": date,
                         "shift": rng.choice(["day", "evening", "night"], p=[0.5, 0.25, 0.25]), "team": team,
                         "site": site,
                         "skill": rng.choice(["voice", "chat", "email", "video"], p=[0.55, 0.3, 0.1, 0.05]),
                         "contract": rng.choice(["full", "part", "temp"], p=[0.6, 0.3, 0.1]),
                         "week": f"W{day // 7 + 1:02d}"})
    path = folder / "roster.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def fairness_where(report, ds, policy, mode, lones, rng, night, budget):
    """schedule_fairness inside a `where` that holds or misses one shift: was it a night? (the night shifts shown
    per kind), and the counts of runs of nights."""
    from retention_mcp.analysis.fairness import fairness_from_roster
    from retention_mcp.catalog import load_catalog

    catalog = load_catalog(Settings(data_dirs=(SHARED_DATASETS,), log_level="WARNING"), "call_center.yaml")
    exact = dataclasses.replace(policy, mode="exact")

    def roster(p):
        return in_scope(ds, p, lambda d: fairness_from_roster(d, catalog=catalog, min_group_size=p.floor,
                                                              cells=p.cells(d)))

    call, truth_call = roster(policy), roster(exact)

    def read(covered, row):
        if covered is None:
            return None
        nights = next(c for c in covered[1].categories if c.category == "night")
        return nights.shifts, False

    where_attack(report, "where/schedule_fairness nights", ds, policy, mode, lones, rng, call, read, "binary",
                 lambda row: int(night[row]), tries=2, budget=budget)
    for field_name in ("night_shifts", "night_runs", "runs_over_limit", "agents"):
        count_probe(report, f"where/schedule_fairness {field_name}", ds, policy, mode, lones, rng, call, truth_call,
                    lambda covered, f=field_name: None if covered is None else getattr(covered[1], f),
                    budget=budget // 4)


# -- the search per file


def ibm(report, tmp_path, mode, policy, rng, scale):
    shared_dataset("ibm_hr_attrition.csv")
    ds = loaded("ibm_hr_attrition.csv", SHARED_DATASETS)
    lones = lone_people(ds, policy, IBM_COLUMNS, rng, limit=int(40 * scale), sizes=(2,))
    leaver = np.asarray(ds.leaver)
    turnover_where(report, ds, policy, mode, lones, rng, leaver, budget=int(600 * scale))
    profile_where(report, ds, policy, mode, lones[:3], rng, ["Age", "JobSatisfaction"], budget=int(300 * scale))
    drivers_where(report, ds, policy, mode, lones[:3], rng, "Attrition", "MaritalStatus", leaver,
                  budget=int(300 * scale))
    time_points(report, ds, policy, mode, rng, ["JobRole", "EducationField", "Department", "JobLevel", "MaritalStatus",
                                                 "Education", "EnvironmentSatisfaction", "BusinessTravel"],
                calls=max(2, int(30 * scale)))
    bins(report, ds, policy, mode, ["Age", "DistanceFromHome", "MonthlyIncome"])
    impact_where(report, ds, policy, mode, lones[:8], rng, leaver, budget=int(150 * scale))
    combined_where(report, ds, policy, mode, lones[8:16], rng, leaver, budget=int(150 * scale))
    cost_where(report, ds, policy, mode, lones[:3], rng, "MonthlyIncome", budget=int(150 * scale))


def hrdataset(report, tmp_path, mode, policy, rng, scale):
    shared_dataset("hrdataset_v14.csv")
    ds = loaded("hrdataset_v14.csv", SHARED_DATASETS)
    lones = lone_people(ds, policy, HR_COLUMNS, rng, limit=int(150 * scale), sizes=(2,))
    turnover_where(report, ds, policy, mode, lones, rng, leavers_in_default_period(ds), budget=int(600 * scale))
    profile_where(report, ds, policy, mode, lones[: max(1, int(15 * scale))], rng,
                  ["EngagementSurvey", "Salary", "Absences"], budget=int(300 * scale))
    time_points(report, ds, policy, mode, rng, ["Department", "Position", "Sex", "RecruitmentSource", "ManagerName",
                                                 "MaritalDesc", "RaceDesc", "CitizenDesc", "PerformanceScore"],
                calls=max(2, int(40 * scale)))
    periods(report, ds, policy, mode, ["Department", "Sex", "PerformanceScore"], rng, max(1, int(6 * scale)))
    bins(report, ds, policy, mode, ["Salary", "Absences"])
    truth = leavers_in_default_period(ds)
    impact_where(report, ds, policy, mode, lones[:20], rng, truth, budget=int(150 * scale))
    combined_where(report, ds, policy, mode, lones[20:40], rng, truth, budget=int(150 * scale))
    forecast_where(report, ds, policy, mode, lones[:30], rng, budget=int(150 * scale))
    cost_where(report, ds, policy, mode, lones[:10], rng, "Salary", budget=int(150 * scale))


def generated(report, tmp_path, mode, policy, rng, scale):
    folder = tmp_path / "generated"
    folder.mkdir(exist_ok=True)
    if not (folder / "sample_company.csv").exists():
        write_sample_company(folder)
    ds = loaded("sample_company.csv", folder)
    lones = lone_people(ds, policy, SAMPLE_COLUMNS, rng, limit=int(150 * scale), sizes=(2,))
    turnover_where(report, ds, policy, mode, lones, rng, leavers_in_default_period(ds), budget=int(600 * scale))
    profile_where(report, ds, policy, mode, lones[: max(1, int(10 * scale))], rng, ["annual_salary", "overtime_hours"],
                  budget=int(300 * scale))
    time_points(report, ds, policy, mode, rng, ["department", "job_role", "shift", "performance", "workload",
                                                 "growth"], calls=max(2, int(100 * scale)))
    periods(report, ds, policy, mode, ["department", "shift"], rng, 1)
    bins(report, ds, policy, mode, ["annual_salary", "overtime_hours"])
    forecast_where(report, ds, policy, mode, lones[:30], rng, budget=int(150 * scale))


def pwc(report, tmp_path, mode, policy, rng, scale):
    """A call log: lone calls (a call's handle time) and agents (an agent's answered calls and handle time) isolated
    by `where` lists."""
    shared_dataset("pwc_call_center.csv")
    ds = loaded("pwc_call_center.csv", SHARED_DATASETS, kind="calls")
    from retention_mcp.analysis.scorecard import to_seconds

    answered = ds.frame["Answered (Y/N)"].astype(str).str.strip().str.upper().eq("Y").to_numpy()
    aht = np.where(answered, to_seconds(ds.frame["AvgTalkDuration"]).to_numpy(dtype="float64", na_value=np.nan),
                   np.nan)
    call = scoped(ds, policy, lambda scope: call_log_profile(ds, scope=scope, policy=policy))
    lones = lone_people(ds, policy, CALL_COLUMNS, rng, limit=int(300 * scale))
    where_attack(report, "where/call_log_profile:aht", ds, policy, mode, lones, rng, call,
                 numeric_reader(aht, lambda result: result.aht_seconds), "numeric",
                 lambda row: float(aht[row]) if np.isfinite(aht[row]) else None,
                 domain=np.unique(aht[np.isfinite(aht)]), tries=2, budget=int(600 * scale))
    # All agents but one: the agent's answered calls (a count) from two calls.
    agents = [label for label in build_dimension(ds, "Agent", policy).labels if label != "(missing)"]
    everyone = call({})
    for agent in agents:
        rest = call({"Agent": [a for a in agents if a != agent]})
        if everyone is None or rest is None:
            report.refused["where/call_log_profile agents"] += 1
            continue
        mine = parse_where(ds, {"Agent": agent}, policy).rows
        truth = int((mine & answered).sum())
        possible = binary_outcomes((everyone[1].calls_answered, False), [(rest[1].calls_answered, False)], mode,
                                   values=range(max(0, truth - 50), truth + 51))
        report.attempt("where/call_log_profile agents", len(possible) == 1, truth, possible, f"{agent} answered")
    # Lone calls of a day: the `where` holds a topic and resolved yes/no, and a list of dates with or without
    # the call's (a scope wide enough that several agents are scored).
    by_day = [lone for lone in lone_people(ds, policy, ["Date", *SCORECARD_COLUMNS], rng, limit=int(400 * scale),
                                          sizes=(3,)) if lone.varying == "Date" or "Date" in lone.fixed]
    by_day = [Lone(lone.row, {c: v for c, v in {**lone.fixed, lone.varying: lone.value}.items() if c != "Date"},
                   "Date", {**lone.fixed, lone.varying: lone.value}["Date"]) for lone in by_day]
    scorecard_where(report, ds, policy, mode, by_day[:max(4, int(12 * scale))], rng, answered, aht,
                    budget=int(150 * scale))


def roster(report, tmp_path, mode, policy, rng, scale):
    """A generated roster: lone shifts isolated by `where` lists on team, site, skill and contract."""
    folder = tmp_path / "roster"
    folder.mkdir(exist_ok=True)
    if not (folder / "roster.csv").exists():
        write_roster(folder)
    ds = loaded("roster.csv", folder, kind="roster")
    night = ds.frame["shift"].astype(str).eq("night").to_numpy()
    lones = lone_people(ds, policy, ROSTER_COLUMNS, rng, limit=int(60 * scale), sizes=(2, 3))
    # and shifts alone in a week in two of the columns: a list of weeks with or without the shift's
    by_week = [lone for lone in lone_people(ds, policy, ["week", *ROSTER_COLUMNS], rng, limit=int(90 * scale),
                                            sizes=(3,)) if lone.varying == "week" or "week" in lone.fixed]
    lones += [Lone(lone.row, {c: v for c, v in {**lone.fixed, lone.varying: lone.value}.items() if c != "week"},
                   "week", {**lone.fixed, lone.varying: lone.value}["week"]) for lone in by_week]
    fairness_where(report, ds, policy, mode, lones, rng, night, budget=int(150 * scale))


@pytest.mark.parametrize("mode", ["protected", "exact"])
def test_the_adversary_recovers_nobody_in_protected_mode(mode: str, tmp_path: Path) -> None:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} is not here (the shared datasets live beside the repository)")
    policy = policies(tmp_path)[mode]
    report = Report()
    for search in (ibm, hrdataset, generated, pwc, roster):
        part = Report()
        search(part, tmp_path, mode, policy, random.Random(19), BUDGET[mode])
        part.settle(mode)
        print(f"{mode} {search.__name__}: {part.total_recoveries}/{part.total_attempts} — {part.summary()}")
        report.add(part)
    print(f"{mode}: {report.total_recoveries} exact recoveries in {report.total_attempts} attempts")
    for example in report.examples[:10]:
        print("  e.g.", example)
    if mode == "protected":
        assert report.total_attempts >= 10_000
        assert report.total_recoveries == 0, report.examples
    else:
        assert report.total_recoveries > 0  # exactness has a price, and the adversary finds it
