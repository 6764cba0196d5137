"""export_report: real DOCX headings and tables, XLSX cells (numbers, formula injection), HTML, safety."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from retention_mcp.report.export import (
    Section,
    check_filename,
    export_report,
    neutralise_formula,
    spreadsheet_cell,
)
from retention_mcp.report.markdown import parse_markdown, split_row

REPORT_MD = """## Turnover hot spots

Call centre turnover is **well above** the company average.

| Department | Headcount | Turnover | Note |
|---|---|---|---|
| 客服中心 | 1,240 | 31.5% | night shifts |
| R&D | 320 | 8.2% | stable |

### Next steps

- Fix the night-shift rota
- Pilot stay interviews
"""


def docx_headings(path: Path) -> list[tuple[str, str]]:
    import docx

    document = docx.Document(str(path))
    return [(p.style.name, p.text) for p in document.paragraphs
            if p.style.name.startswith("Heading") or p.style.name == "Title"]


@pytest.mark.anyio
async def test_docx_has_headings_and_table_values(client, settings) -> None:
    import docx

    result = await client.call_tool("export_report", {
        "title": "保留策略 Retention plan", "markdown": REPORT_MD, "format": "docx", "filename": "plan.docx",
        "sections": [{"heading": "ROI", "table_csv": "Scenario,ROI\nBase,120%\n",
                      "chart": {"kind": "roi_scenarios", "data": {"names": ["保守", "基准"], "roi": [0.4, 1.2]}}}]})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    path = Path(data["path"])
    assert path.parent == settings.output_dir and path.name == "plan.docx"
    assert data["size_bytes"] == path.stat().st_size
    assert docx_headings(path) == [("Title", "保留策略 Retention plan"), ("Heading 2", "Turnover hot spots"),
                                   ("Heading 3", "Next steps"), ("Heading 2", "ROI")]
    document = docx.Document(str(path))
    table = [[cell.text for cell in row.cells] for row in document.tables[0].rows]
    assert table == [["Department", "Headcount", "Turnover", "Note"], ["客服中心", "1,240", "31.5%", "night shifts"],
                     ["R&D", "320", "8.2%", "stable"]]
    assert [[c.text for c in row.cells] for row in document.tables[1].rows] == [["Scenario", "ROI"], ["Base", "120%"]]
    assert len(document.inline_shapes) == 1  # the chart is embedded
    bold = [r.text for p in document.paragraphs for r in p.runs if r.bold]
    assert "well above" in bold
    assert [p.text for p in document.paragraphs if p.style.name == "List Bullet"] == [
        "Fix the night-shift rota", "Pilot stay interviews"]


@pytest.mark.anyio
async def test_xlsx_formula_injection_numbers_and_percentages(client, settings) -> None:
    from openpyxl import load_workbook

    csv_text = 'Name,Rate,Count,Comment\nA,13.8%,"1,240","=HYPERLINK(""http://x"",""y"")"\nB,0.5%,7,@SUM(A1)\n'
    result = await client.call_tool("export_report", {
        "title": "Export", "format": "xlsx", "filename": "cells",
        "sections": [{"heading": "Rates", "table_csv": csv_text},
                     {"heading": "Second", "markdown": "| k | v |\n|---|---|\n| ＝1+1 | -3 |\n| +cmd | 2.5 |"}]})
    assert not result.is_error, result.content[0].text
    path = settings.output_dir / "cells.xlsx"
    assert result.structured_content["filename"] == "cells.xlsx"
    book = load_workbook(path)
    assert book.sheetnames == ["Report", "Rates", "Second"]  # one sheet per table
    rates = book["Rates"]
    hyperlink = rates["D2"]
    assert hyperlink.data_type == "s"  # text, not a formula
    assert hyperlink.value == '\'=HYPERLINK("http://x","y")'
    assert rates["D3"].value == "'@SUM(A1)" and rates["D3"].data_type == "s"
    assert rates["B2"].value == pytest.approx(0.138) and rates["B2"].number_format == "0.0%"
    assert rates["C2"].value == 1240 and rates["C2"].data_type == "n"
    assert rates["C3"].value == 7
    second = book["Second"]
    assert second["A2"].value == "'＝1+1" and second["B2"].value == -3
    assert second["A3"].value == "'+cmd" and second["B3"].value == pytest.approx(2.5)
    # no cell anywhere in the workbook is a formula
    assert all(c.data_type != "f" for ws in book for row in ws.iter_rows() for c in row)


def test_cell_conversion_rules() -> None:
    assert spreadsheet_cell("13.8%") == (pytest.approx(0.138), "0.0%")
    assert spreadsheet_cell("8.2%")[0] == 0.082
    assert spreadsheet_cell("1,234.5") == (1234.5, None)
    assert spreadsheet_cell("**42**") == (42, None)
    assert spreadsheet_cell("") == (None, None)
    for dangerous in ("=1+1", "+1+1", "-A1", "@x", "＝1", "＋1", "－1", "＠x", "\t=1", "\r=1", " =1"):
        assert neutralise_formula(dangerous).startswith("'"), dangerous
    assert neutralise_formula("plain") == "plain"


@pytest.mark.anyio
async def test_existing_file_needs_overwrite(client, settings) -> None:
    args = {"title": "T", "markdown": "first version", "format": "md", "filename": "same.md"}
    first = await client.call_tool("export_report", args)
    assert not first.is_error
    path = settings.output_dir / "same.md"
    assert "first version" in path.read_text(encoding="utf-8")
    again = await client.call_tool("export_report", {**args, "markdown": "second"})
    assert again.is_error and "overwrite" in again.content[0].text
    assert "first version" in path.read_text(encoding="utf-8")  # untouched
    replaced = await client.call_tool("export_report", {**args, "markdown": "second", "overwrite": True})
    assert not replaced.is_error and replaced.structured_content["overwritten"] is True
    assert "second" in path.read_text(encoding="utf-8")
    assert replaced.structured_content["size_bytes"] == path.stat().st_size
    assert not [p for p in settings.output_dir.iterdir() if p.name.startswith(".export-")]  # no temp files left


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["../escape.md", "sub/dir.md", "..", ".hidden.md", "a\\b.md", "report.docx"])
async def test_unsafe_or_mismatched_filenames_are_refused(client, settings, name) -> None:
    result = await client.call_tool("export_report", {"title": "T", "markdown": "x", "format": "md",
                                                      "filename": name})
    assert result.is_error
    assert "filename" in result.content[0].text
    assert not (settings.output_dir.parent / "escape.md").exists()
    ok = await client.call_tool("export_report", {"title": "T", "markdown": "x", "format": "md"})
    assert not ok.is_error


def test_default_names_get_a_suffix_instead_of_overwriting(settings) -> None:
    first = export_report(settings, "月度 报告", markdown="a", fmt="md")
    second = export_report(settings, "月度 报告", markdown="b", fmt="md")
    assert first.filename == "月度-报告.md" and second.filename == "月度-报告-2.md"
    assert check_filename("plan", "x", "html") == ("plan.html", True)


def test_html_is_self_contained_and_escaped(settings) -> None:
    sections = [Section(heading="各部门离职率", chart={"kind": "turnover_by_group", "data": {
        "labels": ["客服中心", "研发部"], "rates": [0.3, 0.1], "lows": [0.25, 0.07], "highs": [0.35, 0.14],
        "overall": 0.2}})]
    result = export_report(settings, "Report <b>", markdown=REPORT_MD + "\n<script>alert(1)</script>\n",
                           sections=sections, fmt="html")
    text = Path(result.path).read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "<title>Report &lt;b&gt;</title>" in text
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 1 and base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from elsewhere
    assert "@media print" in text and "<style>" in text
    assert '<td class="num">31.5%</td>' in text and "<th>Department</th>" in text


def test_markdown_export_writes_chart_files_and_reads_existing_images(settings) -> None:
    from retention_mcp.report.charts import kpi_scorecard_chart, save_chart

    png = save_chart(settings, kpi_scorecard_chart(["FCR"], [0.9], ["yellow"]), "kpi")
    section = Section(heading="KPI", image=png.name,
                      chart={"kind": "kpi_scorecard", "data": {"names": ["CSAT"], "achievement": [1.05]}})
    result = export_report(settings, "Plan", sections=[section], fmt="md")
    text = Path(result.path).read_text(encoding="utf-8")
    assert len(result.extra_files) == 1 and (settings.output_dir / result.extra_files[0]).is_file()
    assert f"]({result.extra_files[0]})" in text and f"]({png.name})" in text
    docx_result = export_report(settings, "Plan", markdown=f"![kpi]({png.name})", fmt="docx")
    assert docx_result.images == 1
    with pytest.raises(ValueError, match="not in the output folder"):
        export_report(settings, "Plan", markdown="![x](missing.png)", fmt="html")
    with pytest.raises(ValueError, match="plain name"):
        export_report(settings, "Plan", markdown="![x](../secret.png)", fmt="html")


def test_markdown_parser_blocks() -> None:
    blocks = parse_markdown("# A\ntext\nmore\n\n| a | b |\n|:--|--:|\n| 1 \\| 2 | x |\n| only |\n\n1. one\n2. two")
    assert [b.kind for b in blocks] == ["heading", "paragraph", "table", "list"]
    assert blocks[1].text == "text more"
    assert blocks[2].rows == [["a", "b"], ["1 | 2", "x"], ["only", ""]]
    assert blocks[3].ordered and blocks[3].items == ["one", "two"]
    assert split_row("| a | b |") == ["a", "b"]


@pytest.mark.anyio
async def test_missing_content_is_a_clear_error(client) -> None:
    result = await client.call_tool("export_report", {"title": "Empty", "format": "docx"})
    assert result.is_error and "markdown" in result.content[0].text
    bad_chart = await client.call_tool("export_report", {
        "title": "T", "sections": [{"chart": {"kind": "kpi_scorecard", "data": {"names": ["a"]}}}]})
    assert bad_chart.is_error and "achievement" in bad_chart.content[0].text
