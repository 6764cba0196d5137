"""The tool manifest that answers tools/list at start-up must be exactly what live registration gives."""

from __future__ import annotations

import pytest
from mcp import Client

from retention_mcp.manifest import live_tool_list, load_manifest
from retention_mcp.server import build_server
from retention_mcp.settings import Settings

REGENERATE = "the tool manifest is stale: run `python -m retention_mcp.manifest` and commit tool_manifest.json"


@pytest.mark.anyio
async def test_manifest_matches_live_registration() -> None:
    manifest = load_manifest()
    assert manifest is not None, REGENERATE
    assert manifest == await live_tool_list(), REGENERATE


@pytest.mark.anyio
async def test_tools_register_on_first_use_and_list_the_same(settings: Settings) -> None:
    if load_manifest() is None:
        pytest.skip(REGENERATE)
    server = build_server(settings)
    async with Client(server, raise_exceptions=True) as client:
        listed = (await client.list_tools()).tools
        assert server._pending_registrations, "tools/list should not have registered the tools"
        result = await client.call_tool("hiring_forecast", {"current_headcount": 100, "expected_turnover_rate": 0.12,
                                                            "new_positions": 50, "probation_pass_rate": 1})
        assert not result.is_error
        assert not server._pending_registrations
        assert (await client.list_tools()).tools == listed


@pytest.mark.anyio
async def test_settings_do_not_change_the_tool_list(tmp_path) -> None:
    # The manifest is recorded with default settings; a team's settings must not change any schema.
    custom = Settings(data_dirs=(tmp_path,), output_dir=tmp_path / "o", language="zh", prompts_dir=tmp_path)
    server = build_server(custom, use_manifest=False)
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await server.list_tools()]
    assert tools == await live_tool_list()
