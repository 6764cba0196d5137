"""Every number next to a citation checked against the figures of the evidence it cites.

In a sentence, list item or table row that cites ``[ev-…]``, each figure (the numbers
:func:`~retention_mcp.workspace.citations.figure_matches` finds: percentages, decimals, amounts, multiples,
whole numbers of 10 or more) must be one of the cited evidence's figures **as displayed**: rounded to the digits
written, in the way that kind of number is written —

- ``13.8%``, ``14%`` for a fraction 0.1384; ``65%`` for a KPI in percent points; ``3.2 个百分点`` / ``3.2 pp``;
- ``2.94 倍`` / ``2.9×`` for a ratio; ``183.5 万``, ``1.84M``, ``¥1,835,120`` for money (the scale times the
  digits written: 183.5 万 stands for 1,835,000 ± 500);
- a number without a sign matches a figure of either sign ("下降 19%" for a change of −0.19).

A citation may name its figure, ``[ev-81ef59 研发部]`` or ``[ev-81ef59 roi]``: the sentence's numbers are then
matched only against that evidence's figures whose name contains the words (``rate[研发部]``). A number that
matches no figure is flagged with the closest one. Sentences marked as an assumption (``假设``, ``待核实``) are
checked but never flagged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from retention_mcp.workspace.citations import (
    _MARKERS,
    EVIDENCE_ID,
    TextUnit,
    figure_matches,
    short_context,
    text_units,
)
from retention_mcp.workspace.figures import (
    MULTIPLE,
    PERCENT,
    PLAIN,
    POINTS,
    Figure,
    display,
    tool_precision,
    written_forms,
)

#: A citation: one or more evidence ids in brackets, optionally naming the figure: ``[ev-81ef59 研发部]``.
CITATION = re.compile(r"\[\s*ev-[0-9a-fA-F]{6,16}\b[^\[\]\n]*\]")
_SCALES = {"万": 1e4, "亿": 1e8, "k": 1e3, "K": 1e3, "M": 1e6, "bn": 1e9}
_KINDS = {"%": PERCENT, "％": PERCENT, "‰": PERCENT, "pp": POINTS, "个百分点": POINTS, "百分点": POINTS,
          "倍": MULTIPLE, "×": MULTIPLE, "x": MULTIPLE}
VERIFIED = "✓"
FLAGGED = "⚠"


@dataclass(frozen=True)
class NumberCheck:
    text: str  # as written, e.g. "13.8%"
    start: int  # position in the markdown (-1 when unknown)
    end: int
    verified: bool
    figure: Figure | None  # the figure it matches, or the closest one
    flagged: bool  # matches none and the sentence is not marked as an assumption

    @property
    def shown(self) -> str | None:
        """The figure as the tool displays it."""
        return display(self.figure) if self.figure is not None else None


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    cited: tuple[str, ...]
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # evidence id -> figure names asked for
    numbers: tuple[NumberCheck, ...] = ()

    @property
    def flagged(self) -> list[NumberCheck]:
        return [n for n in self.numbers if n.flagged]


@dataclass(frozen=True)
class Written:
    """A number as written: its value in the units a plan writes (before scale), digits, kind, sign."""

    value: float
    tolerance: float
    kind: str
    signed: bool

    def matches(self, candidate: float) -> bool:
        given, other = (self.value, candidate) if self.signed else (abs(self.value), abs(candidate))
        return abs(given - other) <= self.tolerance + 1e-9 * max(1.0, abs(given))


def read_number(match: re.Match[str]) -> Written:
    """``183.5 万`` → 1,835,000 ± 500, plain; ``13.8%`` → 13.8 ± 0.05, percent; ``−1.3`` → −1.3, signed."""
    number = match.group("num")
    sign = number[:1] in "+-−"
    digits = number.lstrip("+-−").replace(",", "")
    decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
    value = float(digits) * (-1 if number.startswith(("-", "−")) else 1)
    unit = (match.group("unit") or "").strip()
    scale = _SCALES.get(unit, 1.0)
    kind = _KINDS.get(unit, PLAIN)
    if unit == "‰":
        value, decimals = value / 10, decimals + 1
    return Written(value=value * scale, tolerance=0.5 * 10 ** -decimals * scale, kind=kind, signed=sign)


def _names_in(citation: str) -> tuple[list[str], str]:
    ids = [i.lower() for i in EVIDENCE_ID.findall(citation)]
    name = EVIDENCE_ID.sub(" ", citation.strip("[]"))
    name = " ".join(re.sub(r"[,，;；、]", " ", name).split())
    return ids, name


def _normal(text: str) -> str:
    return "".join(text.split()).casefold()


def _named(figures: Sequence[Figure], name: str, labels: Mapping[str, str]) -> list[Figure]:
    """The figures whose name (or label in the plan's language) contains ``name``."""
    wanted = _normal(name)
    return [f for f in figures if wanted in _normal(f.name) or wanted in _normal(labels.get(f.name, ""))]


def _closest(written: Written, figures: Sequence[Figure]) -> Figure | None:
    """The figure nearest the number among those that can be written its way (any figure when none can)."""
    kind = written.kind if any(written_forms(f, written.kind) for f in figures) else PLAIN
    best, best_distance = None, math.inf
    for figure in figures:
        for form in written_forms(figure, kind):
            given, other = (written.value, form) if written.signed else (abs(written.value), abs(form))
            distance = abs(given - other) / max(abs(given), 1e-9)
            if distance < best_distance:
                best, best_distance = figure, distance
    return best


def check_number(written: Written, figures: Sequence[Figure]) -> tuple[bool, Figure | None]:
    """(verified, the figure matched or the closest)."""
    for figure in figures:
        forms = written_forms(figure, written.kind)
        rounded = tool_precision(figure)
        if written.kind in (PERCENT, POINTS) and figure.unit not in ("fraction", "percent", "pp"):
            rounded = None
        if any(written.matches(form) for form in forms) or (
                rounded is not None and forms and written.matches(rounded)):
            return True, figure
    return False, _closest(written, figures)


def check_sentence(unit: TextUnit, figures_by_id: Mapping[str, Sequence[Figure]],
                   labels: Mapping[str, str] | None = None) -> SentenceCheck | None:
    """The check of one unit, or None when it cites nothing."""
    citations = list(CITATION.finditer(unit.text))
    if not citations:
        return None
    cited: dict[str, None] = {}
    names: dict[str, list[str]] = {}
    unnamed: set[str] = set()  # cited somewhere in the sentence without a name: every figure may be meant
    for citation in citations:
        ids, name = _names_in(citation.group(0))
        for evidence_id in ids:
            cited.setdefault(evidence_id, None)
            if name:
                names.setdefault(evidence_id, []).append(name)
            else:
                unnamed.add(evidence_id)
    candidates: list[Figure] = []
    for evidence_id in cited:
        own = list(figures_by_id.get(evidence_id, ()))
        if evidence_id in names and evidence_id not in unnamed:
            picked = [f for name in names[evidence_id] for f in _named(own, name, labels or {})]
            own = list(dict.fromkeys(picked)) or own  # a name that matches nothing: check against all (and say so)
        candidates += own
    exempt = bool(_MARKERS.search(unit.text))
    numbers = []
    for match in figure_matches(unit.text, also_blank=(CITATION,)):
        written = read_number(match)
        verified, figure = check_number(written, candidates)
        start, end = unit.span(match.start("num") if not match.group("cur") else match.start(), match.end())
        numbers.append(NumberCheck(text=match.group(0).strip(), start=start, end=end, verified=verified,
                                   figure=figure, flagged=not verified and not exempt))
    return SentenceCheck(text=short_context(unit.text, 200), cited=tuple(cited),
                         names={k: tuple(v) for k, v in names.items()}, numbers=tuple(numbers))


def check_text(markdown: str, figures_by_id: Mapping[str, Sequence[Figure]],
               labels: Mapping[str, str] | None = None) -> list[SentenceCheck]:
    """Every citing sentence of ``markdown`` with its numbers checked (``figures_by_id``: evidence id → figures)."""
    checks = []
    for unit in text_units(markdown):
        found = check_sentence(unit, figures_by_id, labels)
        if found is not None:
            checks.append(found)
    return checks


def unknown_names(checks: Iterable[SentenceCheck], figures_by_id: Mapping[str, Sequence[Figure]],
                  labels: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(evidence id, name) of citations naming a figure the evidence does not have."""
    missing = []
    for check in checks:
        for evidence_id, asked in check.names.items():
            for name in asked:
                if not _named(list(figures_by_id.get(evidence_id, ())), name, labels or {}):
                    missing.append((evidence_id, name))
    return list(dict.fromkeys(missing))


def mark_text(markdown: str, checks: Iterable[SentenceCheck], verified: str = VERIFIED,
              flagged: str = FLAGGED) -> str:
    """``markdown`` with ``verified`` after each verified number and ``flagged`` after each flagged one."""
    marks = sorted(((n.end, verified if n.verified else flagged) for c in checks for n in c.numbers
                    if (n.verified or n.flagged) and n.end > 0), reverse=True)
    for end, mark in marks:
        markdown = markdown[:end] + mark + markdown[end:]
    return markdown
