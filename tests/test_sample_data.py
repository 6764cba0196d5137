"""The sample company: deterministic, realistic, and its GBK Chinese twin gives the same numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retention_mcp.sample_data import write_sample_company


def test_deterministic_and_realistic(tmp_path: Path):
    first = write_sample_company(tmp_path / "a")
    second = write_sample_company(tmp_path / "b")
    assert first["en"].read_bytes() == second["en"].read_bytes()
    assert first["zh"].read_bytes() == second["zh"].read_bytes()
    raw = pd.read_csv(first["en"], parse_dates=["hire_date", "termination_date"])
    assert 1_400 <= len(raw) <= 1_600
    assert set(raw["department"]) == {"R&D", "Sales", "Customer Service"}
    assert set(raw.loc[raw["department"] != "Customer Service", "shift"]) == {"day"}
    assert set(raw.loc[raw["department"] == "Customer Service", "shift"]) == {"day", "evening", "night"}
    assert raw["termination_date"].max() <= pd.Timestamp("2024-12-31")
    assert (raw["termination_date"].dropna() >= raw.loc[raw["termination_date"].notna(), "hire_date"]).all()
    assert set(raw["termination_type"].dropna()) == {"voluntary", "involuntary"}
    for item in ("workload", "manager_support", "growth", "pay_fairness"):
        assert raw[item].between(1, 5).all()
    assert raw["recommend"].between(0, 10).all()
    # the survey really relates to leaving
    left = raw["termination_date"].notna()
    assert raw.loc[left, "recommend"].mean() < raw.loc[~left, "recommend"].mean() - 0.5
    assert raw.loc[left, "manager_support"].mean() < raw.loc[~left, "manager_support"].mean()


def test_chinese_twin_is_gbk_with_chinese_headers_and_mixed_dates(tmp_path: Path):
    paths = write_sample_company(tmp_path)
    raw = paths["zh"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    header = text.splitlines()[0]
    for name in ("部门", "入职日期", "离职日期", "离职类型", "班次", "岗位"):
        assert name in header
    assert "主动离职" in text and "被动离职" in text and "夜班" in text
    assert "年" in text and "/" in text and "-" in text  # mixed date formats


@pytest.mark.anyio
async def test_chinese_twin_gives_the_same_numbers(client, data_dir: Path):
    write_sample_company(data_dir)
    zh_dept = {"研发": "R&D", "销售": "Sales", "客服": "Customer Service"}
    zh_shift = {"白班": "day", "中班": "evening", "夜班": "night"}
    for kind in ("all", "voluntary", "involuntary"):
        common = {"period_start": "2024-01-01", "period_end": "2024-12-31", "separation_type": kind}
        en = await client.call_tool("turnover_breakdown", {"path": "sample_company.csv",
                                                           "by": ["department", "shift"], **common})
        zh = await client.call_tool("turnover_breakdown", {"path": "sample_company_zh.csv",
                                                           "by": ["部门", "班次"], **common})
        assert not en.is_error and not zh.is_error, zh.content[0].text
        en_rows = {(r["group"]["department"], r["group"]["shift"]): r for r in en.structured_content["rows"]}
        zh_rows = {(zh_dept[r["group"]["部门"]], zh_shift[r["group"]["班次"]]): r
                   for r in zh.structured_content["rows"]}
        assert en_rows.keys() == zh_rows.keys()
        for key, row in en_rows.items():
            for field in ("headcount", "leavers", "rate", "ci_low", "ci_high", "suppressed"):
                assert zh_rows[key][field] == row[field], (kind, key, field)
        assert en.structured_content["overall"] == zh.structured_content["overall"]
    # and independently of the tool: 2024 leavers by department from the English file
    raw = pd.read_csv(data_dir / "sample_company.csv", parse_dates=["termination_date"])
    left = raw[raw["termination_date"].between("2024-01-01", "2024-12-31")].groupby("department").size()
    en = await client.call_tool("turnover_breakdown", {"path": "sample_company_zh.csv", "by": ["部门"],
                                                       "period_start": "2024-01-01", "period_end": "2024-12-31"})
    assert {zh_dept[r["label"]]: r["leavers"] for r in en.structured_content["rows"]} == left.to_dict()
    curve_en = await client.call_tool("retention_curve", {"path": "sample_company.csv", "by": ["department"]})
    curve_zh = await client.call_tool("retention_curve", {"path": "sample_company_zh.csv", "by": ["部门"]})
    assert curve_en.structured_content["logrank_chi2"] == pytest.approx(curve_zh.structured_content["logrank_chi2"])


@pytest.mark.anyio
async def test_regretted_and_tenure_band_on_the_sample(client, data_dir: Path):
    write_sample_company(data_dir)
    raw = pd.read_csv(data_dir / "sample_company.csv", parse_dates=["termination_date"])
    in_2024 = raw["termination_date"].between("2024-01-01", "2024-12-31")
    result = await client.call_tool("turnover_breakdown", {"path": "sample_company_zh.csv", "separation_type":
                                                           "regretted", "period_start": "2024-01-01",
                                                           "period_end": "2024-12-31", "by": ["tenure_band"]})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["overall"]["leavers"] == int((in_2024 & (raw["regretted"] == "Yes")).sum())
    labels = {r["label"] for r in result.structured_content["rows"]}
    assert labels <= {"<=3 months", "3-12 months", "1-3 years", "3-5 years", ">5 years"}
