"""Evidence ids and uncited numbers in a section's markdown.

A section cites evidence next to its numbers: ``离职率 17.8% [ev-3f9a2c]``. Every ``ev-…`` id in the
text must exist; numbers that cite nothing are listed as a warning (never a refusal), by this rule:

- a citation covers every number in the same sentence, list item or table row;
- a figure is a percentage, a decimal, a number with thousands separators, a currency amount, a
  multiple (``3×``, ``2.5 倍``), percentage points, or a whole number of 10 or more;
- not figures: years (1900–2100) and dates, durations (``90 天``, ``6 months``, ``90-day``) and lists of them
  (``30/60/90 天``, ``30, 60 and 90 days``), confidence levels (``95% 区间``, ``95% CI``, ``90% confidence``),
  section numbers (``第 3.2 节``, ``Section 4.1``, ``§2``), list numbering and headings, numbers inside code, and
  anything in a sentence marked as an assumption or user input (``假设``, ``待核实``, ``用户提供``,
  ``assumption``, ``user-provided``), as the prompts ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVIDENCE_ID = re.compile(r"\bev-[0-9a-fA-F]{6,16}\b")
_CODE = re.compile(r"`[^`]*`")
_DATES = re.compile(r"\b\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?\b|\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?"
                    r"|\b\d{1,2}/\d{1,2}/\d{4}\b|\bQ[1-4]\b|\bH[12]\b|\bv\d+\b", re.IGNORECASE)
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


def _units(markdown: str) -> list[str]:
    """Logical lines (a paragraph's wrapped lines joined; table rows and list items alone), then sentences."""
    logical: list[str] = []
    in_fence = False
    for raw in markdown.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence or not line.strip() or line.lstrip().startswith("#"):
            logical.append("")
            continue
        if logical and logical[-1] and not _LIST_OR_TABLE.match(line) and not logical[-1].lstrip().startswith("|"):
            logical[-1] += " " + line.strip()
        else:
            logical.append(line)
    units: list[str] = []
    for line in filter(None, logical):
        if line.lstrip().startswith("|"):
            units.append(line)
        else:
            units.extend(part for part in _SENTENCE_END.split(line) if part and part.strip())
    return units


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
        text = _ENUMERATION.sub(" ", unit)
        text = _NOT_FIGURES.sub(" ", _DATES.sub(" ", _CODE.sub(" ", text)))
        for match in _NUMBER.finditer(text):
            if _is_figure(match):
                context = unit.strip().strip("|").strip()
                found.append(UncitedNumber(number=match.group(0).strip(),
                                           context=context if len(context) <= 120 else context[:117] + "..."))
                if len(found) >= MAX_REPORTED:
                    return found
    return found
