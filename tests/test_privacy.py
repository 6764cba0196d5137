"""Privacy by default: a breakdown by manager shows stable pseudonyms, never the managers' names."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import shared_dataset


@pytest.mark.anyio
async def test_manager_breakdown_uses_stable_pseudonyms(shared_client) -> None:
    frame = pd.read_csv(shared_dataset("hrdataset_v14.csv"))
    managers = {str(name).strip() for name in frame["ManagerName"].dropna()}

    first = await shared_client.call_tool("turnover_breakdown", {"path": "hrdataset_v14.csv", "by": ["ManagerName"]})
    assert not first.is_error, first.content[0].text
    output = first.content[0].text + json.dumps(first.structured_content, ensure_ascii=False)
    assert not [name for name in managers if name in output]
    labels = {" / ".join(map(str, row["group"].values())) if isinstance(row.get("group"), dict) else str(row)
              for row in first.structured_content["rows"]}
    assert any("Manager" in label for label in labels)
    assert any("pseudonyms" in note for note in first.structured_content["notes"])
    # The same manager keeps the same pseudonym from call to call.
    again = await shared_client.call_tool("turnover_breakdown", {"path": "hrdataset_v14.csv", "by": ["ManagerName"]})
    assert again.structured_content["rows"] == first.structured_content["rows"]
    # Leaver counts add up to the overall count over visible and hidden groups alike.
    overall = first.structured_content["overall"]
    visible = [row for row in first.structured_content["rows"] if not row.get("suppressed")]
    assert sum(row["leavers"] for row in visible) <= overall["leavers"]
