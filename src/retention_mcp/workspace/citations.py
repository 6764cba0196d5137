"""Evidence ids and uncited numbers in a section's markdown.

A section cites evidence next to its numbers: ``离职率 17.8% [ev-3f9a2c]``. Every ``ev-…`` id in the
text must exist; numbers that cite nothing are listed as a warning (never a refusal), by this rule:

- a citation covers every number in the same sentence, list item or table row;
- a figure is a percentage, a decimal, a number with thousands separators, a currency amount, a
  multiple (``3×``, ``2.5 倍``), percentage points, or a whole number of 10 or more;
- not figures: years (1900–2100), dates and times of day (``20:30``), durations (``90 天``, ``6 months``,
  ``90-day``) and lists of them (``30/60/90 天``, ``30, 60 and 90 days``), confidence levels (``95% 区间``,
  ``95% CI``, ``90% confidence``), section numbers (``第 3.2 节``, ``Section 4.1``, ``§2``), list numbering and
  headings, numbers inside code, and anything in a sentence marked as an assumption or user input (``假设``,
  ``待核实``, ``用户提供``, ``assumption``, ``user-provided``), as the prompts ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVIDENCE_ID = re.compile(r"\bev-[0-9a-fA-F]{6,16}\b")
_CODE = re.compile(r"`[^`]*`")
_DATES = re.compile(r"\b\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?\b|\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?"
                    r"|\b\d{1,2}/\d{1,2}/\d{4}\b|\b[0-2]?\d:[0-5]\d\b|\bQ[1-4]\b|\bH[12]\b|\bv\d+\b", re.IGNORECASE)
_DURATION_UNIT = r"(?:天|日|周|个月|月|年|季度|days?\b|weeks?\b|months?\b|years?\b|quarters?\b)"
_NUMBER = re.compile(
    r"(?<![\w.])(?P<cur>[¥$€£￥]\s?)?"
    r"(?P<num>[+\-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
    r"(?P<unit>\s?(?:%|％|‰|pp\b|个百分点|百分点|倍|×|x\b|万|亿|元|k\b|K\b|M\b|bn\b))?"
    rf"(?P<after>[\s-]?{_DURATION_UNIT})?"
)
#: Not figures, removed before figures are looked for: confidence levels, lists of durations, section numbers.
_NOT_FIGURES = re.compile(
    r"\b(?:80|90|95|99|99\.9)\s?[%％]\s?(?:CI\b|C\.I\.|confidence|credible|interval|prediction|置信|可信|区间|预测区间)"
    r"|(?:CI|置信区间|confidence interval)\s?(?:of\s)?\b(?:80|90|95|99)\s?[%％]"
    rf"|\b\d+(?:\s*(?:/|、|,|，|-|–|~|～|\band\b|\bor\b|和|及|或|与)\s*\d+)+\s*-?{_DURATION_UNIT}"
    r"|(?:第\s*)?\d+(?:\.\d+)*\s*(?:节|章|条|款|部分)"
    r"|(?:§|\b(?:section|sec\.|chapter|part|step|phase|appendix)\s?)\d+(?:\.\d+)*"
    r"|(?:第\s*)?\d+\s*(?:阶段|步)",
    re.IGNORECASE)
_MARKERS = re.compile(r"假设|待核实|用户提供|assum|user[- ]provided|provided by the user", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[。！？；;!?])|(?<=\.)\s+")
_LIST_OR_TABLE = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|\|)")
_ENUMERATION = re.compile(r"^\s*(?:[-*+]\s+)?\d+[.)、]\s")
#: Most uncited numbers reported for one write.
MAX_REPORTED = 20


@dataclass(frozen=True)
class UncitedNumber:
    number: str
    context: str


def cited_ids(markdown: str) -> list[str]:
    """Evidence ids in the text, lower-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in EVIDENCE_ID.finditer(markdown):
        seen.setdefault(match.group(0).lower(), None)
    return list(seen)


@dataclass(frozen=True)
class TextUnit:
    """A sentence, list item or table row: ``text`` with a paragraph's wrapped lines joined by one space, and
    ``offsets[i]`` the position of ``text[i]`` in the markdown (-1 for a joining space)."""

    text: str
    offsets: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The markdown positions of ``text[start:end]`` (a number never spans a joining space)."""
        return self.offsets[start], self.offsets[end - 1] + 1


def text_units(markdown: str) -> list[TextUnit]:
    """Logical lines (a paragraph's wrapped lines joined; table rows and list items alone), then sentences, with
    where each character sits in ``markdown``. Headings, fenced code and blank lines are not units."""
    logical: list[list[tuple[int, str]]] = []  # each logical line: its (offset, text) segments
    in_fence = False
    position = 0
    for raw in markdown.split("\n"):
        start, position = position, position + len(raw) + 1
        line = raw.rstrip()
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence or not line.strip() or line.lstrip().startswith("#"):
            logical.append([])
            continue
        previous = logical[-1] if logical else []
        if previous and not _LIST_OR_TABLE.match(line) and not previous[0][1].lstrip().startswith("|"):
            indent = len(line) - len(line.lstrip())
            previous.append((start + indent, line.strip()))
        else:
            logical.append([(start, line)])
    units: list[TextUnit] = []
    for segments in filter(None, logical):
        text = " ".join(part for _, part in segments)
        offsets: list[int] = []
        for number, (start, part) in enumerate(segments):
            if number:
                offsets.append(-1)
            offsets.extend(range(start, start + len(part)))
        if text.lstrip().startswith("|"):
            units.append(TextUnit(text, tuple(offsets)))
            continue
        last = 0
        for boundary in [*_SENTENCE_END.finditer(text), None]:
            end, resume = (boundary.start(), boundary.end()) if boundary is not None else (len(text), len(text))
            if boundary is not None and end == resume == last:
                continue
            piece = text[last:end]
            if piece.strip():
                units.append(TextUnit(piece, tuple(offsets[last:end])))
            last = resume
    return units


def _units(markdown: str) -> list[str]:
    return [unit.text for unit in text_units(markdown.replace("\r\n", "\n"))]


def _blank(pattern: re.Pattern[str], text: str) -> str:
    """``text`` with every match of ``pattern`` replaced by as many spaces (positions stay the same)."""
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def figure_matches(text: str, *, also_blank: tuple[re.Pattern[str], ...] = ()) -> list[re.Match[str]]:
    """The figures in one unit's text (see the module docstring), as matches of ``_NUMBER`` at their positions
    in ``text``; ``also_blank`` removes more (citations, when a unit's cited numbers are checked)."""
    for pattern in (*also_blank, _CODE, _ENUMERATION, _DATES, _NOT_FIGURES):
        text = _blank(pattern, text)
    return [match for match in _NUMBER.finditer(text) if _is_figure(match)]


def _is_figure(match: re.Match[str]) -> bool:
    if match.group("after"):
        return False  # a duration: 90 天, 6 months
    number = match.group("num")
    if match.group("cur") or match.group("unit") or "," in number or "." in number:
        return True
    value = int(number.lstrip("+-−"))
    if 1900 <= value <= 2100:
        return False  # a year
    return value >= 10


def uncited_numbers(markdown: str) -> list[UncitedNumber]:
    """Figures in sentences, list items or table rows that cite no evidence id (at most MAX_REPORTED)."""
    found: list[UncitedNumber] = []
    for unit in _units(markdown):
        if EVIDENCE_ID.search(unit) or _MARKERS.search(unit):
            continue
        for match in figure_matches(unit):
            found.append(UncitedNumber(number=match.group(0).strip(), context=short_context(unit)))
            if len(found) >= MAX_REPORTED:
                return found
    return found


def short_context(unit: str, limit: int = 120) -> str:
    """A unit as quoted in a warning: without table pipes, at most ``limit`` characters."""
    context = unit.strip().strip("|").strip()
    return context if len(context) <= limit else context[:limit - 3] + "..."
