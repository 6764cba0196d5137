"""The pieces the living plan stands on, each against a hand calculation:

- verification: a number beside a citation matches a figure as displayed (rounded to the digits written, in the
  way that kind of number is written), a named citation narrows it, a mismatch names the closest figure;
- periods: held and rolled arguments, a window keeping its length (whole months or days);
- lineage in the store, on SQLite and PostgreSQL: parents and children recorded with the evidence in one
  transaction, an unknown parent refused, the ancestry of a result walked to the data.
"""

from __future__ import annotations

import datetime as dt

import pytest

from retention_mcp.errors import InputError
from retention_mcp.workspace.figures import Figure, display
from retention_mcp.workspace.periods import default_arguments, held_arguments, holdable, rolled_arguments
from retention_mcp.workspace.store import Workspace
from retention_mcp.workspace.verify import check_text, mark_text
from workspace_support import database_url, postgres_server  # noqa: F401 (fixtures)

TURNOVER = [Figure("ev-aaaaaa", "overall_rate", 0.138421, "fraction"),
            Figure("ev-aaaaaa", "rate[研发部]", 0.17834, "fraction"),
            Figure("ev-aaaaaa", "rate[客服部]", 0.2411, "fraction"),
            Figure("ev-aaaaaa", "overall_leavers", 35, "count")]
ROI = [Figure("ev-bbbbbb", "roi", 1.93912, "fraction"), Figure("ev-bbbbbb", "benefit_cost_ratio", 2.93912, "ratio"),
       Figure("ev-bbbbbb", "net_benefit", 1_835_120.4, "money"), Figure("ev-bbbbbb", "payback_month", 7, "months"),
       Figure("ev-bbbbbb", "avoided_leavers_low", -1.3, "count"), Figure("ev-bbbbbb", "avoided_leavers_high", 9.34,
                                                                         "count")]
KPI = [Figure("ev-cccccc", "baseline[fcr]", 65.0, "percent"), Figure("ev-cccccc", "target[fcr]", 75.0, "percent")]
FIGURES = {"ev-aaaaaa": TURNOVER, "ev-bbbbbb": ROI, "ev-cccccc": KPI}


def numbers(markdown: str) -> list[tuple[str, bool, str | None]]:
    return [(n.text, n.verified, n.figure.name if n.figure else None) for c in check_text(markdown, FIGURES)
            for n in c.numbers]


@pytest.mark.parametrize(("written", "figure"), [
    ("13.8%", "overall_rate"), ("14%", "overall_rate"), ("13.84%", "overall_rate"), ("0.138", "overall_rate"),
    ("17.8%", "rate[研发部]"), ("18%", "rate[研发部]"), ("24.1%", "rate[客服部]"), ("35 人", "overall_leavers"),
])
def test_a_rate_or_count_matches_as_displayed(written: str, figure: str) -> None:
    assert numbers(f"离职情况 {written} [ev-aaaaaa]。") == [(written.split(" ")[0], True, figure)]


@pytest.mark.parametrize(("written", "figure"), [
    ("193.9%", "roi"), ("194%", "roi"), ("2.94 倍", "benefit_cost_ratio"), ("2.9×", "benefit_cost_ratio"),
    ("183.5 万", "net_benefit"), ("1,835,120", "net_benefit"), ("¥1,835,120", "net_benefit"), ("1.84M", "net_benefit"),
    ("-1.3", "avoided_leavers_low"), ("9.3", "avoided_leavers_high"),
])
def test_money_multiples_and_intervals_match_as_written(written: str, figure: str) -> None:
    (found,) = numbers(f"测算 {written} [ev-bbbbbb]。")
    assert found[1:] == (True, figure), found


@pytest.mark.parametrize("written", ["13.9%", "13%", "0.15", "36 人", "2.95 倍", "183.6 万", "9.4"])
def test_a_number_matching_no_figure_is_flagged_with_the_closest(written: str) -> None:
    markdown = f"测算 {written} [ev-aaaaaa][ev-bbbbbb]。"
    (check,) = check_text(markdown, FIGURES)
    (number,) = check.numbers
    assert not number.verified and number.flagged
    assert number.figure is not None  # the closest one, shown as the tool shows it
    assert number.shown == display(number.figure)


def test_a_number_without_a_sign_matches_a_figure_of_either_sign() -> None:
    assert numbers("区间下限减少 1.3 人 [ev-bbbbbb]。") == [("1.3", True, "avoided_leavers_low")]
    assert numbers("区间 +1.3 [ev-bbbbbb]。")[0][1] is False  # written with a sign, the sign counts


def test_a_named_citation_narrows_the_figures_and_a_kpi_in_points_reads_as_percent() -> None:
    # 24.1% is 客服部's rate: cited as 研发部's it is flagged, and the closest of 研发部's figures is named.
    (check,) = check_text("研发部离职率 24.1% [ev-aaaaaa 研发部]。", FIGURES)
    assert not check.numbers[0].verified and check.numbers[0].figure.name == "rate[研发部]"
    (check,) = check_text("首次解决率从 65% 提升到 75% [ev-cccccc fcr]。", FIGURES)
    assert [(n.verified, n.figure.name) for n in check.numbers] == [(True, "baseline[fcr]"), (True, "target[fcr]")]


def test_assumptions_are_never_flagged_and_marks_go_after_each_number() -> None:
    markdown = ("整体 13.8% [ev-aaaaaa]，假设行业平均 12% [ev-aaaaaa]。\n\n"
                "| 部门 | 离职率 |\n|---|---|\n| 研发部 | 17.8% [ev-aaaaaa] |")
    checks = check_text(markdown, FIGURES)
    assert [n.flagged for c in checks for n in c.numbers] == [False, False, False]
    assert mark_text(markdown, checks) == markdown.replace("13.8%", "13.8%✓").replace("17.8%", "17.8%✓")
    wrong = "整体 13.9% [ev-aaaaaa]。"
    assert mark_text(wrong, check_text(wrong, FIGURES)) == "整体 13.9%⚠ [ev-aaaaaa]。"


def test_periods_are_held_and_rolled_keeping_their_length() -> None:
    arguments = {"path": "hr.csv", "period_start": None, "period_end": None}
    year = {"kind": "period", "start": "2024-01-01", "end": "2024-12-31", "months": 12.0}
    assert holdable(arguments, year) and not holdable({"path": "hr.csv"}, year)
    assert held_arguments(arguments, year) == {"path": "hr.csv", "period_start": "2024-01-01",
                                               "period_end": "2024-12-31"}
    # 12 whole months ending 2025-03-31 start on 2024-04-01; six months ending 2025-02-28 start on 2024-09-01
    assert rolled_arguments(arguments, year, "2025-03-31")["period_start"] == "2024-04-01"
    half = {"kind": "period", "start": "2024-07-01", "end": "2024-12-31", "months": 6.0}
    assert rolled_arguments(arguments, half, "2025-02-28")["period_start"] == "2024-09-01"
    spring = {"kind": "period", "start": "2024-04-01", "end": "2024-09-30", "months": 6.0}  # months of 30 and 31 days
    assert rolled_arguments(arguments, spring, "2025-03-31")["period_start"] == "2024-10-01"
    assert rolled_arguments(arguments, year, "2025-03-15")["period_start"] == "2024-03-16"  # not a month end
    # 45 days (not whole months) stay 45 days: 2025-03-31 − 44 days
    odd = {"kind": "period", "start": "2024-11-17", "end": "2024-12-31", "months": 1.5}
    expected = (dt.date(2025, 3, 31) - (dt.date(2024, 12, 31) - dt.date(2024, 11, 17))).isoformat()
    assert rolled_arguments(arguments, odd, "2025-03-31")["period_start"] == expected
    follow = {"kind": "as_of", "end": "2024-12-27"}
    assert held_arguments({"as_of": None}, follow) == {"as_of": "2024-12-27"}
    assert default_arguments({"as_of": "2024-12-27", "path": "x"}) == {"as_of": None, "path": "x"}
    # forecast_leavers forecasts from its forecast_date: held and rolled the same way
    assert held_arguments({"forecast_date": None}, follow) == {"forecast_date": "2024-12-27"}
    assert rolled_arguments({"forecast_date": None}, follow, "2025-03-31") == {"forecast_date": "2025-03-31"}


def test_lineage_is_stored_with_the_evidence_on_both_databases(database_url: str) -> None:  # noqa: F811
    store = Workspace(database_url)
    data = store.record_evidence("turnover_breakdown", {"path": "hr.csv"}, [], "", {"overall_rate": 0.2}, "a",
                                 period={"kind": "period", "start": "2024-01-01", "end": "2024-12-31"},
                                 units={"overall_rate": "fraction"})
    impact = store.record_evidence("estimate_impact", {"path": "hr.csv"}, [], "", {"avoided_leavers": 3.0}, "a",
                                   parents=[(data, "path")])
    roi = store.record_evidence("calculate_roi", {"impact_evidence_id": impact}, [], "", {"roi": 1.2}, "a",
                                parents=[(impact, "impact_evidence_id"), (impact.upper(), "impact_evidence_id")])
    kpis = store.record_evidence("build_kpis", {"baselines_from": [data, impact]}, [], "", {}, "a",
                                 parents=[(data, "baselines_from"), (impact, "baselines_from")])
    records = store.get_evidence_many([data, impact, roi, kpis])
    assert records[data].period["end"] == "2024-12-31" and records[data].units == {"overall_rate": "fraction"}
    assert [(link.parent, link.argument) for link in records[roi].parents] == [(impact, "impact_evidence_id")]
    assert sorted(link.child for link in records[impact].children) == sorted([roi, kpis])
    assert sorted(link.child for link in records[data].children) == sorted([impact, kpis])
    assert set(store.ancestry([roi])) == {roi, impact, data}
    with pytest.raises(InputError, match="ev-000000"):
        store.record_evidence("calculate_roi", {}, [], "", {}, "a", parents=[("ev-000000", "impact_evidence_id")])
    store.attach_chart_file(roi, 0, "calculate_roi-x.png")  # no chart spec 0: nothing to attach to
    assert store.get_evidence(roi).charts == []
