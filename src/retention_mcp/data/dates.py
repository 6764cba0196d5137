"""Dates and yes/no flags as HR exports write them.

Dates: ``2024/3/5``, ``2024-03-05``, ``2024.3.5``, ``2024年3月5日``, ``3/5/2024`` (month first unless a
first number above 12 shows the column is day first), Excel serial numbers, and real datetimes; a time
of day after the date is ignored. Parsing works on the distinct values of a column (an export with a
million rows has a few thousand distinct dates), so it stays fast on big files.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Excel's day zero (it counts 1900-02-29, so serials are days since 1899-12-30).
EXCEL_EPOCH = "1899-12-30"
#: Serial numbers we accept as dates: 1927-05-18 .. 2119-01-29.
EXCEL_SERIAL_RANGE = (10_000, 80_000)

_YMD = r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$"
_MDY = r"^\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4})(?:[ T].*)?$"
_COMPACT = r"^\s*((?:19|20)\d{2})(\d{2})(\d{2})\s*$"
_SERIAL = r"^\s*(\d{5})(?:\.\d+)?\s*$"



def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole calendar months, clipped to the month's last day (2025-03-31 − 1 month = 02-28)."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def default_flag_words() -> tuple[frozenset[str], frozenset[str]]:
    """The yes/no words of the bundled ``tools/column_aliases.yaml`` (a team copy is passed in explicitly)."""
    from retention_mcp.catalog import bundled_dir, read_yaml
    from retention_mcp.data.roles import normalise_word

    words = (read_yaml(bundled_dir("tools") / "column_aliases.yaml") or {}).get("flag_words") or {}
    return (frozenset(normalise_word(w) for w in words.get(True, words.get("true")) or ()),
            frozenset(normalise_word(w) for w in words.get(False, words.get("false")) or ()))


@dataclass
class ParsedDates:
    values: pd.Series  # datetime64[ns], NaT where blank or unparseable
    unparseable: int  # non-blank values that are not a date
    bad_counts: dict[str, int]  # unparseable value -> rows (the caller decides which, if any, may be quoted)


def parse_dates(column: pd.Series) -> ParsedDates:
    """Parse a column of dates in any of the formats above (see the module docstring)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        values = column.dt.tz_localize(None) if getattr(column.dt, "tz", None) is not None else column
        return ParsedDates(values, 0, {})  # in its own unit: day numbers come from it without a round trip
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.astype("float64")
        low, high = EXCEL_SERIAL_RANGE
        ok = numbers.between(low, high)
        out = pd.to_datetime(EXCEL_EPOCH) + pd.to_timedelta(numbers.where(ok).round(), unit="D")
        bad = int((numbers.notna() & ~ok).sum())
        return ParsedDates(out.astype("datetime64[ns]"), bad, {})

    # Work on distinct values: codes index into `uniques`.
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    if len(uniques) == 0:  # an empty column (nobody has left yet): no dates, nothing unparseable
        return ParsedDates(pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]"), 0, {})
    text = pd.Series(uniques, dtype="object").map(lambda v: v if isinstance(v, str) else str(v)).str.strip()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    blank = text.eq("") | text.str.lower().isin(["nan", "nat", "none", "null", "-", "/", "—", "n/a", "na"])

    ymd = text.str.extract(_YMD)
    mdy = text.str.extract(_MDY)
    compact = text.str.extract(_COMPACT)
    # Day-first only when some first number cannot be a month (13/2/2024) and none of the second can't be a day
    first = pd.to_numeric(mdy[0], errors="coerce")
    second = pd.to_numeric(mdy[1], errors="coerce")
    day_first = bool((first > 12).any() and not (second > 12).any())

    def build(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
        frame = pd.DataFrame({"year": pd.to_numeric(year, errors="coerce"),
                              "month": pd.to_numeric(month, errors="coerce"),
                              "day": pd.to_numeric(day, errors="coerce")})
        return pd.to_datetime(frame, errors="coerce")

    has = ymd[0].notna()
    if has.any():
        parsed[has] = build(ymd.loc[has, 0], ymd.loc[has, 1], ymd.loc[has, 2])
    has = mdy[0].notna() & parsed.isna()
    if has.any():
        month, day = (mdy[1], mdy[0]) if day_first else (mdy[0], mdy[1])
        parsed[has] = build(mdy.loc[has, 2], month[has], day[has])
    has = compact[0].notna() & parsed.isna()
    if has.any():
        parsed[has] = build(compact.loc[has, 0], compact.loc[has, 1], compact.loc[has, 2])
    serial = text.str.extract(_SERIAL)[0]
    has = serial.notna() & parsed.isna()
    if has.any():
        numbers = pd.to_numeric(text[has], errors="coerce")
        ok = numbers.between(*EXCEL_SERIAL_RANGE)
        parsed[has] = pd.to_datetime(EXCEL_EPOCH) + pd.to_timedelta(numbers.where(ok).round(), unit="D")
    rest = parsed.isna() & ~blank
    if rest.any():
        # Last resort for English month names and the like ("5 Mar 2024", "March 5, 2024").
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            guess = pd.Series([pd.to_datetime(v, errors="coerce") for v in text[rest]], index=text[rest].index)
        parsed[rest] = pd.to_datetime(guess, errors="coerce")

    bad_unique = parsed.isna() & ~blank
    unique_values = parsed.to_numpy(dtype="datetime64[ns]")
    values = np.where(codes >= 0, unique_values[np.maximum(codes, 0)], np.datetime64("NaT"))
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)) if len(uniques) else np.zeros(0, int)
    unparseable = int(counts[bad_unique.to_numpy()].sum()) if len(uniques) else 0
    bad = bad_unique.to_numpy()
    bad_counts = dict(zip(text[bad].head(50), counts[bad][:50].tolist(), strict=True)) if len(uniques) else {}
    return ParsedDates(pd.Series(values, index=column.index, dtype="datetime64[ns]"), unparseable, bad_counts)


@dataclass
class ParsedFlags:
    values: pd.Series  # float 1.0 / 0.0, NaN where blank or unknown
    unknown: int
    bad_counts: dict[str, int]  # unknown value -> rows


def parse_flags(column: pd.Series, words: tuple[frozenset[str], frozenset[str]] | None = None) -> ParsedFlags:
    """Yes/No, 是/否, Y/N, 1/0, True/False (any case) -> 1.0 / 0.0; anything else is counted as unknown.

    ``words`` is (true words, false words), e.g. ``(table.true_words, table.false_words)`` of the role
    table; by default the bundled lists."""
    import numpy as np
    import pandas as pd

    true_words, false_words = words or default_flag_words()
    if pd.api.types.is_bool_dtype(column):
        return ParsedFlags(column.astype("float64"), 0, {})
    if pd.api.types.is_numeric_dtype(column):
        numbers = column.astype("float64")
        ok = numbers.isin([0.0, 1.0]) | numbers.isna()
        bad = numbers.where(ok)
        return ParsedFlags(bad, int((~ok).sum()), {})
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    from retention_mcp.data.roles import normalise_word

    text = pd.Series([normalise_word(u) for u in uniques], dtype="object")
    mapped = np.full(len(uniques), np.nan)
    mapped[text.isin(true_words).to_numpy()] = 1.0
    mapped[text.isin(false_words).to_numpy()] = 0.0
    blank = text.eq("").to_numpy()
    values = np.where(codes >= 0, mapped[np.maximum(codes, 0)] if len(uniques) else np.nan, np.nan)
    unknown_unique = np.isnan(mapped) & ~blank
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)) if len(uniques) else np.zeros(0, int)
    unknown = int(counts[unknown_unique].sum()) if len(uniques) else 0
    bad_counts = (dict(zip(map(str, pd.Series(uniques)[unknown_unique].head(50)), counts[unknown_unique][:50].tolist(),
                           strict=True)) if len(uniques) else {})
    return ParsedFlags(pd.Series(values, index=column.index, dtype="float64"), unknown, bad_counts)
