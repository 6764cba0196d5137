"""The README's first command: the demo session runs end to end and delivers its reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import docx
import pytest


@pytest.mark.slow
def test_demo_runs_every_step_and_writes_the_reports(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "retention_mcp", "demo", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for tool in ("inspect_dataset", "turnover_breakdown", "retention_curve", "driver_analysis", "build_kpis",
                 "calculate_roi", "erlang_staffing", "export_report", "list_datasets", "describe_groups",
                 "estimate_impact", "call_log_profile"):
        assert f"[{tool}]" in out
    assert "For `calculate_roi`: headcount=" in out and "For `erlang_staffing`: calls=" in out
    # Nothing identifying reaches the screen: the sample's employee ids never appear.
    assert "E00001" not in out
    report = tmp_path / "reports" / "sample-co-retention-plan.docx"
    document = docx.Document(str(report))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert {"Turnover hot spots", "Why people leave", "KPIs", "Return on the program", "Who the plan is for",
            "Expected impact", "Staffing the peak"} <= set(headings)
    assert len(document.inline_shapes) == 3  # turnover, drivers, ROI charts
    html = (tmp_path / "reports" / "sample-co-retention-plan.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 3
