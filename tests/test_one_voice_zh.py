"""Issue 22, must show: every tool and every prompt in Chinese, through the SDK client, on a GBK export with Chinese
headers. An English-sentence detector reads every text block, every string of the structured content (its keys are
identifiers), every chart's words (kept in the PNG's text chunks) and every exported file, and finds nothing but
names (of files, columns, methods and units).

The detector is meant to catch a real regression: ``test_the_detector_catches_english`` feeds it the kind of text a
forgotten literal produces, and the Chinese it must let through."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from retention_mcp.sample_data import write_sample_company
from retention_mcp.sample_linked import write_linked_company
from retention_mcp.settings import Settings

#: Words that may stand in Chinese text: names of methods, people, standards, units and abbreviations.
NAMES = {
    "kaplan", "meier", "wilson", "poisson", "garwood", "holm", "fisher", "welch", "satterthwaite", "newcombe",
    "shapley", "johnson", "shrout", "fleiss", "mcgraw", "wong", "koo", "li", "cutler", "ederer", "conover",
    "hyndman", "fan", "spearman", "brown", "pearson", "kruskal", "wallis", "anova", "erlang", "shrm", "bls", "ols",
    "csat", "aht", "asa", "fcr", "kpi", "kpis", "roi", "npv", "enps", "nps", "hr", "hris", "ats", "acd", "crm", "wfm",
    "ivr", "lms", "ci", "cd", "dora", "okr", "bsc", "smart", "mql", "sql", "qa", "icc", "bars", "pst", "eap", "mape",
    "icmi", "usd", "cny", "log", "rank", "student", "t", "f", "z", "p", "n", "df", "sd", "iqr", "bmi", "ai", "it",
    "devops", "sla", "the", "j", "chiropr", "med", "reichheld", "bain", "oldroyd", "mcelheran", "elkington",
    "accelerate", "pdf", "docx", "html", "xlsx", "csv", "md", "png", "utf", "gbk", "gb", "agent", "ev",
    "noto", "sans", "cjk", "sc", "h", "r", "q", "s", "x", "y", "c", "k", "e", "b", "jd",
}
WORD = r"[A-Za-z][A-Za-z'’]*"
RUNS = {n: re.compile(rf"{WORD}(?:[ \-]+{WORD}){{{n - 1},}}") for n in (2, 3)}


def english_sentences(text: str, names: set[str] = frozenset(), words: int = 2) -> list[str]:
    """Runs of ``words`` or more English words (not all of them names) in ``text``: what a sentence, a heading or a
    phrase left in English looks like. Code spans, links, file names, identifiers (with _ or .) and ``names`` (the
    file's columns and values) are taken out first. Structured content is read with ``words=3``: its enum codes
    ('fix first', 'not distinguishable') are identifiers too."""
    t = re.sub(r"`[^`]*`", " ", text)
    t = re.sub(r"(?:来源|Source)[：:][^\n]*", " ", t)  # a citation of a published source, as published
    t = re.sub(r"−?ln Beta\([^)]*\)", " ", t)  # the Erlang A wait's formula
    t = re.sub(r"(?:https?|retention|data)://\S+|data:\S+|\S*/\S*", " ", t)  # links and paths
    t = re.sub(r"\bev-[0-9a-fA-F]{6,16}\b", " ", t)  # evidence ids
    # pseudonyms (Agent K7F3QM): identifiers, the same in every language so a person keeps theirs across calls
    t = re.sub(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)? [A-Z2-7]{6}(?:[A-Z2-7]{6})?\b", " ", t)
    for name in sorted(names, key=len, reverse=True):
        if name and re.search(r"[A-Za-z]", name):
            t = re.sub(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", " ", t)
    t = re.sub(r"point-biserial|Erlang [ABC]\b", " ", t)  # names of a statistic and of queueing models
    t = re.sub(r"\b[\w.-]+\.(?:csv|xlsx|xls|docx|html|md|png|json|yaml|parquet)\b", " ", t, flags=re.I)
    t = re.sub(r"\b\w*(?:_\w*)+\b|\b\w+\(\w*\)", " ", t)  # identifiers: turnover_breakdown, ICC(2,1)
    hits = []
    for match in RUNS[words].finditer(t):
        words = [w.lower().strip("'’") for w in re.split(r"[ \-]+", match.group()) if w]
        if any(w not in NAMES for w in words):
            hits.append(match.group())
    return hits


#: Fields that hold a published source's record as recorded: its citation, URL, and the research notes kept with a
#: published figure (tools/benchmarks.yaml, initiatives.yaml, cost_presets.yaml, wages.yaml, the KPI catalog's
#: sources). A Chinese result names them after 来源：; they are quoted, not our words, and are not translated.
RECORD_KEYS = {"source", "sources", "url", "citation", "caveats"}
#: A benchmark's period as recorded ("c. 2018 (survey year of the 9th edition …)"); the Chinese text shows its year.
RECORD_PATHS = {("comparisons", "period")}


def strings(value: Any, parent: str = "") -> list[str]:
    """Every string value in a JSON-like value (keys are identifiers and stay out, and so do fields whose name says
    they are English — a KPI's name_en — and a published source's record: RECORD_KEYS, RECORD_PATHS)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() if not str(key).endswith("_en") and key not in RECORD_KEYS
                and (parent, key) not in RECORD_PATHS for s in strings(item, str(key))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings(item, parent)]
    return []


def test_the_detector_catches_english():
    for english in ("Note: the rows were dropped.", "Intervals: exact Poisson interval", "no clear relation",
                    "| group | headcount | leavers |", "Overall turnover 17.8% → 12%", "Hires needed"):
        assert english_sentences(english) or english_sentences(english.replace("|", " ")), english
    for chinese in ("整体：**17.8%**（离职 164 人 / 人数 921.4；95% 置信区间 15.2%–20.7%）",
                    "Kaplan–Meier 估计，依据入职日期", "区间：离职人数的精确泊松（Garwood）95% 区间",
                    "调用 `turnover_breakdown` 后再写", "Koo & Li（2016）", "ICC(2,1) = 0.290",
                    "见 sample_company_zh.csv 的“部门”列", "AHT 与 ASA（秒）", "离职率 17.8% [ev-fcfab0]"):
        assert not english_sentences(chinese), chinese


# -- the files: everything Chinese, GBK


def chinese_calls(source: Path, target: Path) -> None:
    rows = list(csv.DictReader(source.open(encoding="utf-8")))
    headers = {"Agent": "坐席", "Date": "日期", "Time": "时间", "Answered (Y/N)": "是否接通", "Resolved": "是否解决",
               "Speed of answer in seconds": "应答速度", "AvgTalkDuration": "通话时长",
               "Satisfaction rating": "满意度评分"}
    with target.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers.values())
        for row in rows:
            writer.writerow([row[h].replace("Agent", "坐席") if h == "Agent" else row[h] for h in headers])


def chinese_roster(target: Path) -> None:
    import datetime as dt

    with target.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["坐席", "日期", "班次"])
        for agent in range(12):
            for day in range(28):
                date = dt.date(2024, 3, 4) + dt.timedelta(days=day)
                shift = "夜班" if (day + agent * (agent % 3)) % 4 == 0 else "白班"
                writer.writerow([f"坐席{agent:02d}", date.isoformat(), shift])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("zh-data")
    made = write_sample_company(folder)
    chinese_calls(made["calls"], folder / "通话记录.csv")
    chinese_roster(folder / "排班表.csv")
    made["calls"].unlink()
    made["en"].unlink()
    linked = write_linked_company(folder)  # a roster, attendance, payroll, ratings and training to link
    return {"folder": folder, "hr": made["zh"], "calls": folder / "通话记录.csv", "roster": folder / "排班表.csv",
            "linked": list(linked.values())}


def file_names(files: dict[str, Path]) -> set[str]:
    """The files' column names and category values: names a result may quote as they are."""
    import pandas as pd

    found = set()
    for key in ("hr", "calls", "roster"):
        frame = pd.read_csv(files[key], encoding="gbk")
        found |= {str(c) for c in frame.columns}
        for column in frame.columns:
            if frame[column].nunique() <= 40:
                found |= {str(v) for v in frame[column].dropna().unique()}
    for path in files["linked"]:  # the linked exports: title rows above the header, GBK or UTF-8, one XLSX
        encoding = "utf-8-sig" if path.read_bytes()[:3] == b"\xef\xbb\xbf" else "gbk"
        for skip in range(4):
            try:
                frame = (pd.read_excel(path, skiprows=skip) if path.suffix == ".xlsx" else
                         pd.read_csv(path, encoding=encoding, skiprows=skip, on_bad_lines="skip"))
            except Exception:  # a title row read as a header: the next skip finds the table
                continue
            found |= {str(c) for c in frame.columns}
            for column in frame.columns:
                if frame[column].nunique() <= 40:
                    found |= {str(v) for v in frame[column].dropna().unique()}
    return found | {p.name for p in files["folder"].glob("*")} | publishers()


def publishers() -> set[str]:
    """Who published each benchmark figure (ContactBabel, SQM Group …): names a Chinese label keeps."""
    from retention_mcp.analysis.benchmarks import parse_benchmarks, publisher_of
    from retention_mcp.catalog import bundled_dir, read_yaml

    catalog = parse_benchmarks(read_yaml(bundled_dir("tools") / "benchmarks.yaml"))
    return {publisher_of(figure.source) for figure in catalog.figures}


def calls(hr: str, call_log: str, roster: str) -> list[tuple[str, dict[str, Any]]]:
    """One call of every tool (the workspace tools follow, in order)."""
    kpis = [{"id": "turnover_rate", "baseline": 17.8, "target": 14, "weight": 40},
            {"id": "early_attrition_rate", "baseline": 12, "target": 8.4, "weight": 20},
            {"id": "service_level", "baseline": 72, "target": 80, "weight": 20},
            {"id": "csat", "baseline": 3.9, "target": 4.1}]
    return [
        ("list_datasets", {}),
        ("inspect_dataset", {"path": hr}),
        ("turnover_breakdown", {"path": hr, "by": ["部门", "司龄段"], "period_start": "2024年第3季度", "chart": True}),
        ("turnover_breakdown", {"path": hr, "by": ["班次"], "separation_type": "主动离职", "where": {"部门": "客服"}}),
        ("retention_curve", {"path": hr, "by": ["入职年份"], "chart": True}),
        ("driver_analysis", {"path": hr, "outcome": "left", "chart": True}),
        ("describe_groups", {"path": hr, "by": ["司龄段"], "where": {"离职类型": "主动离职"}}),
        ("estimate_impact", {"path": hr, "segment": {"司龄段": "≤3个月"}, "reduction": "30%"}),
        ("estimate_impact", {"path": hr, "segment": {"班次": ["中班", "夜班"]}, "reference": {"班次": "白班"},
                             "where": {"部门": "客服"}}),
        ("estimate_impact", {"path": hr, "initiative": "structured_onboarding"}),
        ("estimate_combined_impact", {"path": hr, "initiatives": [
            {"name": "新人辅导", "segment": {"司龄段": "≤3个月"}, "reduction": "30%"},
            {"name": "夜班调整", "segment": {"班次": ["中班", "夜班"]}, "reduction": "20%"}]}),
        ("build_roadmap", {"phases": [
            {"name": "诊断", "start_month": 1, "end_month": 3, "owner": "HRBP", "budget": 30000,
             "kpi_targets": {"turnover_rate": 16}},
            {"name": "试点", "start_month": 4, "end_month": 9, "owner": "客服经理", "budget": 90000}],
            "chart": True}),
        ("forecast_leavers", {"path": hr, "by": ["部门"], "separation_type": "主动离职"}),
        ("compare_benchmarks", {"rate": "17.8%", "region": "中国", "industry": "客服"}),
        ("cost_per_leaver", {"path": hr, "cost_preset": "客服", "leavers": 20}),
        ("cost_per_leaver", {"industry": "软件", "cost_preset": "研发"}),
        ("call_log_profile", {"path": call_log}),
        ("agent_scorecard", {"path": call_log, "min_contacts": 20}),
        ("find_kpis", {"query": "离职率"}),
        ("build_kpis", {"items": kpis, "deadline": "2027-06-30"}),
        ("score_kpis", {"kpis": kpis, "actuals": {"turnover_rate": 15.2, "service_level": 78, "csat": 4.0},
                        "chart": True}),
        ("calculate_roi", {"headcount": 300, "current_turnover_rate": "17.8%", "target_turnover_rate": "14%",
                           "average_annual_cost": 90000, "cost_preset": "frontline", "program_cost_one_off": 80000,
                           "program_cost_annual": 40000, "benefit_ramp_months": 3, "chart": True}),
        ("erlang_staffing", {"calls": 120, "aht_seconds": 240, "shrinkage": "30%", "max_occupancy": "85%",
                             "patience_seconds": 180}),
        ("schedule_fairness", {"path": roster}),
        ("qa_calibration", {"ratings": [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
                                        [6, 2, 4, 7]]}),
        ("hiring_forecast", {"current_headcount": 100, "expected_turnover_rate": "12%", "new_positions": 10,
                             "probation_pass_rate": "90%"}),
        ("list_templates", {}),
        ("render_template", {"name": "retention_strategy", "arguments": {
            "company_info": "某客服中心，300 人", "employee_group": "夜班客服", "satisfaction_score": "61",
            "turnover_rate": "17.8%", "engagement_score": "57", "employee_feedback": "夜班排得不公平。"}}),
        ("export_report", {"title": "客服中心保留方案", "format": "docx", "sections": [
            {"heading": "离职热点", "markdown": "| 部门 | 离职率 |\n|---|---:|\n| 客服 | 24.1% |",
             "chart": {"kind": "turnover_by_group", "data": {"labels": ["客服", "研发"], "rates": [0.24, 0.1],
                                                             "overall": 0.17}}},
            {"heading": "投资回报", "chart": {"kind": "roi_scenarios", "data": {"names": ["保守", "基准"],
                                                                              "benefit": [100, 300],
                                                                              "cost": [120, 120]}}}]}),
    ]


def exported_text(path: Path) -> str:
    """The words of an exported file: DOCX and XLSX as their XML text, HTML and Markdown as they are."""
    data = path.read_bytes()
    if path.suffix in (".docx", ".xlsx"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
                     if name.endswith(".xml") and ("document" in name or "sheet" in name or "sharedStrings" in name)]
        return re.sub(r"<[^>]+>", " ", " ".join(parts))
    text = data.decode("utf-8")
    return re.sub(r"<style>.*?</style>|<[^>]+>", " ", text, flags=re.S)


@pytest.mark.anyio
async def test_every_tool_and_prompt_speaks_chinese(files: dict[str, Path], tmp_path: Path):
    from mcp import Client
    from PIL import Image

    from retention_mcp.server import build_server

    settings = Settings(data_dirs=(files["folder"],), output_dir=tmp_path / "out", log_level="WARNING",
                        language="zh", database_url=f"sqlite:///{tmp_path / 'workspace.sqlite3'}")
    names = file_names(files)
    found: dict[str, list[str]] = {}

    def check(where: str, text: str, words: int = 2) -> None:
        hits = english_sentences(text, names, words)
        if hits:
            found.setdefault(where, []).extend(hits[:5])

    def check_result(where: str, result: Any) -> dict[str, Any]:
        assert not result.is_error, f"{where}: {result.content[0].text}"
        for block in result.content:
            if getattr(block, "type", "") == "text":
                check(f"{where} text", block.text)
            elif getattr(block, "type", "") == "image":
                chart = Image.open(io.BytesIO(base64.b64decode(block.data)))
                assert chart.text.get("Description"), f"{where}: a chart without its words"
                check(f"{where} chart", chart.text["Description"])
        for value in strings(result.structured_content or {}):
            check(f"{where} structured", value, words=3)
        return result.structured_content or {}

    hr, call_log, roster = files["hr"].name, files["calls"].name, files["roster"].name
    async with Client(build_server(settings), raise_exceptions=True) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        called: set[str] = set()
        for tool, arguments in calls(hr, call_log, roster):
            result = await client.call_tool(tool, {**arguments, "language": "zh"})
            check_result(tool, result)
            called.add(tool)
        for fmt in ("html", "xlsx", "md"):
            result = await client.call_tool("export_report", {**calls(hr, call_log, roster)[-1][1], "format": fmt})
            check_result(f"export_report {fmt}", result)

        # the workspace, in the plan's language (the server's default here)
        plan = check_result("plan_create", await client.call_tool("plan_create", {"title": "夜班客服保留方案",
                                                                                  "group": "夜班客服"}))
        breakdown = await client.call_tool("turnover_breakdown", {"path": hr, "by": ["部门"]})
        evidence = breakdown.structured_content["evidence_id"]
        rate = breakdown.structured_content["overall"]["rate"]
        written = check_result("plan_write_section", await client.call_tool("plan_write_section", {
            "plan_id": plan["id"], "section": "现状分析", "base_version": 1,
            "markdown": f"整体离职率 {rate:.1%} [{evidence}]。夜班离职 35 人，30/60/90 天回访，95% 区间见附录。"}))
        assert [u["number"] for u in written["uncited_numbers"]] == ["35"]
        for tool, arguments in (("plan_get", {"plan_id": plan["id"]}), ("plan_list", {}),
                                ("plan_history", {"plan_id": plan["id"]}),
                                ("plan_diff", {"plan_id": plan["id"], "from_version": 1}),
                                ("plan_refresh", {"plan_id": plan["id"]}),
                                ("plan_share", {"plan_id": plan["id"], "person": "王芳", "level": "read"}),
                                ("plan_share", {"plan_id": plan["id"]}),
                                ("evidence_get", {"evidence_id": evidence})):
            check_result(tool, await client.call_tool(tool, arguments))
            called.add(tool)
        exported = check_result("plan_export", await client.call_tool("plan_export", {"plan_id": plan["id"],
                                                                                      "format": "html"}))
        source = (await client.read_resource("retention://templates/retention_strategy.zh")).contents[0].text
        check_result("template_save", await client.call_tool("template_save", {
            "source": source.replace("version: 1.0.0", "version: 1.0.1")}))
        called |= {"plan_create", "plan_write_section", "plan_export", "template_save"}

        # linked exports: link them, reconcile them, analyse the linked dataset
        linked = [{"path": "hr_roster.csv"},
                  {"path": "attendance_2024-12.xlsx", "columns": {"出勤天数": "count()"}},
                  {"path": "performance_ratings.csv", "columns": {"末次绩效": "latest(绩效等级)"},
                   "order_by": "考核周期"}]
        check_result("dataset_link", await client.call_tool("dataset_link", {"name": "四季度", "files": linked,
                                                                             "language": "zh"}))
        check_result("reconcile_datasets", await client.call_tool("reconcile_datasets", {"path": "四季度",
                                                                                         "language": "zh"}))
        check_result("turnover_breakdown linked", await client.call_tool("turnover_breakdown", {
            "path": "四季度", "by": ["末次绩效"], "language": "zh"}))
        called |= {"dataset_link", "reconcile_datasets"}
        assert called == listed, f"tools not covered: {sorted(listed - called)}"

        # prompts: listed in the server's language, rendered in Chinese
        for prompt in (await client.list_prompts()).prompts:
            check(f"prompts/list {prompt.name}", " ".join([prompt.title or "", prompt.description or "",
                                                           *(a.description or "" for a in prompt.arguments or [])]))
            assert not re.search(r"\(0-100\).*\(0-100\)|0–100.*\(0-100\)", " ".join(
                a.description or "" for a in prompt.arguments or [])), prompt.name  # the hint said once
            required = {a.name: "示例" for a in prompt.arguments or [] if a.required and a.name != "language"}
            for name in required:
                kind = next(a for a in prompt.arguments if a.name == name).description or ""
                if "0–100" in kind or "0-100" in kind:
                    required[name] = "72"
                elif "%" in kind:
                    required[name] = "17.8%"
            rendered = await client.get_prompt(prompt.name, {**required, "language": "zh"})
            body = rendered.messages[0].content.text
            check(f"prompts/get {prompt.name}", f"{rendered.description}\n{body}")
            assert not re.search(r"[\u4e00-\u9fff][:,;(]|[:,;(][\u4e00-\u9fff]",
                                 re.sub(r"`[^`]*`|\{\{.*?\}\}", "", body)), prompt.name
    out = settings.output_dir
    for path in sorted(out.glob("*")):
        if path.suffix in (".docx", ".html", ".xlsx", ".md"):
            text = exported_text(path)
            if path.name == exported["filename"]:
                text = text.split("证据附录")[0]  # the evidence appendix is issue 21's, rebuilt in the plan's language
            check(f"file {path.name}", text)
        if path.suffix == ".png":
            check(f"file {path.name}", Image.open(path).text.get("Description", ""))
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.mark.anyio
async def test_prompts_in_chinese_on_an_english_server(tmp_path: Path):
    """prompts/get with language=zh gives the Chinese template's description, fence and punctuation; prompts/list on
    an English server stays English, with each argument's hint said once."""
    from mcp import Client

    from retention_mcp.server import build_server

    settings = Settings(data_dirs=(tmp_path,), output_dir=tmp_path / "out", log_level="WARNING")
    arguments = {"company_info": "某公司", "employee_group": "客服", "satisfaction_score": "61",
                 "turnover_rate": "17.8%", "engagement_score": "57", "employee_feedback": "排班不公平"}
    async with Client(build_server(settings), raise_exceptions=True) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        score = next(a for a in listed["retention_strategy"].arguments if a.name == "satisfaction_score")
        assert score.description.count("0-100") + score.description.count("0–100") == 1
        zh = await client.get_prompt("retention_strategy", {**arguments, "language": "zh"})
        en = await client.get_prompt("retention_strategy", {**arguments, "language": "en"})
    assert "生成结构化" in zh.description and zh.description != en.description
    body = zh.messages[0].content.text
    assert "<<<employee_feedback：用户提供的数据" in body and "data supplied by the user" not in body
    assert not english_sentences(zh.description) and not re.search(r"[\u4e00-\u9fff][:,;(]", body)
