"""One vocabulary of derived labels: what a tool prints for a group the data does not name itself, and what every
tool accepts back, in English or Chinese.

- **Tenure bands** (``tenure_band``): upper edges 3, 12, 36 and 60 months, inclusive — ≤3 months, 3–12 months,
  1–3 years, 3–5 years, >5 years — for tenure known to the day or month. Tenure recorded in whole (completed)
  years cannot be split below a year, so it gets the same edges at year resolution: 0 → <1 year, 1–2 → 1–3 years,
  3–4 → 3–5 years, 5 or more → >5 years (a value v means v to v + 1 years). Every tool bands a file the same way
  (:func:`tenure_bands`).
- **Hire cohorts** (``hire_year``, ``hire_quarter``): the calendar year or quarter of the hire date, labelled as
  period names.
- **Period names**: a year (2024, 2024年), half (2024-H1, 2024年上半年), quarter (2024-Q3, 2024年第3季度) or month
  (2024-03, 2024年3月); ``period_start`` / ``period_end`` take them (:func:`parse_period`).
- **Separation kinds**: voluntary, involuntary, regretted, other (主动离职, 被动离职, 惋惜离职, 其他) from
  ``tools/separation_types.yaml``; a ``where`` on the termination-type column takes them.
- **Likert boxes**: favourable (the top box), neutral, unfavourable (the bottom box) of a Likert item, on the top-box
  rule of :func:`likert_scale` (below); a ``where`` on the item takes them.
- the group of rows with no value: ``(missing)`` / ``（缺失）``.

Internally a derived group has one fixed code (the English label); the words of each language come from
``tools/wording/vocabulary.yaml``. :func:`fold` is the one comparison of labels: case, spaces, full-width forms,
≤ / <=, dashes and 至 do not matter.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError

if TYPE_CHECKING:
    from retention_mcp.wording import Words

MISSING_LABEL = "(missing)"
#: Early attrition: leaving within this many days of hire (retention_curve's early attrition, driver_analysis's
#: early-leaver outcome, the early_attrition_rate KPI).
EARLY_DAYS = 90

#: Tenure bands: code -> wording key. Upper edges in months (inclusive) for tenure known to the month or finer.
TENURE_BAND_EDGES_MONTHS = (3.0, 12.0, 36.0, 60.0)
TENURE_BAND_LABELS = ("<=3 months", "3-12 months", "1-3 years", "3-5 years", ">5 years")
#: Completed whole years: upper edges (inclusive) 0 | 1-2 | 3-4 | 5+, the month bands' edges at 1, 3 and 5 years.
TENURE_YEAR_EDGES = (0.0, 2.0, 4.0)
TENURE_YEAR_LABELS = ("<1 year", "1-3 years", "3-5 years", ">5 years")
TENURE_WORDS = {"<=3 months": "le_3_months", "3-12 months": "months_3_12", "1-3 years": "years_1_3",
                "3-5 years": "years_3_5", ">5 years": "over_5_years", "<1 year": "under_1_year"}

SEPARATION_KINDS = ("all", "voluntary", "involuntary", "regretted", "other")
LIKERT_BOXES = ("favourable", "neutral", "unfavourable")

#: Names of the derived dimensions, as `by` / `where` / `segment` take them (normalised: see ``_plain_name``).
TENURE_NAMES = ("tenureband", "tenure", "司龄段", "司龄")
HIRE_YEAR_NAMES = ("hireyear", "hirecohort", "cohort", "入职年份", "入职年度", "入职批次", "入职年")
HIRE_QUARTER_NAMES = ("hirequarter", "入职季度")


def fold(text: object) -> str:
    """A label as compared with another: NFKC (full-width forms folded), lower case, no spaces; ≤ → <=, ≥ → >=,
    every dash, ~ and 至 → '-'."""
    value = unicodedata.normalize("NFKC", str(text)).strip().lower()
    value = value.replace("≤", "<=").replace("≥", ">=")
    value = re.sub(r"[\u2010-\u2015\u2212~～至]", "-", value)
    return re.sub(r"\s+", "", value)


def _plain_name(name: str) -> str:
    return re.sub(r"[\s_\-./]", "", unicodedata.normalize("NFKC", str(name)).strip().lower())


def derived_kind(name: str) -> str | None:
    """'tenure_band', 'hire_year' or 'hire_quarter' when ``name`` names a derived dimension (in either language)."""
    plain = _plain_name(name)
    if plain in TENURE_NAMES:
        return "tenure_band"
    if plain in HIRE_YEAR_NAMES:
        return "hire_year"
    if plain in HIRE_QUARTER_NAMES:
        return "hire_quarter"
    return None


# -- labels in a language, and matching them back


def shown(code: str, w: Words) -> str:
    """The label of a derived group's ``code`` in ``w``'s language (data values are returned as they are)."""
    if code == MISSING_LABEL:
        return w("vocabulary.missing")
    if code in TENURE_WORDS:
        return w(f"vocabulary.tenure.{TENURE_WORDS[code]}")
    period = parse_period(code)
    if period is not None and period.kind in ("year", "quarter"):
        return period.name(w)
    return code


def spellings(code: str, everyone: dict[str, dict[str, str]] | None = None) -> set[str]:
    """Every folded form a derived group's ``code`` is accepted in: the code and its words in both languages."""
    from retention_mcp.wording import all_entries

    forms = {fold(code)}
    entries = everyone if everyone is not None else all_entries()
    key = ("vocabulary.missing" if code == MISSING_LABEL else
           f"vocabulary.tenure.{TENURE_WORDS[code]}" if code in TENURE_WORDS else None)
    if key is not None:
        forms |= {fold(text) for text in entries.get(key, {}).values()}
    return forms


def match_derived(value: object, codes: list[str], entries: dict[str, dict[str, str]] | None = None) -> int | None:
    """The position in ``codes`` of the derived group ``value`` names in either language, or None."""
    wanted = fold(value)
    for position, code in enumerate(codes):
        if wanted in spellings(code, entries):
            return position
    period = parse_period(str(value))
    if period is not None:
        for position, code in enumerate(codes):
            if parse_period(code) == period:
                return position
    return None


# -- periods


@dataclass(frozen=True)
class Period:
    """A named calendar period: a year, a half, a quarter or a month."""

    kind: str  # year | half | quarter | month
    year: int
    part: int = 0  # half 1-2, quarter 1-4, month 1-12 (0 for a year)

    @property
    def start(self) -> dt.date:
        month = {"year": 1, "half": 6 * (self.part - 1) + 1, "quarter": 3 * (self.part - 1) + 1,
                 "month": self.part}[self.kind]
        return dt.date(self.year, month, 1)

    @property
    def end(self) -> dt.date:
        last = {"year": 12, "half": 6 * self.part, "quarter": 3 * self.part, "month": self.part}[self.kind]
        return dt.date(self.year, last, calendar.monthrange(self.year, last)[1])

    @property
    def code(self) -> str:
        """The label in English: 2024, 2024-H1, 2024-Q3, 2024-03."""
        return {"year": f"{self.year}", "half": f"{self.year}-H{self.part}", "quarter": f"{self.year}-Q{self.part}",
                "month": f"{self.year}-{self.part:02d}"}[self.kind]

    def name(self, w: Words) -> str:
        key = f"half_{self.part}" if self.kind == "half" else self.kind
        return w(f"vocabulary.period.{key}", year=self.year, part=self.part)


_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "上": 1, "下": 2}
_PERIOD_PATTERNS = (
    ("year", re.compile(r"^(\d{4})(?:年度?)?$")),
    ("half", re.compile(r"^(\d{4})(?:-|年)?h([12])$")),
    ("half", re.compile(r"^h([12])-?(\d{4})$")),
    ("half", re.compile(r"^(\d{4})年?([上下一二])半年$")),
    ("quarter", re.compile(r"^(\d{4})(?:-|年)?(?:第)?q([1-4])$")),
    ("quarter", re.compile(r"^q([1-4])-?(\d{4})$")),
    ("quarter", re.compile(r"^(\d{4})年?第?([1-4一二三四])季度?$")),
    ("month", re.compile(r"^(\d{4})[-/.](\d{1,2})$")),
    ("month", re.compile(r"^(\d{4})年(\d{1,2})月(?:份)?$")),
)


def parse_period(text: str | None) -> Period | None:
    """The named period ``text`` stands for (2024, 2024-Q3, Q3 2024, 2024年第三季度, 2024H1, 2024年上半年, 2024-03,
    2024年3月), or None when it is not a period name (a date such as 2024-03-05 is not)."""
    if text is None:
        return None
    value = fold(text)
    for kind, pattern in _PERIOD_PATTERNS:
        match = pattern.match(value)
        if not match:
            continue
        first, second = (match.group(1), match.group(2)) if match.lastindex and match.lastindex > 1 else \
            (match.group(1), "0")
        if not first.isdigit() or len(first) != 4:  # Q3-2024, H1-2024: the year comes second
            first, second = second, first
        part = _CHINESE_DIGITS.get(second) or int(second)
        year = int(first)
        if not 1900 <= year <= 2200 or (kind == "month" and not 1 <= part <= 12):
            return None
        return Period(kind, year, part if kind != "year" else 0)
    return None


# -- separation kinds and Likert boxes


def separation_kind(value: object) -> str | None:
    """The separation kind (all, voluntary, involuntary, regretted, other) a label names in either language."""
    from retention_mcp.wording import all_entries

    wanted = fold(value)
    entries = all_entries()
    for kind in SEPARATION_KINDS:
        texts = entries.get(f"vocabulary.separation.{kind}", {})
        if wanted == kind or wanted in {fold(t) for t in texts.values()}:
            return kind
    return None


def likert_box(value: object) -> str | None:
    """'favourable', 'neutral' or 'unfavourable' when ``value`` names a Likert box in either language."""
    from retention_mcp.wording import all_entries

    wanted = fold(value)
    entries = all_entries()
    for box in LIKERT_BOXES:
        texts = entries.get(f"vocabulary.likert.{box}", {})
        if wanted in {box, fold(box.replace("our", "or"))} | {fold(t) for t in texts.values()}:
            return box
    return None


def likert_box_of(answer: float, scale: tuple[int, int, int]) -> str:
    """The box of one answer on ``scale`` = (low, high, first favourable): the top box is favourable, the
    mirror-image bottom box (as many points from the low end) unfavourable, the rest neutral."""
    low, high, top = scale
    if answer >= top:
        return "favourable"
    if answer <= low + (high - top):
        return "unfavourable"
    return "neutral"


def separation_argument(value: str | None) -> str:
    """A `separation_type` argument in either language -> all | voluntary | involuntary | regretted."""
    kind = separation_kind(value if value is not None else "all")
    if kind is None or kind == "other":
        raise InputError(f"separation_type must be all, voluntary, involuntary or regretted (全部离职, 主动离职, "
                         f"被动离职, 惋惜离职), not {value!r}")
    return kind


# -- Likert items (driver_analysis, describe_groups, where on a Likert item)

#: Integer columns named with these words are counts or levels, not attitude items, even on a 1-5 range.
NOT_LIKERT_WORDS = {"level", "education", "grade", "rank", "count", "number", "num", "no", "years", "year", "age",
                    "tenure", "stock", "hours", "days", "companies", "children", "dependents", "band"}
NOT_LIKERT_ZH = re.compile(r"职级|级别|学历|年龄|司龄|人数|次数|年限")


def _names_a_count(name: str) -> bool:
    """True for names like JobLevel, NumCompaniesWorked, years_at_company, 职级 (words, not substrings)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    words = set(re.split(r"[^a-z]+", snake))
    return bool(words & NOT_LIKERT_WORDS) or bool(NOT_LIKERT_ZH.search(name))


def likert_scale(name: str, values: Any) -> tuple[int, int, int] | None:
    """(low, high, first favourable value) when ``values`` look like a Likert item, else None.

    Integer answers on 1-4, 1-5, 1-6, 1-7, 0-10 or 1-10; top box = the upper two points on 4-7 point
    scales (3-4 of 4, 4-5 of 5, 6-7 of 7), 8-10 on 10/11-point scales.
    """
    present = values.dropna()
    if present.empty or _names_a_count(name) or not (present == present.round()).all():
        return None
    low, high = int(present.min()), int(present.max())
    if low not in (0, 1) or present.nunique() < 3:
        return None
    if low == 0 and (high != 10 or present.nunique() < 5):
        return None  # a 0-based item must be a 0-10 scale
    for top in (4, 5, 6, 7, 10):
        if high <= top and (top - high) <= 1 and not (low == 0 and top != 10):
            favourable = 8 if top == 10 else top - 1
            return (0 if low == 0 else 1), top, favourable
    return None
