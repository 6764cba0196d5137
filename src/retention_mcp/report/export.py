"""Write a report (markdown and/or sections with charts) as Markdown, HTML, DOCX or XLSX.

Files go only into ``settings.output_dir``, are written atomically (temporary file in the same
folder, then a link / rename), and never replace an existing file unless asked.

Output is bounded: a file is at most ``OUTPUT_FACTOR`` times its input (text plus images) plus
``OUTPUT_ALLOWANCE_BYTES``, never more than ``MAX_OUTPUT_BYTES``, with at most ``MAX_EXPORT_CELLS``
table cells. A report past a bound is cut at a block or table row and says so, in the file and in
the result (``truncated``, ``truncation_note``). HTML embeds every image it shows, so an image repeated
many times is what usually meets the bound; Markdown only references images and is never cut.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.errors import InputError, LimitError
from retention_mcp.report.fonts import CJK_RANGES
from retention_mcp.report.markdown import Block, inline_runs, parse_markdown, plain_text
from retention_mcp.settings import Settings
from retention_mcp.wording import words

Format = Literal["md", "html", "docx", "xlsx"]
EXTENSIONS: dict[str, tuple[str, ...]] = {"md": (".md",), "html": (".html", ".htm"), "docx": (".docx",),
                                          "xlsx": (".xlsx",)}
MAX_MARKDOWN_CHARS = 2_000_000
MAX_IMAGES = 50
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_TABLE_ROWS = 20_000
MAX_TOTAL_IMAGE_BYTES = 50 * 1024 * 1024
OUTPUT_FACTOR = 10
OUTPUT_ALLOWANCE_BYTES = 1024 * 1024
MAX_OUTPUT_BYTES = 50 * 1024 * 1024
#: Table cells in one export: bounds the time a DOCX or XLSX takes to build (~100,000 cells a second).
MAX_EXPORT_CELLS = 200_000
#: Characters XML (so DOCX and XLSX) cannot hold: C0 controls but tab/newline/CR, lone surrogates, U+FFFE/F.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: First characters that make a spreadsheet treat text as a formula (ASCII, full-width, minus sign, controls).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "−", "\t", "\r", "\n")
NUMBER = re.compile(r"^[+\-−]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?([eE][+-]?\d+)?$")
PERCENT = re.compile(r"^([+\-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?)\s*[%％]$")
BAD_FILENAME_CHARS = re.compile(r'[<>:"|?*\x00-\x1f\\/]')


class ChartSpec(BaseModel):
    kind: Literal["turnover_by_group", "retention_curves", "roi_scenarios", "kpi_scorecard", "driver_importance"] = \
        Field(description="Which chart to draw")
    data: dict[str, Any] = Field(description=(
        "Keyword arguments of the chart. turnover_by_group: labels, rates (fractions), lows, highs, overall, title; "
        "retention_curves: series {label: [[time, survival], ...]}, title, time_label; roi_scenarios: names, "
        "roi (fractions) or benefit + cost, title; kpi_scorecard: names, achievement (fractions of target), status "
        "(green/yellow/orange/red or 绿/黄/橙/红), title; driver_importance: drivers, importance, quadrants, title"))


class Section(BaseModel):
    heading: str | None = Field(default=None, description="Section heading (omit for none)")
    level: int = Field(default=2, ge=1, le=6, description="Heading level, 1-6 (the report title is above level 1)")
    markdown: str = Field(default="", description="Body in markdown: paragraphs, lists, pipe tables, "
                                                  "![caption](chart.png) for a PNG already in the output folder")
    table_csv: str | None = Field(default=None, description="A table as inline CSV (header row first)")
    chart: ChartSpec | None = Field(default=None, description="A chart drawn for this section")
    image: str | None = Field(default=None, description="File name of a PNG already in the output folder")
    caption: str | None = Field(default=None, description="Caption under the chart or image")


class ExportResult(BaseModel):
    path: str = Field(description="Absolute path of the written file (inside the output folder)")
    filename: str = Field(description="File name")
    format: Format
    size_bytes: int = Field(description="File size in bytes")
    headings: int = Field(description="Headings written (the title included)")
    tables: int = Field(description="Tables written (XLSX: one sheet each)")
    images: int = Field(description="Charts / images embedded or referenced")
    extra_files: list[str] = Field(default_factory=list, description="Chart PNGs written beside a Markdown report")
    overwritten: bool = Field(description="True when an existing file was replaced (overwrite=true)")
    truncated: bool = Field(default=False, description="True when the report was cut to keep the file within "
                                                       "the output bound; truncation_note says where and why")
    truncation_note: str | None = Field(default=None, description="Where the report was cut and why (also "
                                                                   "written at the end of the file)")


@dataclass
class Document:
    """A report ready to write: the title, markdown source and the blocks parsed from it."""

    title: str
    markdown: str
    blocks: list[Block] = field(default_factory=list)
    extra_files: list[str] = field(default_factory=list)
    input_bytes: int = 0  # text (UTF-8) plus each distinct image once: what the output bound is a factor of
    language: str = "en"  # the words the file adds itself (chart axes, sheet names, placeholders)


# -- file names and writing --------------------------------------------------------------------------

def check_filename(filename: str | None, title: str, fmt: str) -> tuple[str, bool]:
    """(file name, was it given explicitly). Refuses paths, '..', hidden names and a wrong extension."""
    extensions = EXTENSIONS[fmt]
    if filename is None or not filename.strip():
        stem = re.sub(r"[^\w-]+", "-", title, flags=re.UNICODE).strip("-_")[:80] or "report"
        return stem + extensions[0], False
    name = filename.strip()
    if BAD_FILENAME_CHARS.search(name) or ".." in name or name.startswith("."):
        raise InputError(f"filename {filename!r} must be a plain file name (no folders, '..', leading dot or "
                         "characters like / \\ : * ? \" < > |); the file always goes into the output folder")
    if len(name) > 150:
        raise InputError("filename is longer than 150 characters; shorten it")
    suffix = Path(name).suffix.lower()
    if not suffix:
        return name + extensions[0], True
    if suffix not in extensions:
        known = {ext for exts in EXTENSIONS.values() for ext in exts}
        if suffix in known:
            raise InputError(f"filename {filename!r} ends in {suffix} but format is {fmt!r}; use a {extensions[0]} "
                             f"name or set format to match")
        return name + extensions[0], True
    return name, True


def _free_name(folder: Path, name: str) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 1
    while (folder / candidate).exists():
        number += 1
        candidate = f"{stem}-{number}{suffix}"
    return candidate


def atomic_write(folder: Path, name: str, data: bytes, overwrite: bool) -> tuple[Path, bool]:
    """Write ``data`` to ``folder/name`` via a temporary file in the same folder; (path, replaced?)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise InputError(f"{name!r} in the output folder is a link or a folder; choose another filename")
    existed = target.exists()
    if existed and not overwrite:
        raise InputError(f"{name!r} already exists in the output folder; pass overwrite=true to replace it or "
                         "choose another filename")
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        if overwrite:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)  # fails if the name appeared meanwhile: never clobbers
            except FileExistsError:
                raise InputError(f"{name!r} already exists in the output folder; pass overwrite=true to replace "
                                 "it or choose another filename") from None
            except OSError:  # a filesystem without hard links
                os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return target, existed


# -- assembling the document --------------------------------------------------------------------------

def _csv_rows(text: str) -> list[list[str]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    except csv.Error as exc:  # a cell over the csv module's field limit, a NUL byte: not a table to render
        raise InputError(f"table_csv could not be read as CSV ({exc}); give a header row and data rows of "
                         "ordinary cells") from None
    if not rows:
        raise InputError("table_csv is empty; give a header row and data rows")
    if len(rows) > MAX_TABLE_ROWS:
        raise InputError(f"table_csv has {len(rows)} rows, above {MAX_TABLE_ROWS}; aggregate it first")
    width = len(rows[0])
    return [(r + [""] * width)[:width] for r in rows]


def _md_table(rows: list[list[str]]) -> str:
    def cell(value: str) -> str:
        return value.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _read_output_image(settings: Settings, name: str) -> bytes:
    if BAD_FILENAME_CHARS.search(name) or ".." in name or name.startswith("."):
        raise InputError(f"image {name!r} must be the plain name of a PNG in the output folder")
    if Path(name).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InputError(f"image {name!r} is not a .png or .jpg file")
    from retention_mcp.workspace.files import read_output_file

    try:
        return read_output_file(settings, name, MAX_IMAGE_BYTES, missing=(
            f"image {name!r} is not in the output folder ({settings.output_dir}); make the chart first or pass a "
            "chart spec instead"))
    except InputError as exc:  # a link, not a regular file, too large: the message says which
        raise InputError(f"image {exc}" if not str(exc).startswith("image") else str(exc)) from None


def _clean(text: str | None) -> str:
    """Text without characters XML cannot hold (Word and Excel files are XML): they would fail the export."""
    return XML_INVALID.sub("", text or "")


def build_document(settings: Settings, title: str, markdown: str | None, sections: list[Section] | None,
                   fmt: str, language: str = "en") -> Document:
    """Parse the markdown and sections into blocks; draw charts; load referenced images."""
    from retention_mcp.report.charts import chart_from_spec, save_chart

    if not title or not title.strip():
        raise InputError("title is empty; give the report a title")
    if not markdown and not sections:
        raise InputError("give markdown (the report text) or sections (a list of {heading, markdown, table_csv, "
                         "chart, image})")
    total = len(markdown or "") + sum(len(s.markdown) + len(s.table_csv or "") for s in sections or [])
    if total > MAX_MARKDOWN_CHARS:
        raise InputError(f"the report is {total:,} characters, above {MAX_MARKDOWN_CHARS:,}; shorten it")
    title = _clean(title).strip()
    doc = Document(title=title, markdown=f"# {title}\n", language=language)
    doc.blocks.append(Block("heading", text=title, level=0))
    md_parts: list[str] = []
    images: dict[str, bytes] = {}  # each file read once, however often the report shows it
    text_bytes = len(title.encode("utf-8", "replace"))

    def output_image(name: str) -> bytes:
        if name not in images:
            images[name] = _read_output_image(settings, name)
            if sum(len(data) for data in images.values()) > MAX_TOTAL_IMAGE_BYTES:
                raise InputError(f"the report's images add up to more than {MAX_TOTAL_IMAGE_BYTES // 1024 // 1024} "
                                 "MB; use smaller images or split the report")
        return images[name]

    def count_image() -> None:
        if sum(1 for b in doc.blocks if b.kind == "image") >= MAX_IMAGES:
            raise InputError(f"more than {MAX_IMAGES} images; split the report")

    def add_markdown(text: str) -> None:
        nonlocal text_bytes
        text = _clean(text)
        if not text.strip():
            return
        text_bytes += len(text.encode("utf-8", "replace"))
        md_parts.append(text.strip())
        for block in parse_markdown(text):
            if block.kind == "image":
                count_image()
                if not re.match(r"^[a-z]+://", block.source, re.IGNORECASE):
                    block.image = output_image(block.source)
            doc.blocks.append(block)

    def add_image(png: bytes, caption: str, stem: str, existing: str | None = None) -> None:
        count_image()
        if fmt == "md":
            name = existing or save_chart(settings, png, stem).name
            if existing is None:
                doc.extra_files.append(name)
            md_parts.append(f"![{caption}]({name})")
        doc.blocks.append(Block("image", text=caption, source=existing or stem, image=png))

    if markdown:
        add_markdown(markdown)
    for index, section in enumerate(sections or [], start=1):
        if section.heading:
            heading = _clean(section.heading)
            text_bytes += len(heading.encode("utf-8", "replace"))
            md_parts.append(f"{'#' * section.level} {heading}")
            doc.blocks.append(Block("heading", text=heading, level=section.level))
        add_markdown(section.markdown)
        if section.table_csv:
            table_csv = _clean(section.table_csv)
            text_bytes += len(table_csv.encode("utf-8", "replace"))
            rows = _csv_rows(table_csv)
            md_parts.append(_md_table(rows))
            doc.blocks.append(Block("table", rows=rows))
        caption = _clean(section.caption)
        if section.chart:
            png = chart_from_spec(section.chart.kind, section.chart.data, language)
            images[f"chart {index}"] = png  # the chart carries its own title
            add_image(png, caption, f"{Path(check_filename(None, title, 'md')[0]).stem}-chart-{index}")
        if section.image:
            add_image(output_image(section.image), caption, section.image, existing=section.image)
    # Every export says how the figures about people in it were protected (the server's privacy mode).
    from retention_mcp.data.cellkey import mode_statement

    statement = mode_statement(settings.mode_for_call(), settings.min_group_size, language, settings)
    md_parts.append(f"_{statement}_")
    doc.blocks.append(Block("paragraph", text=statement))
    doc.markdown += "\n" + "\n\n".join(md_parts) + "\n"
    doc.input_bytes = text_bytes + sum(len(data) for data in images.values())
    return doc


# -- the output bound -------------------------------------------------------------------------------------

#: Rough bytes each format writes: (fixed, per block, per table cell, per image byte shown). DOCX and XLSX are
#: zip files and Word keeps one copy of an image however often it is shown; the result is measured anyway.
_COSTS: dict[str, tuple[int, int, int, float]] = {
    "html": (3_000, 20, 22, 1.37), "docx": (40_000, 40, 8, 1.0), "xlsx": (8_000, 30, 8, 1.0), "md": (0, 2, 3, 0.0)}


def output_limit(input_bytes: int) -> int:
    """The largest file an export of ``input_bytes`` of input may write."""
    return min(MAX_OUTPUT_BYTES, OUTPUT_FACTOR * input_bytes + OUTPUT_ALLOWANCE_BYTES)


def _limit_text(doc: Document) -> str:
    return (f"{output_limit(doc.input_bytes) / 1024 / 1024:.1f} MB: {OUTPUT_FACTOR}x its "
            f"{doc.input_bytes / 1024:,.0f} KB input plus {OUTPUT_ALLOWANCE_BYTES // 1024 // 1024} MB, "
            f"at most {MAX_OUTPUT_BYTES // 1024 // 1024} MB")


def cut_to_budget(doc: Document, fmt: str, budget: int) -> tuple[list[Block], tuple[str, str] | None]:
    """The blocks that fit ``budget`` estimated bytes and ``MAX_EXPORT_CELLS`` cells, and where the cut is."""
    fixed, per_block, per_cell, per_image_byte = _COSTS[fmt]
    total, cells, tables = fixed, 0, 0
    shown: set[int] = set()
    kept: list[Block] = []
    for number, block in enumerate(doc.blocks):
        if block.kind == "table":
            tables += 1
            fit = 0
            for row in block.rows:
                cost = per_block + sum(len(c.encode("utf-8", "replace")) + per_cell for c in row)
                if total + cost > budget or cells + len(row) > MAX_EXPORT_CELLS:
                    break
                total, cells, fit = total + cost, cells + len(row), fit + 1
            if fit < len(block.rows):
                if fit > 1:
                    kept.append(Block("table", rows=block.rows[:fit]))
                why = "size" if cells + len(block.rows[fit]) <= MAX_EXPORT_CELLS else "cells"
                return kept, (f"table {tables} after row {max(0, fit - 1):,} of {len(block.rows) - 1:,}", why)
            kept.append(block)
            continue
        cost = per_block + len((block.text + "".join(block.items)).encode("utf-8", "replace"))
        if block.image is not None and (fmt != "docx" or id(block.image) not in shown):
            cost += int(len(block.image) * per_image_byte)
            shown.add(id(block.image))
        if total + cost > budget:
            return kept, (f"block {number + 1} of {len(doc.blocks)} ({block.kind})", "size")
        total += cost
        kept.append(block)
    return kept, None


def bound_document(doc: Document, fmt: str, budget: int) -> str | None:
    """Cut ``doc`` to the output bound in place; the note saying so (also added to the document), or None."""
    if fmt == "md":  # Markdown is its input, with images only referenced: it cannot outgrow the bound
        return None
    reserve = 2_000  # room for the note itself
    kept, cut = cut_to_budget(doc, fmt, max(0, budget - reserve))
    if cut is None:
        return None
    where, why = cut
    reason = (f"it has more than {MAX_EXPORT_CELLS:,} table cells" if why == "cells" else
              f"the whole {fmt.upper()} file would pass this export's limit of {_limit_text(doc)}")
    note = (f"Truncated: this report stops at {where}, because {reason}. Export fewer rows or images, "
            "split the report, or use format md.")
    doc.blocks = [*kept, Block("paragraph", text=f"**{note}**")]
    return note


# -- spreadsheet cells -------------------------------------------------------------------------------

def spreadsheet_cell(text: str) -> tuple[Any, str | None]:
    """(value, number format) for a table cell: numbers as numbers, 13.8% as 0.138 with a % format,
    and text that a spreadsheet would run as a formula neutralised with a leading apostrophe."""
    value = plain_text(text).strip()
    if not value:
        return None, None
    if NUMBER.match(value):
        number = float(value.replace(",", "").replace("−", "-"))
        if number.is_integer() and "." not in value and "e" not in value.lower() and abs(number) < 1e15:
            return int(number), "#,##0" if "," in value else None
        return number, None
    if match := PERCENT.match(value):
        digits = len(match.group(2) or "")
        number_format = ("0." + "0" * digits + "%") if digits else "0%"
        # round away binary noise (8.2 / 100 = 0.08199999999999999)
        return round(float(match.group(1).replace(",", "").replace("−", "-")) / 100, digits + 8), number_format
    return neutralise_formula(value), None


def neutralise_formula(text: str) -> str:
    """Prefix text that starts (after spaces) like a formula with an apostrophe so it stays text."""
    stripped = text.lstrip(" ")
    if text.startswith(FORMULA_TRIGGERS) or stripped.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


# -- writers ---------------------------------------------------------------------------------------------

_DETAILS_FENCE = re.compile(r"^(```|~~~)details[ \t]*(.*?)\n(.*?)\n\1[ \t]*$", re.MULTILINE | re.DOTALL)


def render_markdown(doc: Document) -> bytes:
    """The markdown, with ```` ```details Summary ```` blocks as HTML ``<details>`` (GitHub and most viewers fold
    them)."""
    text = _DETAILS_FENCE.sub(lambda m: f"<details><summary>{html.escape(m.group(2))}</summary>\n\n```\n"
                                        f"{m.group(3)}\n```\n\n</details>", doc.markdown)
    return text.encode("utf-8")


def _inline_html(text: str) -> str:
    out = []
    for run in inline_runs(text):
        piece = html.escape(run.text)
        if run.code:
            piece = f"<code>{piece}</code>"
        if run.bold:
            piece = f"<strong>{piece}</strong>"
        if run.italic:
            piece = f"<em>{piece}</em>"
        out.append(piece)
    return "".join(out)


HTML_CSS = """
:root { color-scheme: light; }
body { font-family: "Segoe UI", "Helvetica Neue", Arial, "Retention CJK", "Noto Sans CJK SC", "Source Han Sans SC",
  "PingFang SC", "Microsoft YaHei", "WenQuanYi Zen Hei", sans-serif; color: #1d2733; line-height: 1.55;
  max-width: 980px; margin: 2rem auto; padding: 0 1.2rem; }
h1 { font-size: 1.9rem; border-bottom: 3px solid #1f5f8b; padding-bottom: .3rem; }
h2 { font-size: 1.4rem; color: #1f5f8b; margin-top: 2rem; }
h3 { font-size: 1.15rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; }
th, td { border: 1px solid #c7d0d9; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #eaf1f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th, td.num, td.nb { white-space: nowrap; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #5a6775; }
details.small { font-size: .78rem; color: #5a6775; margin: .2rem 0 1rem; }
details.small pre { white-space: pre-wrap; word-break: break-all; }
@media print { details.small pre { display: none; } }
code, pre { font-family: "SFMono-Regular", Consolas, monospace; background: #f4f6f8; }
pre { padding: .6rem; overflow-x: auto; }
@media print {
  body { max-width: none; margin: 0; font-size: 10.5pt; }
  @page { size: A4; margin: 18mm 16mm; }
  h1, h2, h3 { page-break-after: avoid; break-after: avoid; }
  table, figure, pre { page-break-inside: avoid; break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
}
"""


def _looks_numeric(cell: str) -> bool:
    value = plain_text(cell).strip()
    return bool(NUMBER.match(value) or PERCENT.match(value))


def _image_mime(data: bytes) -> str:
    return "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"


def _report_font(doc: Document) -> bytes | None:
    """The packaged CJK font cut to the report's characters (None for a report without CJK text)."""
    from retention_mcp.report.fonts import cjk_characters, cjk_subset

    text = doc.title + "".join(b.text + "".join(b.items) + "".join("".join(r) for r in b.rows) for b in doc.blocks)
    return cjk_subset(cjk_characters(text))


def _embedded_font_css(doc: Document) -> str:
    """@font-face with the packaged CJK font cut to the report's characters, so Chinese renders on any machine."""
    from retention_mcp.report.fonts import EMBEDDED_FAMILY

    font = _report_font(doc)
    if font is None:
        return ""
    data = base64.b64encode(font).decode()
    return (f'@font-face {{ font-family: "{EMBEDDED_FAMILY}"; font-display: swap; '
            f'src: url(data:font/ttf;base64,{data}) format("truetype"); }}\n')


def render_html(doc: Document) -> bytes:
    parts = [f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{html.escape(doc.title)}</title><style>{_embedded_font_css(doc)}{HTML_CSS}</style></head><body>"]
    for block in doc.blocks:
        if block.kind == "heading":
            level = max(1, min(6, block.level + (1 if block.level == 0 else 0)))
            parts.append(f"<h{level}>{_inline_html(block.text)}</h{level}>")
        elif block.kind == "paragraph":
            parts.append(f"<p>{_inline_html(block.text)}</p>")
        elif block.kind == "list":
            tag = "ol" if block.ordered else "ul"
            parts.append(f"<{tag}>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items) + f"</{tag}>")
        elif block.kind == "code":
            parts.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
        elif block.kind == "details":
            parts.append(f'<details class="small"><summary>{html.escape(block.summary)}</summary>'
                         f"<pre><code>{html.escape(block.text)}</code></pre></details>")
        elif block.kind == "rule":
            parts.append("<hr>")
        elif block.kind == "table":
            # Headers, numbers and short one-piece cells (an evidence id, a date, a four-character group name)
            # never wrap: a browser printing to A4 broke "[ev-\n541600]" and "驱动因\n素"; prose cells wrap.
            head = "".join(f"<th>{_inline_html(c)}</th>" if len(c) <= HTML_NOWRAP_CHARS else
                           f'<th style="white-space: normal">{_inline_html(c)}</th>' for c in block.rows[0])
            body = "".join(
                "<tr>" + "".join(f'<td class="num">{_inline_html(c)}</td>' if _looks_numeric(c)
                                 else f'<td class="nb">{_inline_html(c)}</td>' if _one_piece(c)
                                 else f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                for row in block.rows[1:])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif block.kind == "image":
            if block.image is None:
                parts.append(f"<p><em>[image: {html.escape(block.text or block.source)}]</em></p>")
                continue
            uri = f"data:{_image_mime(block.image)};base64,{base64.b64encode(block.image).decode()}"
            caption = f"<figcaption>{html.escape(block.text)}</figcaption>" if block.text else ""
            parts.append(f'<figure><img src="{uri}" alt="{html.escape(block.text)}">{caption}</figure>')
    parts.append("</body></html>\n")
    return "\n".join(parts).encode("utf-8")


def _docx_runs(paragraph: Any, text: str) -> None:
    for run in inline_runs(text):
        added = paragraph.add_run(run.text)
        added.bold = run.bold or None
        added.italic = run.italic or None
        if run.code:
            added.font.name = "Consolas"


def _docx_run_xml(run: Any, bold: bool, size: float | None = None) -> str:
    half_points = f'<w:sz w:val="{round(size * 2)}"/><w:szCs w:val="{round(size * 2)}"/>' if size else ""
    props = ('<w:rFonts w:ascii="Consolas" w:hAnsi="Consolas"/>' if run.code else "") + (
        "<w:b/>" if bold or run.bold else "") + ("<w:i/>" if run.italic else "") + half_points
    pieces = [f'<w:t xml:space="preserve">{html.escape(piece, quote=False)}</w:t>' if piece else ""
              for piece in run.text.split("\t")]
    return f"<w:r>{'<w:rPr>' + props + '</w:rPr>' if props else ''}{'<w:tab/>'.join(pieces)}</w:r>"


#: Page width a DOCX table spans (Letter and A4 with Word's default margins: 6.3 inches), in twips (1/1440 inch).
DOCX_TABLE_TWIPS = int(6.3 * 1440)
#: Twips per character of width at 10.5 pt, and the cell padding. 0.6 em per Latin character: Calibri's digits are
#: 0.51 em, but a reader without Calibri gets a wider substitute (DejaVu's digits are 0.64 em) and a date that just
#: fitted would break at its hyphen; a Chinese character (1 em) counts two.
DOCX_CHAR_TWIPS = 126
DOCX_CELL_PADDING_TWIPS = 230
#: A column is never narrower than this many characters, nor wider than this many before wrapping is preferred.
DOCX_MIN_CHARS, DOCX_MAX_CHARS = 2, 40
#: Font sizes (pt) a table may be set in, largest first: a table too wide for the page at body size steps down once.
DOCX_TABLE_SIZES = (10.5, 9.0)
#: What a line cannot break inside: a run of Latin letters, digits and punctuation, or one CJK character.
UNBREAKABLE = re.compile(f"[{CJK_RANGES}]|[^\\s{CJK_RANGES}]+")


def table_layout(rows: list[list[str]], total: int = DOCX_TABLE_TWIPS) -> tuple[float, list[int]]:
    """The font size (pt) and column widths (twips) of a table: body size when every column fits on one line,
    else one step smaller, whose widths :func:`column_widths` shares out."""
    for size in DOCX_TABLE_SIZES:
        char = DOCX_CHAR_TWIPS * size / DOCX_TABLE_SIZES[0]
        widths, fits = column_widths(rows, total, char)
        if fits:
            break
    return size, widths


def column_widths(rows: list[list[str]], total: int = DOCX_TABLE_TWIPS,
                  char: float = DOCX_CHAR_TWIPS) -> tuple[list[int], bool]:
    """Column widths (twips) sized to their content, adding up to ``total``, and whether every cell fits on one
    line; ``char`` is the width of a Latin character in twips at the table's font size.

    Each column wants its longest cell on one line (up to :data:`DOCX_MAX_CHARS`). When the wants fit, the spare
    room is shared in proportion. When they don't, the widest columns give way first: every column is capped at one
    common width ``L``, chosen so the table fits, but never below its longest unbreakable piece (a Latin word or
    number; Chinese text breaks between any two characters). So numbers, dates and short labels stay on one line
    and the long text columns wrap. Only when even the unbreakable pieces overflow do widths shrink in proportion.
    """
    import math

    columns = len(rows[0])
    pieces = [DOCX_MIN_CHARS] * columns
    lines = [DOCX_MIN_CHARS] * columns
    for index, row in enumerate(rows):
        for c, cell in enumerate(row[:columns]):
            text = plain_text(cell)
            # bold (the header row, a **total**) is about a tenth wider: "120,000" in a bold total row wrapped
            bold = BOLD_WIDTH if index == 0 or cell.strip().startswith("**") else 1.0
            pieces[c] = max(pieces[c], *(bold * _docx_width(piece) for piece in UNBREAKABLE.findall(text) or [""]))
            lines[c] = max(lines[c], min(bold * _docx_width(text), DOCX_MAX_CHARS))
    minimum = [p * char + DOCX_CELL_PADDING_TWIPS for p in pieces]
    wanted = [max(p, ln) * char + DOCX_CELL_PADDING_TWIPS for p, ln in zip(pieces, lines, strict=True)]
    fits = sum(wanted) <= total
    if fits:
        widths = [w * total / sum(wanted) for w in wanted]
    elif sum(minimum) <= total:
        def capped(cap: float) -> list[float]:
            return [min(w, max(cap, m)) for w, m in zip(wanted, minimum, strict=True)]

        low, high = 0.0, float(max(wanted))
        for _ in range(60):  # the table's width grows with the cap: bisect for the cap that fills the page
            middle = (low + high) / 2
            low, high = (middle, high) if sum(capped(middle)) <= total else (low, middle)
        widths = capped(low)
        widths[max(range(columns), key=lambda c: wanted[c] - widths[c])] += total - sum(widths)
    else:
        widths = [m * total / sum(minimum) for m in minimum]
    out = [math.floor(w) for w in widths]
    out[-1] += total - sum(out)
    return out, fits


def _docx_table(word: Any, rows: list[list[str]]) -> None:
    """A Word table, built as XML in one parse, its columns sized to their content and numbers right-aligned.

    python-docx's ``table.cell(r, c)`` and ``row.cells`` rebuild the list of every cell on each call, which
    made a 1,000-row table take minutes, and its per-element API costs ~0.1 ms a cell even when used linearly.
    """
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls, qn

    table = word.add_table(rows=0, cols=len(rows[0]))
    table.style = "Table Grid"
    size, widths = table_layout(rows)
    small = size if size != DOCX_TABLE_SIZES[0] else None  # body size comes from the Normal style
    properties = table._tbl.tblPr
    for tag in ("w:tblW", "w:tblLayout"):
        for old in properties.findall(qn(tag)):
            properties.remove(old)
    properties.append(parse_xml(f'<w:tblW {nsdecls("w")} w:w="{sum(widths)}" w:type="dxa"/>'))
    properties.append(parse_xml(f'<w:tblLayout {nsdecls("w")} w:type="fixed"/>'))
    for column, width in zip(table._tbl.tblGrid.gridCol_lst, widths, strict=True):
        column.w = width * 635  # EMU per twip
    numeric = [all(_looks_numeric(row[c]) or not plain_text(row[c]).strip() for row in rows[1:]) and len(rows) > 1
               for c in range(len(rows[0]))]
    cell_props = [f'<w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>' for width in widths]
    right = '<w:pPr><w:jc w:val="right"/></w:pPr>'
    parts: list[str] = []
    for r, row in enumerate(rows):
        parts.append("<w:tr><w:trPr><w:tblHeader/></w:trPr>" if r == 0 else "<w:tr>")  # header on every page
        for c, value in enumerate(row):
            align = right if (numeric[c] if r == 0 else _looks_numeric(value)) else ""
            runs = "".join(_docx_run_xml(run, bold=r == 0, size=small) for run in inline_runs(value))
            parts.append(f"<w:tc>{cell_props[c]}<w:p>{align}{runs}</w:p></w:tc>")
        parts.append("</w:tr>")
    parsed = parse_xml(f"<w:tbl {nsdecls('w')}>{''.join(parts)}</w:tbl>")
    table._tbl.extend(list(parsed))


def _embed_cjk_font(word: Any, doc: Document) -> None:
    """Embed the packaged CJK font, cut to the report's characters, and set East Asian text in it in every style, so
    the document renders Chinese on a machine without a Chinese font (Word and LibreOffice both read embedded fonts;
    a reader who has the full Noto Sans CJK SC installed gets that)."""
    import hashlib
    import uuid

    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls, qn
    from lxml import etree

    from retention_mcp.report.fonts import FAMILY, obfuscated

    font = _report_font(doc)
    if font is None:
        return
    key = uuid.uuid5(uuid.NAMESPACE_OID, hashlib.sha256(font).hexdigest())  # same report, same bytes
    part = Part(PackURI("/word/fonts/font1.odttf"), "application/vnd.openxmlformats-officedocument.obfuscatedFont",
                obfuscated(font, key), word.part.package)
    table = word.part.part_related_by(RELATIONSHIP_TYPE.FONT_TABLE)
    rid = table.relate_to(part, RELATIONSHIP_TYPE.FONT)
    entry = (f'<w:font {nsdecls("w", "r")} w:name="{FAMILY}"><w:charset w:val="86"/><w:family w:val="swiss"/>'
             f'<w:pitch w:val="variable"/><w:embedRegular r:id="{rid}" w:fontKey="{{{str(key).upper()}}}"/></w:font>')
    fonts = parse_xml(table.blob)
    fonts.append(parse_xml(entry))
    table._blob = etree.tostring(fonts, xml_declaration=True, encoding="UTF-8", standalone=True)
    settings = word.settings.element
    zoom = settings.find(qn("w:zoom"))
    flags = [parse_xml(f'<w:embedTrueTypeFonts {nsdecls("w")}/>'), parse_xml(f'<w:saveSubsetFonts {nsdecls("w")}/>')]
    for flag in reversed(flags):  # schema order: right after w:zoom
        (zoom.addnext if zoom is not None else lambda e: settings.insert(0, e))(flag)
    for rfonts in word.styles.element.iter(qn("w:rFonts")):  # the defaults and every style, Normal included
        rfonts.attrib.pop(qn("w:eastAsiaTheme"), None)  # a theme font would win over the named one
        rfonts.set(qn("w:eastAsia"), FAMILY)


def render_docx(doc: Document) -> bytes:
    from docx import Document as WordDocument
    from docx.oxml.ns import qn
    from docx.shared import Inches, Pt, RGBColor

    word = WordDocument()
    normal = word.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10.5)
    # East Asian text needs its own font slot, or Word falls back to a font without Han glyphs.
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), "Microsoft YaHei")
    _embed_cjk_font(word, doc)
    word.core_properties.title = doc.title
    for block in doc.blocks:
        if block.kind == "heading":
            word.add_heading(plain_text(block.text), level=min(block.level, 9))
        elif block.kind == "paragraph":
            _docx_runs(word.add_paragraph(), block.text)
        elif block.kind == "list":
            style = "List Number" if block.ordered else "List Bullet"
            for item in block.items:
                _docx_runs(word.add_paragraph(style=style), item)
        elif block.kind == "code":
            run = word.add_paragraph().add_run(block.text)
            run.font.name = "Consolas"
            run.font.size = Pt(9)
        elif block.kind == "details":  # small type: there for whoever needs it, out of a reader's way
            paragraph = word.add_paragraph()
            summary = paragraph.add_run(block.summary + ": ")
            summary.italic = True
            summary.font.size = Pt(7)
            body = paragraph.add_run(block.text)
            body.font.size = Pt(7)
            body.font.color.rgb = RGBColor(0x5A, 0x67, 0x75)
        elif block.kind == "table":
            _docx_table(word, block.rows)
            word.add_paragraph()
        elif block.kind == "image":
            if block.image is None:
                word.add_paragraph(words(doc.language)("export.image", name=block.text or block.source))
                continue
            word.add_picture(io.BytesIO(block.image), width=Inches(6.3))
            if block.text:
                caption = word.add_paragraph()
                caption.add_run(block.text).italic = True
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def _sheet_title(text: str, used: set[str], fallback: str = "Table") -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", plain_text(text)).strip()[:28] or fallback
    name, number = base, 1
    while name.lower() in used:
        number += 1
        name = f"{base[:26]} {number}"
    used.add(name.lower())
    return name


#: How much wider bold text is than regular (DejaVu Sans Bold's digits: 0.70 em against 0.64).
BOLD_WIDTH = 1.12
#: Latin characters far wider than the 0.6 em a character is counted as (DejaVu: % 0.95 em, M 0.86, W 0.99, m 0.97):
#: counted as 1.6 characters, so "20.2%" no longer wraps its % onto a second line in a narrow column.
WIDE_LATIN = frozenset("%@MWmw—")


def _docx_width(text: str) -> float:
    """A text's width in Latin characters as a DOCX table column sizes it (CJK 2, wide Latin 1.6, others 1)."""
    return sum(2.0 if ord(ch) > 0x2E80 else 1.6 if ch in WIDE_LATIN else 1.0 for ch in text)


#: HTML table cells up to this many characters with no space never wrap (headers, ids, dates, short names).
HTML_NOWRAP_CHARS = 16


#: ... and any cell up to this many characters (a month range "第 1–3 月", a role "HR 总监").
HTML_NOWRAP_SHORT = 10


def _one_piece(text: str) -> bool:
    text = text.strip()
    return len(text) <= HTML_NOWRAP_SHORT or (len(text) <= HTML_NOWRAP_CHARS and not any(c.isspace() for c in text))


def _display_width(value: Any) -> int:
    text = str(value) if value is not None else ""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def render_xlsx(doc: Document) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    w = words(doc.language)
    book = Workbook()
    summary = book.active
    summary.title = w("export.sheet_summary")
    used = {summary.title.lower()}
    summary.column_dimensions["A"].width = 100
    row = 1
    last_heading = doc.title
    table_count = 0
    header_fill = PatternFill("solid", fgColor="EAF1F7")
    for block in doc.blocks:
        if block.kind == "heading":
            cell = summary.cell(row=row, column=1, value=neutralise_formula(plain_text(block.text)))
            cell.font = Font(bold=True, size=16 if block.level <= 1 else 13)
            last_heading = plain_text(block.text)
            row += 1
        elif block.kind in ("paragraph", "code", "details"):
            cell = summary.cell(row=row, column=1, value=neutralise_formula(plain_text(block.text)))
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            row += 1
        elif block.kind == "list":
            for item in block.items:
                summary.cell(row=row, column=1, value="• " + plain_text(item))
                row += 1
        elif block.kind == "table":
            table_count += 1
            sheet = book.create_sheet(_sheet_title(last_heading, used, w("export.sheet_table")))
            widths: dict[int, int] = {}
            for r, cells in enumerate(block.rows, start=1):
                for c, text in enumerate(cells, start=1):
                    if r == 1:
                        value, fmt = neutralise_formula(plain_text(text).strip()), None
                    else:
                        value, fmt = spreadsheet_cell(text)
                    cell = sheet.cell(row=r, column=c, value=value)
                    if isinstance(value, str):
                        cell.data_type = "s"  # never a formula, whatever the text
                    if fmt:
                        cell.number_format = fmt
                    if r == 1:
                        cell.font = Font(bold=True)
                        cell.fill = header_fill
                    widths[c] = max(widths.get(c, 0), _display_width(value))
            for c, width in widths.items():
                sheet.column_dimensions[sheet.cell(row=1, column=c).column_letter].width = min(60, max(8, width + 2))
            sheet.freeze_panes = "A2"
            summary.cell(row=row, column=1, value=w("export.see_sheet", sheet=sheet.title)).font = Font(italic=True)
            row += 1
        elif block.kind == "image" and block.image is not None:
            row = _add_xlsx_image(summary, block.image, row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _add_xlsx_image(sheet: Any, data: bytes, row: int) -> int:
    from openpyxl.drawing.image import Image as SheetImage

    image = SheetImage(io.BytesIO(data))
    scale = min(1.0, 760 / max(1, image.width))
    image.width, image.height = int(image.width * scale), int(image.height * scale)
    sheet.add_image(image, f"A{row}")
    return row + int(image.height / 20) + 2  # default row height is 15 pt = 20 px


RENDERERS = {"md": render_markdown, "html": render_html, "docx": render_docx, "xlsx": render_xlsx}


def export_report(settings: Settings, title: str, markdown: str | None = None, sections: list[Section] | None = None,
                  fmt: str = "docx", filename: str | None = None, overwrite: bool = False,
                  language: str = "en") -> ExportResult:
    """Write the report into the output folder and say where, how big, and whether it had to be cut."""
    if fmt not in RENDERERS:
        raise InputError(f"format must be one of md, html, docx, xlsx, not {fmt!r}")
    name, explicit = check_filename(filename, title, fmt)
    folder = settings.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    if not explicit and not overwrite:
        name = _free_name(folder, name)
    elif (folder / name).exists() and not overwrite:
        raise InputError(f"{name!r} already exists in the output folder; pass overwrite=true to replace it or "
                         "choose another filename")
    doc = build_document(settings, title, markdown, sections, fmt, language)
    limit = output_limit(doc.input_bytes)
    blocks, budget, note = doc.blocks, limit, None
    for _ in range(3):  # the size is estimated while cutting, then measured; cut tighter if it was off
        doc.blocks = list(blocks)
        note = bound_document(doc, fmt, budget) or note
        data = RENDERERS[fmt](doc)
        if len(data) <= limit:
            break
        budget = int(budget * limit / len(data) * 0.9)
        note = note or (f"Truncated: the whole {fmt.upper()} file would pass this export's limit of "
                        f"{_limit_text(doc)}. Export fewer rows or images, split the report, or use format md.")
    else:
        raise LimitError(f"the {fmt} file would be {len(data) / 1024 / 1024:.1f} MB, above this export's limit of "
                         f"{_limit_text(doc)}; export fewer rows or images, or use format md")
    path, existed = atomic_write(folder, name, data, overwrite)
    return ExportResult(
        path=str(path), filename=path.name, format=fmt, size_bytes=path.stat().st_size,  # type: ignore[arg-type]
        headings=sum(1 for b in doc.blocks if b.kind == "heading"),
        tables=sum(1 for b in doc.blocks if b.kind == "table"),
        images=sum(1 for b in doc.blocks if b.kind == "image"), extra_files=doc.extra_files,
        overwritten=existed and overwrite, truncated=note is not None, truncation_note=note)
