"""Issue 12 on turnover_breakdown: intervals that hold for event rates above 100%, significance against the rest
of the population with Holm's adjustment, the annualised rate in the text, one separation table for every
language, and Chinese text. Data generated here; expected values from formulas written out in this file."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from conftest import make_dataset, policy
from retention_mcp.analysis.stats import garwood_intervals, holm
from retention_mcp.analysis.turnover import breakdown_markdown, turnover_breakdown
from retention_mcp.settings import Settings


def breakdown(frame: pd.DataFrame, **kwargs):
    return turnover_breakdown(make_dataset(frame), policy=policy(), **kwargs)


def holm_by_hand(p: list[float]) -> list[float]:
    """Holm (1979): sort, multiply the i-th smallest by (m − i), keep the running maximum, cap at 1."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def z_test_by_hand(k1: int, n1: int, k2: int, n2: int) -> float:
    pooled = (k1 + k2) / (n1 + n2)
    z = (k1 / n1 - k2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 2 * stats.norm.sf(abs(z))


# -- item 9: the exact Poisson interval


def test_garwood_matches_published_values():
    # Garwood (1936) / Ulm (1990) tables: 0 events -> [0, 3.689]; 10 events -> [4.795, 18.39]
    low, high = garwood_intervals([0, 10], [1, 1])
    assert low[0] == 0 and high[0] == pytest.approx(3.689, abs=5e-4)
    assert low[1] == pytest.approx(4.795, abs=5e-4) and high[1] == pytest.approx(18.39, abs=5e-3)


def churn_team() -> pd.DataFrame:
    """Six people stay all of 2024; twelve more are each hired on the 1st of a month and leave on its 10th. At
    every month end 6 are on the books (average headcount 6), so 12 leavers ÷ 6 = 200%."""
    rows = [{"dept": "Churn", "hire_date": "2020-01-01", "termination_date": ""} for _ in range(6)]
    for month in range(1, 13):
        rows.append({"dept": "Churn", "hire_date": f"2024-{month:02d}-01", "termination_date": f"2024-{month:02d}-10"})
    rows += [{"dept": "Stable", "hire_date": "2019-01-01", "termination_date": ""} for _ in range(36)]
    rows += [{"dept": "Stable", "hire_date": "2019-01-01", "termination_date": f"2024-{m:02d}-28"}
             for m in (3, 6, 9, 12)]
    return pd.DataFrame(rows)


def test_event_rates_above_one_get_an_interval_that_contains_them():
    result = breakdown(churn_team(), by=["dept"], period_start="2024-01-01", period_end="2024-12-31")
    rows = {r.label: r for r in result.rows}
    churn = rows["Churn"]
    assert churn.headcount == 6 and churn.leavers == 12 and churn.rate == pytest.approx(2.0)
    # Garwood via chi-square quantiles (a different route from the code's inverse gamma): χ²(.025; 24)/2, χ²(.975; 26)/2
    assert churn.ci_low == pytest.approx(stats.chi2.ppf(0.025, 24) / 2 / 6, rel=1e-9)
    assert churn.ci_high == pytest.approx(stats.chi2.ppf(0.975, 26) / 2 / 6, rel=1e-9)
    assert churn.ci_low < churn.rate < churn.ci_high and churn.ci_high > 1  # Wilson would have said 0.65–1.00
    assert result.definition.interval.startswith("exact Poisson (Garwood)")
    text = breakdown_markdown(result)
    assert "exact Poisson (Garwood)" in text and "200.0%" in text


# -- item 8: each group against the rest, Holm-adjusted


def snapshot_company() -> pd.DataFrame:
    """A dominates the population (900 people, 10%); B is small and high (100, 20%); eight teams of 50 sit near
    the overall rate (7/50, T7 6/50), one of them (T0) at 11/50. Overall 169/1400 = 12.07%, inside A's interval
    (8.2%–12.13%)."""
    rows = [("A", i < 90) for i in range(900)] + [("B", i < 20) for i in range(100)]
    for t in range(8):
        leavers = 11 if t == 0 else 6 if t == 7 else 7
        rows += [(f"T{t}", i < leavers) for i in range(50)]
    return pd.DataFrame(rows, columns=["team", "left"]).assign(left=lambda f: f["left"].map({True: "Yes",
                                                                                            False: "No"}))


def test_significance_is_against_the_rest_with_holm():
    frame = snapshot_company()
    result = breakdown(frame, by=["team"])
    rows = {r.label: r for r in result.rows}
    total_n, total_k = len(frame), int((frame["left"] == "Yes").sum())
    counts = frame.groupby("team")["left"].agg(lambda s: int((s == "Yes").sum()))
    sizes = frame.groupby("team").size()
    raw = {team: z_test_by_hand(int(counts[team]), int(sizes[team]), total_k - int(counts[team]),
                                total_n - int(sizes[team])) for team in sizes.index}
    # every expected count is >= 5 here, so the z-test is the test used
    teams = list(sizes.index)
    adjusted = dict(zip(teams, holm_by_hand([raw[t] for t in teams]), strict=True))
    for team in teams:
        assert rows[team].p_value == pytest.approx(raw[team], rel=1e-9)
        assert rows[team].p_holm == pytest.approx(adjusted[team], rel=1e-9)
        assert rows[team].significant is bool(adjusted[team] < 0.05)
        rest_rate = (total_k - counts[team]) / (total_n - sizes[team])
        assert rows[team].rest_rate == pytest.approx(rest_rate)
        assert rows[team].gap_to_rest_pp == pytest.approx((counts[team] / sizes[team] - rest_rate) * 100)
    # A's interval contains the overall rate (the old rule said "not significant"), but A differs from the rest
    overall = total_k / total_n
    assert rows["A"].ci_low <= overall <= rows["A"].ci_high
    assert rows["A"].p_holm < 0.05 and rows["A"].significant is True
    # T0 (22% of 50) is below 0.05 before adjustment, not after Holm across 10 groups
    assert raw["T0"] < 0.05 and rows["T0"].significant is False
    text = breakdown_markdown(result)
    assert "gap to rest (pp)" in text and "p (Holm)" in text
    assert "Holm-adjusted across the 10 groups" in text and "two-proportion z-test" in text


def test_small_groups_use_fisher_and_holm_helper_matches_hand():
    frame = pd.DataFrame({"team": ["S"] * 6 + ["L"] * 60, "left": ["Yes"] * 4 + ["No"] * 2 + ["Yes"] * 6 + ["No"] * 54})
    rows = {r.label: r for r in breakdown(frame, by=["team"]).rows}
    assert rows["S"].test == "Fisher's exact test"
    assert rows["S"].p_value == pytest.approx(stats.fisher_exact([[4, 2], [6, 54]]).pvalue, rel=1e-9)
    assert holm([0.01, None, 0.04, 0.03]) == pytest.approx([0.03, None, 0.06, 0.06])


def test_event_groups_use_the_conditional_rate_test():
    result = breakdown(churn_team(), by=["dept"], period_start="2024-01-01", period_end="2024-12-31")
    rows = {r.label: r for r in result.rows}
    churn, stable = rows["Churn"], rows["Stable"]
    # Stable: 40 on the books until its leavers go (39.25 average month-end headcount by hand below), 4 leavers
    month_ends = pd.date_range("2024-01-31", "2024-12-31", freq="ME")
    leave_dates = [pd.Timestamp(f"2024-{m:02d}-28") for m in (3, 6, 9, 12)]
    stable_heads = sum(36 + sum(1 for d in leave_dates if d >= day) for day in month_ends) / 12
    assert stable.headcount == pytest.approx(stable_heads, abs=0.01) and stable.leavers == 4
    expected = stats.binomtest(12, 16, 6 / (6 + stable_heads)).pvalue
    assert churn.p_value == pytest.approx(expected, rel=1e-9)
    assert churn.p_holm == pytest.approx(min(1, 2 * min(churn.p_value, stable.p_value)), rel=1e-9)
    assert churn.test == "exact conditional test of two Poisson rates"
    assert "exact conditional test" in result.definition.significance


# -- item 11: annualised rates in the text table


def three_year_rd() -> pd.DataFrame:
    """R&D: 50 positions over 2022-2024; 36 people leave (one a month) and are replaced the next day."""
    rows = [{"department": "R&D", "hire_date": "2018-01-01", "termination_date": ""} for _ in range(14)]
    start = dt.date(2022, 1, 15)
    for month in range(36):
        leave = dt.date(start.year + (start.month - 1 + month) // 12, (start.month - 1 + month) % 12 + 1, 15)
        rows.append({"department": "R&D", "hire_date": "2018-01-01" if month < 36 else "",
                     "termination_date": leave.isoformat()})
    for month in range(36):  # their replacements, hired the next day and still there
        hired = dt.date(2022 + month // 12, month % 12 + 1, 16)
        rows.append({"department": "R&D", "hire_date": hired.isoformat(), "termination_date": ""})
    rows += [{"department": "Ops", "hire_date": "2018-01-01", "termination_date": ""} for _ in range(30)]
    rows += [{"department": "Ops", "hire_date": "2018-01-01", "termination_date": "2023-06-30"} for _ in range(6)]
    return pd.DataFrame(rows)


def test_multi_year_text_shows_the_annualised_rate():
    result = breakdown(three_year_rd(), by=["department"], period_start="2022-01-01", period_end="2024-12-31")
    assert result.definition.months == 36
    rd = next(r for r in result.rows if r.label == "R&D")
    assert rd.leavers == 36
    assert rd.annualised_rate == pytest.approx(rd.rate * 12 / 36)
    text = breakdown_markdown(result)
    header = next(line for line in text.splitlines() if line.startswith("| group"))
    assert "rate (36 mo)" in header and "annualised" in header
    row = next(line for line in text.splitlines() if line.startswith("| R&D"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == f"{rd.rate * 100:.1f}%" and cells[4] == f"{rd.rate * 100 / 3:.1f}%"
    assert cells[5] == f"{rd.annualised_ci_low * 100:.1f}%–{rd.annualised_ci_high * 100:.1f}%"
    assert f"annualised **{result.overall.annualised_rate * 100:.1f}%**" in text


# -- item 6: one separation table for every language


SEPARATIONS = {  # value -> class the table must give (and its English twin)
    "主动离职": "voluntary", "退休": "voluntary", "本人不续签": "voluntary", "家庭原因": "voluntary",
    "协商解除": "involuntary", "试用期辞退": "involuntary", "辞退": "involuntary", "试用期不合格": "involuntary",
    "合同到期": "other", "死亡": "other",
}
ENGLISH = {"主动离职": "Resigned", "退休": "Retired", "本人不续签": "Declined renewal (voluntary)",
           "家庭原因": "Resigned - family", "协商解除": "Mutual agreement", "试用期辞退": "Failed probation",
           "辞退": "Dismissed", "试用期不合格": "Failed probation", "合同到期": "Contract expired", "死亡": "Deceased"}


def separations_file(language: str) -> pd.DataFrame:
    rows = []
    for value in [*SEPARATIONS, "待定"]:  # 待定 ("to be decided") is in no class
        for i in range(5):
            shown = value if language == "zh" or value == "待定" else ENGLISH[value]
            rows.append({"部门" if language == "zh" else "department": "A",
                         "入职日期" if language == "zh" else "hire_date": "2020-01-01",
                         "离职日期" if language == "zh" else "termination_date": f"2024-0{1 + i}-15",
                         "离职类型" if language == "zh" else "termination_type": shown})
    for _ in range(40):
        rows.append({k: ("A" if "部门" in k or k == "department" else "2020-01-01" if "入职" in k or k == "hire_date"
                         else "") for k in rows[0]})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_one_classification_for_every_language(language):
    frame = separations_file(language)
    period = {"period_start": "2024-01-01", "period_end": "2024-12-31"}
    expected = {kind: 5 * sum(1 for c in SEPARATIONS.values() if c == kind) for kind in ("voluntary", "involuntary")}
    ds = make_dataset(frame)
    for kind in ("voluntary", "involuntary"):
        result = turnover_breakdown(ds, policy=policy(), separation_type=kind, **period)
        assert result.overall.leavers == expected[kind], (language, kind)
    everyone = turnover_breakdown(ds, policy=policy(), **period)
    assert everyone.overall.leavers == 55
    assert everyone.definition.unclassified_separations == ["待定"]
    assert "协商解除" in everyone.definition.separation_classes and "retire" in everyone.definition.separation_classes
    text = breakdown_markdown(everyone)
    assert "Leaver types: every termination type is voluntary, involuntary or other" in text
    assert "'待定'" in text


# -- item 14: Chinese text


@pytest.mark.anyio
async def test_chinese_text_through_the_client(client, data_dir: Path, settings: Settings):
    churn_team().to_csv(data_dir / "team.csv", index=False)
    arguments = {"path": "team.csv", "by": ["dept"], "period_start": "2024-01-01", "period_end": "2024-06-30"}
    zh = await client.call_tool("turnover_breakdown", {**arguments, "language": "zh"})
    assert not zh.is_error, zh.content[0].text
    text = zh.content[0].text
    for words in ("离职率", "组别", "年化离职率", "95% 置信区间", "与其余人员差距", "显著", "精确泊松", "Holm"):
        assert words in text, words
    assert "headcount" not in text and "significant" not in text
    en = await client.call_tool("turnover_breakdown", arguments)
    assert "| group |" in en.content[0].text
    # same numbers, other words (the name of the test behind each p-value is written in the caller's language)
    numbers = [{k: v for k, v in row.items() if k != "test"} for row in zh.structured_content["rows"]]
    assert numbers == [{k: v for k, v in row.items() if k != "test"} for row in en.structured_content["rows"]]


@pytest.mark.anyio
async def test_conventions_are_stated_in_the_metric_dictionary(client):
    import json as json_module

    from retention_mcp.analysis import drivers, scorecard
    from retention_mcp.data import dimensions

    metrics = json_module.loads((await client.read_resource("retention://metrics")).contents[0].text)["metrics"]
    by_id = {m["id"]: m for m in metrics}
    for wanted in ("poisson_interval", "gap_to_rest_and_significance", "retention_life_table", "driver_coverage",
                   "agent_scorecard", "schedule_fairness_gini", "icc_interval", "file_requirements",
                   "protected_attributes"):
        assert wanted in by_id and by_id[wanted].get("source"), wanted
    # the numbers the code uses are the numbers the dictionary states
    assert by_id["driver_coverage"]["thresholds"] == {"coverage": drivers.COVERAGE_THRESHOLD,
                                                      "uneven_spread": drivers.COVERAGE_SPREAD}
    assert by_id["tenure_band"]["bands_whole_years"] == list(dimensions.TENURE_YEAR_LABELS)
    assert by_id["tenure_band"]["bands"] == list(dimensions.TENURE_BAND_LABELS)
    assert "Holm" in by_id["gap_to_rest_and_significance"]["formula"] and scorecard.ALPHA == 0.05
    assert "hires at least 90 days before the as-of date" in by_id["early_attrition_rate"]["formula"]
    assert "3.689" in by_id["poisson_interval"]["formula"]


@pytest.mark.anyio
async def test_the_server_language_is_the_default(tmp_path: Path, data_dir: Path):
    from mcp import Client

    from retention_mcp.server import build_server

    churn_team().to_csv(data_dir / "team.csv", index=False)
    chinese = Settings(data_dirs=(data_dir,), output_dir=tmp_path / "out", log_level="WARNING", language="zh")
    async with Client(build_server(chinese), raise_exceptions=True) as client:
        breakdown_zh = await client.call_tool("turnover_breakdown", {"path": "team.csv", "by": ["dept"]})
        curve_zh = await client.call_tool("retention_curve", {"path": "team.csv", "by": ["dept"]})
        english = await client.call_tool("turnover_breakdown", {"path": "team.csv", "by": ["dept"], "language": "en"})
    assert "| 组别 |" in breakdown_zh.content[0].text and "离职率" in breakdown_zh.content[0].text
    assert "留存率" in curve_zh.content[0].text and "入职 90 天流失率" in curve_zh.content[0].text
    assert "| group |" in english.content[0].text
