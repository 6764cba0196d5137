"""XLSX: bombs refused before parsing (time and memory measured in a fresh process), and what the fast
reader keeps from the old one: sheets, dates, serials, blank rows, stray columns, headers, odd cells."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pytest

from retention_mcp.data.cache import TABLES
from retention_mcp.data.dates import parse_dates
from retention_mcp.data.reader import open_table, read_table
from retention_mcp.errors import InputError, LimitError
from retention_mcp.settings import Settings

CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                 b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                 b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
                 b'"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
                 b'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
                 b'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
ROOT_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
             b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
             b'2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            b'2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            b'<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                 b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                 b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_OPEN = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def write_zip(path: Path, parts: list[tuple[str, bytes, int, int]]) -> None:
    """A zip by hand: (name, stored-or-deflated bytes, method, DECLARED uncompressed size) — sizes may lie."""
    out = io.BytesIO()
    central = []
    for name, data, method, declared in parts:
        offset = out.tell()
        encoded = name.encode()
        crc = 0 if method == zipfile.ZIP_DEFLATED else zlib.crc32(data)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), declared,
                              len(encoded), 0))
        out.write(encoded + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
                                   declared, len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0))
    path.write_bytes(out.getvalue())


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def small_workbook(path: Path, sheet_xml: bytes, extra: list[tuple[str, bytes, int, int]] = ()) -> None:
    parts = [("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS), ("xl/workbook.xml", WORKBOOK),
             ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS), ("xl/worksheets/sheet1.xml", sheet_xml)]
    write_zip(path, [(n, deflate(d), zipfile.ZIP_DEFLATED, len(d)) for n, d in parts] + list(extra))


def deflate_repeated(head: bytes, block: bytes, times: int, tail: bytes) -> bytes:
    """head + block * times + tail, deflated without compressing it all: after a full flush the
    compressor's output for the same block is the same bytes, so they are repeated."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    once = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    assert once == again
    return first + once * times + packer.compress(tail) + packer.flush()


def dimension_bomb(path: Path, dimension: bytes | None) -> None:
    """Cells only at A1 and XFD1048576: a few hundred bytes that ask for a 17-billion-cell grid."""
    declared = b'<dimension ref="' + dimension + b'"/>' if dimension else b""
    small_workbook(path, SHEET_OPEN + declared + b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
                   b'<row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData></worksheet>')


ROW = b"<row>" + b"<c><v>1</v></c>" * 64 + b"</row>"
BLOCK = ROW * (1_048_576 // len(ROW))


def zip_bomb(path: Path, *, lie: bool, member: str = "xl/worksheets/sheet1.xml") -> int:
    """A ~1.5 MB workbook whose part unpacks to 1.5 GB of rows; with ``lie`` its header says 8 MB."""
    head = SHEET_OPEN + b'<dimension ref="A1:BL1"/><sheetData>'
    tail = b"</sheetData></worksheet>"
    times = 1536
    body = deflate_repeated(head, BLOCK, times, tail)
    size = len(head) + len(BLOCK) * times + len(tail)
    bomb = (member, body, zipfile.ZIP_DEFLATED, 8 << 20 if lie else size)
    if member == "xl/worksheets/sheet1.xml":
        parts = [("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS), ("xl/workbook.xml", WORKBOOK),
                 ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)]
        write_zip(path, [(n, deflate(d), zipfile.ZIP_DEFLATED, len(d)) for n, d in parts] + [bomb])
    else:
        small_workbook(path, SHEET_OPEN + b'<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
                       b"</worksheet>", extra=[bomb])
    return path.stat().st_size


def decoy_workbook(path: Path, trick: str) -> None:
    """A benign xl/workbook.xml beside the part fastexcel really reads, which holds a dimension bomb:
    'folder' points _rels/.rels at another folder; 'dotdot' names the sheet with a '..' target that
    a normalising reader would take for the benign sheet."""
    bomb = (SHEET_OPEN + b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576">'
            b'<c r="XFD1048576"><v>2</v></c></row></sheetData></worksheet>')
    benign = SHEET_OPEN + b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>'
    parts = [("[Content_Types].xml", CONTENT_TYPES), ("xl/workbook.xml", WORKBOOK),
             ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS), ("xl/worksheets/sheet1.xml", benign)]
    if trick == "folder":
        parts += [("_rels/.rels", ROOT_RELS.replace(b"xl/workbook.xml", b"evil/workbook.xml")),
                  ("evil/workbook.xml", WORKBOOK), ("evil/_rels/workbook.xml.rels", WORKBOOK_RELS),
                  ("evil/worksheets/sheet1.xml", bomb)]
    else:
        parts = [(n, d.replace(b"worksheets/sheet1.xml", b"worksheets/../worksheets/sheet1.xml")
                  if n == "xl/_rels/workbook.xml.rels" else d) for n, d in parts]
        parts += [("_rels/.rels", ROOT_RELS), ("xl/worksheets/../worksheets/sheet1.xml", bomb)]
    write_zip(path, [(n, deflate(d), zipfile.ZIP_DEFLATED, len(d)) for n, d in parts])


PROBE = """
import json, resource, sys, time
from pathlib import Path
from retention_mcp.data.reader import open_table
from retention_mcp.errors import InputError, LimitError
from retention_mcp.settings import Settings
path = Path(sys.argv[1])
settings = Settings(data_dirs=(path.parent,), output_dir=path.parent / "out")
# CPU seconds, not wall time: a bomb costs CPU, while a loaded machine only stretches the wall clock
started = time.process_time()
try:
    open_table(settings, path=path.name)
    kind, message = "read", ""
except LimitError as exc:
    kind, message = "limit", str(exc)
except InputError as exc:
    kind, message = "input", str(exc)
seconds = time.process_time() - started
try:  # this process's own peak: ru_maxrss would carry the parent's over fork + exec
    status = Path("/proc/self/status").read_text()
    peak_mb = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
except OSError:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
print(json.dumps({"kind": kind, "message": message, "seconds": seconds, "peak_mb": peak_mb}))
"""


def probe(path: Path) -> dict:
    """Read ``path`` in a fresh process: outcome, seconds for the call, peak RSS of the process."""
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_bombs_are_refused_fast_in_little_memory(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    dimension_bomb(folder / "dimension.xlsx", b"A1:XFD1048576")
    dimension_bomb(folder / "dimension_lies.xlsx", b"A1:B2")
    dimension_bomb(folder / "dimension_none.xlsx", None)
    size = zip_bomb(folder / "zip_bomb.xlsx", lie=False)
    zip_bomb(folder / "zip_bomb_lies.xlsx", lie=True)
    zip_bomb(folder / "strings_bomb_lies.xlsx", lie=True, member="xl/sharedStrings.xml")
    decoy_workbook(folder / "decoy_folder.xlsx", "folder")
    decoy_workbook(folder / "decoy_dotdot.xlsx", "dotdot")
    assert (folder / "dimension.xlsx").stat().st_size < 2000 and size < 6_000_000
    expected = {
        "dimension.xlsx": ("limit", "RETENTION_MCP_MAX_CELLS"),
        "dimension_lies.xlsx": ("limit", "RETENTION_MCP_MAX_CELLS"),
        "dimension_none.xlsx": ("limit", "RETENTION_MCP_MAX_CELLS"),
        "zip_bomb.xlsx": ("limit", "RETENTION_MCP_MAX_"),
        "zip_bomb_lies.xlsx": ("input", "unpacks to more than its header declares"),
        "strings_bomb_lies.xlsx": ("input", "unpacks to more than its header declares"),
        "decoy_folder.xlsx": ("limit", "RETENTION_MCP_MAX_CELLS"),  # the part fastexcel reads is the one checked
        "decoy_dotdot.xlsx": ("limit", "RETENTION_MCP_MAX_CELLS"),
    }
    for name, (kind, words) in expected.items():
        result = probe(folder / name)
        assert result["kind"] == kind and words in result["message"], (name, result)
        assert result["seconds"] < 2.0, (name, result)
        assert result["peak_mb"] < 300, (name, result)
    message = probe(folder / "dimension.xlsx")["message"]
    assert "1,048,576 rows × 16,384 columns" in message and "50,000,000 cells" in message


def test_cells_without_references_are_placed_as_calamine_places_them(settings: Settings, data_dir: Path) -> None:
    """No r attributes: rows and columns counted. 1,100 empty rows, then a cell 3,000 columns over."""
    rows = b"<row></row>" * 1100
    wide = b"<row>" + b"<c/>" * 3000 + b"<c><v>1</v></c></row>"
    small_workbook(data_dir / "counted.xlsx", SHEET_OPEN + b"<sheetData><row><c><v>1</v></c></row>" + rows + wide
                   + b"</sheetData></worksheet>")
    with pytest.raises(LimitError, match=r"1,102 rows × 3,001 columns"):
        open_table(settings.with_(max_cells=1_000_000), path="counted.xlsx")
    table = open_table(settings.with_(max_cells=4_000_000), path="counted.xlsx")  # within the limit: read
    assert table.frame.shape == (1, 2)  # the header row (A1) and the far cell's column, blank rows dropped


def test_limits_come_from_settings(settings: Settings, data_dir: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    for i in range(200):
        workbook.active.append([i, i * 2, "x" * 50])
    workbook.save(data_dir / "normal.xlsx")
    assert open_table(settings, path="normal.xlsx").frame.shape == (199, 3)
    TABLES.clear()  # parsed tables are cached per file version, whatever the limits
    with pytest.raises(LimitError, match="RETENTION_MCP_MAX_CELLS"):
        open_table(settings.with_(max_cells=500), path="normal.xlsx")
    with pytest.raises(LimitError, match="RETENTION_MCP_MAX_UNCOMPRESSED_MB"):
        open_table(settings.with_(max_uncompressed_mb=0.001), path="normal.xlsx")
    rows = b'<row><c t="inlineStr"><is><t>a</t></is></c></row>' * 100_000
    big = SHEET_OPEN + b"<sheetData>" + rows + b"</sheetData></worksheet>"
    small_workbook(data_dir / "squeezed.xlsx", big)
    with pytest.raises(LimitError, match="RETENTION_MCP_MAX_COMPRESSION_RATIO"):
        open_table(settings.with_(max_compression_ratio=20), path="squeezed.xlsx")


def hr_workbook(path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Roster"
    sheet.append([" Employee ID ", "Department", "Department", "Hire Date", "Serial Hire", "Mixed", None, None])
    sheet.append(["E1", "Sales", "S-1", dt.datetime(2024, 3, 5), 45356, dt.datetime(2024, 3, 5), None, None])
    sheet.append([None] * 8)  # a blank row
    sheet.append(["E2", "R&D", "R-1", dt.datetime(2023, 1, 9), 44935, "2024年3月5日", None, None])
    sheet.append(["   ", None, None, None, None, None, None, None])  # only spaces: blank too
    sheet.append(["E3", "Sales East", "S-2", dt.datetime(2022, 12, 31), 44926, 45356, None, None])
    sheet["H7"] = None
    workbook.save(path)


def test_fast_reader_keeps_dates_serials_headers_and_drops_blanks(settings: Settings, data_dir: Path) -> None:
    hr_workbook(data_dir / "hr.xlsx")
    table = open_table(settings, path="hr.xlsx")
    frame = table.frame
    assert list(frame.columns) == ["Employee ID", "Department", "Department.1", "Hire Date", "Serial Hire", "Mixed"]
    assert len(frame) == 3
    assert pd.api.types.is_datetime64_any_dtype(frame["Hire Date"])
    assert [d.date() for d in frame["Hire Date"]] == [dt.date(2024, 3, 5), dt.date(2023, 1, 9),
                                                      dt.date(2022, 12, 31)]
    serials = parse_dates(frame["Serial Hire"]).values  # Excel serials, read as numbers, parse to dates
    assert [v.date() for v in serials] == [dt.date(2024, 3, 5), dt.date(2023, 1, 9), dt.date(2022, 12, 31)]
    mixed = parse_dates(frame["Mixed"]).values  # a date, a text date, a serial: nothing lost
    assert [v.date() for v in mixed] == [dt.date(2024, 3, 5)] * 3
    assert table.source.sheet == "Roster" and table.source.header_row == 1 and table.source.format == "xlsx"


def test_headers_as_in_csv_when_the_table_starts_off_column_a(settings: Settings, data_dir: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet["C3"], sheet["D3"], sheet["E3"], sheet["F3"] = "dept", "dept", " A_1 ", 2024  # a year as a label
    for row in (4, 5):
        sheet[f"B{row}"], sheet[f"C{row}"], sheet[f"D{row}"], sheet[f"E{row}"], sheet[f"F{row}"] = 9, "S", "T", 1, 2
    workbook.save(data_dir / "offset.xlsx")
    (data_dir / "offset.csv").write_text(",dept,dept, A_1 ,2024\n9,S,T,1,2\n9,S,T,1,2\n", encoding="utf-8")
    from_excel = open_table(settings, path="offset.xlsx")
    assert from_excel.source.header_row == 3
    assert list(from_excel.frame.columns) == ["column_1", "dept", "dept.1", "A_1", "2024"]
    assert list(from_excel.frame.columns) == list(open_table(settings, path="offset.csv").frame.columns)


def test_a_late_value_of_another_type_is_not_lost(settings: Settings, data_dir: Path) -> None:
    """fastexcel guesses types from 1,000 rows by default and would turn a later text cell into a gap.
    ('N/A', 'NULL' and the like are missing values, as in the CSV reader.)"""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["id", "score"])
    for i in range(1500):
        workbook.active.append([f"E{i}", i])
    workbook.active.append(["E1500", "unknown"])
    workbook.active.append(["E1501", "N/A"])
    workbook.save(data_dir / "late.xlsx")
    frame = read_table(settings, path="late.xlsx")
    assert len(frame) == 1502 and frame["score"].iloc[-2] == "unknown" and frame["score"].iloc[:-1].notna().all()


def test_control_characters_in_the_xml_do_not_crash(settings: Settings, data_dir: Path) -> None:
    sheet = (SHEET_OPEN + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" '
             b't="inlineStr"><is><t>dept</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>a\x01b\x0b'
             b'_x0007_c</t></is></c><c r="B2" t="inlineStr"><is><t>Sales</t></is></c></row></sheetData></worksheet>')
    small_workbook(data_dir / "control.xlsx", sheet)
    try:
        frame = read_table(settings, path="control.xlsx")
    except InputError as exc:  # refusing with a clear message is acceptable too
        assert "xlsx" in str(exc).lower()
    else:
        assert list(frame.columns) == ["name", "dept"] and frame["dept"].tolist() == ["Sales"]


def test_damaged_and_disguised_workbooks(settings: Settings, data_dir: Path) -> None:
    hr_workbook(data_dir / "good.xlsx")
    raw = (data_dir / "good.xlsx").read_bytes()
    (data_dir / "cut.xlsx").write_bytes(raw[: len(raw) // 2])
    (data_dir / "page.xlsx").write_text("<html><table><tr><td>a</td></tr></table></html>", encoding="utf-8")
    (data_dir / "renamed.csv").write_bytes(raw)
    (data_dir / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    (data_dir / "protected.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    cases = {"cut.xlsx": "not a readable XLSX workbook", "page.xlsx": "not an XLSX workbook",
             "renamed.csv": "name it .xlsx", "old.xls": "old-style .xls", "protected.xlsx": "password-protected"}
    for name, words in cases.items():
        with pytest.raises(InputError, match=words):
            open_table(settings, path=name)
    with pytest.raises(InputError, match=r"no sheet 'Nope'; its sheets are: Roster"):
        open_table(settings, path="good.xlsx", sheet="Nope")
    assert open_table(settings, path="good.xlsx", sheet=" roster").source.sheet == "Roster"
