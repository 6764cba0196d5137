"""``inspect_dataset``: what a file holds, without showing anyone's row.

Per column: type, detected role, missing count, distinct count, and the values only of low-cardinality
columns that do not identify people (never names, IDs, free text, managers, or anything where most
rows have their own value).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from retention_mcp.data.dataset import NO_DATE, Dataset, Finding, day_to_date, shape_text
from retention_mcp.data.disclosure import Policy
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, sensitive_caution, words

MAX_LISTED_VALUES = 20
MAX_COLUMNS = 200
SUGGESTED_ROLES = ("department", "job_role", "shift", "location", "performance", "manager")


class ColumnInfo(BaseModel):
    name: str
    type: Literal["number", "text", "date", "flag", "empty"]
    role: str | None = Field(description="detected role (see tools/column_aliases.yaml), or None")
    missing: int = Field(description="empty cells")
    distinct: int = Field(description="distinct non-empty values")
    identifying: bool = Field(description="True when values could identify a person (or name people): never shown")
    sensitive: bool = Field(False, description="a protected attribute (gender, age, marital status, nationality): "
                            "use as a dimension or driver only with care for fair treatment")
    values: list[str] | None = Field(None, description="the distinct values, only for low-cardinality "
                                     "columns that do not identify people")
    rare_values_hidden: int = Field(0, description="values held by fewer rows than the minimum group size, not "
                                    "listed")
    date_range: list[str] | None = Field(None, description="[earliest, latest] for hire/termination date columns")


class QualityFinding(BaseModel):
    check: str = Field(description="duplicate_ids, termination_before_hire, future_dates, unparseable_dates, "
                       "unknown_flag_values, missing_hire_dates, leaver_without_termination_date, ...")
    count: int | None = Field(description="rows (or values) affected; None when fewer than the minimum group size "
                              "(the detail says 'fewer than 5')")
    detail: str


class DatasetSummary(Evidenced):
    rows: int
    columns: int
    shape: Literal["event", "snapshot", "unknown"] = Field(
        description="event: hire and termination dates; snapshot: a leaver flag; unknown: neither recognised")
    shape_source: str
    as_of: str | None = Field(description="latest date in the file (ISO), the default end of turnover periods")
    leavers: int | None = Field(description="rows that have left (termination date or leaver flag)")
    roles: dict[str, str] = Field(description="role -> column")
    column_info: list[ColumnInfo]
    findings: list[QualityFinding]
    suggested_dimensions: list[str] = Field(description="good `by` values for turnover_breakdown")
    truncated: bool = Field(description="True when more than 200 columns exist and only the first are listed")
    read_as: str = Field("", description="how the file was read: format, encoding, delimiter, sheet and the row "
                         "holding the column names (title rows above it are skipped)")
    language: ResultLanguage = "en"


def inspect_dataset(ds: Dataset, policy: Policy, w: Words | None = None) -> DatasetSummary:
    import numpy as np
    import pandas as pd

    w = w or words("en")

    frame = ds.frame
    cells = policy.cells(ds)
    infos: list[ColumnInfo] = []
    suggestions: list[str] = []
    for column in list(frame.columns)[:MAX_COLUMNS]:
        values = frame[column]
        role = ds.roles.role_of(column)
        absent = values.isna().to_numpy()
        missing = int(absent.sum())
        if isinstance(values.dtype, pd.CategoricalDtype):
            present = values.cat.remove_unused_categories().cat.categories
            distinct = len(present)
        else:
            distinct = int(values.nunique(dropna=True))
        identifying = ds.is_identifying(column)
        if missing == len(values):
            kind = "empty"
        elif role in ("hire_date", "termination_date") or pd.api.types.is_datetime64_any_dtype(values):
            kind = "date"
        elif role in ("leaver_flag", "regretted"):
            kind = "flag"
        elif pd.api.types.is_numeric_dtype(values):
            kind = "number"
        else:
            kind = "text"
        info = ColumnInfo(name=column, type=kind, role=role, missing=cells.count(absent) if missing else 0,
                          distinct=distinct, identifying=identifying, sensitive=ds.is_sensitive(column))
        if not identifying and kind in ("text", "flag", "number") and 0 < distinct <= MAX_LISTED_VALUES:
            # Only values shared by at least the minimum group size: a rare value can single a person out.
            counts = values.value_counts(dropna=True)
            common = {_show(v) for v, n in counts.items() if n >= policy.floor} - {""}
            info.values = sorted(common)
            info.rare_values_hidden = int((counts > 0).sum()) - len(common)
        if role == "hire_date" and ds.hire is not None:
            info.date_range = _range(ds.hire)
        if role == "termination_date" and ds.term is not None:
            info.date_range = _range(ds.term)
        infos.append(info)
        if ds.identity(column) == "identifying" or kind in ("date", "empty"):
            continue
        if role in SUGGESTED_ROLES or (kind == "text" and 2 <= distinct <= 30 and role is None):
            suggestions.append(column)
    if ds.tenure_months is not None or ds.hire is not None:
        suggestions.append("tenure_band")
    # Roles first (department, job role, shift...), then other categories.
    order = {role: i for i, role in enumerate(SUGGESTED_ROLES)}
    suggestions.sort(key=lambda c: order.get(ds.roles.role_of(c) or "", len(order)))
    leavers = cells.count(ds.leaver) if ds.leaver is not None else None
    return DatasetSummary(
        rows=cells.count(np.ones(ds.rows, dtype=bool)), columns=frame.shape[1], shape=ds.shape or "unknown",
        shape_source=shape_text(ds, w), as_of=day_to_date(ds.as_of).isoformat() if ds.as_of is not None else None,
        leavers=leavers, roles=ds.roles.as_dict(), column_info=infos,
        findings=[_finding(f, policy.floor, w) for f in [*filter(None, [ds.duplicate_id_finding()]), *ds.findings]],
        suggested_dimensions=suggestions[:15], truncated=frame.shape[1] > MAX_COLUMNS,
        read_as=read_as(ds.source, w), language=w.language)


def _finding(finding: Finding, floor: int, w: Words) -> QualityFinding:
    """A data-quality finding as shown, in ``w``'s language: a count below the minimum group size is never exact
    ("fewer than 5")."""
    import re

    count, detail = finding.count, finding.text(w)
    if 0 < count < floor:
        detail = re.sub(rf"(?<![\d.,]){count}(?![\d.,%])", w("dataset.fewer_than", k=floor), detail, count=1)
        count = None
    return QualityFinding(check=finding.check, count=count, detail=detail)


def read_as(source: object, w: Words | None = None) -> str:
    """'CSV, utf-8, delimiter ',', column names on row 3' from the reader's SourceInfo."""
    w = w or words("en")
    if source is None or not hasattr(source, "format"):
        return ""
    parts = [str(source.format).upper()]
    if source.encoding:
        parts.append(str(source.encoding))
    if source.delimiter:
        parts.append(w("dataset.inspect.delimiter", value=source.delimiter))
    if source.sheet:
        parts.append(w("dataset.inspect.sheet", value=source.sheet))
    if source.header_row:
        parts.append(w("dataset.inspect.header_row", value=source.header_row))
    return w.comma.join(parts)


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _range(days) -> list[str] | None:  # type: ignore[no-untyped-def]
    present = days[days != NO_DATE]
    if len(present) == 0:
        return None
    return [day_to_date(int(present.min())).isoformat(), day_to_date(int(present.max())).isoformat()]


def summary_markdown(summary: DatasetSummary, max_columns: int = 60, w: Words | None = None) -> str:
    w = w or words(summary.language)
    i = "dataset.inspect"
    lines = [w(f"{i}.title", rows=f"{summary.rows:,}", columns=summary.columns,
               shape=w(f"{i}.shapes.{summary.shape}"), source=summary.shape_source)]
    if summary.read_as:
        lines.append(w(f"{i}.read_as", how=summary.read_as))
    if summary.as_of:
        lines.append(w(f"{i}.latest", date=summary.as_of))
    if summary.leavers is not None:
        lines.append(w(f"{i}.leavers", count=f"{summary.leavers:,}"))
    lines += ["", w(f"{i}.columns"), "|---|---|---|---:|---:|---|"]
    for c in summary.column_info[:max_columns]:
        if c.identifying:
            shown = w(f"{i}.identifying")
        elif c.values is not None:
            shown = w.enumeration.join(c.values) + (w(f"{i}.rare", count=c.rare_values_hidden)
                                                    if c.rare_values_hidden else "")
        elif c.date_range:
            shown = w(f"{i}.range", start=c.date_range[0], end=c.date_range[1])
        else:
            shown = ""
        lines.append(f"| {c.name} | {w(f'{i}.types.{c.type}')} | {c.role or ''} | {c.missing} | {c.distinct} | "
                     f"{shown} |")
    if len(summary.column_info) > max_columns:
        lines.append("\n" + w(f"{i}.more_columns", count=len(summary.column_info) - max_columns))
    if summary.findings:
        lines += ["", w(f"{i}.quality")] + [f"- {f.check}: {f.count if f.count is not None else w(f'{i}.few')} — "
                                            f"{f.detail}" for f in summary.findings]
    else:
        lines += ["", w(f"{i}.quality_ok")]
    if summary.suggested_dimensions:
        lines.append("\n" + w(f"{i}.suggested", dimensions=w.enumeration.join(summary.suggested_dimensions)))
    sensitive = [c.name for c in summary.column_info if c.sensitive]
    if sensitive:
        lines.append("\n" + sensitive_caution(sensitive, w))
    return "\n".join(lines)
