"""list_datasets (headers only, no values) and prompt-argument completions from the data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from mcp import Client
from mcp.types import PromptReference

from conftest import SHARED_DATASETS
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

SECRET = "Zhang Wei-Secret"  # a cell value: must never appear in a listing


def write_folder(data: Path) -> None:
    (data / "events.csv").write_text("employee_id,name,department,hire_date,termination_date\n"
                                     f"E1,{SECRET},Sales,2020-01-01,\n", encoding="utf-8")
    (data / "快照.csv").write_bytes("工号,部门,是否离职\nE1,销售,是\n".encode("gbk"))
    (data / "calls.csv").write_text("Agent,Date,Time,Answered (Y/N),AvgTalkDuration\nAnn,2024-01-01,9:00,Y,0:03:00\n")
    (data / "roster.csv").write_text("agent,date,shift\nA01,2024-03-01,night\n")
    (data / "notes.txt").write_text("just some words, nothing tabular\n")
    (data / "empty.csv").write_bytes(b"")
    (data / ".hidden.csv").write_text("employee_id,left\nE1,1\n")
    sub = data / "2025"
    sub.mkdir()
    pd.DataFrame({"EmployeeNumber": [1], "Attrition": ["Yes"], "Department": [SECRET]}).to_parquet(sub / "ibm.parquet")
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Employee ID", "Department", "Date of Hire", "Exit Date"])
    book.active.append(["E9", SECRET, "2021-01-01", None])
    book.save(sub / "export.xlsx")


@pytest.mark.anyio
async def test_shapes_from_headers_only(client, data_dir: Path, tmp_path: Path):
    write_folder(data_dir)
    outside = tmp_path / "outside.csv"
    outside.write_text("employee_id,left\nE1,1\n")
    os.symlink(outside, data_dir / "link.csv")  # a link out of the data folder is not listed
    result = await client.call_tool("list_datasets", {})
    assert not result.is_error, result.content[0].text
    files = {f["path"]: f for f in result.structured_content["files"]}
    assert {path: f["shape"] for path, f in files.items()} == {
        "events.csv": "hr_event", "快照.csv": "hr_snapshot", "calls.csv": "call_log", "roster.csv": "roster",
        "notes.txt": "unknown", "empty.csv": "unknown", "2025/ibm.parquet": "hr_snapshot",
        "2025/export.xlsx": "hr_event"}
    assert files["events.csv"]["size_bytes"] == (data_dir / "events.csv").stat().st_size
    assert files["events.csv"]["columns"] == 5 and files["calls.csv"]["next_tool"].startswith("call_log_profile")
    assert files["empty.csv"]["note"] == "empty file"
    output = result.content[0].text + json.dumps(result.structured_content, ensure_ascii=False)
    assert SECRET not in output and "Ann" not in output
    narrowed = await client.call_tool("list_datasets", {"folder": "2025"})
    assert {f["path"] for f in narrowed.structured_content["files"]} == {"2025/ibm.parquet", "2025/export.xlsx"}
    for folder in ("..", "/etc", "missing"):
        refused = await client.call_tool("list_datasets", {"folder": folder})
        assert refused.is_error, folder


@pytest.mark.anyio
async def test_shared_datasets_are_recognised(shared_client):
    if not SHARED_DATASETS.is_dir():
        pytest.skip("no shared datasets")
    result = await shared_client.call_tool("list_datasets", {})
    shapes = {f["path"]: f["shape"] for f in result.structured_content["files"]}
    assert shapes["ibm_hr_attrition.csv"] == "hr_snapshot"
    assert shapes["hrdataset_v14.csv"] == "hr_event"
    assert shapes["pwc_call_center.csv"] == "call_log"
    assert shapes["hr_comma_sep.csv"] == "hr_snapshot"


def company_csv() -> str:
    rows = ["employee_id,name,department,job_role,manager,attrition"]
    plan = [("Sales", "Account Executive", 30), ("Support", "Agent", 40), ("Legal", "Counsel", 3)]
    i = 0
    for dept, role, count in plan:
        for _ in range(count):
            i += 1
            rows.append(f"E{i:03d},Person {i:03d},{dept},{role},Boss {i % 7},{'Yes' if i % 5 == 0 else 'No'}")
    return "\n".join(rows) + "\n"


@pytest.mark.anyio
async def test_group_completions_come_from_the_last_file_read(settings: Settings, data_dir: Path):
    (data_dir / "people.csv").write_text(company_csv())
    (data_dir / "calls.csv").write_text("Agent,Date,Time,Answered (Y/N),AvgTalkDuration\nA,2024-01-01,9:00,Y,0:03:00\n")
    ref = PromptReference(type="ref/prompt", name="retention_strategy")
    async with Client(build_server(settings), raise_exceptions=True) as client:
        before = await client.complete(ref, {"name": "employee_group", "value": ""})
        assert before.completion.values == []  # no HR file read yet
        inspected = await client.call_tool("inspect_dataset", {"path": "people.csv"})
        assert not inspected.is_error
        groups = await client.complete(ref, {"name": "employee_group", "value": ""})
        assert groups.completion.values == ["Sales", "Support", "Account Executive", "Agent"]  # Legal: 3 people
        typed = await client.complete(ref, {"name": "employee_group", "value": "su"})
        assert typed.completion.values == ["Support"]
        role = await client.complete(PromptReference(type="ref/prompt", name="performance_improvement_plan"),
                                     {"name": "employee_role", "value": ""})
        assert role.completion.values == ["Account Executive", "Agent"]
        files = await client.complete(PromptReference(type="ref/prompt", name="performance_csat_linkage"),
                                      {"name": "agent_data", "value": ""})
        assert files.completion.values == ["calls.csv"]
        # the fixed choices still complete as before
        line = await client.complete(PromptReference(type="ref/prompt", name="performance_csat_linkage"),
                                     {"name": "business_line", "value": "after"})
        assert line.completion.values == ["after_sales"]
        language = await client.complete(ref, {"name": "language", "value": "z"})
        assert language.completion.values == ["zh"]
        everything = json.dumps([groups.completion.values, role.completion.values])
        assert "Person" not in everything and "Boss" not in everything and "Legal" not in everything
    # Another server process (a second --workers process, or a restart) completes from the same file: the latest
    # file is kept in the output folder, not in one process's memory.
    async with Client(build_server(settings), raise_exceptions=True) as again:
        later = await again.complete(ref, {"name": "employee_group", "value": "s"})
        assert later.completion.values == ["Sales", "Support"]
