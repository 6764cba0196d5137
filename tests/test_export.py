"""export_report: real DOCX headings and tables, XLSX cells (numbers, formula injection), HTML, safety."""

from __future__ import annotations

import base64
import io
import os
import re
import time
from pathlib import Path

import pytest

from retention_mcp.report.export import (
    MAX_EXPORT_CELLS,
    Section,
    check_filename,
    export_report,
    neutralise_formula,
    output_limit,
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


# -- size: linear time, bounded output

def thousand_row_report() -> str:
    rows = "".join(f"| 客服{i} | {1000 + i:,} | {i % 40 / 1.3:.1f}% | night **shifts** |\n" for i in range(1000))
    return "## Teams\n\n| Team | Headcount | Turnover | Note |\n|---|---|---|---|\n" + rows


@pytest.mark.parametrize("fmt", ["docx", "html", "xlsx"])
def test_a_thousand_row_table_exports_in_seconds_and_whole(settings, fmt) -> None:
    # Speed figures are in bench/bench_export.py; this bound only catches a return of quadratic time
    # (1,000 rows took 147 s as DOCX).
    started = time.perf_counter()
    result = export_report(settings, "Teams", markdown=thousand_row_report(), fmt=fmt)
    assert time.perf_counter() - started < 5
    assert not result.truncated and result.truncation_note is None
    path = Path(result.path)
    if fmt == "docx":
        import docx
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        table = docx.Document(str(path)).tables[0]
        assert len(table.rows) == 1001
        last = table.rows[1000].cells
        assert [c.text for c in last] == ["客服999", "1,999", "30.0%", "night shifts"]
        assert last[1].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
        assert [r.bold for r in last[3].paragraphs[0].runs] == [None, True]
        assert all(r.bold for c in table.rows[0].cells for r in c.paragraphs[0].runs)
    elif fmt == "html":
        text = path.read_text(encoding="utf-8")
        assert text.count("<tr>") == 1001 and "<td class=\"nb\">客服999</td>" in text
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(path)["Teams"]
        assert sheet.max_row == 1001 and sheet["B1001"].value == 1999 and sheet["C1001"].value == pytest.approx(0.3)


def noise_png(width: int = 300, height: int = 200) -> bytes:
    """A PNG that does not compress (random pixels), so its size is what the report embeds."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.anyio
async def test_an_image_repeated_in_html_is_cut_at_the_bound_and_says_so(client, settings) -> None:
    png = noise_png()
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    (settings.output_dir / "noise.png").write_bytes(png)
    markdown = "\n\n".join(f"Figure {i}\n\n![figure {i}](noise.png)" for i in range(50))
    result = await client.call_tool("export_report", {"title": "Figures", "markdown": markdown, "format": "html",
                                                      "filename": "figures.html"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    input_bytes = len(b"Figures") + len(markdown.encode()) + len(png)
    limit = output_limit(input_bytes)
    assert limit == 10 * input_bytes + 1024 * 1024  # the stated bound: 10x the input plus 1 MB
    # Fifty embedded copies would be ~50 x 1.37 x the PNG: far past the bound. The file stops within it.
    assert 50 * len(png) * 4 // 3 > limit
    assert data["truncated"] is True and "limit" in data["truncation_note"]
    text = (settings.output_dir / "figures.html").read_text(encoding="utf-8")
    assert data["size_bytes"] == len(text.encode()) <= limit
    assert 1 <= text.count("<img ") < 50 and data["images"] == text.count("<img ")
    assert "Truncated: this report stops at block" in text  # said in the file too
    # Word keeps one copy of an image however often it is shown: the same report fits whole.
    whole = export_report(settings, "Figures", markdown=markdown, fmt="docx")
    assert not whole.truncated and whole.images == 50 and whole.size_bytes < limit


def test_tables_past_the_cell_bound_are_cut_at_a_row(settings) -> None:
    columns = 11
    rows = MAX_EXPORT_CELLS // columns + 500
    table_csv = ",".join(f"c{i}" for i in range(columns)) + "\n" + ("1,2,3,4,5,6,7,8,9,10,11\n" * rows)
    result = export_report(settings, "Cells", sections=[Section(heading="Data", table_csv=table_csv)], fmt="html")
    kept = MAX_EXPORT_CELLS // columns - 1  # data rows after the header
    assert result.truncated
    assert result.truncation_note.startswith(f"Truncated: this report stops at table 1 after row {kept:,} of {rows:,}")
    assert f"more than {MAX_EXPORT_CELLS:,} table cells" in result.truncation_note
    text = Path(result.path).read_text(encoding="utf-8")
    assert text.count("<tr>") == kept + 1 and result.truncation_note in text


def test_control_characters_do_not_break_word_or_excel_files(settings) -> None:
    import docx
    from openpyxl import load_workbook

    markdown = "Text with a \x00null and a \x07bell\n\n| a\x1b | b |\n|---|---|\n| x\x08 | 2 |\n"
    word = export_report(settings, "Ctl\x01", markdown=markdown, fmt="docx")
    document = docx.Document(word.path)
    assert document.paragraphs[1].text == "Text with a null and a bell"
    assert [c.text for c in document.tables[0].rows[1].cells] == ["x", "2"]
    book = load_workbook(export_report(settings, "Ctl", markdown=markdown, fmt="xlsx").path)
    assert book.sheetnames == ["Report", "Ctl"] and book["Ctl"]["A2"].value == "x"


def grid_twips(word) -> list[int]:
    """The column widths of a document's first table as its grid states them, in twips (635 EMU each)."""
    return [int(column.w / 635) for column in word.tables[0]._tbl.tblGrid.gridCol_lst]


def test_docx_tables_are_sized_to_their_content(settings) -> None:
    """Issue 22: the KPI table gave every column the same width, so words broke mid-word ("Empl/oyee/turno/ver").
    Columns now get at least their longest word, text columns the spare room, numbers stay narrow and right."""
    from docx import Document as WordDocument
    from docx.shared import Pt

    from retention_mcp.report.export import DOCX_CELL_PADDING_TWIPS, DOCX_CHAR_TWIPS, DOCX_TABLE_TWIPS

    table = ("| KPI | definition | baseline | target | weight |\n|---|---|---:|---:|---:|\n"
             "| Employee turnover rate | separations in the period ÷ average headcount (SHRM), annualised "
             "additively | 17.8% | 12.0% | 30 |\n"
             "| 首次解决率 | 首次联络即解决的咨询占比 | 65.0% | 75.0% | 25 |\n")
    written = export_report(settings, "KPIs", markdown=table, fmt="docx")
    word = WordDocument(written.path)
    widths = grid_twips(word)
    assert sum(widths) == DOCX_TABLE_TWIPS
    assert widths[1] == max(widths) and widths[1] > 2 * widths[4]  # the long text column is the widest
    assert widths[0] >= len("turnover") * DOCX_CHAR_TWIPS + DOCX_CELL_PADDING_TWIPS  # its longest word fits
    assert widths[0] >= 5 * 2 * DOCX_CHAR_TWIPS  # 首次解决率: 5 characters of double width
    assert len(set(widths)) > 2  # not one width for every column
    cells = word.tables[0].rows[1].cells
    assert [c.paragraphs[0].alignment for c in cells[2:]] == [2, 2, 2]  # numbers right-aligned (WD_ALIGN RIGHT)
    assert cells[1].paragraphs[0].alignment is None
    header = word.tables[0].rows[0].cells
    assert header[4].paragraphs[0].alignment == 2 and header[1].paragraphs[0].alignment is None
    assert Pt(10.5) == word.styles["Normal"].font.size


def test_html_embeds_the_chinese_font_it_needs(settings) -> None:
    """An HTML report renders Chinese on a machine without a Chinese font: it carries the packaged Noto Sans CJK SC
    cut down to the report's characters, and that font has a glyph for every one of them."""
    import io as io_module

    from fontTools.ttLib import TTFont

    markdown = "## 离职热点\n\n| 部门 | 离职率 |\n|---|---:|\n| 客服中心 | 24.1% |\n\n夜班的离职率最高（见附表）。"
    written = export_report(settings, "客服中心保留方案", markdown=markdown, fmt="html")
    page = Path(written.path).read_text(encoding="utf-8")
    match = re.search(r'font-family: "Retention CJK".*?base64,([A-Za-z0-9+/=]+)', page)
    assert match, "no embedded font"
    font = TTFont(io_module.BytesIO(base64.b64decode(match.group(1))))
    cmap = font.getBestCmap()
    needed = {ch for ch in "客服中心保留方案离职热点部门率夜班的最高见附表（）。" if ord(ch) > 0x2E80}
    assert all(ord(ch) in cmap for ch in needed), sorted(ch for ch in needed if ord(ch) not in cmap)
    assert len(cmap) < 400 and written.size_bytes < 200_000  # a subset, not the 19 MB collection
    english = export_report(settings, "Plan", markdown="## Hot spots\n\nNo Chinese here.", fmt="html")
    assert "@font-face" not in Path(english.path).read_text(encoding="utf-8")  # nothing to embed


def test_docx_embeds_the_chinese_font_it_needs(settings) -> None:
    """A Chinese DOCX renders on a machine without a Chinese font: the packaged face, cut to the document's
    characters, is embedded as Office obfuscates fonts (ECMA-376 §17.8.1: the first 32 bytes XOR-ed with the
    reversed bytes of the GUID in w:fontKey), named in the font table, and East Asian text in every style uses it.
    The check undoes the obfuscation by the standard's rule and reads the cmap of what comes out."""
    import uuid
    import zipfile

    from fontTools.ttLib import TTFont
    from lxml import etree

    markdown = "## 离职热点\n\n| 部门 | 离职率 |\n|---|---:|\n| 客服中心 | 24.1% |\n\n夜班的离职率最高（见附表）。"
    written = export_report(settings, "客服中心保留方案", markdown=markdown, fmt="docx")
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    r = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    with zipfile.ZipFile(written.path) as package:
        table = etree.fromstring(package.read("word/fontTable.xml"))
        embedded = [e for e in table.iter(f"{w}embedRegular")]
        assert len(embedded) == 1
        entry = embedded[0].getparent()
        assert entry.get(f"{w}name") == "Noto Sans CJK SC"
        rels = etree.fromstring(package.read("word/_rels/fontTable.xml.rels"))
        target = next(rel.get("Target") for rel in rels if rel.get("Id") == embedded[0].get(f"{r}id"))
        data = bytearray(package.read(f"word/{target}"))
        types = package.read("[Content_Types].xml").decode()
        assert "application/vnd.openxmlformats-officedocument.obfuscatedFont" in types
        key = bytes.fromhex(uuid.UUID(embedded[0].get(f"{w}fontKey")).hex)[::-1]
        for i in range(32):
            data[i] ^= key[i % 16]
        settings_xml = etree.fromstring(package.read("word/settings.xml"))
        assert settings_xml.find(f"{w}embedTrueTypeFonts") is not None
        styles = etree.fromstring(package.read("word/styles.xml"))
        document_text = "".join(etree.fromstring(package.read("word/document.xml")).itertext())
    font = TTFont(io.BytesIO(bytes(data)))
    assert font.sfntVersion == "\x00\x01\x00\x00" and "glyf" in font  # TrueType outlines: what Word embeds
    assert font["OS/2"].fsType == 0  # installable embedding, as the OFL font allows
    cmap = font.getBestCmap()
    needed = {ch for ch in document_text + "客服中心保留方案" if ord(ch) > 0x2E80}
    assert needed and all(ord(ch) in cmap for ch in needed), sorted(ch for ch in needed if ord(ch) not in cmap)
    east_asian = {e.get(f"{w}eastAsia") for e in styles.iter(f"{w}rFonts")}
    assert east_asian == {"Noto Sans CJK SC"}
    assert not [e for e in styles.iter(f"{w}rFonts") if e.get(f"{w}eastAsiaTheme")]  # no theme font wins over it
    english = export_report(settings, "Plan", markdown="## Hot spots\n\nNo Chinese here.", fmt="docx")
    with zipfile.ZipFile(english.path) as package:
        assert not [n for n in package.namelist() if n.startswith("word/fonts/")]  # nothing to embed


def test_wide_docx_tables_step_down_a_size_and_keep_numbers_and_dates_whole(settings) -> None:
    """The demo's KPI table (nine columns) does not fit on one line per cell at body size: it is set at 9 pt and
    the widest text columns give way first, so no number, date or identifier is broken; Chinese wraps between
    characters. Widths are checked against each cell's width at the table's size, computed here by hand."""
    from docx import Document as WordDocument

    from retention_mcp.report.export import DOCX_CELL_PADDING_TWIPS, DOCX_CHAR_TWIPS, DOCX_TABLE_TWIPS

    table = ("| # | KPI | 维度 | 单位 | 方向 | 基线 | 目标 | 权重 | 期限 |\n|---|---|---|---|---|---|---|---|---|\n"
             "| 1 | 员工离职率 (turnover_rate) | 学习与成长 | 百分比 | 越低越好 | 38 | 29.7 | 30 | 2027-06-30 |\n"
             "| 2 | 新员工90天内离职率 (early_attrition_rate) | 学习与成长 | 百分比 | 越低越好 | 8.7 | 6.1 | 20 | "
             "2027-06-30 |\n| 4 | 客户满意度 (csat) | 客户 | 1–5 分 | 越高越好 | 3.41 | 3.58 | 25 | 2027-06-30 |\n")
    written = export_report(settings, "KPI", markdown=table, fmt="docx")
    word = WordDocument(written.path)
    widths = grid_twips(word)
    assert sum(widths) == DOCX_TABLE_TWIPS
    sizes = {run.font.size.pt for row in word.tables[0].rows for cell in row.cells for p in cell.paragraphs
             for run in p.runs}
    assert sizes == {9.0}
    char = DOCX_CHAR_TWIPS * 9 / 10.5
    # longest piece that must not break, per column: "#" column 1 digit (at least 2), "(early_attrition_rate)",
    # "1–5", "3.41", "2027-06-30"
    for column, piece in ((1, "(early_attrition_rate)"), (3, "1–5"), (5, "3.41"), (6, "3.58"), (8, "2027-06-30")):
        assert widths[column] >= len(piece) * char + DOCX_CELL_PADDING_TWIPS - 1, (column, widths)
    assert widths[1] == max(widths)
    narrow = export_report(settings, "KPI", markdown="| a | b |\n|---|---:|\n| x | 1 |\n", fmt="docx")
    cell_runs = [run for row in WordDocument(narrow.path).tables[0].rows for c in row.cells for p in c.paragraphs
                 for run in p.runs]
    assert {run.font.size for run in cell_runs} == {None}  # body size, from the Normal style


#: Word's default cell margins, both sides (0.08 in each), in twips.
CELL_MARGINS_TWIPS = 2 * 0.08 * 1440


def dejavu_twips(text: str, size: float, face: str = "DejaVuSans.ttf") -> float:
    """``text``'s width set in a DejaVu face (what a reader without Calibri gets; matplotlib ships it) at ``size``
    points, in twips (20 a point), measured with the font's own advances."""
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / face), size=1000)
    return font.getlength(text) / 1000 * size * 20  # 1000 units per em


@pytest.mark.parametrize("number", ["20.2%", "100.0%", "-14.5 pp", "1,470"])
def test_a_docx_number_column_is_wide_enough_for_its_widest_number_in_a_substitute_font(number: str) -> None:
    """Measured independently: the number set in DejaVu Sans (what a reader without Calibri gets, matplotlib ships
    it) at the table's size, plus Word's default cell margins (0.08 in each side), fits the column it is given, so
    the % of 20.2% does not wrap onto a second line (it did in a Chinese driver table)."""
    from retention_mcp.report.export import DOCX_TABLE_SIZES, table_layout

    rows = [["驱动因素", "占 R²", "方向", "象限", "证据"],  # the demo's driver table
            ["薪酬公平", number, "薪酬公平越高，离职越少", "优先改进", "[ev-5b7043]"],
            ["岗位", "9.5%", "“left”随“岗位”的取值不同而不同（见各取值）", "", "[ev-5b7043]"]]
    size, widths = table_layout(rows)
    assert size in DOCX_TABLE_SIZES
    text_twips, margins = dejavu_twips(number, size), CELL_MARGINS_TWIPS
    assert widths[1] >= text_twips + margins, (number, widths[1], text_twips + margins)


def test_a_bold_total_fits_its_column_in_bold() -> None:
    """A roadmap's total row is bold: measured in DejaVu Sans Bold, "120,000" fits the budget column it is given
    (it wrapped to "120,00" / "0" in a Chinese plan rendered in LibreOffice)."""
    from retention_mcp.report.export import table_layout

    rows = [["阶段", "月份", "负责角色", "主要活动", "预算", "阶段末应达成的 KPI"],
            ["诊断与试点", "第 1–3 月", "HRBP", "离职面谈复盘；夜班轮换试点", "48,000", "员工离职率 14.9"],
            ["推广", "第 4–9 月", "客服运营经理", "全员夜班轮换；中班补贴", "48,000",
             "员工离职率 13.9，新员工 90 天内离职率 3.7"],
            ["固化与复盘", "第 10–12 月", "HR 总监", "制度化；年度复盘", "24,000",
             "员工离职率 12，新员工 90 天内离职率 3"],
            ["**合计**", "第 1–12 月", "", "", "**120,000**", ""]]
    size, widths = table_layout(rows)
    assert widths[4] >= dejavu_twips("120,000", size, "DejaVuSans-Bold.ttf") + CELL_MARGINS_TWIPS
