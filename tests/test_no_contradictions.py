"""Issue 22 item 3: no figure contradicts another or means nothing. Each case the issue found, fixed, against an
independent calculation (pandas or by hand)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_dataset, policy
from retention_mcp.analysis.impact import estimate_impact, impact_markdown
from retention_mcp.analysis.profile import describe_groups
from retention_mcp.analysis.survival import curve_markdown, retention_curve
from retention_mcp.analysis.turnover import breakdown_markdown, turnover_breakdown
from retention_mcp.data.dataset import load_dataset
from retention_mcp.errors import InputError
from retention_mcp.sample_data import write_sample_company
from retention_mcp.settings import Settings
from retention_mcp.wording import words


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("sample")
    files = write_sample_company(folder)
    return Settings(data_dirs=(folder,), output_dir=folder / "out", log_level="WARNING"), files


def month_end_headcount(frame: pd.DataFrame, days: list[str]) -> pd.Series:
    """Average of the headcounts on ``days`` (hire <= day <= termination), per department, by pandas."""
    hire = pd.to_datetime(frame["hire_date"])
    term = pd.to_datetime(frame["termination_date"])
    counts = []
    for day in pd.to_datetime(days):
        on_books = (hire <= day) & (term.isna() | (term >= day))
        counts.append(frame[on_books].groupby("department").size())
    return pd.concat(counts, axis=1).fillna(0).mean(axis=1)


# -- a breakdown by a column that restates the outcome


def test_a_breakdown_by_the_termination_type_is_refused_naming_separation_type(sample):
    """辞退 342.9% / 主动离职 287.3% came from grouping by the exit type: every group is leavers. Refused, with the
    argument that answers the question; that argument's rate is the voluntary leavers ÷ average headcount."""
    settings, files = sample
    ds = load_dataset(settings, path=files["zh"].name)
    for language in ("en", "zh"):
        with pytest.raises(InputError, match="separation_type='voluntary'"):
            turnover_breakdown(ds, by=["离职类型"], policy=policy(), w=words(language))
    with pytest.raises(InputError, match="restates the outcome"):
        retention_curve(ds, by=["离职类型"], policy=policy())
    # what to use instead, checked by pandas on the English twin of the same people
    raw = pd.read_csv(files["en"])
    result = turnover_breakdown(ds, by=["部门"], separation_type="主动离职", policy=policy())
    d = result.definition
    heads = month_end_headcount(raw, d.headcount_days)
    term = pd.to_datetime(raw["termination_date"])
    left = raw[(term >= d.period_start) & (term <= d.period_end) & (raw["termination_type"] == "voluntary")]
    expected = left.groupby("department").size() / heads
    zh_names = {"R&D": "研发", "Sales": "销售", "Customer Service": "客服"}
    got = {r.label: r.rate for r in result.rows}
    assert got == pytest.approx({zh_names[k]: v for k, v in expected.items()}, rel=1e-12)


# -- an annualised table in one unit


def quarter_file() -> pd.DataFrame:
    """Two departments over 2024-Q1: A has 20 people from 2020 and 4 leave in February; B has 30 and 3 leave."""
    rows = [{"department": "A", "hire_date": "2020-01-01", "termination_date": "2024-02-10" if i < 4 else ""}
            for i in range(20)]
    rows += [{"department": "B", "hire_date": "2020-01-01", "termination_date": "2024-02-10" if i < 3 else ""}
             for i in range(30)]
    rows += [{"department": "B", "hire_date": "2023-06-01", "termination_date": ""} for _ in range(10)]
    return pd.DataFrame(rows).replace("", None)


def test_every_column_of_an_annualised_table_is_annualised():
    """3-month period: the rates were annualised but the gap column was the gap of the 3-month rates (+6.8 pp shown,
    27.3 pp meant). By hand: month-end headcounts 31 Jan, 29 Feb, 31 Mar."""
    ds = make_dataset(quarter_file())
    result = turnover_breakdown(ds, by=["department"], period_start="2024-01-01", period_end="2024-03-31",
                                policy=policy())
    assert result.definition.months == 3
    heads_a = (20 + 16 + 16) / 3  # 4 left on 10 Feb
    heads_b = (40 + 37 + 37) / 3
    rate_a, rate_b, overall = 4 / heads_a, 3 / heads_b, 7 / (heads_a + heads_b)
    row = next(r for r in result.rows if r.label == "A")
    assert row.annualised_gap_pp == pytest.approx((rate_a - overall) * 4 * 100)
    assert row.annualised_gap_to_rest_pp == pytest.approx((rate_a - rate_b) * 4 * 100)
    line = next(line for line in breakdown_markdown(result).splitlines() if line.startswith("| A |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[3] == f"{rate_a * 100:.1f}%" and cells[4] == f"{rate_a * 4 * 100:.1f}%"  # 3-month and annualised
    assert cells[6] == f"{(rate_a - overall) * 4 * 100:+.1f}"  # the gap in the table's unit (annual pp)
    assert cells[7] == f"{(rate_a - rate_b) * 4 * 100:+.1f}"
    assert "gap to overall (pp, annualised)" in breakdown_markdown(result)


# -- two early-attrition measures, each said to be what it is


def test_the_tenure_band_rate_and_the_90_day_attrition_of_hires_are_labelled_apart(sample):
    """"≤3个月 turnover 65.8%" sat beside "90-day early attrition 15.7%" with nothing saying they differ. Both are
    computed by pandas here, and each text says which measure it is and points at the other."""
    settings, files = sample
    ds = load_dataset(settings, path=files["en"].name)
    raw = pd.read_csv(files["en"])
    curve = retention_curve(ds, policy=policy())
    hire, term = pd.to_datetime(raw["hire_date"]), pd.to_datetime(raw["termination_date"])
    as_of = pd.Timestamp(curve.definition.as_of)
    cohort = hire <= as_of - pd.Timedelta(days=90)
    early = (term - hire).dt.days <= 90
    assert curve.overall.early_attrition == pytest.approx((cohort & early & term.notna()).sum() / cohort.sum())
    for language in ("en", "zh"):
        w = words(language)
        bands = turnover_breakdown(ds, by=["tenure_band"], policy=policy(), w=w)
        first = next(r for r in bands.rows if r.group["tenure_band"] == w("vocabulary.tenure.le_3_months"))
        assert first.rate > 2 * curve.overall.early_attrition  # different measures, far apart
        assert w("turnover.band_vs_early") in breakdown_markdown(bands)
        text = curve_markdown(retention_curve(ds, policy=policy(), w=w))
        assert w("retention.col_early") in text and w("retention.early_vs_band") in text
    assert "90-day attrition of hires" in curve_markdown(curve) and "early attrition |" not in curve_markdown(curve)


# -- a missing value is not a small group


def test_a_mean_tenure_is_not_hidden_because_a_few_hire_dates_are_missing():
    """A 311-person group lost its mean tenure because 3 rows lacked a hire date. Mean tenure (years from hire to
    termination or the latest date) by pandas, over the 308 with a date."""
    rng = np.random.default_rng(22)
    hires = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, 400), unit="D")
    frame = pd.DataFrame({"department": ["Ops"] * 311 + ["Sales"] * 89,
                          "hire_date": hires.strftime("%Y-%m-%d"),
                          "termination_date": [None] * 400})
    frame.loc[[5, 50, 150], "hire_date"] = None  # 3 of Ops's 311
    frame.loc[[7, 320], "termination_date"] = ["2024-05-01", "2024-06-01"]
    ds = make_dataset(frame)
    result = describe_groups(ds, by=["department"], policy=policy())
    ops = next(g for g in result.groups if g.label == "Ops")
    tenure = next(c for c in ops.columns if c.kind == "numeric")
    assert not tenure.suppressed and tenure.n == 308 and ops.count == 311
    as_of = pd.to_datetime(frame[["hire_date", "termination_date"]].stack()).max()
    end = pd.to_datetime(frame["termination_date"]).fillna(as_of).clip(upper=as_of)
    years = (end - pd.to_datetime(frame["hire_date"])).dt.days / 365.25
    assert tenure.mean == pytest.approx(years[frame["department"] == "Ops"].mean())


# -- no interval where nothing is uncertain


def test_a_stated_reduction_of_everyone_has_no_interval(sample):
    """"impact fraction 20.0% (95% CI 20.0%–20.0%)": when the segment is everyone in scope, the share of leavers
    avoided is the stated reduction itself — by hand, 0.2 exactly — and no interval is printed."""
    settings, files = sample
    ds = load_dataset(settings, path=files["en"].name)
    everyone = {"department": ["R&D", "Sales", "Customer Service"]}
    result = estimate_impact(ds, segment=everyone, reduction=0.2, policy=policy())
    assert result.impact_fraction == pytest.approx(0.2, abs=1e-12)
    assert result.impact_fraction_ci_low is None and result.impact_fraction_ci_high is None
    text = impact_markdown(result)
    line = next(line for line in text.splitlines() if "impact fraction" in line)
    assert "20.0%" in line and "CI" not in line
    part = estimate_impact(ds, segment={"department": "Sales"}, reduction=0.2, policy=policy())
    assert part.impact_fraction_ci_low < part.impact_fraction < part.impact_fraction_ci_high  # estimated: an interval


# -- one headcount computation


def test_estimate_impact_uses_turnover_breakdowns_own_headcounts(sample):
    """estimate_impact summed headcounts rounded to 2 decimals and differed from turnover_breakdown in the 5th
    digit. Now the same numbers, exactly, and both equal the pandas average of month-end headcounts."""
    settings, files = sample
    ds = load_dataset(settings, path=files["en"].name)
    raw = pd.read_csv(files["en"])
    breakdown = turnover_breakdown(ds, by=["department"], policy=policy())
    impact = estimate_impact(ds, segment={"department": "Customer Service"}, reference={"department": "R&D"},
                             policy=policy())
    row = next(r for r in breakdown.rows if r.label == "Customer Service")
    assert impact.segment.headcount == row.headcount and impact.segment.rate == row.rate  # exactly equal
    assert impact.population.headcount == breakdown.overall.headcount
    heads = month_end_headcount(raw, breakdown.definition.headcount_days)
    assert {r.label: r.headcount for r in breakdown.rows} == pytest.approx(heads.to_dict(), rel=1e-12)
    # averages over 12 month ends: some need more than 2 decimals, which the old rounding cut
    assert any(abs(h * 100 - round(h * 100)) > 1e-6 for h in heads)
    assert impact.population.rate == breakdown.overall.rate


# -- periods by name


def test_a_period_name_is_the_whole_period():
    ds = make_dataset(quarter_file())
    named = turnover_breakdown(ds, by=["department"], period_start="2024-Q1", policy=policy())
    dated = turnover_breakdown(ds, by=["department"], period_start="2024-01-01", period_end="2024-03-31",
                               policy=policy())
    chinese = turnover_breakdown(ds, by=["department"], period_end="2024年第一季度", policy=policy(), w=words("zh"))
    for result in (named, chinese):
        assert (result.definition.period_start, result.definition.period_end) == ("2024-01-01", "2024-03-31")
        assert [(r.label, r.rate) for r in result.rows] == [(r.label, r.rate) for r in dated.rows]
    assert named.definition.period_name == "2024-Q1" and chinese.definition.period_name == "2024年第1季度"
    assert re.search(r"2024年第1季度（2024-01-01 至 2024-03-31）", breakdown_markdown(chinese))
    assert dt.date.fromisoformat(dated.definition.period_end) == dt.date(2024, 3, 31)
