"""``list_datasets``: the files in the data folders and what each looks like, from its header row alone.

Nothing but the header is read (a CSV's first line, an XLSX's first non-empty row, a Parquet schema), and
no cell value is returned: name, size, modified time, the number of columns and the detected shape —
``hr_event`` (hire and termination dates), ``hr_snapshot`` (a leaver flag), ``call_log``, ``roster`` or
``unknown`` — with the tool that reads it. Files are listed only inside the allowed data folders (symlinks
resolved), hidden files and the server's own output folder left out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.errors import InputError
from retention_mcp.settings import Settings, data_folder_problem

Shape = Literal["hr_event", "hr_snapshot", "call_log", "roster", "unknown"]
HEADER_BYTES = 64 * 1024
DEFAULT_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet", ".pq")


class DataFile(BaseModel):
    path: str = Field(description="what to pass as `path` to the data tools (relative to the first data folder, "
                      "absolute for files in the others)")
    folder: int = Field(description="which data folder (1 = the first)")
    size_bytes: int
    modified: str = Field(description="last modified, ISO 8601 (server's local time)")
    shape: Shape = Field(description="hr_event (hire/termination dates), hr_snapshot (a leaver flag), call_log, "
                         "roster or unknown, from the header row alone")
    shape_source: str = Field(description="the roles that decided the shape")
    columns: int | None = Field(description="columns in the header; None when it could not be read")
    next_tool: str = Field(description="the tool that reads this shape")
    note: str | None = None


class DatasetList(BaseModel):
    folders: int = Field(description="number of data folders configured")
    files: list[DataFile]
    truncated: bool = Field(description="True when more files exist than listed")
    notes: list[str] = Field(default_factory=list)


def read_header(path: Path) -> list[str]:
    """The column names of a data file (first row only). Raises ValueError when there is none to read."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return [str(name) for name in pq.read_schema(path).names]
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                for row in sheet.iter_rows(values_only=True, max_row=50):
                    cells = ["" if v is None else str(v).strip() for v in row[:500]]
                    if any(cells):
                        return cells
        finally:
            workbook.close()
        raise ValueError("no sheet with data")
    from retention_mcp.data.reader import detect_encoding, sniff_delimiter

    with path.open("rb") as handle:
        sample = handle.read(HEADER_BYTES)
    if not sample.strip():
        raise ValueError("empty file")
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no header row")
    delimiter = sniff_delimiter("\n".join(lines[:30]))
    return [cell.strip() for cell in next(csv.reader(io.StringIO(lines[0]), delimiter=delimiter))]


def detect_shape(headers: list[str], settings: Settings, catalog: Mapping[str, Any]) -> tuple[Shape, str]:
    """The file's shape from its headers, with the roles that decided it."""
    from retention_mcp.data.roles import detect_roles, load_roles

    table = load_roles(settings)
    hr = detect_roles(headers, table, kind="hr")
    if hr.get("hire_date") and hr.get("termination_date"):
        return "hr_event", f"hire dates ({hr.get('hire_date')}) and termination dates ({hr.get('termination_date')})"
    if hr.get("leaver_flag"):
        return "hr_snapshot", f"a leaver flag ({hr.get('leaver_flag')})"
    calls = detect_roles(headers, table, kind="calls")
    found = [role for role in catalog.get("call_log_roles") or () if calls.get(role)]
    if len(found) >= int(catalog.get("call_log_min_roles", 2)):
        return "call_log", "call-log columns: " + ", ".join(f"{role} ({calls.get(role)})" for role in found)
    roster = detect_roles(headers, table, kind="roster")
    needed = list(catalog.get("roster_roles") or ("shift_date", "agent"))
    either = [role for role in catalog.get("roster_any_of") or ("shift", "shift_start") if roster.get(role)]
    if all(roster.get(role) for role in needed) and either:
        return "roster", "roster columns: " + ", ".join(f"{role} ({roster.get(role)})" for role in [*needed, *either])
    if hr.get("hire_date"):
        return "unknown", f"hire dates ({hr.get('hire_date')}) but no termination dates or leaver flag"
    return "unknown", "no hire/termination dates, leaver flag, call-log or roster columns recognised"


def list_data_files(settings: Settings, *, folder: str | None = None,
                    catalog: Mapping[str, Any] | None = None) -> DatasetList:
    """Every data file in the allowed folders (or one subfolder of them), newest first within a folder."""
    catalog = dict(catalog or {})
    suffixes = tuple(str(s).lower() for s in catalog.get("suffixes") or DEFAULT_SUFFIXES)
    max_files = int(catalog.get("max_files", 500))
    max_depth = int(catalog.get("max_depth", 3))
    next_tool = dict(catalog.get("next_tool") or {})
    notes: list[str] = []
    if not settings.data_dirs:
        raise InputError("no data folder is configured, so there are no files to list; start the server with "
                         "--data-dir pointing at the folder with your exports")
    problems = [problem for root in settings.data_dirs if (problem := data_folder_problem(root))]
    if len(problems) == len(settings.data_dirs):  # no folder to list: the start check's message, in the result
        raise InputError("; ".join(problems) + ". (The server started anyway: a desktop client does not show a "
                         "failed start.)")
    notes += problems  # os.walk finds nothing in a folder it cannot read: the note says why
    roots = list(settings.data_dirs)
    if folder is not None:
        if not isinstance(folder, str) or not folder.strip() or "\x00" in folder or len(folder) > 1024:
            raise InputError("folder must be the name of a subfolder of the data folder, e.g. 'exports'")
        candidate = Path(folder.strip()).expanduser()
        base = candidate if candidate.is_absolute() else roots[0] / candidate
        try:
            resolved = base.resolve()
            is_folder = resolved.is_dir()
        except OSError as exc:  # a name too long, a loop of links
            raise InputError(f"{folder[:80]!r} cannot be opened ({exc.strerror or type(exc).__name__}); give a "
                             "subfolder of the data folder, e.g. 'exports'") from None
        if not any(resolved.is_relative_to(root) for root in roots):
            raise InputError(f"{folder[:80]!r} is outside the data folders; give a subfolder of them")
        if not is_folder:
            raise InputError(f"{folder[:80]!r} is not a folder inside the data folders")
        starts = [(next(i for i, root in enumerate(roots) if resolved.is_relative_to(root)), resolved)]
    else:
        starts = list(enumerate(roots))
    output_dir = settings.output_dir
    files: list[DataFile] = []
    truncated = False
    for index, start in starts:
        root = roots[index]
        found: list[Path] = []
        for directory, subfolders, names in os.walk(start, followlinks=False):
            here = Path(directory)
            depth = len(here.relative_to(start).parts)
            subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and depth < max_depth
                                   and not (here / d).resolve().is_relative_to(output_dir))
            for name in sorted(names):
                if name.startswith(".") or not name.lower().endswith(suffixes):
                    continue
                found.append(here / name)
        for path in found:
            if len(files) >= max_files:
                truncated = True
                break
            entry = _describe(path, root, index, settings, catalog, next_tool)
            if entry is not None:
                files.append(entry)
    if truncated:
        notes.append(f"more than {max_files} files: the first {max_files} are listed; pass folder to narrow it down")
    if not files:
        notes.append("no data files (" + ", ".join(suffixes) + ") in the data folders")
    return DatasetList(folders=len(roots), files=files, truncated=truncated, notes=notes)


def _describe(path: Path, root: Path, index: int, settings: Settings, catalog: Mapping[str, Any],
              next_tool: Mapping[str, str]) -> DataFile | None:
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(root) or not resolved.is_file():
            return None  # a symlink out of the data folder, or not a file
        stat = resolved.stat()
    except OSError:
        return None
    shown = str(path.relative_to(root)) if index == 0 else str(path)
    modified = dt.datetime.fromtimestamp(stat.st_mtime).replace(microsecond=0).isoformat()
    note = None
    if stat.st_size > settings.max_file_bytes:
        note = f"larger than the {settings.max_file_mb:g} MB limit: the tools will not read it"
    try:
        headers = [h for h in read_header(resolved) if h] if stat.st_size else []
        if not headers:
            raise ValueError("no header")
        shape, source = detect_shape(headers, settings, catalog)
        columns: int | None = len(headers)
    except Exception as exc:  # any unreadable file is listed as unknown, never an error for the listing
        shape, source, columns = "unknown", "the header row could not be read", None
        note = note or ("empty file" if not stat.st_size else f"header not readable ({type(exc).__name__})")
    return DataFile(path=shown, folder=index + 1, size_bytes=stat.st_size, modified=modified, shape=shape,
                    shape_source=source, columns=columns, next_tool=str(next_tool.get(shape, "inspect_dataset")),
                    note=note)


def listing_markdown(result: DatasetList, max_lines: int = 60) -> str:
    lines = [f"**{len(result.files)} data file(s)** in {result.folders} data folder(s) (headers read only; no "
             "contents).", "", "| path | size | modified | shape | columns | read with |",
             "|---|---:|---|---|---:|---|"]
    for f in result.files[:max_lines]:
        size = f"{f.size_bytes / 1e6:.1f} MB" if f.size_bytes >= 1e5 else f"{f.size_bytes / 1e3:.1f} KB"
        lines.append(f"| {f.path} | {size} | {f.modified} | {f.shape} | "
                     f"{f.columns if f.columns is not None else '—'} | {f.next_tool} |")
    if len(result.files) > max_lines:
        lines.append(f"\n…{len(result.files) - max_lines} more in the structured content.")
    for note in result.notes:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)
