"""A table made ready for turnover analysis: roles detected, dates and flags parsed, data shape decided.

``load_dataset`` is what the turnover tools call: it reads (cached), detects column roles, parses the
date / flag / termination-type columns once into numpy arrays, and caches the result per
(file version, column_map, shape) so a repeated call costs almost nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from retention_mcp.data.cache import PREPARED, frame_bytes
from retention_mcp.data.reader import Progress, load_table
from retention_mcp.data.roles import ColumnRoles, RoleTable, classify_separation, detect_roles, load_roles
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Shape = Literal["event", "snapshot"]
#: Day numbers (days since 1970-01-01) for "no date": hire missing sorts after everything, termination too.
NO_DATE = 2**40
#: Separation type codes.
SEP_NONE, SEP_VOLUNTARY, SEP_INVOLUNTARY, SEP_UNKNOWN = 0, 1, 2, 3
#: A text column whose distinct values exceed this share of rows (and MIN_IDENTIFYING_DISTINCT) identifies people.
IDENTIFYING_RATIO = 0.5
MIN_IDENTIFYING_DISTINCT = 20
#: Average length above which a text column is free text (comments), never shown.
FREE_TEXT_LENGTH = 40


@dataclass
class Finding:
    check: str
    count: int
    detail: str


@dataclass
class Dataset:
    frame: pd.DataFrame  # the cached raw table: never modify
    roles: ColumnRoles
    table: RoleTable
    shape: Shape | None  # None: neither dates nor a leaver flag
    shape_source: str
    hire: np.ndarray | None = None  # int64 day numbers, NO_DATE where missing
    term: np.ndarray | None = None  # int64 day numbers, NO_DATE where missing
    leaver: np.ndarray | None = None  # bool: has left (snapshot: flag; event: a termination date)
    separation: np.ndarray | None = None  # int8 SEP_* codes
    regretted: np.ndarray | None = None  # bool
    tenure_months: np.ndarray | None = None  # float, NaN where missing (from a tenure column)
    tenure_unit: str | None = None  # unit of the tenure column: years, months or days
    as_of: int | None = None  # day number of the latest (non-future) date in the file
    findings: list[Finding] = field(default_factory=list)
    _identifying: dict[str, bool] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.frame)

    def duplicate_id_finding(self) -> Finding | None:
        """Rows sharing an ID (computed on demand: it is the slow check on big files)."""
        column = self.roles.get("employee_id")
        if column is None:
            return None
        duplicated = int(self.frame[column].dropna().duplicated(keep=False).sum())
        if not duplicated:
            return None
        return Finding("duplicate_ids", duplicated, f"{duplicated} row(s) share an ID with another row in {column!r} "
                       "(rehires or duplicates); each row counts as one employment")

    def is_identifying(self, column: str) -> bool:
        """True for id / name roles, free text and text columns where most rows have their own value."""
        if column not in self._identifying:
            self._identifying[column] = _identifying(self.frame[column], self.roles.role_of(column), self.table)
        return self._identifying[column]


def day_numbers(values: pd.Series) -> np.ndarray:
    """datetime64 series -> int64 days since 1970-01-01, NO_DATE for NaT."""
    import numpy as np

    days = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = days.astype("int64")
    out[np.isnat(days)] = NO_DATE
    return out


def day_to_date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def date_to_day(value: dt.date) -> int:
    return (value - dt.date(1970, 1, 1)).days


def load_dataset(settings: Settings, *, path: str | None = None, csv_text: str | None = None,
                 sheet: str | None = None, column_map: Mapping[str, str] | None = None,
                 shape: str | None = None, progress: Progress | None = None) -> Dataset:
    """Read and prepare a table (cached by file version + column_map + shape). Raises ValueError."""
    if shape not in (None, "", "auto", "event", "snapshot"):
        raise ValueError(f"shape must be 'event' (hire/termination dates) or 'snapshot' (a leaver flag), "
                         f"or left out to detect it; got {shape!r}")
    if column_map is not None and not isinstance(column_map, Mapping):
        raise ValueError("column_map must be an object like {\"hire_date\": \"Start\", \"department\": \"Team\"}")
    frame, key = load_table(settings, path=path, csv_text=csv_text, sheet=sheet, progress=progress)
    if len(frame) == 0:
        raise ValueError("the file has a header but no data rows; export it again with the employee rows")
    table = load_roles(settings)
    prepared_key = (key, tuple(sorted((column_map or {}).items())), shape or "auto", table.version)

    def prepare() -> tuple[Dataset, int]:
        if progress:
            progress(0.7, "detecting columns and parsing dates")
        dataset = _prepare(frame, table, column_map, None if shape in (None, "", "auto") else shape)
        extra = sum(a.nbytes for a in (dataset.hire, dataset.term, dataset.leaver, dataset.separation,
                                       dataset.regretted, dataset.tenure_months) if a is not None)
        return dataset, extra + frame_bytes(frame) // 8

    return PREPARED.get_or_create(prepared_key, prepare)


def _prepare(frame: pd.DataFrame, table: RoleTable, column_map: Mapping[str, str] | None,
             forced: str | None) -> Dataset:
    import numpy as np

    from retention_mcp.data.dates import parse_dates, parse_flags

    roles = detect_roles(frame.columns, table, column_map)
    findings: list[Finding] = []
    today = date_to_day(dt.date.today())
    ds = Dataset(frame=frame, roles=roles, table=table, shape=None, shape_source="")

    def dates_of(role: str) -> np.ndarray | None:
        column = roles.get(role)
        if column is None:
            return None
        parsed = parse_dates(frame[column])
        if parsed.unparseable:
            shown = "" if ds.is_identifying(column) else f" (e.g. {', '.join(parsed.examples)})"
            findings.append(Finding("unparseable_dates", parsed.unparseable,
                                    f"{parsed.unparseable} value(s) in {column!r} are not dates{shown}; "
                                    "they are treated as missing"))
        days = day_numbers(parsed.values)
        future = int(((days != NO_DATE) & (days > today)).sum())
        if future:
            findings.append(Finding("future_dates", future, f"{future} date(s) in {column!r} are after today"))
        return days

    ds.hire = dates_of("hire_date")
    ds.term = dates_of("termination_date")

    flag = None
    if (column := roles.get("leaver_flag")) is not None:
        parsed_flag = parse_flags(frame[column])
        if parsed_flag.unknown:
            findings.append(Finding("unknown_flag_values", parsed_flag.unknown,
                                    f"{parsed_flag.unknown} value(s) in {column!r} are not yes/no "
                                    f"(e.g. {', '.join(parsed_flag.examples)}); they are treated as missing"))
        flag = parsed_flag.values.to_numpy()

    separation = None
    if (column := roles.get("termination_type")) is not None:
        codes, uniques = _factorize(frame[column])
        kinds = classify_separation(list(uniques), table)
        lookup = np.array([{"voluntary": SEP_VOLUNTARY, "involuntary": SEP_INVOLUNTARY, "active": SEP_NONE}
                           .get(kinds[u], SEP_UNKNOWN) for u in uniques] + [SEP_NONE], dtype="int8")
        separation = lookup[np.where(codes >= 0, codes, len(uniques))]
    if (column := roles.get("regretted")) is not None:
        ds.regretted = np.nan_to_num(parse_flags(frame[column]).values.to_numpy(), nan=0.0) > 0.5

    for unit, role in (("years", "tenure_years"), ("months", "tenure_months"), ("days", "tenure_days")):
        if (column := roles.get(role)) is not None:
            import pandas as pd

            numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
            ds.tenure_months = numbers * {"years": 12.0, "months": 1.0, "days": 12 / 365.25}[unit]
            ds.tenure_unit = unit
            break

    has_dates = ds.hire is not None and ds.term is not None and bool((ds.hire != NO_DATE).any())
    if forced == "event" and not has_dates:
        raise ValueError("shape='event' needs a hire-date and a termination-date column; none were recognised "
                         "— name them with column_map, e.g. {\"hire_date\": \"Start\", \"termination_date\": \"End\"}")
    if has_dates and forced != "snapshot":
        ds.shape = "event"
        ds.shape_source = ("forced (shape='event')" if forced else
                           f"detected: hire dates ({roles.get('hire_date')}) and termination dates "
                           f"({roles.get('termination_date')})")
        ds.leaver = ds.term != NO_DATE  # type: ignore[operator]
    else:
        leaver = None
        source = ""
        if flag is not None:
            leaver = np.nan_to_num(flag, nan=0.0) > 0.5
            source = f"leaver flag {roles.get('leaver_flag')!r}"
        elif ds.term is not None:
            leaver = ds.term != NO_DATE
            source = f"a termination date in {roles.get('termination_date')!r}"
        elif separation is not None:
            leaver = np.isin(separation, [SEP_VOLUNTARY, SEP_INVOLUNTARY, SEP_UNKNOWN])
            source = f"a termination type in {roles.get('termination_type')!r}"
        if leaver is None:
            if forced == "snapshot":
                raise ValueError("shape='snapshot' needs a leaver flag (Yes/No, 1/0) column; none was recognised — "
                                 "name it with column_map, e.g. {\"leaver_flag\": \"Left\"}")
        else:
            ds.shape = "snapshot"
            ds.shape_source = ("forced (shape='snapshot'), " if forced else "detected: ") + f"leavers from {source}"
            ds.leaver = leaver
    if ds.shape is None:
        ds.shape_source = ("no hire/termination dates and no leaver flag recognised; name them with "
                           "column_map, e.g. {\"hire_date\": \"Start\", \"termination_date\": \"End\"} "
                           "or {\"leaver_flag\": \"Left\"}")
    if separation is not None and ds.leaver is not None:
        # People who did not leave have no separation type, whatever the column says ("Active", blank).
        separation = np.where(ds.leaver, np.where(separation == SEP_NONE, SEP_UNKNOWN, separation), SEP_NONE)
        ds.separation = separation.astype("int8")

    # Data quality and the as-of date
    if ds.hire is not None:
        missing = int((ds.hire == NO_DATE).sum())
        if missing and ds.shape == "event":
            findings.append(Finding("missing_hire_dates", missing,
                                    f"{missing} row(s) have no hire date; they are left out of event-based rates"))
    if ds.hire is not None and ds.term is not None:
        both = (ds.hire != NO_DATE) & (ds.term != NO_DATE)
        before = int((both & (ds.term < ds.hire)).sum())
        if before:
            findings.append(Finding("termination_before_hire", before,
                                    f"{before} row(s) end before they start; they are left out"))
        dates = np.concatenate([ds.hire[ds.hire != NO_DATE], ds.term[ds.term != NO_DATE]])
        dates = dates[dates <= today]
        ds.as_of = int(dates.max()) if len(dates) else None
        if flag is not None:
            flagged_no_date = int(((np.nan_to_num(flag) > 0.5) & (ds.term == NO_DATE)).sum())
            if flagged_no_date:
                findings.append(Finding("leaver_without_termination_date", flagged_no_date,
                                        f"{flagged_no_date} row(s) are flagged as leavers but have no "
                                        "termination date"))
    elif ds.hire is not None:
        dates = ds.hire[(ds.hire != NO_DATE) & (ds.hire <= today)]
        ds.as_of = int(dates.max()) if len(dates) else None
    if ds.separation is not None:
        unknown = int((ds.separation == SEP_UNKNOWN).sum())
        if unknown:
            findings.append(Finding("unclassified_termination_type", unknown,
                                    f"{unknown} leaver(s) have a termination type that is neither voluntary nor "
                                    "involuntary (or none); they count in 'all' only"))
    ds.findings = findings
    return ds


def _factorize(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return codes, list(uniques)


def _identifying(column: pd.Series, role: str | None, table: RoleTable) -> bool:
    import pandas as pd

    if role in table.identifying or role == "manager":
        return True
    if role in ("hire_date", "termination_date"):
        return False
    values = column.dropna()
    if len(values) == 0:
        return False
    if isinstance(column.dtype, pd.CategoricalDtype):
        distinct = int(column.cat.categories.size)
    else:
        distinct = int(values.nunique())
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        # Numbers are never listed value by value anyway; ids stored as numbers are caught by ratio.
        return distinct > MIN_IDENTIFYING_DISTINCT and distinct / len(values) > 0.9
    if distinct > MIN_IDENTIFYING_DISTINCT and distinct / len(values) > IDENTIFYING_RATIO:
        return True
    sample = values.head(500).astype(str)
    return bool(sample.str.len().mean() > FREE_TEXT_LENGTH)
