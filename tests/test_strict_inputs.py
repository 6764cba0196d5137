"""Strict inputs and the one error rule: unknown arguments refused by name, prompts answered with invalid-params
errors that say what to send, crashes reported as internal errors (never as input problems), and no default
data folder at the filesystem root or the home folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from retention_mcp.server import build_server, unknown_argument_message
from retention_mcp.settings import Settings, unsafe_folder


@pytest.mark.anyio
async def test_every_tool_refuses_a_made_up_argument_by_name(client) -> None:
    tools = (await client.list_tools()).tools
    assert len(tools) >= 16
    for tool in tools:
        assert tool.input_schema.get("additionalProperties") is False, tool.name
        result = await client.call_tool(tool.name, {"frobnicate_level": 3})
        assert result.is_error, tool.name
        assert "unknown argument 'frobnicate_level'" in result.content[0].text, tool.name


@pytest.mark.anyio
async def test_misspelled_arguments_get_the_closest_valid_one(client) -> None:
    roi = {"headcount": 200, "current_turnover_rate": "12.6%", "target_turnover_rate": "10%",
           "average_annual_cost": 60000, "replacement_cost_multiplier": 0.4}
    cases = [("calculate_roi", {**roi, "horizon": 60}, "did you mean 'horizon_months'"),
             ("calculate_roi", {**roi, "program_cost": 5}, "'program_cost_annual' or 'program_cost_one_off'"),
             ("hiring_forecast", {"current_headcount": 10, "expected_turnover_rate": 0.1, "new_positons": 4},
              "did you mean 'new_positions'"),
             ("export_report", {"title": "x", "markdown": "# x", "fmt": "md"}, "did you mean 'format'"),
             ("erlang_staffing", {"calls": 100, "aht_seconds": 180, "target_service_level": 0.8},
              "did you mean 'service_level_target'"),
             ("turnover_breakdown", {"csv_text": "a,left\nx,1\n", "filter": {"a": "x"}}, "Valid arguments:"),
             ("turnover_breakdown", {"csv_text": "a,left\nx,1\n", "anonymize": False}, "unknown argument 'anonymize'")]
    for tool, arguments, expected in cases:
        result = await client.call_tool(tool, arguments)
        assert result.is_error, (tool, arguments)
        assert expected in result.content[0].text, (tool, result.content[0].text)
    # The ROI with the right name computes 60 months, not the 12-month default.
    ok = await client.call_tool("calculate_roi", {**roi, "horizon_months": 60})
    assert ok.structured_content["horizon_months"] == 60


def test_unknown_argument_message_lists_every_valid_name() -> None:
    text = unknown_argument_message(["horizn"], ["horizon_months", "headcount"])
    assert text == ("unknown argument 'horizn'; did you mean 'horizon_months'? Valid arguments: headcount, "
                    "horizon_months.")


@pytest.mark.anyio
async def test_prompt_errors_are_invalid_params_that_say_what_to_send(client) -> None:
    with pytest.raises(MCPError) as missing:
        await client.get_prompt("retention_strategy", {"company_info": "x"})
    assert missing.value.error.code == INVALID_PARAMS
    assert "missing required argument(s): employee_group" in missing.value.error.message
    with pytest.raises(MCPError) as unknown:
        await client.get_prompt("supervisor_plan", {"supervisor_role": "a", "team_goals": "b", "tone": "warm"})
    assert unknown.value.error.code == INVALID_PARAMS and "unknown argument 'tone'" in unknown.value.error.message
    with pytest.raises(MCPError) as no_prompt:
        await client.get_prompt("retention_strategyy", {})
    assert no_prompt.value.error.code == INVALID_PARAMS and "did you mean 'retention_strategy'" in \
        no_prompt.value.error.message
    with pytest.raises(MCPError) as no_template:
        await client.read_resource("retention://templates/nope")
    assert no_template.value.error.code == INVALID_PARAMS


@pytest.mark.anyio
async def test_a_crash_is_an_internal_error_with_a_reference_in_the_log(client, caplog, monkeypatch) -> None:
    # An input the analysis never anticipated reaches a bug: the client is told it is not its fault, the log
    # carries the traceback and the same reference, and the server keeps answering.
    from retention_mcp.runtime import dispatch

    async def broken(self, target, arguments, ctx=None, affinity=None):
        return {}["no such key"]

    monkeypatch.setattr(dispatch.ToolRuntime, "run", broken)
    result = await client.call_tool("hiring_forecast", {"current_headcount": 10, "expected_turnover_rate": 0.1})
    assert result.is_error and "internal error" in result.content[0].text
    reference = result.content[0].text.split("reference ")[1].split()[0]
    assert any(reference in record.getMessage() and record.levelname == "ERROR" for record in caplog.records)
    monkeypatch.undo()
    ok = await client.call_tool("hiring_forecast", {"current_headcount": 10, "expected_turnover_rate": 0.1})
    assert not ok.is_error


def test_root_home_and_system_folders_are_not_default_data_folders(monkeypatch, tmp_path: Path) -> None:
    for folder in ("/", str(Path.home()), "/usr/lib", "/etc"):
        if not Path(folder).is_dir():
            continue
        monkeypatch.chdir(folder)
        settings = Settings()
        assert settings.data_dirs == ()
        assert unsafe_folder(Path(settings.output_dir)) is None  # outputs go to a per-user folder instead
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dirs == (tmp_path.resolve(),)


@pytest.mark.anyio
async def test_started_from_the_root_no_file_is_readable(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir("/")
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = Settings(log_level="WARNING")
    async with Client(build_server(settings)) as client:
        for path in ("etc/passwd", "/etc/passwd", os.path.relpath("/etc/hostname", "/")):
            result = await client.call_tool("inspect_dataset", {"path": path})
            assert result.is_error and "--data-dir" in result.content[0].text
        pasted = await client.call_tool("inspect_dataset", {"csv_text": "a,b\n1,2\n"})
        assert not pasted.is_error


@pytest.mark.anyio
async def test_tools_list_stays_small(client) -> None:
    # Every client pays for tools/list in its context window: at most 3.6 KB per tool on average, as sent (3.5 KB
    # for the first 30 tools; the forecast, benchmark and cost tools carry provenance fields in their output).
    import json

    tools = (await client.list_tools()).tools
    sizes = [len(json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True), ensure_ascii=False,
                            separators=(",", ":")).encode()) for t in tools]
    assert sum(sizes) / len(sizes) <= 3600, sorted(zip(sizes, (t.name for t in tools), strict=True))[-5:]
    assert all("title" not in schema for t in tools for schema in t.input_schema["properties"].values())
