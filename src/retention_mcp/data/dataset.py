"""A table made ready for analysis: read once, roles detected, identifying columns known, dates and flags parsed.

``load_dataset`` is the one intake every tool that takes a file uses: it reads the file (cached, through
:mod:`retention_mcp.data.reader`), detects the column roles for the kind of file the tool expects (an HR
export, a call log, a roster), decides which columns identify people, parses the date / flag /
termination-type columns once into numpy arrays, and caches the result per (file version, column_map,
kind, shape), so a repeated call costs almost nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from retention_mcp.data.cache import PREPARED, frame_bytes
from retention_mcp.data.reader import Progress, open_table
from retention_mcp.data.roles import (
    ColumnRoles,
    RoleTable,
    classify_separation,
    close_matches,
    detect_roles,
    load_roles,
    normalise_header,
)
from retention_mcp.errors import InputError
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from retention_mcp.access import Access
    from retention_mcp.wording import Words

Shape = Literal["event", "snapshot"]
#: Day numbers (days since 1970-01-01) for "no date": hire missing sorts after everything, termination too.
NO_DATE = 2**40
#: Separation type codes.
SEP_NONE, SEP_VOLUNTARY, SEP_INVOLUNTARY, SEP_OTHER = 0, 1, 2, 3
#: A text column where most rows have their own value identifies people: above this share of distinct
#: values with more than MIN_IDENTIFYING_DISTINCT of them, or NEAR_UNIQUE with at least 5.
IDENTIFYING_RATIO = 0.5
MIN_IDENTIFYING_DISTINCT = 20
NEAR_UNIQUE = 0.9
#: Average length above which a text column is free text (comments), never shown.
FREE_TEXT_LENGTH = 40
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_NUMBERS_ONLY = re.compile(r"[\d\s.,:/+-]*")
_NUMBER_LIKE = r"[-+]?[\d,]*\.?\d+\s*[%％]?|\d{1,2}:\d{2}(:\d{2})?"

Identity = Literal["identifying", "people"] | None
logger = logging.getLogger(__name__)


@dataclass
class Finding:
    check: str
    count: int
    detail: str  # in English (logs); fields fill the wording ``dataset.findings.<check>`` in the caller's language
    fields: dict[str, Any] = field(default_factory=dict)

    def text(self, w: Words) -> str:
        key = f"dataset.findings.{self.check}"
        return w(key, count=self.count, **self.fields) if key in w else self.detail


@dataclass
class Dataset:
    frame: pd.DataFrame  # the cached raw table: never modify
    roles: ColumnRoles
    table: RoleTable
    kind: str
    shape: Shape | None  # None: neither dates nor a leaver flag
    shape_source: str
    source: Any = None  # the reader's SourceInfo (name, size, modified, sha256 ...) or a dict
    min_group: int = 5  # the server's floor when prepared: rare values below it are never quoted
    hire: np.ndarray | None = None  # int64 day numbers, NO_DATE where missing
    term: np.ndarray | None = None  # int64 day numbers, NO_DATE where missing
    leaver: np.ndarray | None = None  # bool: has left (snapshot: flag; event: a termination date)
    separation: np.ndarray | None = None  # int8 SEP_* codes
    unclassified_separations: list[str] = field(default_factory=list)
    regretted: np.ndarray | None = None  # bool
    tenure_months: np.ndarray | None = None  # float, NaN where missing (from a tenure column)
    tenure_unit: str | None = None  # unit of the tenure column: years, months or days
    tenure_resolution_months: float | None = None  # how finely the tenure column is recorded (12 = whole years)
    as_of: int | None = None  # day number of the latest (non-future) date in the file
    shape_forced: bool = False  # the caller set the shape (shape='event' / 'snapshot')
    leaver_source: tuple[str, str] | None = None  # snapshot: (flag | termination_date | termination_type, column)
    findings: list[Finding] = field(default_factory=list)
    linked: Any = None  # a linked dataset's LinkInfo (retention_mcp.data.linked): its files, keys and joins
    #: columns of the file the caller's access hides (named in refusals, never read)
    hidden_columns: tuple[str, ...] = ()
    #: the caller's row scope as results state it ("Department = Sales"), empty for the whole file
    access_label: str = ""
    #: (the whole file's dataset, the rows of it kept: a boolean mask or None for all) when this is a caller's scope
    #: of it: record keys are read from the whole file (see within_access)
    scoped_from: Any = None
    _identity: dict[str, Identity] = field(default_factory=dict)
    _watched: Any = None  # identifying columns normalised for the last check (built on first use)
    #: What is computed once per prepared file: header roles, record keys (see retention_mcp.data.cellkey)
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def duplicate_id_finding(self) -> Finding | None:
        """Rows sharing an ID (computed on demand: it is the slow check on big files)."""
        column = self.roles.get("employee_id")
        if column is None:
            return None
        duplicated = int(self.frame[column].dropna().duplicated(keep=False).sum())
        if not duplicated:
            return None
        return Finding("duplicate_ids", duplicated, f"{duplicated} row(s) share an ID with another row in {column!r} "
                       "(rehires or duplicates); each row counts as one employment", {"column": column})

    def subset(self, rows: Any) -> Dataset:
        """The same table restricted to ``rows`` (a boolean mask), e.g. a ``where`` scope. Which columns identify
        people stays as decided on the whole file."""
        import dataclasses

        arrays = {name: (getattr(self, name)[rows] if getattr(self, name) is not None else None)
                  for name in ("hire", "term", "leaver", "separation", "regretted", "tenure_months")}
        subset = dataclasses.replace(self, frame=self.frame.loc[rows], **arrays)
        subset._identity = self._identity
        subset._watched = self._watched  # judged on the whole file: a superset, never fewer checks
        # Row-aligned cached arrays (record keys) follow the rows; the rest is about columns and stays.
        subset.cache = {key: (value[rows] if key[0] == "record_keys" else value) if isinstance(key, tuple) else value
                        for key, value in self.cache.items()}
        if self.scoped_from is not None:  # a caller's scope of a whole file, cut again: rows of the whole file
            import numpy as np

            whole, kept = self.scoped_from
            positions = np.flatnonzero(kept) if kept is not None else np.arange(self.rows)
            mask = np.zeros(whole.rows, dtype=bool)
            mask[positions[np.asarray(rows, dtype=bool)]] = True
            subset.scoped_from = (whole, mask)
        return subset

    # -- who a column is about

    def identity(self, column: str) -> Identity:
        """'identifying' (IDs, names, birth dates, e-mail, phone, free text, near-unique text), 'people'
        (names of people shown only as pseudonyms: managers, agents) or None.

        Decided from the column's header and content only: no ``column_map``, ``by``, ``where`` or role a caller
        gives changes it (see :func:`_identity`)."""
        if column not in self._identity:
            header_role = header_roles(self).get(column)
            category = header_role is None and _names_category(column, self.table)
            self._identity[column] = _identity(self.frame[column], column, header_role, category, self.table)
        return self._identity[column]

    def is_identifying(self, column: str) -> bool:
        """True when the column's values may never be shown (identifying, or people's names)."""
        return self.identity(column) is not None

    def is_sensitive(self, column: str) -> bool:
        """A protected attribute (gender, marital status, age, nationality): a fair-treatment caution applies."""
        role = self.roles.role_of(column)
        return role in self.table.sensitive or any(
            normalise_header(column) in self.table.aliases[r] for r in self.table.sensitive)

    def column(self, name: str, *, purpose: str, allow_people: bool = False) -> str:
        """The column a caller means by ``name`` (header, normalised header or role), checked for ``purpose``
        ('a breakdown dimension', 'a driver', 'the outcome', 'a filter' ...). Identifying columns are refused;
        columns that name people only when ``allow_people`` (they are then shown as pseudonyms)."""
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{purpose}: give a column name, not {name!r}")
        columns = self.columns
        column = None
        if name in columns:
            column = name
        else:
            matches = [c for c in columns if normalise_header(c) == normalise_header(name)]
            if len(matches) == 1:
                column = matches[0]
            elif (by_role := self.roles.get(name.strip())) is not None:
                column = by_role
        if column is None and (hidden := _hidden_match(name, self.hidden_columns)) is not None:
            raise InputError(f"{hidden!r} is not available to your access ({self.access_label or 'hidden columns'})"
                             "; use another column")
        if column is None:
            close = close_matches(name, columns)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown column {name!r} for {purpose}{hint} The file's columns are: "
                             f"{', '.join(columns[:80])}{' ...' if len(columns) > 80 else ''}. "
                             "Call inspect_dataset to see them with their roles")
        identity = self.identity(column)
        if identity == "identifying" or (identity == "people" and not allow_people):
            what = "names people" if identity == "people" else "identifies people (IDs, names, contact details, " \
                                                               "birth dates or free text)"
            raise InputError(f"{column!r} {what}; it cannot be used as {purpose}. Use a group such as "
                             "department, job role, shift or tenure_band")
        return column



def leaver_source_text(ds: Dataset, w: Words) -> str:
    """Where a snapshot's leavers come from, in ``w``'s language: "leaver flag 'Attrition'" / "离职标记“Attrition”"."""
    if ds.leaver_source is None:
        return ""
    kind, column = ds.leaver_source
    return w(f"dataset.leavers_from.{kind}", column=column)


def shape_text(ds: Dataset, w: Words) -> str:
    """How the shape was decided, in ``w``'s language."""
    if ds.shape is None:
        return w("dataset.shape_none")
    how = w("dataset.forced", shape=ds.shape) if ds.shape_forced else w("dataset.detected")
    if ds.shape == "event":
        if ds.shape_forced:
            return how
        return how + w("dataset.event_from", hire=ds.roles.get("hire_date"), term=ds.roles.get("termination_date"))
    return how + w("dataset.snapshot_from", source=leaver_source_text(ds, w))


# -- identity of a column


#: Identifier-shaped text: a short code with digits (EMP00012, A17-3, 1001).
_CODE = re.compile(r"^[A-Za-z]{0,6}[-_ ]?\d{2,}[A-Za-z]{0,2}$")
#: Text dates (2024-03-05, 3/5/2024, 2024年3月5日): event dates, which look like phone numbers to _PHONE.
_DATE_TEXT = re.compile(r"^\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:[ T].*)?$"
                        r"|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?:[ T].*)?$")


def header_roles(ds: Dataset) -> dict[str, str]:
    """Columns whose header names an identifying or people role of any kind of file (an ID, a name, a birth
    date, a manager, an agent): decided from the header alone, whatever ``column_map`` says."""
    if "header_roles" not in ds.cache:
        ds.cache["header_roles"] = identity_roles(ds.columns, ds.table)
    return ds.cache["header_roles"]


def identity_roles(columns: list[str], table: RoleTable) -> dict[str, str]:
    found: dict[str, str] = {}
    wanted = [role for role in table.aliases if role in table.identifying or role in table.people]
    for column in columns:
        header = normalise_header(column)
        for role in wanted:
            if header in table.aliases[role]:
                found[column] = role
                break
    return found


def _identity(column: pd.Series, header: str, header_role: str | None, category_role: bool,
              table: RoleTable) -> Identity:
    """Who a column is about, from its header and its content — never from the role a caller gives it.

    ``header_role`` is the identifying or people role its header names (any kind of file); ``category_role`` is
    True when the header names an ordinary role (department, termination type …): then only unmistakable content
    (e-mail addresses, phone numbers, people's names, long free text) makes it identifying, not how few rows share
    a value — six leavers with six termination types is a category, not six identities."""

    header_level: Identity = None
    if header_role in table.identifying:
        header_level = "identifying"
    elif header_role in table.people:
        header_level = "people"
    elif header_role is None and not category_role and table.header_identifies(header):
        # A header naming an ID is a group code when few values repeat a lot (DeptID); names never are.
        values = column.dropna()
        is_id_only = re.search(r"(^|[^a-z])id([^a-z]|$)|^id|id$", header.lower()) and not re.search(
            r"name|mail|phone|birth|dob|address|zip|姓名|名字|出生|邮箱|电话|手机", header.lower())
        distinct = int(values.nunique()) if len(values) else 0
        if not (is_id_only and distinct <= MIN_IDENTIFYING_DISTINCT and distinct < IDENTIFYING_RATIO * len(values)):
            header_level = "identifying"
    if header_level == "identifying":
        return header_level
    # A people column (managers, agents) holds names by nature, repeated or not (an agent table has one row per
    # agent): only contact details or free text in it make it identifying.
    content = _content_identity(column, table, category_role, header_level == "people")
    return content or header_level


def _content_identity(column: pd.Series, table: RoleTable, category_role: bool,
                      people_header: bool = False) -> Identity:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        return None
    numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    rows, distinct, sample, distinct_sample = _text_profile(column)
    if rows == 0:
        return None
    ratio = distinct / rows
    if not numeric and sample.str.fullmatch(_NUMBER_LIKE).mean() >= 0.9:
        numeric = True  # "90%", "1,200", "3.5": figures stored as text are judged like numbers
    if numeric:
        # Numbers are never listed value by value. An ID stored as a number is a run of distinct whole
        # numbers (a row number, a staff number); pay or talk time is not, even when nearly every value differs.
        if (category_role or people_header or not pd.api.types.is_numeric_dtype(column)
                or distinct <= MIN_IDENTIFYING_DISTINCT or ratio < 1.0):
            return None
        numbers = column.dropna().astype("float64")
        dense = float(numbers.max() - numbers.min()) < 3 * len(numbers)
        return "identifying" if dense and bool((numbers == numbers.round()).all()) else None
    if sample.str.fullmatch(_DATE_TEXT).mean() >= 0.9:
        return None  # dates of events written as text; a birth date is known by its header
    if sample.str.len().mean() > FREE_TEXT_LENGTH:
        return "identifying"
    if sample.str.match(_EMAIL).mean() > 0.5 or sample.str.match(_PHONE).mean() > 0.5:
        return "identifying"
    if people_header:
        return None
    if ratio > IDENTIFYING_RATIO and table.looks_like_names(distinct_sample):
        return "identifying"  # people's own names: few rows share one
    if category_role:
        return None
    if distinct > MIN_IDENTIFYING_DISTINCT and ratio > IDENTIFYING_RATIO:
        return "identifying"
    if distinct >= 5 and ratio >= NEAR_UNIQUE and _looks_like_codes(distinct_sample):
        return "identifying"  # a handful of IDs in a small file; words that each leaver has once are not
    # Names that few rows share identify people even in a small file (a department repeats a lot).
    if rows / distinct <= 3 and table.looks_like_names(distinct_sample):
        return "identifying"
    return None


def _text_profile(column: pd.Series) -> tuple[int, int, pd.Series, pd.Series]:
    """(rows with a value, distinct values, a sample of values as trimmed text, up to 200 distinct values).

    Blank cells say nothing about anyone (a termination type filled in for leavers only) and are left out. A
    categorical column is read from its codes: a million rows cost one bincount."""
    import numpy as np
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        counts = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories))
        used = pd.Series(column.cat.categories[counts > 0])
        used_counts = counts[counts > 0]
        keep = (used.astype(str).str.strip() != "").to_numpy()
        used, used_counts = used[keep], used_counts[keep]
        head = column.head(2000).dropna()
        sample = head.astype(str).str.strip()
        return int(used_counts.sum()), len(used), sample[sample != ""].head(500), used.head(200)
    values = column.dropna()
    distinct = int(values.nunique())
    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)) and len(values):
        blank = values == ""
        if bool(blank.any()):
            values, distinct = values[~blank], distinct - 1
    sample = values.head(500).astype(str).str.strip()
    return len(values), distinct, sample[sample != ""], values.drop_duplicates().head(200)


def _looks_like_codes(values: pd.Series) -> bool:
    text = values.astype(str).str.strip()
    return bool(len(text)) and float(text.str.fullmatch(_CODE).mean()) >= 0.8


def _keep_identity(ds: Dataset, findings: list[Finding]) -> None:
    """No role makes an identifying column something else: a ``column_map`` that tries is refused (what to do
    instead is said), and a role detected from a header whose column turns out to identify people is not used."""
    table = ds.table
    for role in list(ds.roles.single) + list(ds.roles.multi):
        if role in table.identifying:
            continue
        columns = ds.roles.multi.get(role, []) if role in ds.roles.multi else [ds.roles.single[role]]
        for column in columns:
            identity = ds.identity(column)
            if identity is None or (identity == "people" and role in table.people):
                continue  # a manager or agent column as the manager or agent: shown as pseudonyms
            what = ("names people (shown only as pseudonyms, and only as a `by` group)" if identity == "people" else
                    "identifies people (IDs, their own names, contact details, birth dates or free text)")
            if role in ds.roles.overridden:
                raise InputError(f"column_map: {column!r} {what}; it cannot be the {role} column. Map {role} to "
                                 "another column" + (f", or use {column!r} as `by` (turnover by manager is shown "
                                                     "with pseudonyms)" if identity == "people" else ""))
            if role in ds.roles.multi:
                ds.roles.multi[role] = [c for c in ds.roles.multi[role] if c != column]
            else:
                del ds.roles.single[role]
            findings.append(Finding("identifying_column_not_used", 1, f"{column!r} {what}, so it is not used as "
                                    f"the {role} column"))


def _names_category(column: str, table: RoleTable) -> bool:
    """True when the header names an ordinary role (department, termination type, pay …) of any kind of file."""
    header = normalise_header(column)
    return any(header in aliases for role, aliases in table.aliases.items()
               if role not in table.identifying and role not in table.people)


def _watched_columns(ds: Dataset) -> list[Any]:
    """The text columns that identify or name people, lower-cased and trimmed as Arrow arrays (built once per
    prepared file: a million values take a few tens of milliseconds)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    watched = []
    for column in ds.columns:
        if ds.identity(column) is None:
            continue
        series = ds.frame[column]
        if str(series.dtype) in ("bool", "boolean") or series.dtype.kind in "iufcmM":
            continue  # numbers: outputs are full of counts, and numeric IDs are never a dimension
        values = pa.array(series.astype("string[pyarrow]") if series.dtype == object else series, from_pandas=True)
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.string())
        text = pc.utf8_lower(pc.utf8_trim_whitespace(values))
        spaced = pc.match_substring_regex(text, r"\s\s|[\t\r\n]")
        if pc.any(spaced).as_py():
            text = pc.if_else(spaced, pc.replace_substring_regex(text, r"\s+", " "), text)
        watched.append(text)
    return watched


def identifying_values_in(ds: Dataset, candidates: set[str]) -> list[str]:
    """Which ``candidates`` (normalised as ``disclosure.normalise_value`` makes them) are values of an
    identifying or people column that fewer than ``min_group`` rows share. Numbers and values under 3
    characters are never counted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = sorted(c for c in candidates if len(c) >= 3 and not _NUMBERS_ONLY.fullmatch(c))
    if not wanted:
        return []
    if ds._watched is None:
        ds._watched = _watched_columns(ds)
    found = []
    value_set = pa.array(wanted, pa.string())
    for text in ds._watched:
        hits = pc.filter(text, pc.is_in(text, value_set=value_set))
        if len(hits):
            counts = pc.value_counts(hits)
            found += [v.as_py() for v, n in zip(counts.field("values"), counts.field("counts"), strict=True)
                      if n.as_py() < ds.min_group]
    return found


# -- what one caller may see


def hidden_columns_of(ds: Dataset, names: Sequence[str], settings: Settings) -> list[str]:
    """The file's columns that ``names`` hide: a column class of ``tools/access.yaml`` (``pay``: every column of
    the class's roles, and every header containing one of its words), a role, or a header."""
    from retention_mcp.permissions import column_class

    hidden: list[str] = []
    for name in names:
        found = column_class(settings, name)
        if found is not None:
            roles = {str(r) for r in found.get("roles") or ()}
            words = [normalise_header(w) for w in found.get("header_words") or () if normalise_header(w)]
            hidden += [c for c in ds.columns if ds.roles.role_of(c) in roles
                       or any(w in normalise_header(c) for w in words)]
            continue
        hidden += [c for c in ds.columns if c == name or normalise_header(c) == normalise_header(name)]
        if (by_role := ds.roles.get(name)) is not None:
            hidden.append(by_role)
        hidden += list(ds.roles.multi.get(name, ()))
    return list(dict.fromkeys(hidden))


def scope_rows(ds: Dataset, access: Access) -> np.ndarray:
    """The rows inside ``access``'s row scope (a boolean mask). The scope's column is found by header, normalised
    header or role; a file without it cannot be limited to the scope and is refused."""
    import numpy as np

    from retention_mcp.access import normalise_value

    keep = np.ones(ds.rows, dtype=bool)
    for name, values in access.rows:
        column = name if name in ds.columns else None
        if column is None:
            matches = [c for c in ds.columns if normalise_header(c) == normalise_header(name)]
            column = matches[0] if len(matches) == 1 else ds.roles.get(name)
        if column is None:
            raise InputError(f"your access is limited to {access.describe()}, and this file has no {name!r} column "
                             "to apply it on, so it cannot be read with your role; ask an analyst, or the operator "
                             "for a file that has the column")
        wanted = {normalise_value(v) for v in values}
        series = ds.frame[column]
        distinct = series.dropna().unique()
        inside = {value for value in distinct if normalise_value(str(value)) in wanted}
        keep &= series.isin(list(inside)).to_numpy(dtype=bool)
    return keep


def within_access(ds: Dataset, access: Access, settings: Settings, *, column_map: Mapping[str, str] | None = None,
                  shape: str | None = None) -> Dataset:
    """``ds`` as a caller with ``access`` may see it: only the rows of the row scope, without the hidden columns,
    prepared again from exactly that table — so dates, flags, findings and their counts are about the caller's
    rows, and nothing computed on the whole file reaches them. Which columns identify people stays as decided on
    the whole file (a column is never less protected because a scope makes it look harmless). Raises InputError
    for a caller who may read no data, a file without the scope's column, or a scope with no rows."""
    if not access.data:
        raise InputError("your role (viewer) reads no data files: it sees the plans shared with you. Ask an analyst "
                         "for the figures, or the operator for another role")
    rows = scope_rows(ds, access) if access.rows else None
    if rows is not None and not rows.any():
        raise InputError(f"this file has no rows within your access ({access.describe()})")
    hidden = hidden_columns_of(ds, access.hidden_columns, settings)
    mapped = dict(column_map or {})
    for role, column in mapped.items():
        if column in hidden or normalise_header(column) in {normalise_header(h) for h in hidden}:
            raise InputError(f"column_map: {column!r} (for {role}) is not available to your access "
                             f"({access.label or access.describe()}); map another column")
    for column in ds.columns:  # decided on the whole file, before the scope cuts it
        ds.identity(column)
    import pandas as pd

    frame = (ds.frame if rows is None else ds.frame.loc[rows]).drop(columns=hidden)  # a new frame: never the cache
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            # Categories of rows outside the scope must not surface (as the valid values an error lists).
            frame[column] = frame[column].cat.remove_unused_categories()
    scoped = _prepare(frame, ds.table, mapped, shape, ds.kind, ds.min_group)
    scoped.source = ds.source
    scoped.as_of = ds.as_of  # the export's date, as everyone's results use it
    scoped.hidden_columns = tuple(hidden)
    scoped.access_label = access.label or access.describe()
    scoped._identity = {c: v for c, v in ds._identity.items() if c not in hidden}
    # Record keys come from the whole file (cellkey.record_keys reads them there): a scope never changes anyone's
    # key, so a manager's perturbed counts are the ones the whole company's table holds for the same people.
    scoped.scoped_from = (ds, rows)
    return scoped


def _hidden_match(name: Any, hidden: Sequence[str]) -> str | None:
    if not isinstance(name, str):
        return None
    return next((h for h in hidden if h == name or normalise_header(h) == normalise_header(name)), None)


# -- dates


def day_numbers(values: pd.Series) -> np.ndarray:
    """datetime64 series (any unit) -> int64 days since 1970-01-01, NO_DATE for NaT.

    Computed from the parsed unit directly (a floor division of the stored integers), with no round trip
    through nanoseconds."""
    import numpy as np

    stamps = values.to_numpy()
    if stamps.dtype.kind != "M":
        stamps = stamps.astype("datetime64[ns]")
    unit, _ = np.datetime_data(stamps.dtype)
    per_day = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000, "us": 86_400_000_000,
               "ns": 86_400_000_000_000}.get(unit)
    if per_day is None:
        stamps, per_day = stamps.astype("datetime64[s]"), 86_400
    missing = np.isnat(stamps)
    out = stamps.view("int64") // per_day
    out[missing] = NO_DATE
    return out


def day_to_date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def date_to_day(value: dt.date) -> int:
    return (value - dt.date(1970, 1, 1)).days


# -- loading


def load_dataset(settings: Settings, *, path: str | None = None, csv_text: str | None = None,
                 sheet: str | None = None, header_row: int | None = None, column_map: Mapping[str, str] | None = None,
                 shape: str | None = None, kind: str = "hr", progress: Progress | None = None) -> Dataset:
    """Read and prepare a table (cached by file version + column_map + kind + shape). Raises InputError."""
    if shape not in (None, "", "auto", "event", "snapshot"):
        raise InputError(f"shape must be 'event' (hire/termination dates) or 'snapshot' (a leaver flag), "
                         f"or left out to detect it; got {shape!r}")
    if column_map is not None and not isinstance(column_map, Mapping):
        raise InputError("column_map must be an object like {\"hire_date\": \"Start\", \"department\": \"Team\"}")
    table_read = open_table(settings, path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            progress=progress)
    frame, key = table_read.frame, table_read.key
    if len(frame) == 0:
        raise InputError("the file has a header but no data rows; export it again with its rows")
    table = load_roles(settings)
    prepared_key = (key, tuple(sorted((column_map or {}).items())), shape or "auto", kind, table.version,
                    settings.min_group_size)

    def prepare() -> tuple[Dataset, int]:
        logger.info("preparing %s (%d rows, %d columns) for %s", path or "csv_text", len(frame), frame.shape[1], kind)
        if progress:
            progress(0.7, "detecting columns and parsing dates")
        dataset = _prepare(frame, table, column_map, None if shape in (None, "", "auto") else shape, kind,
                           settings.min_group_size)
        dataset.source = table_read.source
        extra = sum(a.nbytes for a in (dataset.hire, dataset.term, dataset.leaver, dataset.separation,
                                       dataset.regretted, dataset.tenure_months) if a is not None)
        return dataset, extra + frame_bytes(frame) // 8

    prepared = PREPARED.get_or_create(prepared_key, prepare)
    access = settings.access
    if access is None or not access.restricted:
        return prepared

    def narrow() -> tuple[Dataset, int]:
        scoped = within_access(prepared, access, settings, column_map=column_map,
                               shape=None if shape in (None, "", "auto") else shape)
        return scoped, frame_bytes(scoped.frame) // 8

    return PREPARED.get_or_create((*prepared_key, access), narrow)


def dataset_from_frame(frame: pd.DataFrame, settings: Settings | None = None, *, kind: str = "hr",
                       column_map: Mapping[str, str] | None = None, shape: str | None = None) -> Dataset:
    """A Dataset from a DataFrame you already have (a notebook, a test): roles, identity and parsed columns as
    the tools see them. Nothing is cached."""
    settings = settings or Settings(data_dirs=(), log_level="WARNING")
    frame = frame.copy(deep=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise InputError("the table has a header but no data rows")
    dataset = _prepare(frame, load_roles(settings), column_map, None if shape in (None, "", "auto") else shape, kind,
                       settings.min_group_size)
    dataset.source = {"name": "dataframe"}
    return dataset


def rare_counts(counts: Mapping[str, int], floor: int, limit: int = 3) -> list[str]:
    """Up to ``limit`` values (of a bad-value count map) shared by at least ``floor`` rows: safe to quote."""
    return [str(v) for v, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= floor and len(str(v)) <= 40][
        :limit]


def _prepare(frame: pd.DataFrame, table: RoleTable, column_map: Mapping[str, str] | None,
             forced: str | None, kind: str, min_group: int, *, roles: ColumnRoles | None = None) -> Dataset:
    import numpy as np

    from retention_mcp.data.dates import parse_dates, parse_flags

    roles = roles or detect_roles(frame.columns, table, column_map, kind=kind)
    findings: list[Finding] = []
    today = date_to_day(dt.date.today())
    ds = Dataset(frame=frame, roles=roles, table=table, kind=kind, shape=None, shape_source="", min_group=min_group)
    _keep_identity(ds, findings)
    words = (table.true_words, table.false_words)

    def examples(column: str, bad: Mapping[str, int]) -> str:
        shown = [] if ds.is_identifying(column) else rare_counts(bad, min_group)
        return f" (e.g. {', '.join(repr(v) for v in shown)})" if shown else ""

    def example_values(column: str, bad: Mapping[str, int]) -> str:
        return "" if ds.is_identifying(column) else ", ".join(repr(v) for v in rare_counts(bad, min_group))

    if kind != "hr":
        ds.findings = findings
        return ds

    def dates_of(role: str) -> np.ndarray | None:
        column = roles.get(role)
        if column is None:
            return None
        parsed = parse_dates(frame[column])
        if parsed.unparseable:
            findings.append(Finding("unparseable_dates", parsed.unparseable,
                                    f"{parsed.unparseable} value(s) in {column!r} are not dates"
                                    f"{examples(column, parsed.bad_counts)}; they are treated as missing",
                                    {"column": column, "examples": example_values(column, parsed.bad_counts)}))
        days = day_numbers(parsed.values)
        future = int(((days != NO_DATE) & (days > today)).sum())
        if future:
            findings.append(Finding("future_dates", future, f"{future} date(s) in {column!r} are after today",
                                    {"column": column}))
        return days

    ds.hire = dates_of("hire_date")
    ds.term = dates_of("termination_date")

    flag = None
    if (column := roles.get("leaver_flag")) is not None:
        parsed_flag = parse_flags(frame[column], words)
        if parsed_flag.unknown:
            findings.append(Finding("unknown_flag_values", parsed_flag.unknown,
                                    f"{parsed_flag.unknown} value(s) in {column!r} are not yes/no"
                                    f"{examples(column, parsed_flag.bad_counts)}; they are treated as missing",
                                    {"column": column, "examples": example_values(column, parsed_flag.bad_counts)}))
        flag = parsed_flag.values.to_numpy()

    separation = None
    if (column := roles.get("termination_type")) is not None:
        codes, uniques = _factorize(frame[column])
        classes = classify_separation(list(uniques), table)
        code_of = {"voluntary": SEP_VOLUNTARY, "involuntary": SEP_INVOLUNTARY, "still_employed": SEP_NONE}
        lookup = np.array([code_of.get(classes[u], SEP_OTHER) for u in uniques] + [SEP_NONE], dtype="int8")
        separation = lookup[np.where(codes >= 0, codes, len(uniques))]
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques)) if len(uniques) else []
        ds.unclassified_separations = [str(u) for u, n in zip(uniques, counts, strict=False)
                                       if classes[u] == "unclassified" and n >= min_group and str(u).strip()]
    if (column := roles.get("regretted")) is not None:
        ds.regretted = np.nan_to_num(parse_flags(frame[column], words).values.to_numpy(), nan=0.0) > 0.5

    for unit, role in (("years", "tenure_years"), ("months", "tenure_months"), ("days", "tenure_days")):
        if (column := roles.get(role)) is not None:
            import pandas as pd

            numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
            unit = _tenure_unit(numbers, unit, column, role in roles.overridden, findings)
            per_unit = {"years": 12.0, "months": 1.0, "days": 12 / 365.25}[unit]
            ds.tenure_months = numbers * per_unit
            ds.tenure_unit = unit
            step = _resolution(numbers)
            ds.tenure_resolution_months = None if step is None else step * per_unit
            break

    has_dates = ds.hire is not None and ds.term is not None and bool((ds.hire != NO_DATE).any())
    if forced == "event" and not has_dates:
        raise InputError("shape='event' needs a hire-date and a termination-date column; none were recognised "
                         "— name them with column_map, e.g. {\"hire_date\": \"Start\", \"termination_date\": \"End\"}")
    ds.shape_forced = bool(forced)
    if has_dates and forced != "snapshot":
        ds.shape = "event"
        ds.shape_source = ("forced (shape='event')" if forced else
                           f"detected: hire dates ({roles.get('hire_date')}) and termination dates "
                           f"({roles.get('termination_date')})")
        ds.leaver = ds.term != NO_DATE  # type: ignore[operator]
        if not ds.leaver.any():
            findings.append(Finding("no_leavers_yet", 0, f"no row has a termination date in "
                                    f"{roles.get('termination_date')!r}: nobody has left yet, so turnover is 0",
                                    {"column": roles.get("termination_date")}))
    else:
        leaver = None
        source = ""
        if flag is not None:
            leaver = np.nan_to_num(flag, nan=0.0) > 0.5
            source = f"leaver flag {roles.get('leaver_flag')!r}"
            ds.leaver_source = ("leaver_flag", str(roles.get("leaver_flag")))
        elif ds.term is not None:
            leaver = ds.term != NO_DATE
            source = f"a termination date in {roles.get('termination_date')!r}"
            ds.leaver_source = ("termination_date", str(roles.get("termination_date")))
        elif separation is not None:
            leaver = np.isin(separation, [SEP_VOLUNTARY, SEP_INVOLUNTARY, SEP_OTHER])
            source = f"a termination type in {roles.get('termination_type')!r}"
            ds.leaver_source = ("termination_type", str(roles.get("termination_type")))
        if leaver is None:
            if forced == "snapshot":
                raise InputError("shape='snapshot' needs a leaver flag (Yes/No, 1/0) column; none was recognised — "
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
        separation = np.where(ds.leaver, np.where(separation == SEP_NONE, SEP_OTHER, separation), SEP_NONE)
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
        other = int((ds.separation == SEP_OTHER).sum())
        if other:
            listed = (f"; values not in the classification: {', '.join(repr(v) for v in ds.unclassified_separations)}"
                      if ds.unclassified_separations else "")
            findings.append(Finding("other_termination_type", other,
                                    f"{other} leaver(s) have a termination type that is neither voluntary nor "
                                    f"involuntary (or none); they count in 'all' only{listed}",
                                    {"values": ", ".join(repr(v) for v in ds.unclassified_separations)}))
    ds.findings = findings
    return ds


#: A tenure column named only "tenure" / 司龄 / 工龄 whose largest value is above this many years is not in years.
MAX_TENURE_YEARS = 60
#: ... and above this many months it is not in months either (it counts days).
MAX_TENURE_MONTHS = 1200


def _tenure_unit(numbers: np.ndarray, unit: str, column: str, named_by_caller: bool, findings: list[Finding]) -> str:
    """The tenure column's unit: its role's unless the values rule it out (60+ "years" are months, 1200+ "months"
    are days). A unit the caller named with column_map is kept as given."""
    import numpy as np

    finite = numbers[np.isfinite(numbers)]
    if named_by_caller or not len(finite):
        return unit
    largest = float(finite.max())
    detected = unit
    if unit == "years" and largest > MAX_TENURE_YEARS:
        detected = "days" if largest > MAX_TENURE_MONTHS else "months"
    elif unit == "months" and largest > MAX_TENURE_MONTHS:
        detected = "days"
    if detected != unit:
        findings.append(Finding("tenure_unit", int((finite > (MAX_TENURE_YEARS if unit == "years" else
                                                             MAX_TENURE_MONTHS)).sum()),
                                f"{column!r} reaches {largest:g}, impossible in {unit}: read as {detected} (name the "
                                f"unit with column_map, e.g. {{\"tenure_{unit}\": \"{column}\"}}, to keep {unit})",
                                {"column": column, "largest": f"{largest:g}", "unit": unit, "detected": detected}))
    return detected


def _resolution(numbers: np.ndarray) -> float | None:
    """How finely values are recorded, in their own unit: 1.0 for whole numbers, else the smallest gap between
    distinct values; None without two distinct values."""
    import numpy as np

    finite = np.unique(numbers[np.isfinite(numbers)])
    if len(finite) < 2:
        return None
    if bool(np.all(finite == np.round(finite))):
        return 1.0
    gaps = np.diff(finite)
    return float(gaps[gaps > 1e-9].min())


def _factorize(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return codes, list(uniques)
