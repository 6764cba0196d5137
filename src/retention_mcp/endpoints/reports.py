"""``export_report``: Markdown / HTML / DOCX / XLSX into the output folder."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from retention_mcp.endpoints.turnover import LanguageArg
from retention_mcp.errors import InputError
from retention_mcp.report.export import ExportResult, Section
from retention_mcp.runtime import WRITES_OUTPUT, ToolOutput, tool
from retention_mcp.runtime.job import Job


@tool(title="Export report", result=ExportResult, annotations=WRITES_OUTPUT, evidence=False)
def export_report(
    job: Job,
    title: Annotated[str, Field(max_length=300, description="Report title (the first heading and the default "
                                                            "file name)")],
    markdown: Annotated[str | None, Field(
        description="The report in markdown: # headings, paragraphs, - lists, pipe tables, "
                    "![caption](chart.png) for a PNG in the output folder")] = None,
    sections: Annotated[list[Section] | None, Field(
        description="Instead of / after markdown: sections with heading, markdown, table_csv, a chart spec "
                    "{kind, data} or an image already in the output folder")] = None,
    format: Annotated[Literal["md", "html", "docx", "xlsx"], Field(
        description="docx = Word with real headings, tables and charts; html = one self-contained file that "
                    "prints cleanly; xlsx = one sheet per table; md = Markdown plus chart PNGs")] = "docx",
    filename: Annotated[str | None, Field(description="Plain file name (no folders); default from the title")]
    = None,
    overwrite: Annotated[bool, Field(description="Replace an existing file of that name")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """Write a retention plan or analysis as a file people circulate: Word, HTML, Excel or Markdown.

    The file goes into the server's output folder only (written atomically); an existing file is an error unless
    overwrite=true. Markdown tables become real tables (XLSX: one sheet each, numbers as numbers, 13.8% as a
    percentage; formula-like text neutralised). Charts: a section's chart spec, e.g. {"kind":
    "turnover_by_group", "data": {"labels": ["销售", "研发"], "rates": [0.21, 0.12], "overall": 0.16}}.
    Example: {"title": "Retention plan Q3", "markdown": "## Hot spots\\n| dept | rate |\\n|---|---|\\n| Sales | "
    "21.0% |", "format": "docx"}.
    """
    from retention_mcp.report.export import export_report as write_report

    settings = job.settings
    w = job.words(language)
    if overwrite:
        from retention_mcp.endpoints.workspace import check_overwrite

        check_overwrite(job, filename, title, format)
    try:
        result = write_report(settings, title, markdown=markdown, sections=sections, fmt=format, filename=filename,
                              overwrite=overwrite, language=w.language)
    except PermissionError:
        raise InputError(f"cannot write into the output folder {settings.output_dir}: permission denied; start the "
                         "server with --output-dir pointing at a writable folder") from None
    text = w("export.wrote", file=result.filename, format=result.format, size=f"{result.size_bytes:,}",
             path=result.path, headings=result.headings, tables=result.tables, images=result.images,
             replaced=w("export.replaced") if result.overwritten else w("export.done"))
    if result.extra_files:
        text += w("export.charts_beside", files=w.enumeration.join(result.extra_files))
    if result.truncated:
        text += f"\n\n**{result.truncation_note}**"
    return job.output(result, text, files=[result.filename, *result.extra_files])
