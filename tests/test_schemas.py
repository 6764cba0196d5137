"""Portable tool schemas: input schemas in the Gemini/OpenAPI subset (one type per schema, no $ref,
additionalProperties, const or exclusive bounds), output schemas without type arrays; what was valid stays
valid and what was invalid is still refused by the server. Checked on every declared tool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp.server import MCPServer

from conftest import shared_dataset
from retention_mcp.schemas import (
    INPUT_KEYWORDS,
    listed_tool,
    listing_bytes,
    portable_input_schema,
    portable_output_schema,
)
from retention_mcp.server import build_wiring
from retention_mcp.settings import Settings


@pytest.fixture(scope="module")
def declared() -> list[dict[str, Any]]:
    """Every tool as the SDK declares it, full pydantic schemas (before our listing rewrites them)."""
    import anyio

    wiring = build_wiring(Settings(data_dirs=(Path.cwd(),), output_dir=Path.cwd() / "unused"))
    wiring.ensure_registered()
    tools = anyio.run(MCPServer.list_tools, wiring.server)
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def nodes(schema: Any, path: str = ""):
    """Every subschema (not property maps or enum/default values) with its path."""
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from nodes(sub, f"{path}.{key}.{name}")
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                yield from nodes(value, f"{path}.{key}")
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                for i, sub in enumerate(value):
                    yield from nodes(sub, f"{path}.{key}[{i}]")


def test_input_schemas_use_only_the_gemini_subset(declared):
    assert len(declared) >= 30
    for tool in declared:
        for path, node in nodes(portable_input_schema(tool["inputSchema"])):
            assert set(node) <= INPUT_KEYWORDS, (tool["name"], path, set(node) - INPUT_KEYWORDS)
            assert not isinstance(node.get("type"), list), (tool["name"], path)
            if "enum" in node:
                assert all(isinstance(v, str | int | float) for v in node["enum"]), (tool["name"], path)


def test_output_schemas_have_no_type_arrays_or_tuples(declared):
    for tool in [t for t in declared if t.get("outputSchema")]:
        for path, node in nodes(portable_output_schema(tool["outputSchema"])):
            assert not isinstance(node.get("type"), list), (tool["name"], path)
            assert "prefixItems" not in node and "description" not in node and "title" not in node


def test_inputs_the_full_schema_accepts_are_accepted_and_a_wrong_type_is_refused(declared):
    by_name = {t["name"]: t for t in declared}
    examples = {
        "turnover_breakdown": {"path": "hr.csv", "by": ["department"], "where": {"shift": "night"},
                               "min_group_size": 10, "bins": {"age": [20, 30, 40]}, "language": "zh"},
        "calculate_roi": {"headcount": 200, "current_turnover_rate": "12.6%", "target_turnover_rate": 0.1,
                          "average_annual_cost": 60000},
        "qa_calibration": {"ratings": [[3, 4, None], [5, 5, 4]]},  # a missing rating is null, and stays allowed
        "retention_curve": {"path": "hr.csv", "by": "department", "time_points": [90, 365]},
    }
    for name, arguments in examples.items():
        full, portable = by_name[name]["inputSchema"], portable_input_schema(by_name[name]["inputSchema"])
        jsonschema.validate(arguments, full)
        jsonschema.validate(arguments, portable)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"headcount": "many"}, portable_input_schema(by_name["calculate_roi"]["inputSchema"]))


@pytest.mark.anyio
async def test_real_results_validate_against_the_portable_output_schemas(shared_client, declared):
    ibm = shared_dataset("ibm_hr_attrition.csv").name
    by_name = {t["name"]: t for t in declared}
    calls = {"turnover_breakdown": {"path": ibm, "by": ["Department", "EducationField"]},
             "retention_curve": {"path": ibm, "by": ["Department"], "chart": True},
             "describe_groups": {"path": ibm, "by": ["Department"]},
             "inspect_dataset": {"path": ibm},
             "calculate_roi": {"headcount": 1470, "current_turnover_rate": 0.161, "target_turnover_rate": 0.12,
                               "average_annual_cost": 78000, "cost_preset": "professional"}}
    for name, arguments in calls.items():
        result = await shared_client.call_tool(name, arguments)
        assert not result.is_error, result.content[0].text
        jsonschema.validate(result.structured_content, portable_output_schema(by_name[name]["outputSchema"]))
    # A null where the model allows one is valid; a string where a number belongs is not.
    schema = portable_output_schema(by_name["turnover_breakdown"]["outputSchema"])
    result = (await shared_client.call_tool("turnover_breakdown", calls["turnover_breakdown"])).structured_content
    hidden = next(row for row in result["rows"] if row["suppressed"])
    assert hidden["rate"] is None
    broken = json.loads(json.dumps(result))
    broken["overall"]["rate"] = "16%"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_leaving_output_schemas_out_roughly_halves_the_list(declared):
    full = [listed_tool(t) for t in declared]
    small = [listed_tool(t, output_schemas=False) for t in declared]
    assert not any("outputSchema" in t for t in small)
    assert [t["inputSchema"] for t in small] == [t["inputSchema"] for t in full]
    sizes, small_sizes = listing_bytes(full), listing_bytes(small)
    assert sizes["output_schemas"] > 0.4 * sizes["total"]  # why the option exists
    assert small_sizes["total"] == sizes["total"] - sizes["output_schemas"] - len(',"outputSchema":') * sum(
        1 for t in full if "outputSchema" in t)
