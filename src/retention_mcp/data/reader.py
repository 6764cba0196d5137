"""Reading the HR files people have, behind an access guard.

- CSV in UTF-8, UTF-8 with BOM or GBK/GB18030 (detected), delimiter sniffed (``,`` ``;`` tab ``|``);
  parsed with pyarrow (fast, dictionary-encoded text columns) with pandas as a fallback.
- XLSX (a sheet by name, else the first sheet with data), Parquet.
- Blank rows and empty unnamed columns (trailing commas, stray Excel columns) are dropped; headers trimmed.
- Parsed tables are cached by (path, size, mtime, sheet); input files are only ever opened for reading.

Callers get a shallow copy of the cached frame: adding or replacing columns does not touch the cache.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention_mcp.data.cache import TABLES, frame_bytes
from retention_mcp.errors import InputError
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
SUPPORTED = ".csv, .tsv, .txt, .xlsx, .xlsm, .parquet"
_SAMPLE_BYTES = 2 * 1024 * 1024
_UNNAMED = re.compile(r"^(unnamed: ?\d+(_level_\d+)?|column\d+|nan|none)?$", re.IGNORECASE)

#: Progress callback: (fraction 0..1, message).
Progress = Callable[[float, str], None]


def resolve_data_path(settings: Settings, path: str) -> Path:
    """Resolve ``path`` inside an allowed data folder (symlinks resolved) or raise ValueError."""
    if not isinstance(path, str) or not path.strip():
        raise InputError("path is empty; give a file name inside the data folder, e.g. path='hr_export.csv'")
    if not settings.data_dirs:
        raise InputError("no data folder is configured, so the server reads no files (it was started from a folder "
                         "it must not read, such as / or your home folder). Start it with --data-dir pointing at "
                         "the folder with your HR exports (an absolute path), or paste a small table as csv_text")
    if len(path) > 1024 or "\x00" in path:
        raise InputError("path is not a usable file name (too long, or it holds a NUL character); give the name "
                         "of a file in the data folder, e.g. path='hr_export.csv'")
    candidate = Path(path.strip()).expanduser()
    if not candidate.is_absolute():
        candidate = settings.data_dirs[0] / candidate
    try:
        resolved = candidate.resolve()
        resolved.stat()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise InputError(f"{path[:80]!r} cannot be opened ({exc.strerror or type(exc).__name__}); give the name of "
                         "a file in the data folder, e.g. path='hr_export.csv'") from None
    allowed = ", ".join(str(d) for d in settings.data_dirs)
    if not any(resolved.is_relative_to(d) for d in settings.data_dirs):
        raise InputError(f"{path!r} is outside the allowed data folders ({allowed}); copy the file into one "
                         "of them or start the server with --data-dir pointing at its folder")
    if not resolved.exists():
        raise InputError(f"file {path!r} was not found in the allowed data folders ({allowed}); check the name "
                         "(relative paths start from the first folder)")
    if not resolved.is_file():
        raise InputError(f"{path!r} is a folder, not a file; give the path of a CSV, XLSX or Parquet file")
    size = resolved.stat().st_size
    if size > settings.max_file_bytes:
        raise InputError(f"{path!r} is {size / 1e6:.0f} MB, above the {settings.max_file_mb:.0f} MB limit; "
                         "filter it first or raise RETENTION_MCP_MAX_FILE_MB")
    return resolved


def read_table(settings: Settings, *, path: str | None = None, csv_text: str | None = None,
               sheet: str | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """Read exactly one of ``path`` or ``csv_text`` into a DataFrame (cached; a copy is returned).

    Text columns come back as plain object columns (as ``pandas.read_csv`` gives them); ISO dates may
    already be datetimes. The turnover tools use :func:`load_table`, which keeps text dictionary-encoded.
    """
    import pandas as pd

    frame, _ = load_table(settings, path=path, csv_text=csv_text, sheet=sheet, progress=progress)
    frame = frame.copy(deep=False)
    for column in frame.columns[[isinstance(t, pd.CategoricalDtype | pd.ArrowDtype) for t in frame.dtypes]]:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def load_table(settings: Settings, *, path: str | None = None, csv_text: str | None = None,
               sheet: str | None = None, progress: Progress | None = None) -> tuple[pd.DataFrame, tuple]:
    """The cached frame itself (do not modify it) and its cache key."""
    if (path is None or path == "") == (csv_text is None or csv_text == ""):
        if path and csv_text:
            raise InputError("give only one of path or csv_text, not both")
        raise InputError("give exactly one of path (a file in the data folder, e.g. 'hr_export.csv') "
                         "or csv_text (the CSV itself, header row first)")
    if csv_text is not None and csv_text != "":
        raw = csv_text.encode("utf-8")
        if len(raw) > settings.max_csv_text_bytes:
            raise InputError(f"csv_text is larger than {settings.max_csv_text_kb:.0f} KB; save it as a file "
                             "in the data folder and pass path instead")
        key: tuple = ("csv_text", hashlib.sha1(raw).hexdigest())

        def parse_text() -> tuple[Any, int]:
            frame = _clean(_read_csv(raw, "csv_text", progress))
            return frame, frame_bytes(frame)

        return TABLES.get_or_create(key, parse_text), key
    resolved = resolve_data_path(settings, path)  # type: ignore[arg-type]
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns, sheet)

    def parse_file() -> tuple[Any, int]:
        frame = _clean(_read_file(resolved, path, sheet, progress))  # type: ignore[arg-type]
        return frame, frame_bytes(frame)

    cached = TABLES.get(key)
    if cached is not None:
        return cached, key
    frame, size = parse_file()
    TABLES.put(key, frame, size)
    return frame, key


def _read_file(resolved: Path, shown: str, sheet: str | None, progress: Progress | None) -> pd.DataFrame:
    suffix = resolved.suffix.lower()
    if resolved.stat().st_size == 0:
        raise InputError(f"{shown!r} is empty (0 bytes); export the data again with a header row")
    if progress:
        progress(0.05, f"reading {resolved.name} ({resolved.stat().st_size / 1e6:.1f} MB)")
    if suffix in CSV_SUFFIXES:
        return _read_csv(resolved, shown, progress)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(resolved, shown, sheet)
    if suffix in PARQUET_SUFFIXES:
        import pandas as pd

        try:
            return pd.read_parquet(resolved)
        except Exception as exc:
            raise InputError(f"{shown!r} could not be read as Parquet ({type(exc).__name__}); "
                             "check that it is a complete Parquet file, or export it as CSV") from None
    if suffix == ".xls":
        raise InputError(f"{shown!r} is an old-style .xls workbook; open it and save it as .xlsx or CSV")
    raise InputError(f"{shown!r} has an unsupported file type {suffix or '(none)'!r}; supported: {SUPPORTED}")


# -- CSV


def detect_encoding(sample: bytes) -> str:
    """'utf-8-sig', 'utf-8' or 'gb18030' (a superset of GBK) from the first bytes of a file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the first lines into the most, consistent fields."""
    lines = [line for line in text.splitlines()[:30] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", -1.0
    for delimiter in (",", ";", "\t", "|"):
        counts = [_count_outside_quotes(line, delimiter) for line in lines]
        if counts[0] == 0:
            continue
        consistent = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = counts[0] * consistent
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


def _read_csv(source: Path | bytes, shown: str, progress: Progress | None) -> pd.DataFrame:
    import pandas as pd

    if isinstance(source, Path):
        with source.open("rb") as handle:
            sample = handle.read(_SAMPLE_BYTES)
    else:
        sample = source[:_SAMPLE_BYTES]
    if not sample.strip():
        raise InputError(f"{shown!r} is empty; it needs a header row and at least one data row")
    encoding = detect_encoding(sample)
    head = sample[:65536].decode(encoding, errors="replace")
    delimiter = sniff_delimiter(head)
    if progress:
        progress(0.1, f"parsing CSV ({encoding}, delimiter {delimiter!r})")
    try:
        frame = _read_csv_arrow(source, encoding, delimiter)
    except Exception as exc:  # ragged rows, odd quoting, late non-UTF-8 bytes: fall back to pandas
        if isinstance(exc, MemoryError) or type(exc).__name__ == "ArrowMemoryError":
            raise MemoryError from None  # the call's memory bound, not a problem with the file
        logger.info("pyarrow CSV parse of %s failed (%s); falling back to pandas", shown, type(exc).__name__)
        if encoding == "utf-8":
            try:
                codecs.decode(source.read_bytes() if isinstance(source, Path) else source, "utf-8")
            except UnicodeDecodeError:
                encoding = "gb18030"
        frame = _read_csv_pandas(source, encoding, delimiter, shown)
    if progress:
        progress(0.6, f"parsed {len(frame):,} rows")
    if frame.shape[1] == 0:
        raise InputError(f"{shown!r} has no columns; it needs a header row")
    return frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)


def _read_csv_arrow(source: Path | bytes, encoding: str, delimiter: str) -> pd.DataFrame:
    import pyarrow.csv as pacsv

    arrow_encoding = {"utf-8": "utf8", "utf-8-sig": "utf8"}.get(encoding, encoding)
    table = pacsv.read_csv(
        source if isinstance(source, Path) else io.BytesIO(source),
        read_options=pacsv.ReadOptions(encoding=arrow_encoding, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True, auto_dict_encode=True,
                                             auto_dict_max_cardinality=5000),
    )
    import pandas as pd
    import pyarrow as pa

    names = _unique_names([str(n) for n in table.column_names])
    table = table.rename_columns(names)
    # Text with many distinct values (IDs, names) stays Arrow-backed: no million Python strings to build.
    arrow_string = pd.ArrowDtype(pa.string())
    return table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True,
                           types_mapper=lambda t: arrow_string if t in (pa.string(), pa.large_string()) else None)


def _read_csv_pandas(source: Path | bytes, encoding: str, delimiter: str, shown: str) -> pd.DataFrame:
    import pandas as pd

    handle: Any = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        # A row with more fields than the header is an error, not a silently dropped row.
        return pd.read_csv(handle, sep=delimiter, encoding=encoding, skip_blank_lines=True, low_memory=False,
                           on_bad_lines="error")
    except pd.errors.EmptyDataError:
        raise InputError(f"{shown!r} is empty; it needs a header row and at least one data row") from None
    except pd.errors.ParserError as exc:
        if "out of memory" in str(exc).lower():
            raise MemoryError from None
        detail = str(exc).splitlines()[0].removeprefix("Error tokenizing data. C error: ")
        raise InputError(f"{shown!r} has a row that does not fit the header ({detail[:160]}); usually a text cell "
                         "holds an unquoted delimiter: quote that cell or remove the stray delimiter, so that no "
                         "row is dropped") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{shown!r} could not be read as CSV ({str(exc).splitlines()[0][:160]}); "
                         "save it again as CSV (UTF-8 or GBK) with one header row") from None


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


def _read_excel(resolved: Path, shown: str, sheet: str | None) -> pd.DataFrame:
    import pandas as pd
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(resolved, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"{shown!r} could not be opened as an Excel workbook ({type(exc).__name__}); "
                         "check it is a real .xlsx file, or export the sheet as CSV") from None
    try:
        names = workbook.sheetnames
        if sheet is not None:
            if sheet not in names:
                raise InputError(f"{shown!r} has no sheet {sheet!r}; its sheets are: {', '.join(names)}")
            chosen = [sheet]
        else:
            chosen = names
        for name in chosen:
            rows = [list(r) for r in workbook[name].iter_rows(values_only=True)]
            rows = [r for r in rows if any(v is not None and str(v).strip() != "" for v in r)]
            if len(rows) >= 1:
                header = _unique_names([("" if v is None else str(v)) for v in rows[0]])
                width = len(header)
                body = [(r + [None] * width)[:width] for r in rows[1:]]
                return pd.DataFrame(body, columns=header)
        raise InputError(f"{shown!r} has no sheet with data" + (f" (sheet {sheet!r} is empty)" if sheet else ""))
    finally:
        workbook.close()


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
    frame.columns = _unique_names([c if c else f"column_{i + 1}" for i, c in enumerate(frame.columns)])
    if len(frame):
        # Both parsers read empty cells as missing, so a blank row (",,,,") is all-missing.
        blank = frame.isna().all(axis=1)
        if blank.any():
            frame = frame.loc[~blank].reset_index(drop=True)
    return frame
