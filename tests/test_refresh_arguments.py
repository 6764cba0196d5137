"""plan_refresh re-runs a data result whose recorded arguments carry every parameter, the unused ones as None
(as the worker runtime records them): `csv_text: None` is not pasted data."""

from __future__ import annotations

from datetime import UTC, datetime

from retention_mcp.workspace.refresh import rerun_arguments
from retention_mcp.workspace.store import Evidence


def evidence(arguments: dict) -> Evidence:
    return Evidence(id="ev-000001", tool="turnover_breakdown", arguments=arguments, sources=[], definition="",
                    figures={}, author="t", created_at=datetime.now(UTC))


def test_a_file_result_recorded_with_every_argument_is_rerun():
    arguments, why_not = rerun_arguments(evidence({"path": "hr.csv", "csv_text": None, "by": ["dept"]}), None)
    assert why_not is None and arguments == {"path": "hr.csv", "csv_text": None, "by": ["dept"]}


def test_pasted_data_is_still_skipped_and_calculators_rerun():
    assert rerun_arguments(evidence({"path": None, "csv_text": "a,b\n1,2"}), None)[0] is None
    # issue 21: plan_refresh re-runs the whole graph; a calculator on typed inputs re-runs too (the same figures)
    assert rerun_arguments(evidence({"headcount": 10}), None)[0] == {"headcount": 10}
    assert rerun_arguments(evidence({"path": None, "csv_text": "a,b\n1,2"}), "next.csv")[0] == {"path": "next.csv"}
