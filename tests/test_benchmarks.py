"""compare_benchmarks: for a given company rate, the figures chosen per group of the research catalog, the
conversion applied (× 12 for JOLTS), the warnings; a conflicting figure never shown; the shipped catalog equal to
the research file it came from; a turnover_breakdown evidence id as the input over MCP."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, catalog
from retention_mcp.analysis.benchmarks import compare, parse_benchmarks
from retention_mcp.errors import InputError

RESEARCH = REPO_ROOT.parent / "shared" / "research" / "benchmarks.yaml"


@pytest.fixture(scope="module")
def bench():
    return parse_benchmarks(catalog("benchmarks.yaml"))


def ids(result):
    return [c.id for c in result.comparisons]


def test_us_jolts_quits_are_annualised_times_twelve_and_never_called_official(bench):
    result = compare(bench, rate=0.30, measure="voluntary", region="US", industry="retail", year=2025)
    first = result.comparisons[0]
    assert first.id == "jolts_qu_2025_retail_trade"
    assert first.published_value == 0.026 and first.annual_value == pytest.approx(0.026 * 12)
    assert "2.6% × 12 = 31.2%" in first.conversion
    assert first.difference_pp == pytest.approx((0.30 - 0.312) * 100)
    assert "NOT read from the official source" in first.verification_text  # a secondary transcription says so
    assert any("counts jobs, not people" in w for w in first.warnings)
    # a voluntary rate is never set beside total separations or layoffs
    kinds = {c.id.split("_")[1] for c in result.comparisons if c.id.startswith("jolts")}
    assert kinds == {"qu"}


def test_china_software_rate_gets_china_figures_with_the_survey_warning(bench):
    result = compare(bench, rate=0.297, region="中国", industry="软件", year=2025, language="zh")
    assert ids(result)[:2] == ["cn_51job_overall_2025", "cn_51job_overall_2024"]
    assert all(c.annual_value == c.published_value for c in result.comparisons if c.id.startswith("cn_"))
    first = result.comparisons[0]
    assert "全行业数据，非本行业" in first.warnings
    assert any("样本、加权方法和分母均未公开" in w for w in first.warnings)
    assert "14.9 个百分点" in result.verdict  # 29.7% − 14.8%
    dated = next(c for c in result.comparisons if c.id == "cn_aon_internet_2016")
    assert any("早 9 年" in w for w in dated.warnings)


def test_conflicting_figure_is_never_shown(bench):
    for year in (2024, 2025, 2026):
        for measure in ("all", "voluntary", "involuntary"):
            result = compare(bench, rate=0.15, measure=measure, region="China", industry="物流", year=year,
                             limit=12)
            assert "cn_51job_transport_logistics_2025" not in ids(result)
    result = compare(bench, rate=0.15, region="China", industry="logistics", year=2025)
    assert ids(result)[0] == "cn_51job_transport_logistics_2024"
    assert "conflicting: 1" in result.left_out


def test_contact_centre_rate_is_set_beside_contact_centres_abroad_with_the_range_warning(bench):
    result = compare(bench, rate=0.38, region="China", industry="客服", year=2025)
    assert ids(result)[0] == "cc_sqm_agent_turnover_2022"  # same industry, another region, said so
    first = result.comparisons[0]
    assert first.annual_value == 0.38 and first.difference_pp == pytest.approx(0.0)
    assert any("North America" in w and "China" in w for w in first.warnings)
    assert any("20% to over 200%" in w for w in first.warnings)
    medians = [c for c in result.comparisons if "median" in c.label]
    assert medians and all("a median, not a mean" in c.warnings for c in medians)


def test_early_attrition_only_when_asked_and_with_its_caveat(bench):
    result = compare(bench, rate=0.35, measure="early")
    assert set(ids(result)) == {"early_jobvite_90day_2018", "early_workinstitute_first_year"}
    assert all(any("not cohort rates" in w for w in c.warnings) for c in result.comparisons)
    assert "a lower bound, not an estimate" in result.comparisons[1].warnings
    plain = compare(bench, rate=0.35, region="US", year=2025, limit=12)
    assert not any(i.startswith("early_") for i in ids(plain))


def test_other_surveys_voluntary_and_the_ambiguous_mercer_figure(bench):
    result = compare(bench, rate=0.13, measure="voluntary", region="US", year=2025, limit=12)
    assert "mercer_us_voluntary_2025" in ids(result)
    mercer = next(c for c in result.comparisons if c.id == "mercer_us_voluntary_2025")
    assert mercer.annual_value == 0.13 and "third-party copy" in mercer.verification_text
    raw = catalog("benchmarks.yaml")
    mercer_only = parse_benchmarks(dict(raw, figures=[f for f in raw["figures"] if f["id"].startswith("mercer_us")]))
    ambiguous = compare(mercer_only, rate=0.17, measure="all", region="US", year=2023, limit=12)
    assert ids(ambiguous)[0] == "mercer_us_total_2022"  # a clear 'all' figure ranks before the ambiguous one
    unclear = [c for c in ambiguous.comparisons if c.id == "mercer_us_2023"]
    assert unclear and "the source is ambiguous about what it measures" in unclear[0].warnings


def test_shipped_catalog_keeps_every_research_field():
    if not RESEARCH.is_file():
        pytest.skip(f"{RESEARCH} is not here (research material lives beside the repository)")
    research = yaml.safe_load(RESEARCH.read_text(encoding="utf-8"))
    shipped = {f["id"]: f for f in catalog("benchmarks.yaml")["figures"]}
    assert len(shipped) == len(research) == 101
    for entry in research:
        for key, value in entry.items():
            assert shipped[entry["id"]][key] == value, (entry["id"], key)


def test_an_entry_without_a_source_is_refused(tmp_path: Path):
    raw = catalog("benchmarks.yaml")
    broken = dict(raw, figures=[dict(raw["figures"][0], source=""), *raw["figures"][1:]])
    with pytest.raises(InputError, match=r"jolts_ts_2025_all_industries\.source"):
        parse_benchmarks(broken)
    missing = dict(raw, figures=[{k: v for k, v in raw["figures"][3].items() if k != "url"}])
    with pytest.raises(InputError, match="url"):
        parse_benchmarks(missing)


@pytest.mark.anyio
async def test_breakdown_evidence_to_benchmarks_over_mcp(client, data_dir):
    from retention_mcp.sample_data import write_sample_company

    write_sample_company(data_dir)
    breakdown = await client.call_tool("turnover_breakdown", {"path": "sample_company.csv", "by": ["department"],
                                                              "separation_type": "voluntary"})
    assert not breakdown.is_error, breakdown.content[0].text
    data = breakdown.structured_content
    rnd = next(r for r in data["rows"] if r["label"] == "R&D")
    result = await client.call_tool("compare_benchmarks", {"evidence_id": data["evidence_id"], "group": "R&D",
                                                           "region": "US", "industry": "software"})
    assert not result.is_error, result.content[0].text
    out = result.structured_content
    assert out["company"]["rate"] == pytest.approx(rnd["rate"]) and out["company"]["measure"] == "voluntary"
    assert out["company"]["year"] == int(data["definition"]["period_end"][:4])
    assert all(c["id"].startswith(("jolts_qu", "mercer", "aon_us_vol", "cn_aon_vol")) for c in out["comparisons"])
    refused = await client.call_tool("compare_benchmarks", {"rate": "20%", "evidence_id": data["evidence_id"]})
    assert refused.is_error and "exactly one" in refused.content[0].text
