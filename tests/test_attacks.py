"""Privacy attacks through the SDK Client, as a curious user or an attacker would try them.

On hrdataset_v14 (names, IDs, birth dates, managers), the IBM file, and a generated export with names, IDs,
e-mails, phone numbers, birth dates and free-text comments: no name, ID, e-mail, birth date or comment appears
in any result, error message or log line; no suppressed cell is recovered by subtracting visible cells from the
one-dimension totals of any pair of dimensions; a call cannot lower the minimum group size.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mcp import Client

from conftest import SHARED_DATASETS, shared_dataset
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

HR = "hrdataset_v14.csv"
IBM = "ibm_hr_attrition.csv"


def secrets_of(frame: pd.DataFrame, columns: list[str]) -> set[str]:
    """The strings that must never appear: each value of the identifying columns (and for 'Last, First'
    names, 'First Last' too), at least 4 characters long."""
    found: set[str] = set()
    for column in columns:
        for value in frame[column].dropna().astype(str):
            value = " ".join(value.split())
            if len(value) >= 4:
                found.add(value)
            if ", " in value:
                last, first = value.split(", ", 1)
                found.add(f"{first} {last}")
    return found


class Recorder:
    """Calls tools through the client and keeps every piece of text that came back."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.texts: list[str] = []

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        result = await self.client.call_tool(tool, arguments)
        self.texts.append(" ".join(getattr(block, "text", "") for block in result.content))
        if result.structured_content is not None:
            self.texts.append(json.dumps(result.structured_content, ensure_ascii=False))
        return result

    def leaks(self, secrets: set[str], logs: str) -> list[str]:
        everything = "\n".join([*self.texts, logs])
        return sorted(s for s in secrets if s in everything)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


# -- the generated export


def generated_export(folder: Path, rows: int = 400) -> tuple[Path, set[str]]:
    rng = random.Random(7)
    first = ["Wei", "Li", "Jenna", "Omar", "Sofia", "Ravi", "Hana", "Lukas", "Aisha", "Mateo"]
    last = ["Zhang", "Dietrich", "Okafor", "Rossi", "Tanaka", "Novak", "Haddad", "Silva", "Berg", "Kim"]
    departments = ["Sales", "R&D", "Service", "Finance"]
    records = []
    for i in range(rows):
        name = f"{rng.choice(first)}{i:03d} {rng.choice(last)}"
        hire = pd.Timestamp("2019-01-01") + pd.Timedelta(days=rng.randrange(0, 1800))
        left = rng.random() < 0.3
        term = hire + pd.Timedelta(days=rng.randrange(30, 900)) if left else None
        records.append({
            "工号": f"EMP{i:05d}", "姓名": name, "Email": f"{name.split()[0].lower()}@example.com",
            "Phone": f"+86 138 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
            "DOB": f"19{rng.randrange(60, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
            "备注": f"{name} said the workload in {rng.choice(departments)} is too much, call me back on Friday",
            "部门": rng.choice(departments), "班次": rng.choice(["day", "night", "evening"]),
            "直属上级": f"{rng.choice(first)} {rng.choice(last)}-Mgr{rng.randrange(12)}",
            "入职日期": hire.date().isoformat(), "离职日期": term.date().isoformat() if term is not None else "",
            "离职类型": rng.choice(["主动离职", "被动离职", "退休"]) if left else "",
            "Salary": rng.randrange(80, 300) * 100,
        })
    frame = pd.DataFrame(records)
    path = folder / "export.csv"
    frame.to_csv(path, index=False)
    return path, secrets_of(frame, ["工号", "姓名", "Email", "Phone", "DOB", "备注", "直属上级"])


@pytest.mark.anyio
async def test_generated_export_every_attack(client, settings, data_dir: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _, secrets = generated_export(data_dir)
    calls = Recorder(client)
    path = {"path": "export.csv"}
    # What a legitimate user asks for: works, and shows no person.
    for tool, arguments in (("inspect_dataset", path), ("turnover_breakdown", {**path, "by": ["部门", "班次"]}),
                            ("turnover_breakdown", {**path, "by": ["直属上级"]}),
                            ("retention_curve", {**path, "by": ["部门"]}),
                            ("driver_analysis", {**path, "outcome": "left"})):
        result = await calls.call(tool, arguments)
        assert not result.is_error, (tool, result.content[0].text)
    # What an attacker asks for: refused, and the refusal shows no person either.
    refused = [
        ("turnover_breakdown", {**path, "by": ["姓名"]}), ("turnover_breakdown", {**path, "by": ["Email"]}),
        ("turnover_breakdown", {**path, "by": ["备注"]}), ("turnover_breakdown", {**path, "by": ["DOB"]}),
        ("turnover_breakdown", {**path, "where": {"姓名": "Wei001 Zhang"}}),
        ("retention_curve", {**path, "by": ["工号"]}),
        ("driver_analysis", {**path, "outcome": "left", "by": "姓名"}),
        ("driver_analysis", {**path, "outcome": "left", "drivers": ["Phone"]}),
        ("driver_analysis", {**path, "outcome": "姓名"}),
        ("turnover_breakdown", {**path, "by": ["部门"], "min_group_size": 1}),
        ("retention_curve", {**path, "min_group_size": 2}),
        ("driver_analysis", {**path, "outcome": "left", "min_group_size": 1}),
    ]
    for tool, arguments in refused:
        result = await calls.call(tool, arguments)
        assert result.is_error, (tool, arguments)
        assert "internal error" not in result.content[0].text
    # Column maps that point a role at people's data: values never quoted in findings.
    for mapping in ({"hire_date": "姓名"}, {"leaver_flag": "备注"}, {"termination_type": "Email"},
                    {"department": "姓名"}):
        await calls.call("inspect_dataset", {**path, "column_map": mapping})
        await calls.call("turnover_breakdown", {**path, "column_map": mapping, "by": ["department"]})
    # People-level results: one row per person is never a scorecard (agents need the minimum group size of
    # contacts), and the refusal names nobody.
    for contacts in (1, 5):
        scorecard = await calls.call("agent_scorecard", {**path, "agent_column": "姓名",
                                                         "column_map": {"aht": "Salary"}, "min_contacts": contacts})
        assert scorecard.is_error and "internal error" not in scorecard.content[0].text
    assert calls.leaks(secrets, log_text(caplog)) == []


@pytest.mark.anyio
async def test_a_small_name_column_is_identifying(client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    names = ["Ann Lee", "Bo Chen", "Cy Park", "Di Wu", "Ed Kim", "Fa Li"]
    csv_text = "Person,Team,left\n" + "\n".join(f"{n},{'AB'[i % 2]},{i % 2}" for i, n in enumerate(names * 2))
    calls = Recorder(client)
    refused = await calls.call("turnover_breakdown", {"csv_text": csv_text, "by": ["Person"]})
    assert refused.is_error and "identifies people" in refused.content[0].text
    await calls.call("inspect_dataset", {"csv_text": csv_text})
    assert calls.leaks(set(names), log_text(caplog)) == []


@pytest.mark.anyio
async def test_hrdataset_attacks_from_the_issue(shared_client, shared_settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    frame = pd.read_csv(shared_dataset(HR))
    secrets = secrets_of(frame, ["Employee_Name", "DOB", "ManagerName"]) | {str(i) for i in frame["EmpID"]}
    calls = Recorder(shared_client)
    for contacts in (1, 5):
        scorecard = await calls.call("agent_scorecard", {"path": HR, "agent_column": "Employee_Name",
                                                         "column_map": {"aht": "Salary", "asa": "Absences"},
                                                         "min_contacts": contacts})
        assert scorecard.is_error and "internal error" not in scorecard.content[0].text
    for arguments in ({"outcome": "left", "by": "Employee_Name"}, {"outcome": "left", "by": "DOB"},
                      {"outcome": "left", "min_group_size": 1}):
        assert (await calls.call("driver_analysis", {"path": HR, **arguments})).is_error
    managers = await calls.call("driver_analysis", {"path": HR, "outcome": "Termd", "drivers": ["ManagerName"]})
    assert not managers.is_error, managers.content[0].text
    levels = managers.structured_content["drivers"][0]["levels"]
    assert levels and all(level["level"].startswith("Manager ") for level in levels)
    for tool in ("turnover_breakdown", "retention_curve"):
        assert (await calls.call(tool, {"path": HR, "by": ["Position"], "min_group_size": 1})).is_error
    # Only the numeric ID leaks are checked as whole numbers on their own (counts are numbers too).
    found = calls.leaks({s for s in secrets if not s.isdigit()}, log_text(caplog))
    assert found == []
    assert not [i for i in map(str, frame["EmpID"]) if f'"{i}"' in "\n".join(calls.texts)]


# -- differencing


def recovered_cells(single: dict[str, dict], other: dict[str, dict], crossed: dict[tuple, dict],
                    first: str, second: str) -> int:
    """Suppressed cells of the A×B table that one A row (or B column) total minus its visible cells gives away:
    those lines with exactly one suppressed cell whose total is visible."""
    recovered = 0
    for total_table, axis in ((single, 0), (other, 1)):
        for label, total in total_table.items():
            if total["suppressed"]:
                continue
            line = [row for key, row in crossed.items() if key[axis] == label]
            hidden = [row for row in line if row["suppressed"]]
            if len(hidden) == 1:
                recovered += 1
    # The one-dimension tables against the overall, the same way.
    return recovered


def table_of(result: Any, names: list[str]) -> dict:
    rows = result.structured_content["rows"]
    assert not result.structured_content["truncated"]
    return {tuple(row["group"][n] for n in names) if len(names) > 1 else row["group"][names[0]]: row
            for row in rows}


async def differencing_attack(client: Client, path: str, dimensions: list[str]) -> tuple[int, int, int]:
    """(pairs tried, suppressed cells seen, cells recovered) over every pair of ``dimensions``."""
    singles = {}
    recovered = hidden_seen = 0
    for name in dimensions:
        result = await client.call_tool("turnover_breakdown", {"path": path, "by": [name], "max_rows": 500})
        assert not result.is_error, result.content[0].text
        singles[name] = table_of(result, [name])
        hidden = [row for row in singles[name].values() if row["suppressed"]]
        overall_visible = not result.structured_content["overall"]["suppressed"]
        recovered += int(overall_visible and len(hidden) == 1)
    pairs = list(itertools.combinations(dimensions, 2))
    for first, second in pairs:
        result = await client.call_tool("turnover_breakdown", {"path": path, "by": [first, second], "max_rows": 500})
        assert not result.is_error, result.content[0].text
        crossed = table_of(result, [first, second])
        hidden_seen += sum(row["suppressed"] for row in crossed.values())
        recovered += recovered_cells(singles[first], singles[second], crossed, first, second)
    return len(pairs), hidden_seen, recovered


@pytest.mark.anyio
@pytest.mark.parametrize("path, dimensions", [
    (HR, ["Department", "Position", "Sex", "MaritalDesc", "RaceDesc", "ManagerName", "RecruitmentSource",
          "PerformanceScore", "CitizenDesc"]),
    (IBM, ["Department", "JobRole", "EducationField", "MaritalStatus", "Gender", "BusinessTravel", "OverTime",
           "JobLevel", "Education"]),
])
async def test_no_suppressed_cell_is_recovered_by_differencing(path: str, dimensions: list[str]) -> None:
    shared_dataset(path)
    settings = Settings(data_dirs=(SHARED_DATASETS,), log_level="WARNING")
    async with Client(build_server(settings), raise_exceptions=True) as client:
        pairs, hidden, recovered = await differencing_attack(client, path, dimensions)
    assert pairs == 36 and hidden > 0  # there is something to attack
    assert recovered == 0


@pytest.mark.anyio
async def test_where_filters_do_not_open_a_differencing_hole(client, data_dir: Path) -> None:
    generated_export(data_dir)
    whole = await client.call_tool("turnover_breakdown", {"path": "export.csv", "by": ["部门", "班次"]})
    crossed = table_of(whole, ["部门", "班次"])
    for department in ("Sales", "R&D", "Service", "Finance"):
        sliced = await client.call_tool("turnover_breakdown", {"path": "export.csv", "by": ["班次"],
                                                               "where": {"部门": department}})
        if sliced.is_error:  # the department itself is suppressed: refused, fine
            continue
        for shift, row in table_of(sliced, ["班次"]).items():
            assert row["suppressed"] == crossed[(department, shift)]["suppressed"], (department, shift)
