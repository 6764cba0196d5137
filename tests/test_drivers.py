"""driver_analysis: values checked against independent numpy / scipy calculations."""

from __future__ import annotations

import base64
import io
import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import make_dataset, policy, shared_dataset
from retention_mcp.analysis.drivers import analyse_drivers as analyse
from retention_mcp.analysis.drivers import flag_to_number, likert_scale


def analyse_drivers(frame: pd.DataFrame, outcome: str, **kwargs):
    """The analysis on a DataFrame, read as the tools read a file."""
    return analyse(make_dataset(frame), outcome, policy=policy(), **kwargs)


def lstsq_r2(x: np.ndarray, y: np.ndarray) -> float:
    """R² of OLS with intercept, by numpy lstsq (independent of the module's covariance route)."""
    design = np.column_stack([np.ones(len(y)), x]) if x.size else np.ones((len(y), 1))
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ beta
    return 1 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())


def brute_force_shapley(blocks: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    names = list(blocks)
    k = len(names)
    r2 = {}
    for size in range(k + 1):
        for subset in combinations(names, size):
            x = np.column_stack([blocks[n] for n in subset]) if subset else np.empty((len(y), 0))
            r2[frozenset(subset)] = lstsq_r2(x, y) if subset else 0.0
    values = {}
    for name in names:
        others = [n for n in names if n != name]
        total = 0.0
        for size in range(k):
            for subset in combinations(others, size):
                s = frozenset(subset)
                weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                total += weight * (r2[s | {name}] - r2[s])
        values[name] = total
    return values


@pytest.fixture(scope="module")
def hr() -> pd.DataFrame:
    return pd.read_csv(shared_dataset("hr_comma_sep.csv"))


def test_hr_comma_sep_satisfaction_ranks_first_and_importances_sum_to_r2(hr: pd.DataFrame) -> None:
    result = analyse_drivers(hr, "left")
    assert result.importance_method == "shapley"
    assert result.drivers[0].driver == "satisfaction_level"
    assert sum(d.importance for d in result.drivers) == pytest.approx(result.r_squared, abs=1e-6)
    # model R² against lstsq on the same design (salary and sales one-hot, first level dropped)
    numeric = ["satisfaction_level", "last_evaluation", "number_project", "average_montly_hours",
               "time_spend_company", "Work_accident", "promotion_last_5years"]
    x = np.column_stack([hr[numeric].to_numpy(float),
                         pd.get_dummies(hr["sales"], drop_first=True, dtype=float).to_numpy(),
                         pd.get_dummies(hr["salary"], drop_first=True, dtype=float).to_numpy()])
    y = hr["left"].to_numpy(float)
    assert result.r_squared == pytest.approx(lstsq_r2(x, y), abs=1e-9)
    assert result.n == len(hr)
    satisfaction = result.drivers[0]
    expected = stats.pointbiserialr(hr["left"], hr["satisfaction_level"])
    assert satisfaction.effect_measure == "point-biserial r"
    assert satisfaction.effect_size == pytest.approx(expected.statistic, abs=1e-12)
    assert satisfaction.direction == "negative"
    assert "not causes" in result.caveat


def test_shapley_matches_brute_force_over_subsets(hr: pd.DataFrame) -> None:
    drivers = ["satisfaction_level", "number_project", "average_montly_hours", "time_spend_company", "salary"]
    result = analyse_drivers(hr, "left", drivers=drivers)
    blocks = {n: hr[[n]].to_numpy(float) for n in drivers[:-1]}
    blocks["salary"] = pd.get_dummies(hr["salary"], drop_first=True, dtype=float).to_numpy()
    expected = brute_force_shapley(blocks, hr["left"].to_numpy(float))
    got = {d.driver: d.importance for d in result.drivers}
    for name in drivers:
        assert got[name] == pytest.approx(expected[name], abs=1e-9)
    assert sum(expected.values()) == pytest.approx(result.r_squared, abs=1e-9)
    # salary is categorical: eta = sqrt(between-group SS / total SS)
    salary = next(d for d in result.drivers if d.driver == "salary")
    groups = hr.groupby("salary")["left"]
    between = float((groups.size() * (groups.mean() - hr["left"].mean()) ** 2).sum())
    total = float(((hr["left"] - hr["left"].mean()) ** 2).sum())
    assert salary.effect_size == pytest.approx(math.sqrt(between / total), abs=1e-12)
    low = next(level for level in salary.levels if level.level == "low")
    assert low.outcome_mean == pytest.approx(hr.loc[hr.salary == "low", "left"].mean())


def test_relative_weights_sum_to_r2(hr: pd.DataFrame) -> None:
    result = analyse_drivers(hr, "left", importance_method="relative_weights")
    assert result.importance_method == "relative_weights"
    assert sum(d.importance for d in result.drivers) == pytest.approx(result.r_squared, abs=1e-6)
    assert result.drivers[0].driver == "satisfaction_level"


def survey(seed: int = 7, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    manager = rng.integers(1, 6, n)
    pay = rng.choice([1, 2, 3, 4, 5], n, p=[0.25, 0.3, 0.25, 0.1, 0.1])
    growth = rng.integers(1, 5, n)  # a 4-point item
    recommend = rng.integers(0, 11, n)
    logit = 1.5 - 0.6 * manager - 0.3 * pay + rng.normal(0, 1, n)
    left = np.where(1 / (1 + np.exp(-logit)) > 0.3, "是", "否")
    team = rng.choice(["A", "B", "C"], n).astype(object)
    team[:3] = "Tiny"  # a group below min_group_size
    return pd.DataFrame({"员工编号": np.arange(1, n + 1), "q_manager": manager, "q_pay": pay, "q_growth": growth,
                         "recommend_company": recommend, "team": team, "离职": left})


def test_likert_favourability_quadrants_and_enps() -> None:
    df = survey()
    result = analyse_drivers(df, "离职", drivers=["q_manager", "q_pay", "q_growth"])
    assert result.outcome_kind == "leaver_flag"
    y = (df["离职"] == "是").astype(float)
    assert result.outcome_mean == pytest.approx(y.mean())
    rows = {d.driver: d for d in result.drivers}
    assert rows["q_manager"].favourability == pytest.approx((df.q_manager >= 4).mean())
    assert rows["q_growth"].favourability == pytest.approx((df.q_growth >= 3).mean())  # 3-4 of 4
    assert rows["q_pay"].favourable_definition == "4-5 on a 1-5 scale"
    cutoff = float(np.median([d.importance for d in result.drivers]))
    assert result.importance_cutoff == pytest.approx(cutoff)
    for d in result.drivers:
        high = d.importance >= cutoff
        fav = d.favourability >= 0.65
        assert d.quadrant == {(True, False): "fix first", (True, True): "strength",
                              (False, False): "monitor", (False, True): "maintain"}[(high, fav)]
    assert rows["q_pay"].quadrant == "fix first"  # important and only ~20% favourable
    assert rows["q_manager"].effect_size == pytest.approx(stats.pointbiserialr(y, df.q_manager).statistic)
    r = df["recommend_company"]
    assert result.enps is not None
    assert result.enps.enps == pytest.approx(((r >= 9).mean() - (r <= 6).mean()) * 100)


def test_auto_drivers_skip_identifiers_and_by_suppresses_small_groups() -> None:
    df = survey()
    result = analyse_drivers(df, "离职", by="team", min_group_size=5)
    names = [d.driver for d in result.drivers]
    assert "员工编号" not in names and "team" not in names
    assert any("员工编号" in e for e in result.excluded)
    groups = {g.group: g for g in result.groups}
    assert groups["Tiny"].suppressed and groups["Tiny"].n is None
    # exactly one group was small, so the next-smallest is hidden too (no recovery by subtraction)
    shown = [g for g in result.groups if not g.suppressed]
    hidden = [g for g in result.groups if g.suppressed]
    assert len(hidden) == 2 and len(shown) == 2
    sizes = df["team"].value_counts()
    smallest_real = sizes.drop("Tiny").idxmin()
    assert groups[smallest_real].suppressed
    for g in shown:
        assert g.n == sizes[g.group]
        assert g.outcome_mean == pytest.approx((df.loc[df.team == g.group, "离职"] == "是").mean())


def test_columns_that_restate_the_outcome_are_left_out() -> None:
    df = survey()
    df["exit_reason"] = np.where(df["离职"] == "是", "resigned", "none")
    auto = analyse_drivers(df, "离职")
    assert "exit_reason" not in [d.driver for d in auto.drivers]
    assert any(e.startswith("exit_reason:") and "restates the outcome" in e for e in auto.excluded)
    named = analyse_drivers(df, "离职", drivers=["exit_reason", "q_pay"])
    assert named.warnings and "exit_reason" in named.warnings[0]


def test_spearman_and_numeric_outcome() -> None:
    df = survey()
    df["engagement"] = df["q_manager"] * 10 + df["q_pay"] * 5 + np.random.default_rng(1).normal(0, 5, len(df))
    result = analyse_drivers(df, "engagement", drivers=["q_manager", "q_pay"], method="spearman")
    assert result.outcome_kind == "score"
    rows = {d.driver: d for d in result.drivers}
    assert rows["q_manager"].effect_size == pytest.approx(stats.spearmanr(df.q_manager, df.engagement).statistic)
    ranked = df[["q_manager", "q_pay", "engagement"]].rank()
    assert result.r_squared == pytest.approx(lstsq_r2(ranked[["q_manager", "q_pay"]].to_numpy(),
                                                      ranked["engagement"].to_numpy()), abs=1e-9)
    assert result.drivers[0].driver == "q_manager"


def test_flags_and_likert_detection() -> None:
    assert flag_to_number(pd.Series(["Yes", "No", None, "yes"])).tolist()[:2] == [1.0, 0.0]
    assert flag_to_number(pd.Series(["Y", "N"])).tolist() == [1.0, 0.0]
    assert flag_to_number(pd.Series(["True", "False"])).tolist() == [1.0, 0.0]
    assert flag_to_number(pd.Series(["Sales", "R&D"])) is None
    assert likert_scale("JobSatisfaction", pd.Series([1, 2, 3, 4] * 5)) == (1, 4, 3)
    assert likert_scale("JobLevel", pd.Series([1, 2, 3, 4, 5] * 5)) is None
    assert likert_scale("NumCompaniesWorked", pd.Series(range(10))) is None
    assert likert_scale("satisfaction_level", pd.Series([0.1, 0.5, 0.9])) is None
    assert likert_scale("q_manager", pd.Series([1, 2, 3, 4, 5] * 5)) == (1, 5, 4)  # "manager" holds "age"


def test_bad_input_messages() -> None:
    df = survey()
    with pytest.raises(ValueError, match="unknown column 'nope' for the outcome"):
        analyse_drivers(df, "nope")
    with pytest.raises(ValueError, match="neither a leaver flag"):
        analyse_drivers(df.assign(txt=["a", "b"] * 200), "txt")
    with pytest.raises(ValueError, match="is the outcome"):
        analyse_drivers(df, "离职", drivers=["离职", "q_pay"])


CSV = "emp_id,q_manager,q_pay,OverTime,dept,Attrition\n" + "\n".join(
    f"{i},{1 + i % 5},{1 + (i * 7) % 5},{'Yes' if i % 3 == 0 else 'No'},{['Sales', 'R&D'][i % 2]},"
    f"{'Yes' if (i % 5 < 2 and i % 3 == 0) or i % 11 == 0 else 'No'}" for i in range(60))


@pytest.mark.anyio
async def test_tool_through_client_with_chart(client, settings) -> None:
    result = await client.call_tool("driver_analysis", {"csv_text": CSV, "outcome": "Attrition", "chart": True})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    names = [d["driver"] for d in data["drivers"]]
    assert "emp_id" not in names and set(names) == {"q_manager", "q_pay", "OverTime", "dept"}
    assert sum(d["importance"] for d in data["drivers"]) == pytest.approx(data["r_squared"], abs=1e-6)
    df = pd.read_csv(io.StringIO(CSV))
    overtime = next(d for d in data["drivers"] if d["driver"] == "OverTime")
    assert overtime["effect_size"] == pytest.approx(
        stats.pointbiserialr(df.Attrition.eq("Yes"), df.OverTime.eq("Yes")).statistic)
    assert "| # | driver |" in result.content[0].text
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == 1
    from PIL import Image

    assert Image.open(io.BytesIO(base64.b64decode(images[0].data))).width <= 1000
    # The chart is also written to the output folder, named after the result's evidence id, as the README says.
    written = list(settings.output_dir.glob("*.png"))
    assert [p.name for p in written] == [f"driver_analysis-{data['evidence_id']}.png"]
    assert written[0].read_bytes() == base64.b64decode(images[0].data)

    bad = await client.call_tool("driver_analysis", {"csv_text": CSV, "outcome": "Attritionx"})
    assert bad.is_error and "columns are" in bad.content[0].text
    again = await client.call_tool("driver_analysis", {"csv_text": CSV, "outcome": "Attrition", "by": "dept"})
    assert not again.is_error


@pytest.mark.anyio
async def test_tool_on_shared_dataset(shared_client) -> None:
    result = await shared_client.call_tool("driver_analysis", {"path": "hr_comma_sep.csv", "outcome": "left"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["drivers"][0]["driver"] == "satisfaction_level"
    assert data["n"] == 14999
