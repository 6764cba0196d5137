"""Issue 22 item 2: one vocabulary of derived labels. Each has one definition, every tool uses the same edges for
the same file, and a label one tool prints (in English or Chinese) is accepted by every other."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import policy, shared_dataset
from retention_mcp.analysis.impact import estimate_impact
from retention_mcp.analysis.profile import describe_groups
from retention_mcp.analysis.survival import retention_curve
from retention_mcp.analysis.turnover import turnover_breakdown
from retention_mcp.data.dataset import load_dataset
from retention_mcp.data.dimensions import parse_where
from retention_mcp.data.vocabulary import fold, parse_period
from retention_mcp.sample_data import write_sample_company
from retention_mcp.settings import Settings
from retention_mcp.wording import words

ZH = words("zh")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("sample")
    files = write_sample_company(folder)
    return Settings(data_dirs=(folder,), output_dir=folder / "out", log_level="WARNING"), files


def test_whole_year_tenure_gets_the_same_bands_in_every_tool(shared_settings: Settings):
    """IBM's YearsAtCompany (completed years): describe_groups, turnover_breakdown and estimate_impact band it the
    same way — the month bands' edges at 1, 3 and 5 years — checked against pandas.cut."""
    raw = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"), encoding="utf-8-sig")
    ds = load_dataset(shared_settings, path="ibm_hr_attrition.csv")
    band = pd.cut(raw["YearsAtCompany"], [-1, 0, 2, 4, 1_000],
                  labels=["<1 year", "1-3 years", "3-5 years", ">5 years"])
    people = band.value_counts().to_dict()
    left = raw[raw["Attrition"] == "Yes"].groupby(band[raw["Attrition"] == "Yes"], observed=True).size().to_dict()
    breakdown = turnover_breakdown(ds, by=["tenure_band"], policy=policy())
    profile = describe_groups(ds, by=["tenure_band"], columns=["MonthlyIncome"], policy=policy())
    assert {r.label: r.headcount for r in breakdown.rows} == people
    assert {r.label: r.leavers for r in breakdown.rows} == left
    assert {g.label: g.count for g in profile.groups} == people  # 3 years is "3-5 years" in both, as pandas says
    for label in ("<1 year", "不满1年", "< 1 year"):
        impact = estimate_impact(ds, segment={"tenure_band": label}, reference={"tenure_band": "1–3年"},
                                 policy=policy())
        assert (impact.segment.headcount, impact.segment.leavers) == (people["<1 year"], left["<1 year"])
        assert (impact.reference.headcount, impact.reference.leavers) == (people["1-3 years"], left["1-3 years"])
    chinese = turnover_breakdown(ds, by=["司龄段"], policy=policy(), w=ZH)
    assert {r.label for r in chinese.rows} == {"不满1年", "1–3年", "3–5年", "5年以上"}
    assert [r.rate for r in chinese.rows] == [r.rate for r in breakdown.rows]


def test_every_printed_tenure_band_is_accepted_back(sample):
    """Whatever a breakdown prints for a band, in either language, estimate_impact takes as a segment."""
    settings, files = sample
    ds = load_dataset(settings, path=files["en"].name)
    for w in (words("en"), ZH):
        rows = turnover_breakdown(ds, by=["tenure_band"], policy=policy(), w=w).rows
        printed = [r.group["tenure_band"] for r in rows if not r.suppressed][:3]
        for label in printed:
            impact = estimate_impact(ds, segment={"tenure_band": label}, reduction=0.3, policy=policy(), w=w)
            row = next(r for r in rows if r.group["tenure_band"] == label)
            assert impact.segment.headcount == row.headcount and impact.segment.leavers == row.leavers


def test_hire_cohorts_by_year_and_quarter(sample):
    """hire_year / hire_quarter: pandas' year and quarter of the hire date; labels accepted in both languages."""
    settings, files = sample
    ds = load_dataset(settings, path=files["zh"].name)
    raw = pd.read_csv(files["en"])
    hire = pd.to_datetime(raw["hire_date"])
    curves = retention_curve(ds, by=["hire_year"], policy=policy(floor=1))
    assert {g.label: g.people for g in curves.groups} == {str(y): n for y, n in hire.dt.year.value_counts().items()}
    zh_curves = retention_curve(ds, by=["入职年份"], policy=policy(floor=1), w=ZH)
    assert {g.label for g in zh_curves.groups} == {f"{y}年" for y in hire.dt.year.unique()}
    quarters = hire.dt.year.astype(str) + "-Q" + hire.dt.quarter.astype(str)
    for value in ("2023-Q2", "2023年第2季度", "Q2 2023", "2023年第二季度"):
        scope = parse_where(ds, {"hire_quarter": value}, policy())
        assert int(scope.rows.sum()) == int((quarters == "2023-Q2").sum())
    assert int(parse_where(ds, {"入职年份": "2023年"}, policy(), ZH).rows.sum()) == int((hire.dt.year == 2023).sum())


def test_separation_kinds_and_likert_boxes_in_where(sample):
    """A `where` on the termination-type column takes a separation kind in either language; on a Likert item, a
    box (favourable = the top box, 4-5 on a 1-5 scale). Counts by pandas on the English twin."""
    settings, files = sample
    ds = load_dataset(settings, path=files["zh"].name)
    raw = pd.read_csv(files["en"])
    for value in ("voluntary", "主动离职", "Voluntary"):
        scope = parse_where(ds, {"离职类型": value}, policy())
        assert int(scope.rows.sum()) == int((raw["termination_type"] == "voluntary").sum())
    for value, expected in (("favourable", raw["workload"] >= 4), ("好评", raw["workload"] >= 4),
                            ("unfavourable", raw["workload"] <= 2), ("中立", raw["workload"] == 3)):
        assert int(parse_where(ds, {"工作负荷": value}, policy()).rows.sum()) == int(expected.sum()), value
    voluntary = turnover_breakdown(ds, separation_type="voluntary", policy=policy())
    chinese = turnover_breakdown(ds, separation_type="主动离职", policy=policy(), w=ZH)
    assert chinese.overall.rate == voluntary.overall.rate and chinese.definition.separation_type == "voluntary"


def test_labels_compare_across_spellings():
    assert fold("≤3个月") == fold("<= 3个月") and fold("1–3年") == fold("1-3年") == fold("1至3年")
    assert fold("ＡＢ") == fold("ab")
    assert parse_period("2024-03-05") is None and parse_period("2024年3月").code == "2024-03"
    assert parse_period("2024年下半年").code == "2024-H2" and parse_period("H1 2024").code == "2024-H1"
