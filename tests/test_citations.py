"""Issue 22 item 4: a citation check people trust. Confidence levels, lists of days, dates, durations, years and
section numbers are not figures; real figures still are; a warning's count equals its list."""

from __future__ import annotations

import re

import pytest

from retention_mcp.workspace.citations import MAX_REPORTED, uncited_numbers

NOT_FIGURES = [
    "结果给出 95% 区间。", "95% 置信区间见附录。", "We report a 95% CI throughout.", "a 90% confidence band",
    "在 30/60/90 天回访。", "30、60、90 天各回访一次。", "check-ins at 30, 60 and 90 days", "a 90-day plan",
    "第 3.2 节说明口径。", "Section 4.1 explains it.", "§2 lists them.", "第 2 阶段开始试点。",
    "2024-03-05 起执行。", "自 2024年3月5日 起。", "2025—2026 年覆盖。", "为期 12 周。", "在 18 个月内完成。",
    "in 1.5 years", "FY 2026 plan",
]
FIGURES = [("离职率 95% 很高。", ["95%"]), ("95% CI 12.1%–14.2%", ["12.1%", "14.2%"]),
           ("a 95% confidence interval of 11% to 14%", ["11%", "14%"]), ("夜班离职 35 人。", ["35"]),
           ("预算 ¥120,000。", ["¥120,000"]), ("3 个团队共 45 人", ["45"])]


@pytest.mark.parametrize("text", NOT_FIGURES)
def test_not_figures(text: str):
    assert uncited_numbers(text) == []


@pytest.mark.parametrize(("text", "numbers"), FIGURES)
def test_figures_are_still_found(text: str, numbers: list[str]):
    assert [u.number for u in uncited_numbers(text)] == numbers


def test_the_warning_counts_what_it_lists():
    """One warning said 14 uncited numbers but listed 8: every counted number is now in the list."""
    from retention_mcp.endpoints.workspace import WriteResult, _write_text

    section = "\n".join(f"- 第{i}组离职 {10 + i} 人" for i in range(14))
    found = uncited_numbers(section)
    assert [u.number for u in found] == [str(10 + i) for i in range(14)]
    result = WriteResult(plan_id=1, version=2, section="现状分析", base_version=1, cited=[],
                         uncited_numbers=[{"number": u.number, "context": u.context} for u in found],
                         merged_changes=[])
    text = _write_text(result)
    count = int(re.search(r"(\d+) number\(s\) cite no evidence", text).group(1))
    assert count == 14 == sum(f"{10 + i} (" in text for i in range(14))
    many = "\n".join(f"- 组{i}：{100 + i} 人" for i in range(30))
    capped = uncited_numbers(many)
    assert len(capped) == MAX_REPORTED
    text = _write_text(result.model_copy(update={"uncited_numbers": [{"number": u.number, "context": u.context}
                                                                     for u in capped]}))
    assert f"at least {MAX_REPORTED} number(s)" in text


def test_times_of_day_are_not_figures():
    # a peak interval's start ("Monday 20:30", 高峰区间 周一 20:30) is a time, not a figure to cite; its calls are
    assert [u.number for u in uncited_numbers("Peak interval Monday 20:30: 22.2 calls.")] == ["22.2"]
    assert [u.number for u in uncited_numbers("高峰区间 周一 09:00：22.2 通来电。")] == ["22.2"]
