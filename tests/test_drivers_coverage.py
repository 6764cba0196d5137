"""Issue 12 item 1: a driver model fitted on a sliver of the data says so, and automatic selection does not
shrink the model to one department without a word. Generated data, counts by hand; item 13 cautions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import make_dataset, policy
from retention_mcp.analysis.drivers import analyse_drivers, drivers_markdown


def export_862(seed: int = 1) -> pd.DataFrame:
    """862 people; a Shift column filled only for the 80 people in Support (the other departments have no shifts)."""
    rng = np.random.default_rng(seed)
    dept = np.array(["Sales"] * 400 + ["R&D"] * 382 + ["Support"] * 80)
    shift = np.where(dept == "Support", rng.choice(["day", "night"], len(dept)), None)
    satisfaction = rng.integers(1, 6, len(dept))
    p = np.where(dept == "Sales", 0.25, np.where(dept == "R&D", 0.08, 0.2)) + 0.03 * (3 - satisfaction)
    left = np.where(rng.random(len(dept)) < p, "Yes", "No")
    return pd.DataFrame({"Department": dept, "Shift": shift, "JobSatisfaction": satisfaction, "Attrition": left})


def test_named_drivers_are_kept_but_the_sliver_is_said_in_words():
    frame = export_862()
    result = analyse_drivers(make_dataset(frame), "Attrition", policy=policy(),
                             drivers=["Department", "Shift", "JobSatisfaction"])
    assert result.n == 80 and result.rows_in_scope == 862
    assert result.coverage == pytest.approx(80 / 862)
    department = next(d for d in result.drivers if d.driver == "Department")
    assert department.importance == pytest.approx(0.0, abs=1e-12)  # one department left in the model
    # the kept share of each department's rows, by hand: Support 80/80, the others 0
    assert result.coverage_by_group["Department"] == {"Support": 1.0, "R&D": 0.0, "Sales": 0.0}
    text = drivers_markdown(result)
    assert "80 of 862 rows in scope (9.3%" in text
    assert "'Shift' is filled on only 9.3%" in text
    assert "Leave 'Shift' out (drivers=['Department', 'JobSatisfaction'])" in text
    assert "where={'Department': 'Support'}" in text
    assert "Coverage is uneven across 'Department'" in text and "Support 100%" in text


def test_automatic_selection_leaves_the_sparse_driver_out_and_says_so():
    frame = export_862()
    result = analyse_drivers(make_dataset(frame), "Attrition", policy=policy())
    assert result.n == 862 and result.coverage == 1.0
    assert "Shift" not in [d.driver for d in result.drivers]
    assert any(e.startswith("Shift: filled on 80 of 862 rows in scope (9.3%)") for e in result.excluded)
    assert any("Left out of the automatic selection" in w and "Shift" in w for w in result.warnings)
    department = next(d for d in result.drivers if d.driver == "Department")
    assert department.importance > 0.01  # the department effect built into the data is visible again
    assert not result.coverage_by_group


def test_full_coverage_has_no_coverage_warning():
    frame = export_862().drop(columns=["Shift"])
    result = analyse_drivers(make_dataset(frame), "Attrition", policy=policy(), drivers=["Department",
                                                                                          "JobSatisfaction"])
    assert result.coverage == 1.0 and not result.warnings and not result.coverage_by_group


def test_sensitive_drivers_carry_a_fair_treatment_caution():
    frame = export_862().drop(columns=["Shift"])
    frame["Gender"] = np.where(np.arange(len(frame)) % 2 == 0, "F", "M")
    frame["Age"] = 20 + np.arange(len(frame)) % 40
    result = analyse_drivers(make_dataset(frame), "Attrition", policy=policy())
    assert set(result.sensitive) == {"Gender", "Age"}
    text = drivers_markdown(result)
    assert "protected personal attributes" in text and "never to select" in text
    plain = analyse_drivers(make_dataset(frame), "Attrition", policy=policy(), drivers=["JobSatisfaction"])
    assert not plain.sensitive and "protected" not in drivers_markdown(plain)


@pytest.mark.anyio
async def test_through_the_client(client, data_dir):
    export_862().to_csv(data_dir / "export.csv", index=False)
    result = await client.call_tool("driver_analysis", {"path": "export.csv", "outcome": "Attrition",
                                                        "drivers": ["Department", "Shift", "JobSatisfaction"]})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["coverage"] == pytest.approx(80 / 862)
    assert "Leave 'Shift' out" in result.content[0].text


@pytest.mark.anyio
async def test_protected_attributes_get_the_caution_in_every_tool_that_offers_them(client, data_dir):
    frame = export_862().drop(columns=["Shift"])
    frame["Gender"] = np.where(np.arange(len(frame)) % 3 == 0, "F", "M")
    frame["MaritalStatus"] = np.where(np.arange(len(frame)) % 2 == 0, "Married", "Single")
    frame["YearsAtCompany"] = np.arange(len(frame)) % 12
    frame.to_csv(data_dir / "people.csv", index=False)
    calls = [("inspect_dataset", {"path": "people.csv"}),
             ("turnover_breakdown", {"path": "people.csv", "by": ["Gender"]}),
             ("turnover_breakdown", {"path": "people.csv", "by": ["Department", "MaritalStatus"]}),
             ("retention_curve", {"path": "people.csv", "by": ["Gender"]}),
             ("driver_analysis", {"path": "people.csv", "outcome": "Attrition"})]
    for tool, arguments in calls:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, (tool, result.content[0].text)
        assert "protected personal attributes" in result.content[0].text, tool
        assert "never to select" in result.content[0].text, tool
    plain = await client.call_tool("turnover_breakdown", {"path": "people.csv", "by": ["Department"]})
    assert "protected" not in plain.content[0].text
    zh = await client.call_tool("turnover_breakdown", {"path": "people.csv", "by": ["Gender"], "language": "zh"})
    assert "受保护的个人特征" in zh.content[0].text
