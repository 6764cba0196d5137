"""A small markdown block parser: headings, pipe tables, lists, images, code, folded details and paragraphs.

Enough for reports the tools and the model write; the exporters turn these blocks into real DOCX
headings and tables, HTML and XLSX sheets. Inline marks (**bold**, *italic*, `code`) are split into runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
IMAGE = re.compile(r"^\s*!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE = re.compile(r"(\*\*[^*]+\*\*|__[^_]+__|`[^`]+`|\*[^*\s][^*]*\*)")
#: The info word of a fenced block that exports fold away: `` ```details Full arguments ``.
DETAILS = "details"


@dataclass
class Block:
    kind: Literal["heading", "paragraph", "table", "list", "image", "code", "rule", "details"]
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)  # table: header row first
    items: list[str] = field(default_factory=list)
    ordered: bool = False
    source: str = ""  # image: file name
    image: bytes | None = None  # image: PNG bytes (charts drawn from a spec)
    summary: str = ""  # details: the line shown while the block is folded


@dataclass
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False


def split_row(line: str) -> list[str]:
    """Cells of a pipe-table row; ``\\|`` is a literal pipe."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells = re.split(r"(?<!\\)\|", body)
    return [c.strip().replace("\\|", "|") for c in cells]


def _is_table_start(lines: list[str], i: int) -> bool:
    return "|" in lines[i] and i + 1 < len(lines) and bool(TABLE_SEPARATOR.match(lines[i + 1])) \
        and "-" in lines[i + 1]


def parse_markdown(text: str) -> list[Block]:
    """Blocks of ``text`` in order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("paragraph", text=" ".join(p.strip() for p in paragraph)))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
            continue
        if FENCE.match(line):
            flush()
            fence = FENCE.match(line).group(1)  # type: ignore[union-attr]
            info = line.strip()[len(fence):].strip()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i])
                i += 1
            if info.split(" ", 1)[0] == DETAILS:  # ```details Summary: folded in HTML, small type in Word
                blocks.append(Block("details", text="\n".join(body), summary=info[len(DETAILS):].strip()))
            else:
                blocks.append(Block("code", text="\n".join(body)))
            i += 1
            continue
        if match := HEADING.match(line):
            flush()
            blocks.append(Block("heading", text=match.group(2), level=len(match.group(1))))
            i += 1
            continue
        if re.match(r"^\s*([-*_])(\s*\1){2,}\s*$", line):
            flush()
            blocks.append(Block("rule"))
            i += 1
            continue
        if _is_table_start(lines, i):
            flush()
            header = split_row(line)
            rows = [header]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                cells = split_row(lines[i])
                cells = (cells + [""] * len(header))[: len(header)]  # ragged rows padded / cut to the header
                rows.append(cells)
                i += 1
            blocks.append(Block("table", rows=rows))
            continue
        if match := IMAGE.match(line):
            flush()
            blocks.append(Block("image", text=match.group(1), source=match.group(2)))
            i += 1
            continue
        if BULLET.match(line) or NUMBERED.match(line):
            flush()
            ordered = bool(NUMBERED.match(line)) and not BULLET.match(line)
            items: list[str] = []
            pattern = NUMBERED if ordered else BULLET
            while i < len(lines) and lines[i].strip():
                match = pattern.match(lines[i])
                if match:
                    items.append(match.group(1).strip())
                elif items and (lines[i].startswith((" ", "\t"))):
                    items[-1] += " " + lines[i].strip()  # continuation line
                else:
                    break
                i += 1
            blocks.append(Block("list", items=items, ordered=ordered))
            continue
        paragraph.append(line)
        i += 1
    flush()
    return blocks


def inline_runs(text: str) -> list[Run]:
    """``**bold**``, ``*italic*`` and `` `code` `` as runs; everything else plain."""
    runs: list[Run] = []
    for part in INLINE.split(text):
        if not part:
            continue
        if (part.startswith("**") and part.endswith("**") and len(part) > 4) or \
                (part.startswith("__") and part.endswith("__") and len(part) > 4):
            runs.append(Run(part[2:-2], bold=True))
        elif part.startswith("`") and part.endswith("`") and len(part) > 2:
            runs.append(Run(part[1:-1], code=True))
        elif part.startswith("*") and part.endswith("*") and len(part) > 2:
            runs.append(Run(part[1:-1], italic=True))
        else:
            runs.append(Run(part))
    return runs


def plain_text(text: str) -> str:
    """The text without inline marks."""
    return "".join(run.text for run in inline_runs(text))
