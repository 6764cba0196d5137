"""Issue 12 item 14: the internal source documents ("seed 002", "[seed000]") are never named to users — not in the
tools' data, the prompts, the package's strings, or what a tool returns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO_ROOT

JARGON = re.compile(r"seed\s*_?0\d\d|\[seed|in the seed|the seeds?\b|arithmetic slip", re.IGNORECASE)


@pytest.mark.parametrize("folder", ["tools", "prompts", "src/retention_mcp"])
def test_no_internal_source_names_in_shipped_files(folder: str):
    hits = []
    for path in sorted((REPO_ROOT / folder).rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".md", ".py", ".json") or "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if JARGON.search(line):
                hits.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


@pytest.mark.anyio
async def test_tool_results_do_not_name_internal_sources(client):
    calls = [("find_kpis", {"query": "", "limit": 100}), ("find_kpis", {"domain": "call_center", "limit": 100}),
             ("schedule_fairness", {"agent_counts": [1, 2, 3, 4, 5]}),
             ("calculate_roi", {"headcount": 200, "current_turnover_rate": "12.6%", "target_turnover_rate": "10%",
                                "average_annual_cost": 60000, "cost_preset": "frontline"})]
    for tool, arguments in calls:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, (tool, result.content[0].text)
        everything = result.content[0].text + json.dumps(result.structured_content, ensure_ascii=False)
        assert not JARGON.search(everything), (tool, JARGON.search(everything).group(0))
    resources = [await client.read_resource(uri) for uri in ("retention://metrics", "retention://kpi-catalog")]
    for resource in resources:
        assert not JARGON.search(resource.contents[0].text)


def test_readme_does_not_name_internal_sources():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert not JARGON.search(text), JARGON.search(text).group(0)
    assert Path(REPO_ROOT / "README.md").is_file()
