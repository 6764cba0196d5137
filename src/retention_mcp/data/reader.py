"""Reading the HR files people have, behind an access guard.

- The file is opened once, inside an allowed data folder, and read from that descriptor in one pass that
  also hashes it; a file that changes while it is read is read again once, then refused
  (:mod:`retention_mcp.data.files`).
- CSV in UTF-8, UTF-8 with BOM, GBK/GB18030 or UTF-16 (detected), delimiter sniffed (``,`` ``;`` tab
  ``|``); parsed with pyarrow (fast, dictionary-encoded text columns), pandas as a fallback that names
  the line of a ragged row. A file mixing encodings is refused with the lines that differ.
- XLSX checked before parsing (declared and real unpacked sizes, compression ratio, sheet extent;
  :mod:`retention_mcp.data.xlsx`), then read with fastexcel: a sheet by name, else the first sheet with
  data. Parquet checked from its metadata (rows × columns, uncompressed size); struct columns
  flattened, list/map columns refused.
- Title rows above the header ("XX公司员工花名册", "导出日期: 2024-06-30") are skipped: the header row is
  the first of the top rows as wide as the table whose cells read as labels, or the ``header_row`` the
  caller gives. Blank rows and empty unnamed columns are dropped; headers trimmed and made unique.
- Parsed tables are cached per file version (path, device, inode, size, mtime) with the sheet and
  header row, one parse per version however many calls arrive at once (:mod:`retention_mcp.data.cache`).

:func:`open_table` returns a :class:`Table`: the cached frame (callers must not modify it), its cache
key, and a :class:`SourceInfo` (name, size, mtime, SHA-256 of the bytes read, format, encoding,
delimiter, sheet, header row) to cite as evidence. :func:`read_table` returns a shallow copy with
plain object text columns; :func:`load_table` the cached frame and key.

Nothing here logs or puts into a message the value of a cell.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import logging
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention_mcp.data.cache import TABLES, frame_bytes
from retention_mcp.data.files import DataFile, FileChanged, check_size, open_data_file
from retention_mcp.errors import InputError, LimitError
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
SUPPORTED = ".csv, .tsv, .txt, .xlsx, .xlsm, .parquet"
#: The header row is looked for among this many non-empty rows at the top.
HEADER_SEARCH_ROWS = 20
#: Largest header_row a caller may give.
MAX_HEADER_ROW = 1000
_SAMPLE_BYTES = 2 * 1024 * 1024
_HEAD_BYTES = 256 * 1024
_MAX_DICTIONARY = 5000
_UNNAMED = re.compile(r"^(unnamed: ?\d+(_level_\d+)?|column\d+|__unnamed__\d+|nan|none)?$", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?$")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.年]\d{1,2}(?:[-/.月]\d{1,4}日?)?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_LINE_BREAK = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")
_BYTE_CLASSES = bytes(ord("L") if 0xE3 <= b <= 0xE9 else ord("c") if 0x80 <= b <= 0xBF else ord(".")
                      for b in range(256))

#: Progress callback: (fraction 0..1, message).
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SourceInfo:
    """Where a table came from, to cite as evidence. Holds no cell value.

    ``name`` is the path relative to its data folder ("csv_text" for inline CSV); ``modified`` the file's
    mtime in ISO 8601 UTC ("" for inline CSV); ``sha256`` the hash of the bytes read (of the UTF-8 text
    for inline CSV); ``format`` "csv", "xlsx" or "parquet"; ``header_row`` the 1-based row (CSV line,
    Excel row) holding the column names, 0 for Parquet (names come from its schema).
    """

    name: str
    size: int
    modified: str
    sha256: str
    format: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    header_row: int


@dataclass
class Table:
    """A parsed table: ``frame`` is the cached frame (callers must not modify it), ``key`` its cache key."""

    frame: pd.DataFrame
    key: tuple
    source: SourceInfo


@dataclass
class _Parsed:
    frame: Any
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1


def resolve_data_path(settings: Settings, path: str) -> Path:
    """The canonical path of ``path`` inside an allowed data folder (checked by opening it), or InputError."""
    with open_data_file(settings, path) as file:
        check_size(file, settings, path.strip())
        return file.path


def open_table(settings: Settings, *, path: str | None = None, csv_text: str | None = None,
               sheet: str | None = None, header_row: int | None = None,
               progress: Progress | None = None) -> Table:
    """Read exactly one of ``path`` or ``csv_text`` (cached per file version); raises InputError.

    ``sheet`` picks an XLSX sheet by name (default: the first sheet with data); ``header_row`` (1-based)
    says which row holds the column names (default: detected, see the module docstring).
    """
    header_row = _check_header_row(header_row)
    if sheet is not None and not isinstance(sheet, str):
        raise InputError("sheet must be the name of a sheet, e.g. sheet='Employees'")
    if sheet is not None:
        sheet = sheet.strip() or None
    has_path = path is not None and path != ""
    has_text = csv_text is not None and csv_text != ""
    if has_path == has_text:
        if has_path:
            raise InputError("give only one of path or csv_text, not both")
        raise InputError("give exactly one of path (a file in the data folder, e.g. 'hr_export.csv') "
                         "or csv_text (the CSV itself, header row first)")
    if has_text:
        return _open_text(settings, csv_text, header_row, progress)  # type: ignore[arg-type]
    if not isinstance(path, str):
        raise InputError("path must be a file name inside the data folder, e.g. path='hr_export.csv'")
    shown = path.strip()
    for _attempt in (1, 2):
        with open_data_file(settings, path) as file:
            check_size(file, settings, shown)
            kind = _kind_of(file.path, shown)
            key = ("file", *file.version, kind, sheet if kind == "xlsx" else None, header_row)

            def parse(file: DataFile = file, kind: str = kind) -> tuple[Any, int]:
                return _parse_file(settings, file, kind, shown, sheet, header_row, progress)

            try:
                frame, source = TABLES.get_or_create(key, parse)
            except FileChanged:
                continue
            return Table(frame=frame, key=key, source=source)
    raise InputError(f"{shown!r} is being written: it changed while it was read, twice; wait until the export or "
                     "copy has finished and call again")


def load_table(settings: Settings, *, path: str | None = None, csv_text: str | None = None,
               sheet: str | None = None, header_row: int | None = None,
               progress: Progress | None = None) -> tuple[pd.DataFrame, tuple]:
    """The cached frame itself (do not modify it) and its cache key."""
    table = open_table(settings, path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                       progress=progress)
    return table.frame, table.key


def read_table(settings: Settings, *, path: str | None = None, csv_text: str | None = None,
               sheet: str | None = None, header_row: int | None = None,
               progress: Progress | None = None) -> pd.DataFrame:
    """Read exactly one of ``path`` or ``csv_text`` into a DataFrame (cached; a copy is returned).

    Text columns come back as plain object columns (as ``pandas.read_csv`` gives them); ISO dates may
    already be datetimes. The turnover tools use :func:`load_table`, which keeps text dictionary-encoded.
    """
    import pandas as pd

    frame = open_table(settings, path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                       progress=progress).frame
    frame = frame.copy(deep=False)
    for column in frame.columns[[isinstance(t, pd.CategoricalDtype | pd.ArrowDtype) for t in frame.dtypes]]:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _check_header_row(header_row: object) -> int | None:
    if header_row is None:
        return None
    if isinstance(header_row, bool) or not isinstance(header_row, int):
        raise InputError(f"header_row must be a whole number (the 1-based row holding the column names), "
                         f"not {type(header_row).__name__}")
    if not 1 <= header_row <= MAX_HEADER_ROW:
        raise InputError(f"header_row must be between 1 and {MAX_HEADER_ROW} (the 1-based row holding the "
                         f"column names); got {header_row}")
    return header_row


def _open_text(settings: Settings, csv_text: str, header_row: int | None, progress: Progress | None) -> Table:
    if not isinstance(csv_text, str):
        raise InputError("csv_text must be the CSV as text, header row first")
    try:
        raw = csv_text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("csv_text holds characters that are not valid Unicode text; paste it again as "
                         "plain text") from None
    if len(raw) > settings.max_csv_text_bytes:
        raise LimitError(f"csv_text is larger than the server's limit of {settings.max_csv_text_kb:,.0f} KB for "
                         "inline CSV; save it as a file in the data folder and pass path instead")
    digest = hashlib.sha256(raw).hexdigest()
    key: tuple = ("csv_text", digest, header_row)

    def parse() -> tuple[Any, int]:
        parsed = _parse_csv(raw, "csv_text", header_row, progress)
        frame = _clean(parsed.frame)
        source = SourceInfo(name="csv_text", size=len(raw), modified="", sha256=digest, format="csv",
                            encoding="utf-8", delimiter=parsed.delimiter, sheet=None, header_row=parsed.header_row)
        return (frame, source), frame_bytes(frame)

    frame, source = TABLES.get_or_create(key, parse)
    return Table(frame=frame, key=key, source=source)


def _kind_of(resolved: Path, shown: str) -> str:
    suffix = resolved.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in EXCEL_SUFFIXES:
        return "xlsx"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix == ".xls":
        raise InputError(f"{shown!r} is an old-style .xls workbook; open it in Excel and save it as .xlsx "
                         "(or export the sheet as CSV)")
    if suffix in (".xlsb", ".ods", ".numbers", ".et"):
        raise InputError(f"{shown!r} is a {suffix} spreadsheet; open it and save it as .xlsx or CSV")
    raise InputError(f"{shown!r} has an unsupported file type {suffix or '(none)'!r}; supported: {SUPPORTED}")


def _parse_file(settings: Settings, file: DataFile, kind: str, shown: str, sheet: str | None,
                header_row: int | None, progress: Progress | None) -> tuple[Any, int]:
    total = max(file.size, 1)
    if progress:
        progress(0.05, f"reading {file.name} ({total / 1e6:.1f} MB)")
    on_bytes = (lambda done: progress(0.05 + 0.05 * done / total, "reading")) if progress else None
    data, digest = file.read_all(on_bytes)  # checked stable: an empty file is not one being rewritten
    if not data:
        raise InputError(f"{shown!r} is empty (0 bytes); export the data again with a header row")
    _check_container(bytes(data[:16]), bytes(data[-4:]), kind, shown)
    if kind == "csv":
        parsed = _parse_csv(data, shown, header_row, progress)
    elif kind == "xlsx":
        data = bytes(data)  # fastexcel takes bytes; the bytearray goes
        parsed = _parse_xlsx(settings, data, shown, sheet, header_row, progress)
    else:
        parsed = _parse_parquet(settings, data, shown)
    del data
    frame = _clean(parsed.frame)
    modified = dt.datetime.fromtimestamp(file.stat.st_mtime_ns / 1e9, tz=dt.UTC).isoformat(timespec="seconds")
    source = SourceInfo(name=file.name, size=file.size, modified=modified, sha256=digest, format=kind,
                        encoding=parsed.encoding, delimiter=parsed.delimiter, sheet=parsed.sheet,
                        header_row=parsed.header_row)
    return (frame, source), frame_bytes(frame)


# -- what the bytes really are


_MAGIC = (
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!", "rar"), (b"PAR1", "parquet"), (b"%PDF", "pdf"),
)


def _magic(head: bytes) -> str | None:
    for prefix, kind in _MAGIC:
        if head.startswith(prefix):
            return kind
    return None


def _check_container(head: bytes, tail: bytes, kind: str, shown: str) -> None:
    """InputError when the bytes are not what the file name says."""
    found = _magic(head)
    if kind == "csv":
        if found == "zip":
            raise InputError(f"{shown!r} is an Excel workbook or a zip archive, not CSV text; if it is a workbook, "
                             "name it .xlsx, otherwise unpack it first")
        if found == "ole":
            raise InputError(f"{shown!r} is an old-style .xls (or password-protected) Excel file, not CSV text; open "
                             "it in Excel and save it as CSV or .xlsx")
        if found in ("gzip", "bzip2", "xz", "7z", "rar"):
            raise InputError(f"{shown!r} is compressed ({found}), not CSV text; unpack it and pass the CSV inside")
        if found == "parquet":
            raise InputError(f"{shown!r} is a Parquet file; name it .parquet")
        if found == "pdf":
            raise InputError(f"{shown!r} is a PDF, not CSV text; export the table from its source as CSV or XLSX")
    elif kind == "xlsx":
        if found == "zip":
            return
        if found == "ole":
            raise InputError(f"{shown!r} is password-protected or an old .xls renamed .xlsx; open it in Excel, "
                             "remove the password if any, and save it as .xlsx")
        what = f"it is {found}" if found else "it looks like text or a web page, not a workbook"
        raise InputError(f"{shown!r} is not an XLSX workbook ({what}); open it in Excel and save it as .xlsx, or "
                         "export the sheet as CSV and pass that")
    elif kind == "parquet" and (found != "parquet" or tail != b"PAR1"):
        raise InputError(f"{shown!r} is not a complete Parquet file (it does not start and end with PAR1); "
                         "write it again, or export the table as CSV")


# -- CSV


def detect_encoding(sample: bytes) -> str:
    """'utf-8-sig', 'utf-8', 'gb18030' (a superset of GBK), 'utf-16' or 'latin-1' from the first bytes."""
    return _Encoding.detect(sample).name


@dataclass(frozen=True)
class _Encoding:
    name: str  # reported
    codec: str  # Python codec for the bytes after the BOM
    bom: int  # BOM length

    @staticmethod
    def detect(sample: bytes) -> _Encoding:
        if sample.startswith(codecs.BOM_UTF8):
            return _Encoding("utf-8-sig", "utf-8", 3)
        if sample.startswith(codecs.BOM_UTF16_LE):
            return _Encoding("utf-16", "utf-16-le", 2)
        if sample.startswith(codecs.BOM_UTF16_BE):
            return _Encoding("utf-16", "utf-16-be", 2)
        pairs = sample[: len(sample) // 2 * 2]
        if len(pairs) >= 4:
            odd_nul, even_nul = pairs[1::2].count(0), pairs[0::2].count(0)
            half = len(pairs) // 2
            # Without a BOM: the high bytes of ASCII characters are zero (a CJK character's low byte may be).
            if odd_nul >= 0.2 * half and even_nul <= 0.2 * odd_nul:
                return _Encoding("utf-16", "utf-16-le", 0)
            if even_nul >= 0.2 * half and odd_nul <= 0.2 * even_nul:
                return _Encoding("utf-16", "utf-16-be", 0)
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
            return _Encoding("utf-8", "utf-8", 0)
        except UnicodeDecodeError:
            pass
        try:
            codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
            return _Encoding("gb18030", "gb18030", 0)
        except UnicodeDecodeError:
            return _Encoding("latin-1", "latin-1", 0)


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the top lines into the most fields, most consistently.

    Each delimiter is scored by its most common per-line count times the share of lines having it, so
    a title line above the table (no delimiter at all) does not decide.
    """
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", 0.0
    for delimiter in (",", ";", "\t", "|"):
        counts = Counter(_count_outside_quotes(line, delimiter) for line in lines)
        modal, seen = max(counts.items(), key=lambda item: (item[1], item[0]))
        if modal == 0:
            modal, seen = max(((c, n) for c, n in counts.items() if c), key=lambda item: (item[1], item[0]),
                              default=(0, 0))
        score = modal * seen / len(lines)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _is_label(text: str) -> bool:
    value = text.strip()
    return bool(value) and len(value) <= 120 and not _NUMBER.match(value) and not _DATE_LIKE.match(value)


def choose_header_row(rows: list[tuple[int, int, int]]) -> int:
    """The header row among the top non-empty rows, each given as (row number, non-empty cells, label cells).

    The table's width is the most common count of non-empty cells. Among the top rows
    (HEADER_SEARCH_ROWS), the header is the first that is at least 70% that wide and whose cells are
    (80%) labels, not numbers or dates; else the first labelled row at least half that wide (a header
    with gaps); else the first row 70% that wide; else the first row. Title rows above a table ("XX公司
    员工花名册", "导出日期: 2024-06-30") are one or two cells wide, so they are passed over.
    """
    if not rows:
        return 1
    widths = Counter(width for _, width, _ in rows)
    modal = max(widths, key=lambda width: (widths[width], width))
    need = max(2, math.ceil(0.7 * modal)) if modal >= 2 else 1
    top = rows[:HEADER_SEARCH_ROWS]
    for number, width, labels in top:
        if width >= need and labels >= 0.8 * width:
            return number
    for number, width, labels in top:
        if width >= max(2, 0.5 * modal) and labels >= 0.8 * width:
            return number
    for number, width, _labels in top:
        if width >= need:
            return number
    return rows[0][0]


def _csv_records(text: str, delimiter: str, limit: int) -> list[tuple[int, int, list[str]]]:
    """(first physical line 1-based, character offset, fields) of the records in ``text`` (a file's head)
    that start within its first ``limit`` lines."""
    lines = _LINE_BREAK.split(text, maxsplit=limit)
    if lines and lines[-1] == "":
        lines.pop()
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    records = []
    reader = csv.reader(iter(lines), delimiter=delimiter)
    line_before = 0
    try:
        for fields in reader:
            if line_before >= limit:
                break
            records.append((line_before + 1, offsets[line_before], fields))
            line_before = reader.line_num
    except csv.Error:  # a NUL or an odd quote near the end of the head: use what was read
        pass
    return records


def _parse_csv(data: bytes | bytearray, shown: str, header_row: int | None,
               progress: Progress | None) -> _Parsed:
    sample = bytes(data[:_SAMPLE_BYTES])
    if not sample.strip():
        raise InputError(f"{shown!r} is empty; it needs a header row and at least one data row")
    encoding = _Encoding.detect(sample)
    if encoding.codec.startswith("utf-16"):
        try:
            data = bytes(data[encoding.bom:]).decode(encoding.codec).encode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{shown!r} starts like UTF-16 text but is not valid UTF-16; save it again as CSV "
                             "UTF-8") from None
        codec, bom = "utf-8", 0
        sample = data[:_SAMPLE_BYTES]
    else:
        codec, bom = encoding.codec, encoding.bom
        _refuse_binary(sample, shown)
    if codec == "gb18030":
        _refuse_utf8_lines(data, shown)
    # surrogateescape: the head round-trips to the same bytes, so the header's byte offset is exact.
    head_bytes = _SAMPLE_BYTES if header_row is not None else _HEAD_BYTES
    head = codecs.getincrementaldecoder(codec)(errors="surrogateescape").decode(sample[bom:head_bytes], final=False)
    delimiter = sniff_delimiter(head)
    records = _csv_records(head, delimiter, max(HEADER_SEARCH_ROWS * 5, (header_row or 0) + 1))
    header, offset = _csv_header(records, header_row, shown)
    start = bom + len(head[:offset].encode(codec, errors="surrogateescape"))
    if progress:
        progress(0.1, f"parsing CSV ({encoding.name}, delimiter {delimiter!r}, header on row {header})")
    view = memoryview(data)[start:]
    try:
        frame = _read_csv_arrow(view, codec, delimiter, _near_unique_text(records, header))
    except Exception as exc:  # ragged rows, odd quoting, late non-UTF-8 bytes: pandas names the line
        if isinstance(exc, MemoryError) or type(exc).__name__ == "ArrowMemoryError":
            raise MemoryError from None  # the call's memory bound, not a problem with the file
        # pyarrow's message can quote a row: log the type only.
        logger.info("fast CSV parse of %s failed (%s); reading it again with pandas", shown, type(exc).__name__)
        codec = _full_codec(data, codec, shown, bom)
        if codec == "gb18030" and encoding.codec == "utf-8":
            _refuse_utf8_lines(data, shown)
        frame = _read_csv_pandas(bytes(view), codec, delimiter, shown, header - 1)
        if encoding.codec == "utf-8" and codec == "gb18030":
            encoding = _Encoding("gb18030", "gb18030", 0)
    if progress:
        progress(0.6, f"parsed {len(frame):,} rows")
    if frame.shape[1] == 0:
        raise InputError(f"{shown!r} has no columns; it needs a header row")
    return _Parsed(frame=frame, encoding=encoding.name, delimiter=delimiter, header_row=header)


def _csv_header(records: list[tuple[int, int, list[str]]], header_row: int | None,
                shown: str) -> tuple[int, int]:
    """(header line, character offset of that line in the head)."""
    if header_row is not None:
        for line, offset, fields in records:
            if line == header_row:
                if not any(field.strip() for field in fields):
                    raise InputError(f"row {header_row} of {shown!r} is empty; give the row that holds the column "
                                     "names as header_row")
                return line, offset
            if line > header_row:  # inside a quoted cell that spans lines
                break
        last = records[-1][0] if records else 0
        raise InputError(f"{shown!r} has no row {header_row} that starts a record (its first {last} rows were "
                         "looked at); give the row that holds the column names as header_row")
    summary = []
    for line, _offset, fields in records:
        values = [field for field in fields if field.strip()]
        if values:
            summary.append((line, len(values), sum(_is_label(value) for value in values)))
        if len(summary) >= HEADER_SEARCH_ROWS + 10:
            break
    chosen = choose_header_row(summary)
    for line, offset, _fields in records:
        if line == chosen:
            return line, offset
    return 1, 0


_CONTROL = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


def _refuse_binary(sample: bytes, shown: str) -> None:
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if b"\x00" in sample or controls > max(8, len(sample) // 100):
        raise InputError(f"{shown!r} is not a text file (it holds binary data); if it is a workbook name it .xlsx, "
                         "if it is a Parquet file name it .parquet, otherwise export the data as CSV")


def _line_of(data: bytes | bytearray | memoryview, position: int) -> int:
    return bytes(data[:position]).count(b"\n") + 1


def _refuse_utf8_lines(data: bytes | bytearray, shown: str) -> None:
    """A GBK file with whole lines in UTF-8 (two tools wrote it) would be read as garbage: refuse it.

    A UTF-8 line of Chinese holds two CJK characters in a row, E3-E9 then two bytes 80-BF each: mapped
    to classes ("L", "c"), that is "LccLcc", which bytes.find finds fast (a regex over the bytes took
    1.7 s on a 44 MB file). Each place found is checked: is its whole line valid UTF-8?
    """
    classes = data.translate(_BYTE_CLASSES)
    position = classes.find(b"LccLcc")
    tried = 0
    while position >= 0 and tried < 10_000:
        tried += 1
        begin = data.rfind(b"\n", 0, position) + 1
        end = data.find(b"\n", position)
        end = len(data) if end < 0 else end
        try:
            bytes(data[begin:end]).decode("utf-8")
        except UnicodeDecodeError:
            position = classes.find(b"LccLcc", end)
            continue
        raise _mixed(data, shown)


def _mixed(data: bytes | bytearray, shown: str) -> InputError:
    """The error for a file whose lines are partly UTF-8 and partly not, with a few line numbers."""
    utf8: list[int] = []
    other: list[int] = []
    for number, line in enumerate(bytes(data).split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
        else:
            utf8.append(number)
    fewer, kind = (other, "not UTF-8 (GBK or another encoding)") if len(other) <= len(utf8) else (utf8, "UTF-8")
    shown_lines = ", ".join(f"{n:,}" for n in fewer[:5]) + (" ..." if len(fewer) > 5 else "")
    return InputError(f"{shown!r} mixes encodings: {len(utf8):,} line(s) are UTF-8 and {len(other):,} are not; "
                      f"the {len(fewer):,} {kind} line(s): {shown_lines}. Save the whole file again in one "
                      "encoding (CSV UTF-8) so no text is garbled")


def _full_codec(data: bytes | bytearray, codec: str, shown: str, bom: int) -> str:
    """The codec the whole file decodes with (UTF-8 or GB18030), or InputError naming the lines that do not."""
    try:
        codecs.decode(data[bom:], codec)
        return codec
    except UnicodeDecodeError as exc:
        bad = bom + exc.start
    line = _line_of(data, bad)
    prefix = bytes(data[bom:bad])
    if codec == "utf-8":
        if prefix.isascii():
            try:
                codecs.decode(data[bom:], "gb18030")
                return "gb18030"
            except UnicodeDecodeError:
                pass
        else:
            raise _mixed(data[bom:], shown)
    raise InputError(f"{shown!r} is not valid {codec.upper()} text from line {line:,} on; save it again as CSV "
                     "UTF-8 (or GBK), one encoding for the whole file")


#: A text column whose first data rows are nearly all different (IDs, names) is read as plain text: trying to
#: dictionary-encode it block by block only to give up costs a fifth of the parse of a file of a million IDs.
NEAR_UNIQUE_SAMPLE = 50
NEAR_UNIQUE_SHARE = 0.9


def _near_unique_text(records: list[tuple[int, int, list[str]]], header: int) -> list[str]:
    """Header names of the columns that hold text with nearly every value different in the head's data rows."""
    names = next((fields for line, _, fields in records if line == header), None)
    rows = [fields for line, _, fields in records if line > header]
    if names is None or len(rows) < NEAR_UNIQUE_SAMPLE or len(set(names)) != len(names):
        return []
    out = []
    for position, name in enumerate(names):
        values = [row[position].strip() for row in rows if position < len(row) and row[position].strip()]
        if (len(values) >= NEAR_UNIQUE_SAMPLE and len(set(values)) >= NEAR_UNIQUE_SHARE * len(values)
                and not any(_NUMBER.match(v) or _DATE_LIKE.match(v) for v in values)):
            out.append(name)
    return out


def _read_csv_arrow(view: memoryview, codec: str, delimiter: str, plain_text: list[str] | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(view)),
        read_options=pacsv.ReadOptions(encoding="utf8" if codec == "utf-8" else codec, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True, auto_dict_encode=True,
                                             auto_dict_max_cardinality=_MAX_DICTIONARY,
                                             column_types={name: pa.string() for name in plain_text or ()}),
    )
    kinds = [t.value_type if pa.types.is_dictionary(t) else t for t in table.schema.types]
    if any(pa.types.is_binary(t) or pa.types.is_large_binary(t) for t in kinds):
        # pyarrow reads a column holding bytes that are not valid in the encoding as raw bytes, silently.
        raise UnicodeDecodeError(codec, b"", 0, 1, "a column is not valid text in this encoding")
    table = table.rename_columns(_unique_names([str(n) for n in table.column_names]))
    return _arrow_frame(table, excel=False)


def _arrow_frame(table: pa.Table, *, excel: bool) -> pd.DataFrame:
    """pandas frame from Arrow; text Arrow-backed (no million Python strings). For Excel, as the CSV reader
    gives them: text with few distinct values categorical, whole-number columns without gaps int64."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if excel:
        columns = []
        for column in table.columns:
            kind = column.type
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                if pc.count_distinct(column).as_py() <= _MAX_DICTIONARY:
                    column = pc.dictionary_encode(column)
            elif pa.types.is_floating(kind) and column.null_count == 0 and len(column):
                finite = pc.all(pc.is_finite(column)).as_py()
                if finite and pc.all(pc.equal(column, pc.floor(column))).as_py():
                    low, high = pc.min_max(column).values()
                    if low.as_py() >= -(2**53) and high.as_py() <= 2**53:
                        column = column.cast(pa.int64())
            columns.append(column)
        table = pa.table(columns, names=table.column_names)
    arrow_string = pd.ArrowDtype(pa.string())
    return table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True,
                           types_mapper=lambda t: arrow_string if t in (pa.string(), pa.large_string()) else None)


def _read_csv_pandas(raw: bytes, codec: str, delimiter: str, shown: str, lines_above: int) -> pd.DataFrame:
    import pandas as pd

    try:
        # A row with more fields than the header is an error, not a silently dropped row.
        return pd.read_csv(io.BytesIO(raw), sep=delimiter, encoding=codec, skip_blank_lines=True, low_memory=False,
                           on_bad_lines="error")
    except pd.errors.EmptyDataError:
        raise InputError(f"{shown!r} is empty; it needs a header row and at least one data row") from None
    except pd.errors.ParserError as exc:
        if "out of memory" in str(exc).lower():
            raise MemoryError from None
        detail = str(exc).splitlines()[0].removeprefix("Error tokenizing data. C error: ")
        detail = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + lines_above}", detail)
        # pandas says "Expected 2 fields in line 3, saw 4": counts, never cell values.
        detail = detail if re.fullmatch(r"[\w ,.]*", detail) else "a row does not fit"
        raise InputError(f"{shown!r} has a row that does not fit the header ({detail[:160]}); usually a text cell "
                         "holds an unquoted delimiter: quote that cell or remove the stray delimiter, so that no "
                         "row is dropped") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{shown!r} could not be read as CSV ({type(exc).__name__}); save it again as CSV "
                         "(UTF-8 or GBK) with one header row") from None


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for raw in names:
        name = raw.strip()
        if name in seen and name:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen.setdefault(name, 0)
        out.append(name)
    return out


# -- Excel


def _parse_xlsx(settings: Settings, data: bytes, shown: str, sheet: str | None, header_row: int | None,
                progress: Progress | None) -> _Parsed:
    from retention_mcp.data import xlsx

    limits = xlsx.Limits(max_cells=int(settings.max_cells),
                         max_uncompressed=int(settings.max_uncompressed_mb * 2**20),
                         max_ratio=float(settings.max_compression_ratio))
    book = xlsx.Workbook(data, shown, limits)
    names = [s.name for s in book.sheets]
    listed = _sheet_listing(settings, names)
    if sheet is not None:
        matches = [s for s in book.sheets if s.name == sheet] or [
            s for s in book.sheets if s.name.strip().casefold() == sheet.casefold()]
        if len(matches) != 1:
            raise InputError(f"{shown!r} has no sheet {sheet!r}; {listed}")
        if matches[0].kind != "worksheet" or matches[0].member is None:
            raise InputError(f"sheet {sheet!r} of {shown!r} is a {matches[0].kind}, not a table; {listed}")
        candidates = matches
    else:
        candidates = [s for s in book.sheets if s.kind == "worksheet" and s.member is not None]
    if progress:
        progress(0.12, "checking the workbook")
    chosen = None
    for candidate in candidates:
        scan = book.scan(candidate, until_row=header_row or 0)
        if scan.rows:
            chosen = candidate, scan
            break
    if chosen is None:
        raise InputError(f"{shown!r} has no sheet with data" + (f" (sheet {sheet!r} is empty)" if sheet else "")
                         + "; check the workbook, or export the table as CSV")
    target, scan = chosen
    book.verify_parts([target])
    wanted = [r for r in scan.rows[:HEADER_SEARCH_ROWS + 10] if header_row is None or r.number <= header_row]
    wanted += [r for r in scan.rows if r.number == header_row and r not in wanted]
    shared = book.shared_strings({c.shared for r in wanted for c in r.cells if c.shared is not None})
    masked = sheet is None and _names_person(settings, target.name)
    shown_sheet = f"{book.sheets.index(target) + 1} (named after a person)" if masked else target.name
    sheet_words = f"sheet {book.sheets.index(target) + 1}" if masked else f"sheet {target.name!r}"
    if header_row is not None:
        if not any(row.number == header_row for row in scan.rows):
            raise InputError(f"row {header_row} of {sheet_words} is empty; give the row that holds the "
                             "column names as header_row")
        header = header_row
    else:
        summary = []
        for row in scan.rows[:HEADER_SEARCH_ROWS + 10]:
            labels = 0
            for cell in row.cells:
                text = cell.text if cell.kind == "text" else shared.get(cell.shared) if cell.kind == "shared" else None
                labels += text is not None and _is_label(text)
            summary.append((row.number, len(row.cells), labels))
        header = choose_header_row(summary)
    if progress:
        progress(0.2, f"reading {sheet_words} (header on row {header})")
    table = xlsx.read_sheet(data, target.name, book.sheets.index(target), header, names)
    labels = next((r for r in scan.rows if r.number == header), None)
    if labels is not None:
        table = table.rename_columns(_header_names(table.column_names, labels, shared))
    frame = _arrow_frame(table, excel=True)
    return _Parsed(frame=frame, sheet=shown_sheet, header_row=header)


def _names_person(settings: Settings, name: str) -> bool:
    """True when a sheet's name looks like a person's name (a sheet per employee): it is then never quoted in a
    message, a progress note or the source of a result."""
    from retention_mcp.data.roles import load_roles

    return load_roles(settings).looks_like_names([name])


def _sheet_listing(settings: Settings, names: list[str]) -> str:
    shown = [f"sheet {i + 1} (named after a person: not shown)" if _names_person(settings, name) else name
             for i, name in enumerate(names)]
    return f"its sheets are: {', '.join(shown)}"


def _header_names(names: list[str], header: Any, shared: dict[int, str]) -> list[str]:
    """The header row's own texts for fastexcel's columns, so duplicates and padding are handled as in CSV.

    fastexcel makes duplicate names unique before they are trimmed ('A', 'A_1') and calls empty ones
    __UNNAMED__<position>; its columns start at the leftmost column with a value. That column is found by
    lining up the first text of the header row with fastexcel's name for it; when they do not line up,
    fastexcel's names are kept.
    """
    texts = {}
    for cell in header.cells:
        text = cell.text if cell.kind == "text" else shared.get(cell.shared) if cell.kind == "shared" else None
        if text is not None:
            texts[cell.column] = text
    if not texts:
        return names
    first = min(texts)
    try:
        start = first - names.index(texts[first])
    except ValueError:
        return names
    if start < 0 or any(names[column - start] != text for column, text in texts.items()
                        if 0 <= column - start < len(names) and not names[column - start].startswith(text)):
        return names
    return [texts.get(start + i, "" if name.startswith("__UNNAMED__") else name) for i, name in enumerate(names)]


# -- Parquet


def _parse_parquet(settings: Settings, data: bytes | bytearray, shown: str) -> _Parsed:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)))
        metadata = parquet.metadata
        schema = parquet.schema_arrow
    except Exception as exc:
        raise InputError(f"{shown!r} could not be read as Parquet ({type(exc).__name__}); check that it is a "
                         "complete Parquet file, or export it as CSV") from None
    nested = [f.name for f in schema if _is_nested(f.type)]
    if nested:
        raise InputError(f"{shown!r} has column(s) holding lists or maps ({', '.join(map(repr, nested[:10]))}); "
                         "a table needs one value per cell: flatten those columns (one row per item, or one "
                         "column per key) or drop them, then write the file again")
    cells = metadata.num_rows * max(metadata.num_columns, 1)
    if cells > settings.max_cells:
        raise LimitError(f"{shown!r} declares {metadata.num_rows:,} rows × {metadata.num_columns:,} columns "
                         f"({cells:,} cells), above the limit of {settings.max_cells:,} cells; filter it first or "
                         "raise RETENTION_MCP_MAX_CELLS")
    unpacked = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if unpacked > settings.max_uncompressed_mb * 2**20:
        raise LimitError(f"{shown!r} would unpack to {unpacked / 2**20:,.0f} MB, above the limit of "
                         f"{settings.max_uncompressed_mb:,.0f} MB; filter it first or raise "
                         "RETENTION_MCP_MAX_UNCOMPRESSED_MB")
    try:
        table = parquet.read()
    except Exception as exc:
        raise InputError(f"{shown!r} could not be read as Parquet ({type(exc).__name__}); check that it is a "
                         "complete Parquet file, or export it as CSV") from None
    while any(pa.types.is_struct(t) for t in table.schema.types):
        table = table.flatten()  # a struct column "address" becomes "address.city", "address.zip"
    table = table.rename_columns(_unique_names([str(n) for n in table.column_names]))
    return _Parsed(frame=_arrow_frame(table, excel=False), header_row=0)


def _is_nested(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return any(_is_nested(kind.field(i).type) for i in range(kind.num_fields))
    return (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
            or pa.types.is_map(kind) or pa.types.is_union(kind)
            or (hasattr(pa.types, "is_list_view") and (pa.types.is_list_view(kind)
                                                       or pa.types.is_large_list_view(kind))))


# -- clean-up


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop blank rows and empty unnamed columns; trim header names."""
    frame.columns = _unique_names([str(c) for c in frame.columns])
    keep = []
    for position, column in enumerate(frame.columns):
        if _UNNAMED.match(column):
            values = frame.iloc[:, position]
            if values.isna().all() or (values.dtype == object and values.astype(str).str.strip().eq("").all()):
                continue
        keep.append(position)
    if len(keep) < frame.shape[1]:
        frame = frame.iloc[:, keep]
    # Name what is left unnamed so it can still be referred to.
    frame.columns = _unique_names([c if c and not c.lower().startswith("__unnamed__") else f"column_{i + 1}"
                                   for i, c in enumerate(frame.columns)])
    if len(frame):
        # Both parsers read empty cells as missing, so a blank row (",,,,") is all-missing.
        blank = frame.isna().all(axis=1)
        if blank.any():
            frame = frame.loc[~blank].reset_index(drop=True)
    return frame
