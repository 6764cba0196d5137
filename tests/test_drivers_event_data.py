"""driver_analysis on event data: 'left' derived from termination dates, leaver-only columns left out."""

from __future__ import annotations

import pandas as pd
import pytest

from retention_mcp.sample_data import write_sample_company


@pytest.mark.anyio
async def test_left_is_derived_from_termination_dates(client, data_dir) -> None:
    files = write_sample_company(data_dir)
    frame = pd.read_csv(files["en"])
    expected_rate = frame["termination_date"].notna().mean()

    result = await client.call_tool("driver_analysis", {"path": files["en"].name, "outcome": "left"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["outcome_kind"] == "leaver_flag"
    assert "termination_date" in data["outcome_definition"]
    assert data["n"] == len(frame)
    assert data["outcome_mean"] == pytest.approx(expected_rate)
    names = [row["driver"] for row in data["drivers"]]
    # Filled in only for leavers: they restate the outcome and must not be drivers.
    for leaked in ("termination_type", "regretted", "termination_date"):
        assert leaked not in names
    assert any(leaked.startswith("termination_type") for leaked in data["excluded"])
    assert data["r_squared"] > 0.05
    assert sum(row["importance"] for row in data["drivers"]) == pytest.approx(data["r_squared"], abs=1e-6)


@pytest.mark.anyio
async def test_unknown_outcome_without_termination_dates_is_still_an_error(client) -> None:
    result = await client.call_tool("driver_analysis", {"csv_text": "a,b\n1,2\n3,4\n5,6\n", "outcome": "left"})
    assert result.is_error and "unknown column 'left' for the outcome" in result.content[0].text
