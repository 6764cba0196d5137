"""XLSX workbooks: checked before parsing, header row found from the sheet XML, read with fastexcel.

fastexcel (calamine underneath) reads a sheet into a grid as wide and tall as the span of its
non-empty cells, and a workbook's parts as large as they really are, whatever the zip says. A 1.5 KB
file with cells only at A1 and XFD1048576 asks it for a 17-billion-cell grid (the process aborts), and
a 1 MB zip can unpack to gigabytes. So before fastexcel sees a workbook, :class:`Workbook`:

- checks the zip's declared sizes: the total, each part, and each part's compression ratio;
- inflates the parts fastexcel will read that are not tiny, stopping as soon as one grows past its
  declared size (a lying header is refused, not trusted);
- streams the sheet's XML once: its declared ``<dimension ref>`` must be within the cell limit, and a
  regular expression checks that every cell tag starts with a reference inside that box. A sheet
  without a dimension, with a box over the limit, or with any cell the fast check cannot place is
  walked tag by tag, the way calamine places cells, for its real extent.

The same pass collects the first rows of the sheet (kind of each cell and, for strings, its text) so
the header row can be found without parsing the sheet twice.
"""

from __future__ import annotations

import html
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retention_mcp.errors import InputError, LimitError

if TYPE_CHECKING:
    import pyarrow as pa

#: Parts in a workbook; an HR export has a few dozen.
MAX_MEMBERS = 10_000
#: Parts smaller than this (uncompressed) may have any compression ratio.
RATIO_FLOOR = 1 << 20
#: Parts whose compressed size is above this are inflated to check their real size (a smaller one can
#: grow to at most ~1032 times, i.e. 66 MB).
VERIFY_FLOOR = 64 << 10
#: Rows collected from the top of a sheet for header detection.
HEAD_ROWS = 30
#: Largest workbook.xml / rels part parsed here.
_MAX_INDEX_PART = 32 << 20
_CHUNK = 4 << 20
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INPUT_CHUNK = 1 << 20
#: Parts fastexcel does not read: never inflated here.
_UNREAD = ("xl/media/", "xl/embeddings/", "xl/printerSettings/", "docProps/thumbnail")
_MAX_HEAD_BYTES = 16 << 20

_DIMENSION = re.compile(rb'<(?:[\w.-]+:)?dimension\s+ref\s*=\s*["\']([^"\']*)["\']')
_SHEET_DATA = re.compile(rb"<(?:[\w.-]+:)?sheetData(?=[\s/>])")
#: A prefixed cell tag (calamine matches cells by local name, whatever the prefix).
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
#: Exact walk: <row ...>, <row .../>, </row>, <c ...>, <c .../>; attribute values may hold '>'.
_TAG = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*?)(/?)>"""
                  rb"""|</(?:[A-Za-z_][\w.-]*:)?(row)\s*>""")
_RAW_ATTR = re.compile(rb"""\s*([^=]*?)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_T_ATTR = re.compile(rb"""(?:^|\s)t\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"([A-Za-z]*)([0-9]+)")
#: A regular cell tag: reference first, then only attributes Excel writes.
_SIMPLE_CELL = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"(?: (?:s|t|cm|vm|ph)="[^"]*")*/?>')
_ROW_NUMBER = re.compile(rb'<row r="([1-9][0-9]{0,6})"')
#: Cells outside the box a chunk may move it for before the sheet is walked instead.
_MAX_GROWTH = 64
_ROW = re.compile(rb"""<(?:[\w.-]+:)?row(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*?)(/?)>""")
_ROW_END = re.compile(rb"</(?:[\w.-]+:)?row\s*>")
_CELL = re.compile(rb"""<(?:[\w.-]+:)?c(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*?)(?:/>|>(.*?)</(?:[\w.-]+:)?c\s*>)""",
                   re.S)
_V = re.compile(rb"<(?:[\w.-]+:)?v(?:\s[^>]*)?>(.*?)</(?:[\w.-]+:)?v\s*>", re.S)
_T = re.compile(rb"<(?:[\w.-]+:)?t(?:\s[^>]*)?>(.*?)</(?:[\w.-]+:)?t\s*>", re.S)
_PHONETIC = re.compile(rb"<(?:[\w.-]+:)?rPh\b.*?</(?:[\w.-]+:)?rPh\s*>", re.S)
_SI = re.compile(rb"<(?:[\w.-]+:)?si(?:\s[^>]*)?(?:/>|>(.*?)</(?:[\w.-]+:)?si\s*>)", re.S)
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_RELATIONSHIP = re.compile(r"""<(?:[\w.-]+:)?Relationship\b((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_SHEET = re.compile(r"""<(?:[\w.-]+:)?sheet\b((?:[^>"']|"[^"]*"|'[^']*')*)>""")


@dataclass(frozen=True)
class Limits:
    max_cells: int
    max_uncompressed: int  # bytes
    max_ratio: float


@dataclass(frozen=True)
class SheetRef:
    name: str
    member: str | None  # the part holding the sheet XML; None when not found
    kind: str  # worksheet, chartsheet, dialogsheet, macrosheet...


@dataclass
class HeadCell:
    column: int  # 0-based
    kind: str  # "text", "shared", "number", "bool", "error", "date"
    text: str | None = None
    shared: int | None = None


@dataclass
class HeadRow:
    number: int  # 1-based Excel row
    cells: list[HeadCell] = field(default_factory=list)


@dataclass
class SheetScan:
    rows: list[HeadRow]  # the first non-empty rows (at least HEAD_ROWS, and through a requested row)
    extent: tuple[int, int]  # (rows, columns): what the grid may span at most


def column_letters(number: int) -> str:
    """1 -> 'A', 27 -> 'AA'."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: bytes) -> int:
    value = 0
    for char in letters.upper():
        value = value * 26 + (char - 64)
    return value


def _at_most(limit: str, alphabet: str, *, shorter_from: str) -> str:
    """A regex for strings over ``alphabet`` (in order) that are not above ``limit``: shorter ones
    (first character from ``shorter_from``), or as long and not sorting above it."""
    first, last = alphabet[0], alphabet[-1]
    lowest = shorter_from[0]
    parts = []
    if len(limit) > 1:
        parts.append(f"[{shorter_from}][{first}-{last}]{{0,{len(limit) - 2}}}")
    for i, char in enumerate(limit):
        low = lowest if i == 0 else first
        if char > low:
            rest = len(limit) - i - 1
            parts.append(re.escape(limit[:i]) + f"[{low}-{alphabet[alphabet.index(char) - 1]}]"
                         + (f"[{first}-{last}]{{{rest}}}" if rest else ""))
    parts.append(re.escape(limit))
    return "(?:" + "|".join(parts) + ")"


def _within_box(columns: int, rows: int) -> re.Pattern[bytes]:
    """A regex finding any ``<c`` tag other than ``<c r="REF" ...>`` with REF inside A1:(columns, rows) and
    only the attributes Excel writes after it (so no second ``r``, which calamine would take instead)."""
    letters = _at_most(column_letters(columns), _LETTERS, shorter_from="A-Z")
    digits = _at_most(str(rows), "0123456789", shorter_from="1-9")
    rest = r'(?: (?:s|t|cm|vm|ph)="[^"]*")*/?>'
    return re.compile(f'<c(?![\\w:.-])(?! r="{letters}{digits}"{rest})'.encode())


def _ahead(chunks: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """``chunks`` produced in a background thread (inflating releases the GIL), ``depth`` ahead."""
    import queue
    import threading

    pipe: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        pipe.put(("chunk", chunk), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pipe.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            pipe.put(("error", exc))

    worker = threading.Thread(target=produce, name="xlsx-inflate", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = pipe.get()
            if kind == "chunk":
                yield item  # type: ignore[misc]
            elif kind == "error":
                raise item  # type: ignore[misc]
            else:
                return
    finally:
        stop.set()
        while worker.is_alive():
            try:
                pipe.get_nowait()
            except queue.Empty:
                worker.join(0.05)


class Workbook:
    """A workbook's bytes, checked against the limits; sheets listed; sheets scanned before parsing."""

    def __init__(self, data: bytes, shown: str, limits: Limits) -> None:
        self.data = data
        self.shown = shown
        self.limits = limits
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error):
            raise self._damaged() from None
        self.members: dict[str, zipfile.ZipInfo] = {}
        self._lookup: dict[str, str] | None = None
        self.folder = "xl/"
        self._check_archive(infos)
        self._verified: set[str] = set()
        self.sheets = self._list_sheets()

    # -- the container

    def _damaged(self, what: str = "the zip container is damaged") -> InputError:
        return InputError(f"{self.shown!r} is not a readable XLSX workbook ({what}); open it in Excel and save it "
                          "again as .xlsx, or export the sheet as CSV")

    def _check_archive(self, infos: list[zipfile.ZipInfo]) -> None:
        limits = self.limits
        if len(infos) > MAX_MEMBERS:
            raise self._damaged(f"{len(infos):,} parts, where a workbook has a few dozen")
        total = 0
        for info in infos:
            if info.filename in self.members:
                raise self._damaged(f"the part {info.filename!r} appears twice")
            self.members[info.filename] = info
            total += info.file_size
            if info.flag_bits & 0x1:
                raise InputError(f"{self.shown!r} is encrypted; remove the password in Excel (File > Info > Protect "
                                 "Workbook) and save it again as .xlsx")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._damaged(f"the part {info.filename!r} uses compression method {info.compress_type}, "
                                    "which Excel does not write")
            if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                ratio = info.file_size / max(info.compress_size, 1)
                raise LimitError(
                    f"{self.shown!r} looks like a zip bomb: its part {info.filename!r} would unpack "
                    f"{ratio:,.0f} times larger ({info.compress_size:,} bytes to {info.file_size:,}), above the "
                    f"limit of {limits.max_ratio:,.0f} times; if the workbook is genuine, raise "
                    "RETENTION_MCP_MAX_COMPRESSION_RATIO")
        if total > limits.max_uncompressed:
            raise LimitError(
                f"{self.shown!r} would unpack to {total / 2**20:,.0f} MB, above the limit of "
                f"{limits.max_uncompressed / 2**20:,.0f} MB for a workbook; save only the sheet you need (or export "
                "it as CSV), or raise RETENTION_MCP_MAX_UNCOMPRESSED_MB")

    def inflate(self, name: str) -> Iterator[bytes]:
        """The part's bytes in chunks; InputError as soon as it grows past its declared size."""
        info = self.members[name]
        data = self.data
        offset = info.header_offset
        header = data[offset:offset + 30]
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise self._damaged(f"the part {name!r} has no local header")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        start = offset + 30 + name_length + extra_length
        end = start + info.compress_size
        if end > len(data):
            raise self._damaged(f"the part {name!r} is cut short")
        view = memoryview(data)[start:end]
        produced = 0
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise self._lying(name)
            for position in range(0, len(view), _CHUNK):
                chunk = bytes(view[position:position + _CHUNK])
                produced += len(chunk)
                yield chunk
            return
        inflater = zlib.decompressobj(-15)
        position = 0
        pending: bytes | memoryview = b""
        while True:
            if not pending and position < len(view):
                pending = view[position:position + _INPUT_CHUNK]
                position += len(pending)
            try:
                chunk = inflater.decompress(pending, _CHUNK)
            except zlib.error:
                raise self._damaged(f"the part {name!r} does not inflate") from None
            pending = inflater.unconsumed_tail
            if chunk:
                produced += len(chunk)
                if produced > info.file_size:
                    raise self._lying(name)
                yield chunk
            if inflater.eof or (not chunk and not pending and position >= len(view)):
                break
        if produced != info.file_size:
            raise self._damaged(f"the part {name!r} is cut short")

    def _lying(self, name: str) -> InputError:
        return InputError(f"{self.shown!r} is damaged or crafted: its part {name!r} unpacks to more than its "
                          "header declares; it was not read. Open it in Excel and save it again as .xlsx")

    def read_part(self, name: str, limit: int = _MAX_INDEX_PART) -> bytes:
        info = self.members[name]
        if info.file_size > limit:
            raise self._damaged(f"the part {name!r} is {info.file_size / 2**20:,.0f} MB")
        return b"".join(self.inflate(name))

    def verify_parts(self, sheets: list[SheetRef]) -> None:
        """Inflate every part fastexcel reads (all but the sheets not loaded) that could grow much."""
        skip = {s.member for s in self.sheets} - {s.member for s in sheets}
        for name, info in self.members.items():
            if (name in skip or name in self._verified or info.compress_size <= VERIFY_FLOOR
                    or name.startswith(_UNREAD)):
                continue
            for _ in self.inflate(name):
                pass
            self._verified.add(name)

    # -- the sheets

    def _find(self, name: str) -> str | None:
        """The part calamine opens for ``name``: a case-insensitive match (backslashes read as slashes)."""
        if self._lookup is None:
            self._lookup = {m.replace("\\", "/").lower(): m for m in self.members}
        found = self._lookup.get(name.lower(), name)
        return found if found in self.members else None

    def _relationships(self, name: str) -> list[dict[str, str]]:
        part = self._find(name)
        if part is None:
            return []
        text = self.read_part(part).decode("utf-8", "replace")
        return [_attributes(m.group(1)) for m in _RELATIONSHIP.finditer(text)]

    def _list_sheets(self) -> list[SheetRef]:
        """The sheets and their parts, found the way calamine finds them (so the part checked here is the
        part fastexcel reads): the office document from _rels/.rels, its folder, workbook.xml there, and
        each sheet's target from that folder's _rels/workbook.xml.rels, not normalised."""
        documents = [r.get("Target", "") for r in self._relationships("_rels/.rels")
                     if r.get("Type", "").endswith("/relationships/officeDocument")]
        if not documents:
            raise self._damaged("it names no workbook in _rels/.rels")
        target = documents[-1]
        self.folder = target[: target.rfind("/") + 1].removeprefix("/") if "/" in target else ""
        book = self._find(f"{self.folder}workbook.xml")
        if book is None:
            raise self._damaged(f"it has no {self.folder}workbook.xml")
        targets: dict[str, tuple[str, str]] = {}
        for relation in self._relationships(f"{self.folder}_rels/workbook.xml.rels"):
            target = relation.get("Target", "")
            member = target[1:] if target.startswith("/") else f"{self.folder}{target}"
            targets[relation.get("Id", "")] = (member, relation.get("Type", "").rsplit("/", 1)[-1])
        text = self.read_part(book).decode("utf-8", "replace")
        sheets = []
        for match in _SHEET.finditer(text):
            attrs = _attributes(match.group(1))
            ids = [v for k, v in attrs.items() if k == "id" or k.endswith(":id")]
            member, kind = targets.get(ids[-1] if ids else "", (None, "worksheet"))
            found = self._find(member) if member else None
            sheets.append(SheetRef(name=attrs.get("name", ""), member=found, kind=kind or "worksheet"))
        return sheets

    def scan(self, sheet: SheetRef, until_row: int = 0) -> SheetScan:
        """The first rows of ``sheet`` and its extent, checked against the cell limit (LimitError).

        One streaming pass. The box the cells are checked against starts as the declared dimension (when
        within the limit) or the span of the first rows, and in each chunk as far down as the chunk's last
        cell; a regular expression then finds any cell tag that is not ``<c r="REF" ...>`` with REF inside
        the box. A regular cell outside it grows the box (a real cell: the grid will reach it); anything
        else (no reference, a namespace prefix, a second ``r``) sends the sheet to a tag-by-tag walk.
        """
        if sheet.member is None:
            return SheetScan(rows=[], extent=(0, 0))
        head = _HeadParser(until_row)
        extent = self._checked_pass(sheet, head)
        if extent is None:
            extent = self._walk(sheet, head)
        head.finish()
        self._verified.add(sheet.member)  # inflated to its end: its real size is its declared size
        self._check_extent(sheet, extent)
        return SheetScan(rows=head.rows, extent=extent)

    def _pieces(self, member: str) -> Iterator[bytes]:
        """The part's XML in pieces that end just before a '<' (no tag is cut in two), inflated ahead."""
        carry = b""
        for chunk in _ahead(self.inflate(member)):
            text = carry + chunk
            cut = text.rfind(b"<")
            if cut <= 0:
                carry = text
                continue
            yield text[:cut]
            carry = text[cut:]
        if carry:
            yield carry

    def _checked_pass(self, sheet: SheetRef, head: _HeadParser) -> tuple[int, int] | None:
        assert sheet.member is not None
        limit = self.limits.max_cells
        rows = columns = 0
        started = False
        checker: re.Pattern[bytes] | None = None
        checked: tuple[int, int] | None = None
        pieces = self._pieces(sheet.member)
        for piece in pieces:
            if not started:
                if (match := _DIMENSION.search(piece)) is not None:
                    declared = _parse_box(match.group(1))
                    if declared is not None and declared[0] * declared[1] <= limit:
                        rows, columns = declared
                started = _SHEET_DATA.search(piece) is not None
            head.feed(piece)
            if _PREFIXED_CELL.search(piece):
                break
            if head.rows:
                columns = max(columns, max(c.column + 1 for r in head.rows[:HEAD_ROWS] for c in r.cells))
            last = piece.rfind(b'<c r="')
            if last >= 0 and (found := _SIMPLE_CELL.match(piece, last)) is not None:
                rows = max(rows, int(found.group(2)))
            last = piece.rfind(b'<row r="')
            if last >= 0 and (found := _ROW_NUMBER.match(piece, last)) is not None:
                rows = max(rows, int(found.group(1)))
            rows, columns = max(rows, 1), max(columns, 1)
            position, grown = 0, 0
            while True:
                if checked != (rows, columns):
                    checker, checked = _within_box(columns, rows), (rows, columns)
                assert checker is not None
                hit = checker.search(piece, position)
                if hit is None:
                    break
                found = _SIMPLE_CELL.match(piece, hit.start())
                grown += 1
                if found is None or grown > _MAX_GROWTH:
                    break
                rows = max(rows, int(found.group(2)))
                columns = max(columns, _column_number(found.group(1)))
                self._check_extent(sheet, (rows, columns))
                position = hit.start()
            if hit is not None:
                break
        else:
            return (rows, columns) if started else (0, 0)
        for piece in pieces:  # the rest only for the header rows, when they are not all read yet
            if head.done:
                break
            head.feed(piece)
        pieces.close()
        return None

    def _walk(self, sheet: SheetRef, head: _HeadParser) -> tuple[int, int]:
        """The extent as calamine places cells, tag by tag (slow; for sheets the fast check cannot vouch for)."""
        assert sheet.member is not None
        walker = _ExtentWalker()
        for piece in self._pieces(sheet.member):
            walker.feed(piece)
            head.feed(piece)
        return walker.max_row + 1, walker.max_column + 1

    def _check_extent(self, sheet: SheetRef, extent: tuple[int, int]) -> None:
        rows, columns = extent
        if rows * columns > self.limits.max_cells:
            raise LimitError(
                f"{self.shown!r}, sheet {sheet.name!r}, spans {rows:,} rows × {columns:,} columns "
                f"({rows * columns:,} cells, up to {column_letters(columns)}{rows}), above the limit of "
                f"{self.limits.max_cells:,} cells; delete the stray cells far from the table (or copy the table "
                "to a new workbook), or raise RETENTION_MCP_MAX_CELLS")

    def shared_strings(self, indices: set[int]) -> dict[int, str]:
        """The texts of the shared strings at ``indices`` (parsed from the start up to the largest)."""
        name = self._find(f"{self.folder}sharedStrings.xml")
        if not indices or name is None:
            return {}
        wanted = max(indices)
        found: dict[int, str] = {}
        index = 0
        carry = b""
        for chunk in self.inflate(name):
            text = carry + chunk
            last = 0
            for match in _SI.finditer(text):
                if index in indices:
                    found[index] = _si_text(match.group(1) or b"")
                index += 1
                last = match.end()
                if index > wanted:
                    return found
            carry = text[last:]
            if len(carry) > _MAX_HEAD_BYTES:
                break
        return found


def _attributes(text: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(2) if m.group(2) is not None else m.group(3))
            for m in _ATTR.finditer(text)}


def _parse_box(ref: bytes) -> tuple[int, int] | None:
    """'A1:N100001' -> (100001, 14) rows and columns from A1 (None when unreadable)."""
    last = ref.split(b":")[-1].replace(b"$", b"")
    match = _REF.fullmatch(last)
    if not match or not match.group(1):
        return None
    rows = int(match.group(2))
    columns = _column_number(match.group(1))
    if rows < 1 or columns < 1:
        return None
    return rows, columns


def _si_text(body: bytes) -> str:
    body = _PHONETIC.sub(b"", body)
    return "".join(_unescape(m.group(1)) for m in _T.finditer(body))


def _unescape(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


def _attr(attrs: bytes, pattern: re.Pattern[bytes]) -> bytes | None:
    match = pattern.search(attrs)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


def _r_values(attrs: bytes) -> list[bytes]:
    """Every value of an attribute named exactly ``r``, read the way calamine reads attributes."""
    values = []
    position = 0
    while True:
        match = _RAW_ATTR.match(attrs, position)
        if match is None:
            return values
        if match.group(1) == b"r":
            values.append(match.group(2) if match.group(2) is not None else match.group(3))
        position = match.end()


class _ExtentWalker:
    """Places cells the way calamine does (explicit references, else running row/column counters)."""

    def __init__(self) -> None:
        self.row = 0
        self.column = 0
        self.max_row = -1
        self.max_column = -1

    def feed(self, piece: bytes) -> None:
        for match in _TAG.finditer(piece):
            name, attrs, empty, end = match.groups()
            if end is not None:  # </row>
                self.row += 1
                self.column = 0
                continue
            # Several r attributes (malformed): take the largest, an upper bound of what calamine uses.
            places = [p for p in map(_REF.fullmatch, _r_values(attrs)) if p is not None]
            if name == b"row":
                if places:
                    self.row = max(int(p.group(2)) for p in places) - 1
                if empty:  # <row/> is a start and an end
                    self.row += 1
                    self.column = 0
                continue
            row, column = self.row, self.column
            cells = [p for p in places if p.group(1)]
            if cells:
                row = max(int(p.group(2)) for p in cells) - 1
                column = max(_column_number(p.group(1)) for p in cells) - 1
                self.column = column
            if not empty:  # <c/> holds no value: it moves the column on but takes no room
                self.max_row = max(self.max_row, row)
                self.max_column = max(self.max_column, column)
            self.column += 1


class _HeadParser:
    """Collects the first non-empty rows of a sheet from its XML pieces."""

    def __init__(self, until_row: int) -> None:
        self.until_row = until_row
        self.rows: list[HeadRow] = []
        self.buffer = b""
        self.done = False
        self.row_number = 0
        self.started = False

    def feed(self, piece: bytes) -> None:
        if self.done:
            return
        self.buffer += piece
        if not self.started:
            start = _SHEET_DATA.search(self.buffer)
            if start is None:
                self.buffer = self.buffer[-256:]
                return
            self.started = True
            self.buffer = self.buffer[start.end():]
        self._parse(final=False)
        if len(self.buffer) > _MAX_HEAD_BYTES:
            self.done = True

    def finish(self) -> None:
        if not self.done and self.started:
            self._parse(final=True)
        self.done = True
        self.buffer = b""

    def _parse(self, *, final: bool) -> None:
        position = 0
        buffer = self.buffer
        while not self.done:
            start = _ROW.search(buffer, position)
            if start is None:
                break
            attrs, empty = start.group(1), start.group(2)
            reference = _attr(attrs, _R_ATTR)
            number = self.row_number + 1
            if reference is not None and reference.isdigit():
                number = int(reference)
            if empty:
                body, position = b"", start.end()
            else:
                end = _ROW_END.search(buffer, start.end())
                if end is None:
                    if final:
                        body, position = buffer[start.end():], len(buffer)
                    else:
                        position = start.start()
                        break
                else:
                    body, position = buffer[start.end():end.start()], end.end()
            self.row_number = number
            row = _head_row(number, body)
            if row.cells:
                self.rows.append(row)
                if len(self.rows) >= HEAD_ROWS and number >= self.until_row:
                    self.done = True
        self.buffer = buffer[position:]


def _head_row(number: int, body: bytes) -> HeadRow:
    row = HeadRow(number=number)
    column = -1
    for match in _CELL.finditer(body):
        attrs, content = match.group(1), match.group(2) or b""
        reference = _attr(attrs, _R_ATTR)
        parsed = _REF.fullmatch(reference) if reference is not None else None
        column = _column_number(parsed.group(1)) - 1 if parsed is not None and parsed.group(1) else column + 1
        kind = (_attr(attrs, _T_ATTR) or b"n").decode("ascii", "replace")
        if kind == "inlineStr":
            texts = [m.group(1) for m in _T.finditer(_PHONETIC.sub(b"", content))]
            text = "".join(_unescape(t) for t in texts)
            if text.strip():
                row.cells.append(HeadCell(column, "text", text=text))
            continue
        value = _V.search(content)
        raw = value.group(1).strip() if value is not None else b""
        if not raw:
            continue
        if kind == "s":
            try:
                row.cells.append(HeadCell(column, "shared", shared=int(raw)))
            except ValueError:
                continue
        elif kind == "str":
            text = _unescape(raw)
            if text.strip():
                row.cells.append(HeadCell(column, "text", text=text))
        else:
            row.cells.append(HeadCell(column, {"b": "bool", "e": "error", "d": "date"}.get(kind, "number")))
    return row


def read_sheet(data: bytes, sheet_name: str, position: int, header_row: int, names: list[str]) -> pa.Table:
    """The sheet as an Arrow table with the given (1-based) header row; raises InputError.

    ``names`` are the sheets as :class:`Workbook` listed them: fastexcel must see the same, or the sheet
    it reads might not be the one that was checked.
    """
    import logging

    import fastexcel
    import pyarrow as pa

    quiet = logging.getLogger("fastexcel")
    if quiet.level == logging.NOTSET:  # one "falling back to string" warning per empty column otherwise
        quiet.setLevel(logging.ERROR)
    try:
        reader = fastexcel.read_excel(data)
        if list(reader.sheet_names) != names:
            raise InputError(f"the sheets of this workbook could not be listed reliably (sheet {sheet_name!r}); "
                             "open it in Excel and save it again as .xlsx, or export the sheet as CSV")
        target: str | int = position
        # Types guessed from every row (schema_sample_rows=None): guessed from the first 1,000 only, a later
        # cell of another type would silently become missing.
        batch = reader.load_sheet(target, header_row=header_row - 1, schema_sample_rows=None, eager=True,
                                  whitespace_as_null=True, dtype_coercion="coerce")
    except InputError:
        raise
    except Exception as exc:  # fastexcel's messages can quote cells: name the type only
        raise InputError(f"the sheet {sheet_name!r} could not be read ({type(exc).__name__}); open the workbook in "
                         "Excel and save it again as .xlsx, or export the sheet as CSV") from None
    except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException (a BaseException)
        if type(exc).__name__ != "PanicException":
            raise
        raise InputError(f"the sheet {sheet_name!r} could not be read (the workbook is malformed); open it in "
                         "Excel and save it again as .xlsx, or export the sheet as CSV") from None
    return pa.Table.from_batches([batch])
