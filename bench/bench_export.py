"""Export time against table size: a markdown table of N rows to DOCX, HTML and XLSX.

Prints seconds per format for each size and the growth exponent between the smallest and largest size
(1.0 = linear, 2.0 = quadratic). Before the DOCX rewrite, 500 rows took 41 s and 1,000 rows 147 s (~1.8).

    .venv/bin/python bench/bench_export.py [--rows 500 1000 2000 4000 8000] [--runs 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from retention_mcp.report.export import export_report
from retention_mcp.settings import Settings

FORMATS = ("docx", "html", "xlsx")


def table(rows: int) -> str:
    """A report with one 5-column table: Chinese and English text, thousands, percentages, inline marks."""
    head = "## Turnover by team\n\n| Team 团队 | Headcount | Leavers | Turnover | Note |\n|---|---|---|---|---|\n"
    body = "".join(f"| 客服{i} team | {1000 + i:,} | {i % 97} | {i % 40 / 1.3:.1f}% | night **shifts** |\n"
                   for i in range(rows))
    return head + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[500, 1000, 2000, 4000, 8000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(data_dirs=(Path(workdir),), output_dir=Path(workdir) / "out", log_level="WARNING")
        times: dict[str, dict[int, float]] = {fmt: {} for fmt in FORMATS}
        print(f"{'rows':>6} " + " ".join(f"{fmt + ' s':>9}" for fmt in FORMATS) + "   docx bytes")
        for rows in args.rows:
            markdown = table(rows)
            sizes = {}
            for fmt in FORMATS:
                runs = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    result = export_report(settings, "Bench", markdown=markdown, fmt=fmt, overwrite=True,
                                           filename=f"bench.{fmt}")
                    runs.append(time.perf_counter() - start)
                    assert not result.truncated, result.truncation_note
                times[fmt][rows] = statistics.median(runs)
                sizes[fmt] = result.size_bytes
            print(f"{rows:>6} " + " ".join(f"{times[fmt][rows]:>9.3f}" for fmt in FORMATS) + f"   {sizes['docx']:,}")
        small, large = min(args.rows), max(args.rows)
        if large > small:
            for fmt in FORMATS:
                exponent = math.log(times[fmt][large] / times[fmt][small]) / math.log(large / small)
                print(f"{fmt}: time grows as rows^{exponent:.2f} from {small:,} to {large:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
