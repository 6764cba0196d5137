"""The strategy workspace end to end through the SDK Client, on SQLite and on a real PostgreSQL server.

One plan's life: created from retention_strategy (zh), five sections written citing evidence from real
tool calls, the server stopped and a new one (a real stdio process) started on the same database, the
plan read back identical, a section revised, versions diffed, a stale write refused, figures refreshed
after the export changed, and a DOCX exported whose evidence appendix is checked with python-docx.
Expected figures are computed here from the files the test writes, not taken from the server.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import getpass
import hashlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from retention_mcp.sample_data import write_sample_company
from retention_mcp.server import build_server
from retention_mcp.settings import Settings
from retention_mcp.workspace.engine import dispose_all
from retention_mcp.workspace.refresh import refresh_plan
from retention_mcp.workspace.store import workspace_for
from server_process import child_env
from workspace_support import database_url, postgres_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(240)]

ZH_SECTIONS = ["现状分析", "根本原因分析", "战略建议", "实施路线图", "预期成果"]
EN_SECTIONS = ["Current-state analysis", "Root-cause analysis", "Strategic recommendations",
               "Implementation roadmap", "Expected outcomes"]


def write_attrition(path: Path, service_leavers: int, rd_leavers: int) -> None:
    """A snapshot export: 100 customer-service and 100 R&D employees, a Yes/No attrition flag."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["EmployeeNumber", "Department", "Attrition"])
        number = 0
        for department, leavers in (("Customer Service", service_leavers), ("R&D", rd_leavers)):
            for i in range(100):
                number += 1
                writer.writerow([number, department, "Yes" if i < leavers else "No"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source(path: Path) -> dict[str, Any]:
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"name": path.name, "size": path.stat().st_size, "modified": modified, "sha256": sha256(path),
            "format": "csv"}


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result


def text_of(result: Any) -> str:
    return result.content[0].text


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    write_sample_company(data)
    write_attrition(data / "attrition.csv", service_leavers=20, rd_leavers=10)  # 30 / 200 = 15%
    return tmp_path


def stdio_params(settings: Settings, url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "retention_mcp", "--data-dir", str(settings.data_dirs[0]), "--output-dir",
              str(settings.output_dir), "--database-url", url, "--language", "zh", "--log-level", "WARNING"],
        env=child_env(), cwd=str(settings.output_dir.parent))


async def test_plan_lifecycle_across_restart(workdir: Path, database_url: str) -> None:  # noqa: F811
    data = workdir / "data"
    settings = Settings(data_dirs=(data,), output_dir=workdir / "out", log_level="WARNING", language="zh",
                        database_url=database_url)
    store = workspace_for(settings)
    me = getpass.getuser()
    attrition_sha_before = sha256(data / "attrition.csv")

    # -- server A (in memory): create, gather evidence from real tool calls, write five sections
    async with Client(build_server(settings), raise_exceptions=True) as client:
        created = (await call(client, "plan_create", {"title": "客服中心保留方案", "group": "客服中心",
                                                      "template": "retention_strategy"})).structured_content
        assert [s["heading"] for s in created["sections"]] == ZH_SECTIONS
        assert created["version"] == 1 and created["language"] == "zh"
        plan_id = created["id"]

        q3 = (await call(client, "turnover_breakdown", {"path": "attrition.csv", "by": ["Department"]}))
        q3_sc = q3.structured_content
        assert q3_sc["overall"]["rate"] == pytest.approx(30 / 200)
        rates = {row["label"]: row["rate"] for row in q3_sc["rows"]}
        assert rates["Customer Service"] == pytest.approx(0.20) and rates["R&D"] == pytest.approx(0.10)
        q3_args = {"path": "attrition.csv", "by": ["Department"]}
        ev_q3 = store.record_evidence("turnover_breakdown", q3_args, [source(data / "attrition.csv")],
                                      q3_sc["definition"]["formula"],
                                      {"overall_rate": q3_sc["overall"]["rate"]}, author="analyst")

        company_args = {"path": "sample_company.csv", "by": ["department"]}
        company = (await call(client, "turnover_breakdown", company_args)).structured_content
        ev_company = store.record_evidence("turnover_breakdown", company_args, [source(data / "sample_company.csv")],
                                           company["definition"]["formula"],
                                           {"overall_rate": company["overall"]["rate"]}, author="analyst")

        roi_args = {"headcount": 200, "current_turnover_rate": 0.126, "target_turnover_rate": 0.10,
                    "average_annual_cost": 60000, "replacement_cost_multiplier": 0.4,
                    "program_cost_one_off": 20000, "program_cost_annual": 10000}
        roi = (await call(client, "calculate_roi", roi_args)).structured_content
        # 200 × (12.6% − 10%) = 5.2 leavers; 5.2 × 0.4 × 60,000 = 124,800 saved against 30,000 spent.
        assert roi["avoided_leavers_per_year"] == pytest.approx(5.2)
        assert roi["roi"] == pytest.approx((124_800 - 30_000) / 30_000)
        ev_roi = store.record_evidence("calculate_roi", roi_args, [], roi["formula"],
                                       {"roi": roi["roi"], "benefit_cost_ratio": roi["benefit_cost_ratio"]},
                                       author="analyst")

        texts = {
            "现状分析": f"两部门合计离职率 {0.15:.1%} [{ev_q3}]。样本公司年离职率 "
                        f"{company['overall']['rate']:.1%} [{ev_company}]。行业平均约为 12.0%。",
            "根本原因分析": f"客服部门离职率 20.0%,研发 10.0% [{ev_q3}]:夜班与排班公平是主要驱动。",
            "战略建议": f"三项举措合计每年可避免约 5.2 人离职 [{ev_roi}]。",
            "实施路线图": f"0–90 天诊断,3–6 个月试点,6–12 个月推广;预算以 ROI 测算为准 [{ev_roi}]。",
            "预期成果": f"ROI = {roi['roi']:.0%} [{ev_roi}],收益成本比 {roi['benefit_cost_ratio']:.2f} [{ev_roi}]。",
        }
        version = 1
        for number, heading in enumerate(ZH_SECTIONS, 1):
            written = (await call(client, "plan_write_section", {
                "plan_id": plan_id, "section": heading if number % 2 else str(number),
                "markdown": texts[heading], "base_version": version})).structured_content
            assert written["version"] == version + 1 and written["section"] == heading
            version = written["version"]
            if heading == "现状分析":
                assert [u["number"] for u in written["uncited_numbers"]] == ["12.0%"]  # the one uncited figure
                assert sorted(written["cited"]) == sorted([ev_q3, ev_company])
            else:
                assert written["uncited_numbers"] == []

        unknown = await client.call_tool("plan_write_section", {
            "plan_id": plan_id, "section": "预期成果", "markdown": "ROI 3.2 [ev-000000]", "base_version": version})
        assert unknown.is_error and "ev-000000" in text_of(unknown)
        before = await call(client, "plan_get", {"plan_id": plan_id})
        assert before.structured_content["version"] == 6

    dispose_all()  # server A is gone: no pooled connection survives it

    # -- server B: a new process (stdio) on the same database
    async with Client(stdio_params(settings, database_url)) as client:
        after = await call(client, "plan_get", {"plan_id": plan_id})
        assert text_of(after) == text_of(before)
        assert after.structured_content == before.structured_content
        for section, heading in zip(after.structured_content["sections"], ZH_SECTIONS, strict=True):
            assert section["markdown"].strip() == texts[heading]
        listed = (await call(client, "plan_list", {})).structured_content["plans"]
        assert [(p["id"], p["current_version"]) for p in listed] == [(plan_id, 6)]

        revised_text = f"客服部门离职率 20.0%,研发 10.0% [{ev_q3}];离职面谈显示夜班连续排班是首要原因。"
        revised = (await call(client, "plan_write_section", {
            "plan_id": plan_id, "section": "根本原因分析", "markdown": revised_text,
            "base_version": 6})).structured_content
        assert revised["version"] == 7

        stale = await client.call_tool("plan_write_section", {
            "plan_id": plan_id, "section": "根本原因分析", "markdown": "另一个版本", "base_version": 6})
        assert stale.is_error
        message = text_of(stale)
        assert "now at version 7" in message and "base_version=7" in message
        assert f"+{revised_text}" in message and f"-{texts['根本原因分析']}" in message  # the diff since v6

        diff = (await call(client, "plan_diff", {"plan_id": plan_id, "from_version": 6, "to_version": 7}))
        assert diff.structured_content["changed_sections"] == ["根本原因分析"]
        assert f"-{texts['根本原因分析']}\n" in diff.structured_content["diff"]
        assert f"+{revised_text}\n" in diff.structured_content["diff"]

        history = (await call(client, "plan_history", {"plan_id": plan_id})).structured_content["versions"]
        assert [h["version"] for h in history] == list(range(1, 8))
        assert [h["section"] for h in history] == [None, *ZH_SECTIONS, "根本原因分析"]
        assert [h["base_version"] for h in history] == [None, 1, 2, 3, 4, 5, 6]
        assert {h["author"] for h in history} == {me}  # stdio and in-memory: the OS user

        v6 = await client.read_resource(f"retention://plans/{plan_id}/v/6")
        assert texts["根本原因分析"] in v6.contents[0].text and revised_text not in v6.contents[0].text
        current = await client.read_resource(f"retention://plans/{plan_id}")
        assert revised_text in current.contents[0].text

        # -- next quarter's export replaces the file: customer service now loses 30 of 100 (40 / 200 = 20%)
        write_attrition(data / "attrition.csv", service_leavers=30, rd_leavers=10)
        report = (await call(client, "plan_refresh", {"plan_id": plan_id})).structured_content
        by_id = {item["evidence_id"]: item for item in report["evidence"]}
        assert by_id[ev_q3]["status"] == "changed"
        (change,) = by_id[ev_q3]["changes"]
        assert change["figure"] == "overall_rate"
        assert (change["old"], change["new"]) == (pytest.approx(0.15), pytest.approx(0.20))
        assert change["change"] == pytest.approx(0.05)
        assert by_id[ev_q3]["sections"] == ["现状分析", "根本原因分析"]
        assert by_id[ev_q3]["new_evidence_id"].startswith("ev-")
        assert by_id[ev_company]["status"] == "unchanged"
        assert by_id[ev_roi]["status"] == "unchanged"  # a calculator re-runs too: its typed inputs, the same figures
        assert report["affected_sections"] == ["现状分析", "根本原因分析"]

        # -- export to Word with the evidence appendix
        exported = await call(client, "plan_export", {"plan_id": plan_id, "format": "docx"})
        filename = exported.structured_content["filename"]
        links = [c for c in exported.content if c.type == "resource_link"]
        assert links and str(links[0].uri) == exported.structured_content["uri"]
        on_disk = (settings.output_dir / filename).read_bytes()
        fetched = await client.read_resource(exported.structured_content["uri"])
        assert base64.b64decode(fetched.contents[0].blob) == on_disk

    import docx

    document = docx.Document(io.BytesIO(on_disk))
    paragraphs = [p.text for p in document.paragraphs]
    whole = "\n".join(paragraphs)
    assert "证据附录" in paragraphs
    appendix = whole[whole.index("证据附录"):]
    for evidence_id, tool in ((ev_q3, "离职率分析"), (ev_company, "离职率分析"), (ev_roi, "项目投资回报")):
        assert f"[{evidence_id}] {tool}" in paragraphs  # in the plan's language
    assert "离职率分析（turnover_breakdown）：文件 attrition.csv" in appendix  # what was computed, in words
    assert attrition_sha_before in appendix  # the data the cited figure came from, by hash
    assert sha256(data / "sample_company.csv") in appendix
    assert '"path": "attrition.csv"' in appendix and '"headcount": 200' in appendix  # the full arguments, in small type
    assert "离职率 = 离职人数 ÷ 组内人数" in appendix and "ROI =（收益 − 成本）÷ 成本" in appendix  # definitions, zh
    assert "整体离职率 15.0%" in appendix  # the cited figure, as the tool shows it
    assert revised_text in whole.replace("✓", "").replace("⚠", "")  # the current version's text, numbers marked
    assert "20.0%⚠" in whole  # this hand-recorded evidence has no group rates: the group figure is flagged


async def test_refresh_on_a_named_new_file_with_an_injected_rerun(workdir: Path,
                                                                 database_url: str) -> None:  # noqa: F811
    """plan_refresh's seam: ``rerun`` re-computes the overall rate from turnover_breakdown's own result."""
    data = workdir / "data"
    write_attrition(data / "attrition_q4.csv", service_leavers=35, rd_leavers=15)  # 50 / 200 = 25%
    settings = Settings(data_dirs=(data,), output_dir=workdir / "out", log_level="WARNING",
                        database_url=database_url)
    store = workspace_for(settings)
    async with Client(build_server(settings), raise_exceptions=True) as client:
        arguments = {"path": "attrition.csv"}
        first = (await call(client, "turnover_breakdown", arguments)).structured_content
        evidence_id = store.record_evidence("turnover_breakdown", arguments, [source(data / "attrition.csv")],
                                            first["definition"]["formula"],
                                            {"overall_rate": first["overall"]["rate"]}, author="analyst")
        plan = (await call(client, "plan_create", {"title": "Night shift plan", "language": "en"})).structured_content
        assert [s["heading"] for s in plan["sections"]] == EN_SECTIONS
        await call(client, "plan_write_section", {"plan_id": plan["id"], "section": "Expected outcomes",
                                                  "markdown": f"Turnover is 15.0% [{evidence_id}].",
                                                  "base_version": 1})
        calls: list[tuple[str, dict[str, Any]]] = []

        async def rerun(tool: str, args: dict[str, Any], evidence: Any) -> dict[str, Any]:
            calls.append((tool, args))
            result = (await call(client, tool, args)).structured_content
            figures = {"overall_rate": result["overall"]["rate"]}
            new_id = store.record_evidence(tool, args, [source(data / args["path"])], "", figures, "analyst")
            return {"figures": figures, "sources": [source(data / args["path"])], "evidence_id": new_id}

        state = store.get_plan(plan["id"])
        report = await refresh_plan(state, store.get_evidence_many([evidence_id]), rerun, path="attrition_q4.csv")
    assert calls == [("turnover_breakdown", {"path": "attrition_q4.csv"})]
    (item,) = report.evidence
    assert item.status == "changed" and item.sections == ["Expected outcomes"]
    assert item.changes[0].old == pytest.approx(0.15) and item.changes[0].new == pytest.approx(0.25)
    assert item.changes[0].relative_change == pytest.approx(0.25 / 0.15 - 1)
    assert item.data_changed is True
    assert store.get_evidence(item.new_evidence_id).sources[0]["sha256"] == sha256(data / "attrition_q4.csv")
    assert store.get_evidence(item.new_evidence_id).figures == {"overall_rate": pytest.approx(0.25)}
