"""describe_groups against independent calculations: pandas, scipy's own t / Welch intervals, Wilson and Newcombe
written out from the papers, order-statistic coverage by exact binomial sums; suppression as the policy says."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import make_dataset, policy, shared_dataset
from retention_mcp.analysis.profile import describe_groups, profile_markdown
from retention_mcp.analysis.stats import median_interval, newcombe_difference
from retention_mcp.analysis.turnover import turnover_breakdown
from retention_mcp.catalog import bundled_dir, read_yaml
from retention_mcp.data.dimensions import parse_where
from retention_mcp.data.disclosure import protect_means

Z = 1.959963984540054
CATALOG = read_yaml(bundled_dir("tools") / "grounding.yaml")["describe_groups"]


def wilson(k: float, n: float) -> tuple[float, float]:
    """Wilson (1927), written out."""
    p = k / n
    centre = p + Z**2 / (2 * n)
    spread = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n * n))
    return (centre - spread) / (1 + Z**2 / n), (centre + spread) / (1 + Z**2 / n)


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Newcombe (1998) method 10: d − √((p1−l1)² + (u2−p2)²), d + √((u1−p1)² + (p2−l2)²)."""
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
    return p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2)


def profile(frame: pd.DataFrame, **kwargs):
    ds = make_dataset(frame)
    return describe_groups(ds, policy=policy(), catalog=CATALOG, **kwargs)


def column(group, name: str):
    return next(c for c in group.columns if c.column == name)


def company(seed: int = 7, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dept = rng.choice(["Ops", "Sales", "Tech"], size=n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({
        "employee_id": [f"E{i:04d}" for i in range(n)],
        "department": dept,
        "monthly_salary": np.round(rng.lognormal(np.log(np.where(dept == "Tech", 9000, 6000)), 0.3), 0),
        "job_satisfaction": rng.integers(1, 6, size=n),
        "overtime": rng.choice(["Yes", "No"], size=n, p=[0.3, 0.7]),
        "overtime_hours": rng.gamma(2.0, 6.0, size=n).round(1),
        "attrition": rng.choice(["Yes", "No"], size=n, p=[0.2, 0.8]),
    })


# -- the literature and exact checks of the helpers


def test_newcombe_matches_the_published_examples():
    # Newcombe (1998), Stat Med 17:873-890, Table II, method 10 (score, no continuity correction)
    _, low, high = newcombe_difference(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    _, low, high = newcombe_difference(9, 10, 3, 10)
    assert (round(low, 4), round(high, 4)) == (0.1705, 0.8090)


@pytest.mark.parametrize("n", [6, 7, 10, 25, 100, 311])
def test_median_interval_has_the_coverage_conover_gives(n: int):
    values = np.arange(1, n + 1, dtype=float)  # value = rank
    low, high = median_interval(values)
    lower, upper = int(low), int(high)
    # coverage of [x_(l), x_(u)] = P(l <= B <= u - 1), B ~ Binomial(n, 1/2), summed exactly
    coverage = sum(math.comb(n, b) for b in range(lower, upper)) / 2**n
    assert coverage >= 0.95 and upper == n - lower + 1
    wider = sum(math.comb(n, b) for b in range(lower + 1, upper - 1)) / 2**n  # the next narrower pair
    assert wider < 0.95
    assert median_interval(np.arange(5.0)) == (None, None)


def test_protect_means_hides_a_union_below_the_floor():
    # one line: 40, 2, 2 with margin shown; counts hide 2 and 2 (two cells: no single one recoverable), but
    # together they hold 4 < 5 people, whose mean = margin − 40's: the 40 is hidden as well.
    hidden = protect_means(np.array([40.0, 2.0, 2.0]), np.array([False, True, True]), 5)
    assert hidden.tolist() == [True, True, True]
    # 40, 30, 3, 3: the hidden pair holds 6 >= 5: nothing more to hide
    hidden = protect_means(np.array([40.0, 30.0, 3.0, 3.0]), np.array([False, False, True, True]), 5)
    assert hidden.tolist() == [False, False, True, True]


# -- generated data, checked against pandas and scipy


def test_numbers_likert_and_categories_by_hand():
    frame = company()
    result = profile(frame, by=["department"], columns=["monthly_salary", "job_satisfaction", "overtime",
                                                        "overtime_hours"])
    assert [c.kind for c in result.columns] == ["numeric", "likert", "categorical", "numeric"]
    for group in result.groups:
        mine = frame[frame["department"] == group.label]
        rest = frame[frame["department"] != group.label]
        assert group.count == len(mine)
        pay = column(group, "monthly_salary")
        values = mine["monthly_salary"]
        assert pay.n == len(values)
        assert pay.mean == pytest.approx(values.mean())
        assert pay.sd == pytest.approx(values.std(ddof=1))
        assert pay.median == pytest.approx(values.median())
        assert (pay.q1, pay.q3) == (pytest.approx(values.quantile(0.25)), pytest.approx(values.quantile(0.75)))
        assert pay.iqr == pytest.approx(values.quantile(0.75) - values.quantile(0.25))
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert (pay.mean_ci_low, pay.mean_ci_high) == (pytest.approx(low), pytest.approx(high))
        welch = stats.ttest_ind(values, rest["monthly_salary"], equal_var=False).confidence_interval(0.95)
        assert (pay.diff_ci_low, pay.diff_ci_high) == (pytest.approx(welch.low), pytest.approx(welch.high))
        assert pay.diff_mean == pytest.approx(values.mean() - rest["monthly_salary"].mean())
        assert pay.significant == (not welch.low <= 0 <= welch.high)
        ordered = np.sort(values.to_numpy())
        rank = int(stats.binom.ppf(0.025, len(ordered), 0.5))
        assert (pay.median_ci_low, pay.median_ci_high) == (ordered[rank - 1], ordered[len(ordered) - rank])
        # Likert 1-5: favourable = 4-5
        item = column(group, "job_satisfaction")
        k1, k2 = int((mine["job_satisfaction"] >= 4).sum()), int((rest["job_satisfaction"] >= 4).sum())
        assert item.favourable == pytest.approx(k1 / len(mine))
        assert (item.favourable_ci_low, item.favourable_ci_high) == pytest.approx(wilson(k1, len(mine)))
        assert (item.favourable_diff_ci_low, item.favourable_diff_ci_high) == pytest.approx(
            newcombe(k1, len(mine), k2, len(rest)))
        assert item.mean == pytest.approx(mine["job_satisfaction"].mean())
        # categories: shares of each level
        levels = {lv.level: lv for lv in column(group, "overtime").levels}
        for level, count in mine["overtime"].value_counts().items():
            assert levels[level].count == count
            assert levels[level].share == pytest.approx(count / len(mine))
            assert (levels[level].ci_low, levels[level].ci_high) == pytest.approx(wilson(count, len(mine)))
            other = int((rest["overtime"] == level).sum())
            assert levels[level].diff_share == pytest.approx(count / len(mine) - other / len(rest))
            assert (levels[level].diff_ci_low, levels[level].diff_ci_high) == pytest.approx(
                newcombe(count, len(mine), other, len(rest)))
    overall = result.overall
    assert overall.count == len(frame) and column(overall, "monthly_salary").diff_mean is None
    assert column(overall, "monthly_salary").mean == pytest.approx(frame["monthly_salary"].mean())


def test_overall_row_uses_the_column_margin_not_the_groups():
    # a category with more levels than `by` has groups, and missing values: the overall row's cells are the
    # column's own margin (found by the stress run: the overall row once read the `by` margin)
    frame = company()
    frame["grade"] = np.random.default_rng(1).choice(["G1", "G2", "G3", "G4", "G5", "G6"], size=len(frame))
    frame["team"] = np.where(np.arange(len(frame)) % 2 == 0, "Red", "Blue")
    frame.loc[frame.index[:40], "overtime_hours"] = np.nan
    result = profile(frame, by=["team"], columns=["grade", "overtime_hours"])
    levels = {lv.level: lv.count for lv in column(result.overall, "grade").levels}
    assert levels == frame["grade"].value_counts().to_dict()
    hours = column(result.overall, "overtime_hours")
    assert hours.n == frame["overtime_hours"].notna().sum() and not hours.suppressed


def test_default_columns_pay_period_and_annual_cost():
    frame = company()
    result = profile(frame, by=["department"])
    names = [c.column for c in result.columns]
    assert names[0] == "monthly_salary" and "job_satisfaction" in names and "overtime" in names
    assert "employee_id" not in names and "attrition" not in names  # the leaver flag is not a default column
    assert result.pay.period == "monthly" and result.pay.annual_factor == 12
    for group in result.groups:
        mean = frame.loc[frame["department"] == group.label, "monthly_salary"].mean()
        assert group.average_annual_cost == pytest.approx(12 * mean)
    annual = profile(frame.rename(columns={"monthly_salary": "salary"}), by=["department"])
    assert annual.pay.period == "unknown" and annual.groups[0].average_annual_cost is None
    stated = profile(frame.rename(columns={"monthly_salary": "salary"}), by=["department"], pay_period="annual")
    assert stated.groups[0].average_annual_cost == pytest.approx(stated.groups[0].columns[0].mean)


def test_where_scope_and_rest_are_within_the_scope():
    frame = company()
    ds = make_dataset(frame)
    scope = parse_where(ds, {"overtime": "Yes"}, policy())
    result = describe_groups(ds, by=["department"], columns=["monthly_salary"], policy=policy(), scope=scope,
                             catalog=CATALOG)
    scoped = frame[frame["overtime"] == "Yes"]
    assert result.overall.count == len(scoped)
    for group in result.groups:
        mine = scoped.loc[scoped["department"] == group.label, "monthly_salary"]
        rest = scoped.loc[scoped["department"] != group.label, "monthly_salary"]
        summary = column(group, "monthly_salary")
        assert summary.mean == pytest.approx(mine.mean())
        assert summary.diff_mean == pytest.approx(mine.mean() - rest.mean())
    assert "overtime = Yes" in result.scope


# -- suppression: through the policy, consistent with what a breakdown would show


def test_small_groups_and_the_cells_they_would_give_away_are_suppressed():
    rng = np.random.default_rng(3)
    sizes = {"A": 60, "B": 50, "C": 2, "D": 2}  # C and D: each hidden; together 4 < 5 people
    frame = pd.DataFrame({"department": np.repeat(list(sizes), list(sizes.values()))})
    frame["salary"] = rng.normal(5000, 500, len(frame)).round()
    frame["left"] = rng.choice([0, 1], len(frame))
    result = profile(frame, by=["department"], columns=["salary"])
    hidden = {g.label for g in result.groups if g.suppressed}
    assert {"C", "D"} <= hidden
    assert len(hidden) == 3  # B too: otherwise overall − A − B = the mean salary of C and D's four people
    for group in result.groups:
        if group.suppressed:
            assert group.count is None and all(c.mean is None for c in group.columns)
    text = json.dumps(result.model_dump())
    assert '"count": 2' not in text


def test_level_and_top_box_cells_follow_the_breakdown_lattice():
    # A top-box share is a sum of cells of the table [item × department]: the cells a breakdown by
    # [satisfaction, department] shows or hides (the item leads, as `where` columns do). A: 1:10, 2:10, 3:17,
    # 4:3 on a 1-4 scale (top box 3-4): A×4 (3 people) is hidden, then A×1 for A's line, B×4 and B×1 for the
    # columns' lines. A's top box 17 + 3 and B's 15 + 9 would each give one hidden cell away: both hidden.
    # C has no hidden cell: its top box shows. Overtime "Yes" in A (3 people) is a small cell too.
    rows = []
    for dept, counts in {"A": (10, 10, 17, 3), "B": (12, 14, 15, 9), "C": (30, 13, 16, 10)}.items():
        for value, count in zip((1, 2, 3, 4), counts, strict=True):
            rows += [{"department": dept, "satisfaction": value} for _ in range(count)]
    frame = pd.DataFrame(rows)
    frame["overtime"] = ["Yes" if i % 20 == 0 and d == "A" else "No" if d == "A" else ("Yes" if i % 2 else "No")
                         for i, d in enumerate(frame["department"])]
    frame["left"] = 0
    ds = make_dataset(frame)
    breakdown = turnover_breakdown(ds, by=["satisfaction", "department"], policy=policy())
    hidden_cells = {(r.group["department"], r.group["satisfaction"]) for r in breakdown.rows if r.suppressed}
    assert hidden_cells == {("A", "4"), ("A", "1"), ("B", "4"), ("B", "1")}
    result = describe_groups(ds, by=["department"], columns=["satisfaction", "overtime"], policy=policy(),
                             catalog=CATALOG)
    groups = {g.label: g for g in result.groups}
    for dept in ("A", "B"):
        item = column(groups[dept], "satisfaction")
        assert item.favourable is None and item.favourable_suppressed
        assert item.mean == pytest.approx(frame.loc[frame.department == dept, "satisfaction"].mean())
    assert column(groups["C"], "satisfaction").favourable == pytest.approx(26 / 69)
    overtime = {lv.level: lv for lv in column(groups["A"], "overtime").levels}
    small = int(((frame.department == "A") & (frame.overtime == "Yes")).sum())
    assert 0 < small < 5 and overtime["Yes"].suppressed and overtime["Yes"].count is None
    assert overtime["No"].suppressed  # else the group size minus it gives the small one away
    text = profile_markdown(result)
    assert "fav. suppressed" in text


def test_pay_medians_only_in_groups_large_enough():
    frame = company()
    frame["department"] = np.where(np.arange(len(frame)) < 12, "Small", frame["department"])  # 12 people
    result = profile(frame, by=["department"], columns=["monthly_salary", "overtime_hours"])
    small = next(g for g in result.groups if g.label == "Small")
    pay, hours = column(small, "monthly_salary"), column(small, "overtime_hours")
    assert pay.mean == pytest.approx(frame.loc[:11, "monthly_salary"].mean())
    assert pay.median is None and pay.q1 is None and pay.median_ci_low is None  # < 20: a median is one person's pay
    assert hours.median == pytest.approx(frame.loc[:11, "overtime_hours"].median())  # not pay: shown
    big = next(g for g in result.groups if g.label != "Small" and not g.suppressed)
    assert column(big, "monthly_salary").median is not None


def test_identifying_columns_are_refused_and_a_few_missing_values_hide_nothing():
    """Issue 22: a statistic is suppressed only where its own cell is small — a missing value is not a small
    group (a 311-person group's mean tenure was hidden because a few rows lacked a hire date)."""
    frame = company(n=120)
    with pytest.raises(ValueError, match="identifies people"):
        profile(frame, by=["department"], columns=["employee_id"])
    frame.loc[frame.index[:2], "monthly_salary"] = np.nan  # two missing values, both in one department
    first = frame.loc[frame.index[0], "department"]
    frame.loc[frame.index[:2], "department"] = first
    result = profile(frame, by=["department"], columns=["monthly_salary"])
    group = next(g for g in result.groups if g.label == first)
    salary = column(group, "monthly_salary")
    present = frame.loc[frame["department"] == first, "monthly_salary"].dropna()
    assert not salary.suppressed and salary.n == len(present) == group.count - 2
    assert salary.mean == pytest.approx(present.mean())  # pandas, over the people with a value


def test_a_column_with_few_values_in_a_group_is_hidden_with_its_complement():
    """The column's own cell: a group where fewer than k people have a value hides that column's figures, and
    (means by subtraction) so does the smallest other group on the line, while other columns stay visible."""
    frame = company(n=120)
    first = sorted(frame["department"].unique())[0]
    in_first = frame.index[frame["department"] == first]
    frame.loc[in_first[3:], "monthly_salary"] = np.nan  # only 3 people in `first` have a salary
    result = profile(frame, by=["department"], columns=["monthly_salary", "overtime_hours"])
    hidden = [g for g in result.groups if column(g, "monthly_salary").suppressed]
    assert first in {g.label for g in hidden} and len(hidden) >= 2  # never the only hidden cell of its line
    held = sum(frame.loc[frame["department"] == g.label, "monthly_salary"].notna().sum() for g in hidden)
    assert held >= 5  # the hidden cells together hold at least k people with a value
    group = next(g for g in result.groups if g.label == first)
    assert not column(group, "overtime_hours").suppressed  # the other column is its own matter
    assert column(group, "overtime_hours").mean == pytest.approx(frame.loc[in_first, "overtime_hours"].mean())


# -- through the SDK client, on the real files


@pytest.mark.anyio
async def test_ibm_profile_by_department(shared_client):
    raw = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"), encoding="utf-8-sig")
    result = await shared_client.call_tool("describe_groups", {"path": "ibm_hr_attrition.csv", "by": "Department"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["pay"]["column"] == "MonthlyIncome" and data["pay"]["period"] == "monthly"
    groups = {g["label"]: g for g in data["groups"]}
    for dept, mine in raw.groupby("Department"):
        group = groups[dept]
        rest = raw[raw["Department"] != dept]
        pay = next(c for c in group["columns"] if c["column"] == "MonthlyIncome")
        assert pay["mean"] == pytest.approx(mine["MonthlyIncome"].mean())
        assert group["average_annual_cost"] == pytest.approx(12 * mine["MonthlyIncome"].mean())
        welch = stats.ttest_ind(mine["MonthlyIncome"], rest["MonthlyIncome"], equal_var=False).confidence_interval()
        assert (pay["diff_ci_low"], pay["diff_ci_high"]) == (pytest.approx(welch.low), pytest.approx(welch.high))
        satisfaction = next(c for c in group["columns"] if c["column"] == "JobSatisfaction")
        assert satisfaction["favourable"] == pytest.approx((mine["JobSatisfaction"] >= 3).mean())  # 3-4 of 1-4
        overtime = {lv["level"]: lv for lv in next(c for c in group["columns"] if c["column"] == "OverTime")["levels"]}
        assert overtime["Yes"]["share"] == pytest.approx((mine["OverTime"] == "Yes").mean())
    # R&D's average annual cost: 12 × 6,281.25 (the published mean monthly income of R&D)
    assert groups["Research & Development"]["average_annual_cost"] == pytest.approx(75_375.0, abs=0.5)
    assert "calculate_roi" in result.content[0].text and "× 12" in result.content[0].text


@pytest.mark.anyio
async def test_ibm_where_research_by_job_role(shared_client):
    raw = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"), encoding="utf-8-sig")
    rd = raw[raw["Department"] == "Research & Development"]
    result = await shared_client.call_tool("describe_groups", {
        "path": "ibm_hr_attrition.csv", "by": ["JobRole"], "where": {"Department": "Research & Development"},
        "columns": ["MonthlyIncome", "YearsAtCompany"]})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["overall"]["count"] == len(rd)
    for group in data["groups"]:
        mine = rd[rd["JobRole"] == group["label"]]
        assert group["count"] == len(mine)
        tenure = next(c for c in group["columns"] if c["column"] == "YearsAtCompany")
        assert tenure["mean"] == pytest.approx(mine["YearsAtCompany"].mean())
        assert tenure["median"] == pytest.approx(mine["YearsAtCompany"].median())


@pytest.mark.anyio
async def test_hrdataset_salary_by_department_never_shows_a_name(shared_client):
    path = shared_dataset("hrdataset_v14.csv")
    raw = pd.read_csv(path, encoding="utf-8-sig")
    raw["Department"] = raw["Department"].str.strip()
    result = await shared_client.call_tool("describe_groups", {"path": "hrdataset_v14.csv", "by": "Department",
                                                               "pay_period": "annual"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    shown = [g for g in data["groups"] if not g["suppressed"]]
    assert {g["label"] for g in data["groups"] if g["suppressed"]} >= {"Executive Office"}  # 1 person
    for group in shown:
        mine = raw[raw["Department"] == group["label"]]
        salary = next(c for c in group["columns"] if c["column"] == "Salary")
        assert salary["mean"] == pytest.approx(mine["Salary"].mean())
        assert group["average_annual_cost"] == pytest.approx(mine["Salary"].mean())
    assert any(c["column"].startswith("tenure_years") for c in data["columns"])  # derived from hire dates
    output = result.content[0].text + json.dumps(data)
    names = {str(n).strip() for n in raw["Employee_Name"]} | {str(n).strip() for n in raw["ManagerName"]}
    assert not [name for name in names if name in output]
    refused = await shared_client.call_tool("describe_groups", {"path": "hrdataset_v14.csv",
                                                                "columns": ["Employee_Name"]})
    assert refused.is_error and "identifies people" in refused.content[0].text


@pytest.mark.anyio
async def test_bad_arguments_are_input_errors(client, data_dir: Path):
    frame = company(n=60)
    (data_dir / "c.csv").write_text(frame.to_csv(index=False))
    for arguments, needle in (({"by": ["nope"]}, "unknown column 'nope'"),
                              ({"columns": []}, "empty list"),
                              ({"by": ["department", "department"]}, "twice"),
                              ({"where": {"department": "Nowhere"}}, "no group 'Nowhere'"),
                              ({"min_group_size": 2}, "below this server's minimum")):
        result = await client.call_tool("describe_groups", {"path": "c.csv", **arguments})
        assert result.is_error and needle in result.content[0].text, (arguments, result.content[0].text)
    csv_result = await client.call_tool("describe_groups", {"csv_text": frame.to_csv(index=False),
                                                            "by": "department"})
    assert not csv_result.is_error
    assert io.StringIO(csv_result.content[0].text).read().startswith("**Group profile by department**")
