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
    Report,
    binary_outcomes,
    bins_attack,
    lone_people,
    numeric_reader,
    period_attack,
    time_point_attack,
    where_attack,
)
from conftest import SHARED_DATASETS, shared_dataset
from retention_mcp.analysis.calls import call_log_profile
from retention_mcp.analysis.drivers import analyse_drivers
from retention_mcp.analysis.profile import describe_groups
from retention_mcp.analysis.survival import durations_of, retention_curve
from retention_mcp.analysis.turnover import resolve_period, turnover_breakdown
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


@pytest.mark.parametrize("mode", ["protected", "exact"])
def test_the_adversary_recovers_nobody_in_protected_mode(mode: str, tmp_path: Path) -> None:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} is not here (the shared datasets live beside the repository)")
    policy = policies(tmp_path)[mode]
    report = Report()
    for search in (ibm, hrdataset, generated, pwc):
        part = Report()
        search(part, tmp_path, mode, policy, random.Random(19), BUDGET[mode])
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
