"""Every attack class of issue 19, through the SDK client, on the shared datasets and generated files.

Identity follows the content, not the role a caller assigns; the six-termination-type file works; pseudonyms do
not link back; no exact small count in a message; and the differencing classes (bins one unit apart, a `where`
that lists every value, driver levels inside a `where`, at-risk counts half a day apart, all agents but one, a
Likert top box with a small not-favourable cell, "segments share people"). With any column_map, no identifying
value appears in any output, error, listing, completion, log line or export. A slice of the adversary's search
runs through the client too, and the client sees the same figures as the in-process search.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mcp import Client
from mcp.types import PromptReference

from adversary import binary_outcomes, possible_counts
from conftest import SHARED_DATASETS, shared_dataset
from retention_mcp.data.dataset import load_dataset
from retention_mcp.data.disclosure import Policy
from retention_mcp.server import build_server
from retention_mcp.settings import Settings
from test_attacks import Recorder, generated_export, log_text, secrets_of

HR = "hrdataset_v14.csv"
IBM = "ibm_hr_attrition.csv"
PWC = "pwc_call_center.csv"


def server_settings(tmp_path: Path, mode: str, *extra: Path) -> Settings:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} is not here (the shared datasets live beside the repository)")
    return Settings(data_dirs=(*extra, SHARED_DATASETS), output_dir=tmp_path / "out", log_level="DEBUG",
                    privacy_mode=mode)


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


# -- identity follows the content, not the role a caller assigns


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["exact", "protected"])
async def test_a_column_map_cannot_give_an_identifying_column_a_harmless_role(tmp_path: Path, mode: str,
                                                                              caplog) -> None:
    caplog.set_level(logging.DEBUG)
    frame = pd.read_csv(shared_dataset(HR))
    secrets = secrets_of(frame, ["Employee_Name", "DOB", "ManagerName"])
    async with Client(build_server(server_settings(tmp_path, mode)), raise_exceptions=True) as client:
        calls = Recorder(client)
        for mapping, by in (({"department": "ManagerName"}, ["department"]), ({"hire_date": "DOB"}, []),
                            ({"location": "Zip"}, ["location"]), ({"job_role": "Employee_Name"}, ["job_role"])):
            for tool in ("turnover_breakdown", "inspect_dataset", "describe_groups"):
                arguments = {"path": HR, "column_map": mapping}
                if tool != "inspect_dataset":
                    arguments["by"] = by
                result = await calls.call(tool, arguments)
                assert result.is_error, (tool, mapping)
                message = text_of(result)
                assert "cannot be the" in message and "internal error" not in message, message
        # The manager column itself is a `by` group of pseudonyms, in pseudonym order.
        managers = await calls.call("turnover_breakdown", {"path": HR, "by": ["ManagerName"], "max_rows": 500})
        labels = [row["label"] for row in managers.structured_content["rows"]]
        assert all(label.startswith("Manager ") for label in labels)
        # The call log's agents: never listed by inspect_dataset, pseudonyms when grouped by (read as an HR file).
        inspected = await calls.call("inspect_dataset", {"path": PWC})
        agent = next(c for c in inspected.structured_content["column_info"] if c["name"] == "Agent")
        assert agent["identifying"] and agent["values"] is None
        profile = await calls.call("describe_groups", {"path": PWC, "by": ["Agent"],
                                                        "columns": ["Satisfaction rating"]})
        assert not profile.is_error, text_of(profile)
        assert all(g["label"].startswith("Agent ") for g in profile.structured_content["groups"])
        agents = set(pd.read_csv(shared_dataset(PWC))["Agent"].dropna())
    assert calls.leaks(secrets | agents, log_text(caplog)) == []


@pytest.mark.anyio
async def test_sheet_names_that_are_people_are_never_echoed(settings: Settings, data_dir: Path, client) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Summary"
    for name in ("Renee Becker", "Zhang Wei"):
        sheet = book.create_sheet(name)
        sheet.append(["department", "left"])
        for i in range(8):
            sheet.append(["A" if i % 2 else "B", "Yes" if i % 3 == 0 else "No"])
    book["Summary"].append(["department", "left"])
    for _ in range(8):
        book["Summary"].append(["A", "No"])
    book.save(data_dir / "people.xlsx")
    missing = await client.call_tool("turnover_breakdown", {"path": "people.xlsx", "sheet": "Nobody"})
    assert missing.is_error
    message = text_of(missing)
    assert "Summary" in message and "Renee" not in message and "Zhang" not in message
    assert "sheet 2 (named after a person: not shown)" in message


# -- and not too eager: six leavers with six termination types


@pytest.mark.anyio
@pytest.mark.parametrize("header, column_map", [("Termination Type", None), ("Exit", {"termination_type": "Exit"})])
async def test_six_leavers_with_six_termination_types_get_their_voluntary_turnover(client, header: str,
                                                                                   column_map) -> None:
    kinds = ["Resigned", "Dismissed", "Laid off", "Quit", "Fired", "Retired"]
    rows = ["Department,Hire Date,Termination Date," + header]
    for i in range(20):
        leaver = i < 6
        rows.append(f"{'AB'[i % 2]},2020-0{1 + i % 9}-01,{'2024-03-0' + str(1 + i) if leaver else ''},"
                    f"{kinds[i] if leaver else ''}")
    arguments = {"csv_text": "\n".join(rows) + "\n", "separation_type": "voluntary",
                 "period_start": "2024-01-01", "period_end": "2024-12-31"}
    if column_map:
        arguments["column_map"] = column_map
    result = await client.call_tool("turnover_breakdown", arguments)
    assert not result.is_error, text_of(result)
    # resigned, quit and retired are voluntary (tools/separation_types.yaml): 3 of the 20 people
    assert result.structured_content["overall"]["leavers"] == 3
    assert "resign" in text_of(result).lower()


# -- pseudonyms cannot be linked back


@pytest.mark.anyio
async def test_pseudonyms_are_listed_in_their_own_order_and_real_names_do_not_filter(tmp_path: Path) -> None:
    frame = pd.read_csv(shared_dataset(HR))
    managers = sorted({" ".join(str(m).split()) for m in frame["ManagerName"].dropna()})
    async with Client(build_server(server_settings(tmp_path, "exact")), raise_exceptions=True) as client:
        refused = await client.call_tool("turnover_breakdown", {"path": HR, "where": {"ManagerName": "Nobody"}})
        message = text_of(refused)
        listed = message.split("Its values are: ", 1)[1].rstrip(".").split(", ")
        assert listed == sorted(listed) and all(label.startswith("Manager ") for label in listed)
        assert not [m for m in managers if m in message]
        by_name = await client.call_tool("turnover_breakdown", {"path": HR, "where": {"ManagerName": managers[0]}})
        assert by_name.is_error  # a real name is not a value a caller can filter on
        # The same agent's answered calls are the same figure in two tools, under the same pseudonym, in protected
        # mode too: consistency, which links nothing to a name because only pseudonyms filter.
    async with Client(build_server(server_settings(tmp_path, "protected")), raise_exceptions=True) as client:
        card = await client.call_tool("agent_scorecard", {"path": PWC})
        agents = {row["agent"]: row["answered"] for row in card.structured_content["agents"]}
        first = sorted(agents)[0]
        profile = await client.call_tool("call_log_profile", {"path": PWC, "where": {"Agent": first}})
        assert profile.structured_content["calls_answered"] == agents[first]
        named = await client.call_tool("call_log_profile", {"path": PWC, "where": {"Agent": "Becky"}})
        assert named.is_error and "Becky" not in text_of(named).replace("'Becky'", "")


# -- no exact small count in a message


@pytest.mark.anyio
async def test_messages_never_carry_an_exact_count_below_the_minimum(tmp_path: Path) -> None:
    async with Client(build_server(server_settings(tmp_path, "exact")), raise_exceptions=True) as client:
        small = await client.call_tool("turnover_breakdown", {"path": HR, "where": {"Department": "Executive Office"}})
        assert small.is_error
        message = text_of(small)
        assert "fewer than 5" in message and "1 row" not in message
        outside = await client.call_tool("turnover_breakdown", {"path": HR, "where": {"Department": [
            "Production", "IT/IS", "Software Engineering", "Sales", "Admin Offices"]}})
        assert outside.is_error and "fewer than 5 people outside it" in text_of(outside)


# -- differencing, class by class


@pytest.mark.anyio
async def test_bins_come_from_the_server_and_where_every_value_is_no_filter(tmp_path: Path) -> None:
    async with Client(build_server(server_settings(tmp_path, "protected")), raise_exceptions=True) as client:
        for edges in ([36, 37], [36.5, 37]):
            refused = await client.call_tool("turnover_breakdown", {"path": IBM, "by": ["Age"], "bins": {"Age": edges}})
            assert refused.is_error and "band edges come from the data" in text_of(refused)
        bands = set()
        for count in range(2, 11):
            result = await client.call_tool("turnover_breakdown", {"path": IBM, "by": ["Age"], "bins": {"Age": count}})
            bands |= {row["label"] for row in result.structured_content["rows"]}
        ages = pd.read_csv(shared_dataset(IBM), encoding="utf-8-sig")["Age"].to_numpy()
        edges = sorted({float(part) for label in bands for part in label.replace("<= ", "").replace("> ", "")
                        .split("–")})
        # between any two edges the server ever uses there are at least 5 people
        assert all(((ages > low) & (ages <= high)).sum() >= 5 for low, high in itertools.pairwise(edges))
        plain = await client.call_tool("turnover_breakdown", {"path": IBM, "by": ["JobRole"]})
        everyone = await client.call_tool("turnover_breakdown", {"path": IBM, "by": ["JobRole"], "where": {
            "Department": ["Sales", "Research & Development", "Human Resources"]}})
        assert everyone.structured_content["rows"] == plain.structured_content["rows"]
        assert everyone.structured_content["overall"] == plain.structured_content["overall"]
        assert "selects everyone" in text_of(everyone)


def ibm_leavers() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(shared_dataset(IBM), encoding="utf-8-sig")
    return frame, (frame["Attrition"] == "Yes").to_numpy()


@pytest.mark.anyio
async def test_driver_levels_inside_a_where_cannot_be_subtracted(tmp_path: Path) -> None:
    """Levels of JobRole inside where lists one education field apart: in exact mode a level the difference would
    isolate is hidden (the filtered table is a slice of the unfiltered one); in protected mode the shown counts
    are perturbed so the difference never pins a person down."""
    frame, left = ibm_leavers()
    for mode in ("exact", "protected"):
        async with Client(build_server(server_settings(tmp_path, mode)), raise_exceptions=True) as client:
            fields = sorted(frame["EducationField"].unique())
            for dropped in fields:
                kept = [f for f in fields if f != dropped]
                calls = {}
                for name, where in (("all", {"Department": "Sales"}),
                                    ("kept", {"Department": "Sales", "EducationField": kept})):
                    result = await client.call_tool("driver_analysis", {"path": IBM, "outcome": "Attrition",
                                                                        "drivers": ["JobRole"], "where": where})
                    calls[name] = None if result.is_error else {
                        level["level"]: level for level in result.structured_content["drivers"][0]["levels"] or []}
                if calls["all"] is None or calls["kept"] is None:
                    continue
                for level, row in calls["all"].items():
                    other = calls["kept"].get(level)
                    sales = (frame["Department"] == "Sales") & (frame["JobRole"] == level)
                    lone = sales & (frame["EducationField"] == dropped)
                    if other is None or row["suppressed"] or other["suppressed"] or lone.sum() != 1:
                        continue
                    shown = (round(row["outcome_mean"] * row["n"]), False)
                    rest = (round(other["outcome_mean"] * other["n"]), False)
                    possible = binary_outcomes(shown, [rest], mode)
                    assert int(left[lone.to_numpy()][0]) in possible
                    assert len(possible) == 2 or mode == "exact", (level, dropped)


@pytest.mark.anyio
async def test_at_risk_counts_half_a_day_apart_through_the_client_match_the_search(tmp_path: Path) -> None:
    """The adversary's time-point attack, one call through the client: the client sees exactly the figures the
    in-process search sees (one server secret), and in protected mode no bracketed tenure is pinned down."""
    settings = server_settings(tmp_path, "protected")
    ds = load_dataset(settings, path=HR)
    from retention_mcp.analysis.survival import durations_of, retention_curve

    data = durations_of(ds)
    department = ds.frame["Department"].astype(str).str.strip().to_numpy()
    points, attempts = [], 0
    for value in np.unique(data.durations[data.usable])[5:15]:
        points += [float(value), float(value) + 0.5]
    async with Client(build_server(settings), raise_exceptions=True) as client:
        result = await client.call_tool("retention_curve", {"path": HR, "by": ["Department"], "time_points": points})
    assert not result.is_error, text_of(result)
    policy = Policy(floor=5, allow_names=False, key_dir=settings.output_dir, mode="protected")
    local = retention_curve(ds, by=["Department"], policy=policy, time_points=points)
    assert result.structured_content["groups"] == json.loads(local.model_dump_json())["groups"]
    for group in result.structured_content["groups"]:
        if group["suppressed"]:
            continue
        at_risk = [r["at_risk"] for r in group["retention"]]
        members = department == group["label"]
        for i in range(len(points) - 1):
            inside = members & data.usable & (data.durations >= points[i]) & (data.durations < points[i + 1])
            if inside.sum() != 1:
                continue
            attempts += 1
            upper = possible_counts(at_risk[i], "protected")
            lower = possible_counts(at_risk[i + 1], "protected")
            assert {x for x in (0, 1, 2) if max(upper.start, lower.start + x) < min(upper.stop, lower.stop + x)} != {1}
    assert attempts > 0


@pytest.mark.anyio
async def test_all_agents_but_one(tmp_path: Path) -> None:
    """The agent's answered calls from `where` = all agents but one: recovered exactly in exact mode (the
    documented price), a range of at least 9 values in protected mode."""
    frame = pd.read_csv(shared_dataset(PWC))
    for mode in ("exact", "protected"):
        async with Client(build_server(server_settings(tmp_path, mode)), raise_exceptions=True) as client:
            card = await client.call_tool("agent_scorecard", {"path": PWC})
            agents = sorted(row["agent"] for row in card.structured_content["agents"])
            everyone = (await client.call_tool("call_log_profile", {"path": PWC})).structured_content
            for agent in agents:
                rest = (await client.call_tool("call_log_profile", {"path": PWC, "where": {
                    "Agent": [a for a in agents if a != agent]}})).structured_content
                mine = (await client.call_tool("call_log_profile", {"path": PWC, "where": {"Agent": agent}}))
                truth = mine.structured_content["calls_answered"] if mode == "exact" else None
                possible = binary_outcomes((everyone["calls_answered"], False), [(rest["calls_answered"], False)],
                                           mode, values=range(0, 2000))
                if mode == "exact":
                    assert possible == {truth}
                else:
                    assert len(possible) >= 9
    assert frame["Agent"].nunique() == len(agents)


@pytest.mark.anyio
async def test_a_top_box_is_hidden_when_its_not_favourable_cell_is_small(client) -> None:
    rows = ["Team,Score"] + [f"A,{4 if i else 2}" for i in range(12)] + [f"B,{s}" for s in [1, 2, 3, 4] * 3]
    result = await client.call_tool("describe_groups", {"csv_text": "\n".join(rows) + "\n", "by": ["Team"],
                                                        "columns": ["Score"]})
    assert not result.is_error, text_of(result)
    team_a = next(g for g in result.structured_content["groups"] if g["label"] == "A")
    score = team_a["columns"][0]
    assert score["favourable_suppressed"] and score["favourable"] is None  # 11 favourable, 1 not: hidden


@pytest.mark.anyio
async def test_segments_sharing_people_is_never_the_answer(tmp_path: Path) -> None:
    async with Client(build_server(server_settings(tmp_path, "exact")), raise_exceptions=True) as client:
        answers = set()
        for segment in ({"Department": "Sales"}, {"Department": "Human Resources"}):
            result = await client.call_tool("estimate_impact", {"path": IBM, "segment": segment,
                                                                "reference": {"OverTime": "No"}})
            assert result.is_error
            answers.add(text_of(result))
        assert len(answers) == 1 and "share people" not in answers.pop()


# -- with any column_map, nothing identifying anywhere


@pytest.mark.anyio
async def test_no_identifying_value_anywhere_with_any_column_map(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    data.mkdir()
    _, secrets = generated_export(data)
    settings = server_settings(tmp_path, "protected", data)
    identifying = ["工号", "姓名", "Email", "Phone", "DOB", "备注", "直属上级"]
    roles = ["department", "job_role", "hire_date", "termination_date", "termination_type", "location", "pay",
             "leaver_flag", "manager", "performance", "shift"]
    async with Client(build_server(settings), raise_exceptions=True) as client:
        calls = Recorder(client)
        for role, column in itertools.product(roles, identifying):
            mapping = {role: column}
            for tool, arguments in (("inspect_dataset", {}), ("turnover_breakdown", {"by": [role]}),
                                    ("describe_groups", {"by": [role]}), ("retention_curve", {"by": [role]})):
                result = await calls.call(tool, {"path": "export.csv", "column_map": mapping, **arguments})
                assert "internal error" not in text_of(result), (tool, mapping)
        for tool, arguments in (("inspect_dataset", {}), ("turnover_breakdown", {"by": ["部门", "直属上级"]}),
                                ("describe_groups", {"by": ["班次"]}), ("driver_analysis", {"outcome": "left"}),
                                ("estimate_impact", {"segment": {"班次": "night"}, "reference": {"班次": "day"}}),
                                ("forecast_leavers", {"by": ["部门"]})):
            result = await calls.call(tool, {"path": "export.csv", **arguments})
            assert not result.is_error, (tool, text_of(result))
        completion = await client.complete(PromptReference(type="ref/prompt", name="retention_strategy"),
                                           {"name": "employee_group", "value": ""})
        calls.texts.append(json.dumps(completion.completion.values, ensure_ascii=False))
        exported = await calls.call("export_report", {"title": "Plan", "markdown": "\n\n".join(calls.texts[-8:]),
                                                      "format": "md", "filename": "plan.md"})
        written = (settings.output_dir / "plan.md").read_text(encoding="utf-8")
        assert not exported.is_error and "protected mode" in written
        calls.texts.append(written)
    assert calls.leaks(secrets, log_text(caplog)) == []


def test_the_access_seam_cuts_every_file_at_intake(tmp_path: Path) -> None:
    """Part B's seam: an Access in the call's settings restricts the rows and drops columns before any tool looks,
    and forces protected mode."""
    from retention_mcp.access import Access
    from retention_mcp.runtime.job import Job

    shared_dataset(IBM)
    access = Access.for_manager({"Department": "Sales"}, hidden_columns=["pay"], label="manager of Sales")
    settings = Settings(data_dirs=(SHARED_DATASETS,), output_dir=tmp_path, access=access)
    job = Job(settings)
    assert job.policy.mode == "protected"
    ds, _ = job.dataset(path=IBM)
    assert set(ds.frame["Department"]) == {"Sales"} and "MonthlyIncome" not in ds.columns
    with pytest.raises(ValueError, match="MonthlyIncome"):
        ds.column("MonthlyIncome", purpose="a column to profile")
    frame = pd.read_csv(io.StringIO("a,b\n1,2\n"))
    assert dataclasses.is_dataclass(access) and len(frame) == 1


@pytest.mark.anyio
async def test_a_callers_access_rides_with_the_call(tmp_path: Path) -> None:
    """The caller a verified token stands for rides with every call: a manager's calls see only their department,
    no pay column, and protected figures, whatever the server's mode. (Over HTTP the SDK's bearer middleware sets
    the token; in process this test sets the same context before the server's tasks start, so they inherit it.)"""
    from mcp.server.auth.middleware.auth_context import auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

    from retention_mcp.access import Access
    from retention_mcp.identity import Caller, CallerToken
    from retention_mcp.server import build_server

    manager = Caller(name="sales.lead", role="manager",
                     access=Access.for_manager({"Department": ["Sales"]}, hidden_columns=["pay"]), via="token")
    token = CallerToken(token="t" * 32, client_id=manager.name, scopes=[], expires_at=None, caller=manager)
    entered = auth_context_var.set(AuthenticatedUser(token))
    try:
        async with Client(build_server(server_settings(tmp_path, "exact")), raise_exceptions=True) as client:
            result = await client.call_tool("turnover_breakdown", {"path": IBM, "by": ["Department"]})
            assert not result.is_error, text_of(result)
            assert [row["label"] for row in result.structured_content["rows"]] == ["Sales"]
            assert result.structured_content["key_figures"]["privacy_mode"] == "protected"
            assert "Department = Sales" in text_of(result) and "pay" in text_of(result)
            pay = await client.call_tool("describe_groups", {"path": IBM, "columns": ["MonthlyIncome"]})
    finally:
        auth_context_var.reset(entered)
        assert pay.is_error and "MonthlyIncome" in text_of(pay)


@pytest.mark.anyio
async def test_protected_schedule_fairness_lists_no_agents_counts(tmp_path: Path) -> None:
    """The per-agent distribution gives each agent's exact count, and by its length the number of agents in the
    filter: protected mode does not list it (the Ginis summarise it); exact mode does, checked against pandas."""
    import pandas as pd

    rows = [{"agent": f"A{a:02d}", "date": f"2024-03-{d:02d}", "shift": "night" if (a + d) % 3 == 0 else "day"}
            for a in range(1, 13) for d in range(1, 29)]
    (tmp_path / "roster.csv").write_text(pd.DataFrame(rows).to_csv(index=False), encoding="utf-8")
    nights = pd.DataFrame(rows).query("shift == 'night'").groupby("agent").size()
    for mode in ("exact", "protected"):
        async with Client(build_server(server_settings(tmp_path, mode, tmp_path))) as client:
            result = await client.call_tool("schedule_fairness", {"path": "roster.csv"})
            assert not result.is_error, text_of(result)
            listed = result.structured_content["sorted_counts"]
            if mode == "exact":
                assert sorted(listed, reverse=True) == listed and len(listed) == 12
                assert sum(listed) >= nights.sum()  # night shifts are among the unfavourable ones
            else:
                assert listed is None and "Gini" in text_of(result)
