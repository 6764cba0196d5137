"""Linked datasets: the exports HR really has, joined on an employee key and seen by every tool as one table.

A definition, saved by name in the workspace (every version kept), lists files. The first is the
**population**: each of its rows is one row of the linked table (one per person, or one per employment where a
file alone counts a rehire twice), so every figure by its own columns is exactly the figure the file alone
gives — no figure changes with the path a question took. Every other file joins on the **employee key**,
detected at intake: its ID column, or its name column (with more columns, e.g. ``["姓名", "部门"]``, where a name
alone is shared) matched to the population's columns of the same roles. A file with one row per person adds its
columns as they are (a duplicated person: the file's last row); a file with several rows per person (attendance
days, training sessions, ratings per cycle) adds what a stated rule computes from them::

    {"培训时长": "sum(时长)", "末次绩效": "latest(绩效等级)", "出勤天数": "count()"}

Rules: sum, mean, min, max, count (rows, or non-empty values), count_distinct, first / last (by the file's row
order), earliest / latest (by ``order_by``: dates, numbers or text such as ``2024H2``; ties go to the later row).

Status, dates, tenure and termination type always come from the population file; the same facts in other files
are only compared (:mod:`retention_mcp.analysis.reconcile`). The key identifies people: it joins and is never
shown, grouped on or logged. A column a joined file adds is identifying or names people when its source column
does in that file (decided at that file's intake), or when its own values look so.

Disclosure over joins: a table over a joined file's columns (alone or crossed with population columns that file
also records) shows no more than that file alone: cells the file hides stay hidden, and for a file with one row
per person a cell is shown only where the linked rows are exactly the file's own rows, so subtracting one figure
from the other reveals nobody (:meth:`LinkInfo.forced_tables`); the policy's complementary cells follow.

The joining runs in :mod:`retention_mcp.data.engine` (DuckDB on Arrow tables). This module imports nothing heavy
at its top: the server process uses :func:`is_dataset_name` and the definition classes.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from retention_mcp.data.dataset import Dataset
    from retention_mcp.data.reader import Progress
    from retention_mcp.settings import Settings

#: A dataset name: letters (any script), digits, spaces, _ and -; no dot or slash, which name files.
NAME = re.compile(r"^[^\W_][\w \-]{0,63}$")
MAX_FILES = 8
#: A file is "many rows per person" when more than this share of its people have several rows.
MANY_SHARE = 0.2
#: Rules that copy one of the person's values (their groups are compared with the file alone for disclosure).
VALUE_RULES = frozenset({"first", "last", "earliest", "latest", "min", "max"})
NUMBER_RULES = frozenset({"sum", "mean"})
ORDER_RULES = frozenset({"earliest", "latest"})
ALL_RULES = ("sum", "mean", "min", "max", "count", "count_distinct", "first", "last", "earliest", "latest")
#: Roles whose facts only the population gives (the others' copies are reconciled, never used).
FACT_ROLES = frozenset({"hire_date", "termination_date", "leaver_flag", "termination_type", "regretted",
                        "tenure_years", "tenure_months", "tenure_days"})
#: Keys a file entry of ``dataset_link`` may have.
FILE_FIELDS = ("path", "sheet", "header_row", "column_map", "key", "rows", "columns", "order_by")
_RULE = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.DOTALL)
_SEPARATOR = "\x1f"


def is_dataset_name(path: object) -> bool:
    """True when ``path`` names a saved linked dataset rather than a file: no dot, no slash."""
    return isinstance(path, str) and bool(NAME.match(path.strip())) and "." not in path and "/" not in path


def check_name(name: object) -> str:
    if not isinstance(name, str) or not is_dataset_name(name):
        raise InputError(f"a dataset name is 1 to 64 letters, digits, spaces, _ or - (no dot or slash, which "
                         f"name files), e.g. '2026Q3' or '员工全量_2026Q3'; got {name!r}")
    return name.strip()


# -- the definition


@dataclass(frozen=True)
class Aggregate:
    """One column the file adds to the linked table: ``rule`` over ``column`` (None: count the person's rows)."""

    output: str
    rule: str
    column: str | None

    def describe(self) -> str:
        return f"{self.rule}({self.column or ''})"


@dataclass(frozen=True)
class LinkedFile:
    path: str
    key: tuple[str, ...]  # this file's columns that name the person
    match: tuple[str, ...] = ()  # the population's columns they are matched with (the population itself: ())
    key_kind: str = "id"  # "id" (an ID column) or "name" (a name, perhaps with more columns)
    sheet: str | None = None
    header_row: int | None = None
    column_map: tuple[tuple[str, str], ...] = ()
    rows: str = "one"  # "one" or "many" rows per person
    aggregates: tuple[Aggregate, ...] = ()
    order_by: str | None = None

    @property
    def column_map_dict(self) -> dict[str, str] | None:
        return dict(self.column_map) or None


@dataclass(frozen=True)
class LinkedDefinition:
    name: str
    files: tuple[LinkedFile, ...]
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "files": [{**asdict(f), "key": list(f.key), "match": list(f.match),
                                              "column_map": dict(f.column_map),
                                              "aggregates": [asdict(a) for a in f.aggregates]} for f in self.files]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], version: int = 0) -> LinkedDefinition:
        files = tuple(LinkedFile(
            path=f["path"], key=tuple(f["key"]), match=tuple(f.get("match") or ()), key_kind=f.get("key_kind", "id"),
            sheet=f.get("sheet"), header_row=f.get("header_row"),
            column_map=tuple(sorted((f.get("column_map") or {}).items())), rows=f.get("rows", "one"),
            aggregates=tuple(Aggregate(**a) for a in f.get("aggregates") or ()), order_by=f.get("order_by"))
            for f in data["files"])
        return cls(name=data["name"], files=files, version=version)

    @property
    def digest(self) -> str:
        """SHA-256 of the definition (what the files are and how they join), for caches and evidence."""
        text = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def population(self) -> LinkedFile:
        return self.files[0]


# -- keys as the systems write them


def _arrow(values: pd.Series) -> Any:
    """A pandas column as one Arrow array (mixed object columns as text)."""
    import pyarrow as pa

    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(values.map(lambda v: None if v is None or v != v else str(v)), pa.string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _text(array: Any) -> Any:
    """Arrow text of any column: whole-number floats without '.0' (Excel stores IDs as numbers), NFKC."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_floating(kind):
        whole = pc.equal(array, pc.floor(array))
        array = pc.if_else(whole, pc.cast(pc.if_else(whole, array, 0.0), pa.int64()).cast(pa.string()),
                           array.cast(pa.string()))
    elif not pa.types.is_string(kind):
        array = array.cast(pa.string())
    if pc.all(pc.string_is_ascii(array)).as_py() is False:
        array = pc.utf8_normalize(array, "NFKC")  # full-width digits and letters, as Chinese IME input has them
    return array


def normalise_ids(array: Any) -> Any:
    """IDs as matched: trimmed, upper case, and leading zeros dropped from all-digit IDs ('007' = '7' = 7.0)."""
    import pyarrow.compute as pc

    text = _text(array)
    if pc.all(pc.string_is_ascii(text)).as_py() is not False:  # the usual case: ten times faster than UTF-8
        text = pc.ascii_upper(pc.ascii_trim_whitespace(text))
    else:
        text = pc.utf8_upper(pc.utf8_trim_whitespace(text))
    padded = pc.and_(pc.starts_with(text, "0"), pc.ascii_is_decimal(text))
    if pc.any(padded).as_py():
        text = pc.if_else(padded, pc.replace_substring_regex(text, r"^0+(\d)", r"\1"), text)
    return pc.if_else(pc.equal(text, ""), None, text)


def normalise_names(array: Any) -> Any:
    """Names (and other text key parts) as matched: no spaces at all ('张 伟' = '张伟'), case folded."""
    import pyarrow.compute as pc

    text = pc.utf8_lower(pc.replace_substring_regex(_text(array), r"\s+", ""))
    return pc.if_else(pc.equal(text, ""), None, text)


def key_values(ds: Dataset, columns: Sequence[str]) -> Any:
    """The normalised key of every row of ``ds`` from ``columns`` (several: joined), null where a part is empty."""
    import pyarrow.compute as pc

    parts = []
    for column in columns:
        array = _arrow(ds.frame[column])
        parts.append(normalise_ids(array) if ds.roles.role_of(column) == "employee_id" else normalise_names(array))
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, _SEPARATOR, null_handling="emit_null")


# -- what a linked table carries besides its frame


@dataclass
class FileLink:
    """How one file joined: its intake, its rows' keys, and what it added."""

    spec: LinkedFile
    source: Dataset  # the file's own prepared dataset (its intake: roles, identity)
    key: Any = None  # Arrow: the normalised key of every row of the file
    match: Any = None  # Arrow: per population row, the normalised key this file is matched on
    population_person: Any = None  # numpy: per population row, its person number
    unmatched_keys: Any = None  # Arrow: the file's keys that match no one or several people in the population
    shared_keys: Any = None  # Arrow: match keys (names) several population people share
    persons: Any = None  # Arrow: the population's distinct keys; position = person number (an ID join's lookup)
    added: dict[str, Aggregate] = field(default_factory=dict)  # linked column -> how it was made
    _people: tuple[Any, Any] | None = None
    _outside: Any = None

    def _matched(self) -> tuple[Any, Any]:
        if self._people is None:
            import numpy as np
            import pyarrow.compute as pc

            from retention_mcp.data.engine import match_people

            if self.persons is not None:  # matched on the population's own key: its position is the person
                person = pc.index_in(self.key, value_set=self.persons).fill_null(-1).to_numpy(zero_copy_only=False)
                self._people = (np.asarray(person, dtype="int64"), (person >= 0).astype("int64"))
            else:
                self._people = match_people(self.match, self.population_person, self.key)
        return self._people

    def ambiguous(self) -> int:
        """Rows whose key is a name several population people share."""
        import pyarrow.compute as pc

        if self.shared_keys is None or not len(self.shared_keys):
            return 0
        return int(pc.sum(pc.is_in(self.key, value_set=self.shared_keys)).as_py() or 0)

    @property
    def person(self) -> np.ndarray:
        """Per file row, the population person it belongs to (−1: none): worked out on first use."""
        return self._matched()[0]

    @property
    def candidates(self) -> np.ndarray:
        """Per file row, how many population people its key matched (a shared name: several)."""
        return self._matched()[1]

    @property
    def outside(self) -> np.ndarray:
        """Per file row: True when it belongs to no one in the population (no key, unknown, or shared)."""
        import numpy as np
        import pyarrow.compute as pc

        if self._people is not None:
            return self._people[0] < 0
        if self._outside is None:
            missing = self.key.is_null()
            if len(self.unmatched_keys):
                missing = pc.or_(missing, pc.is_in(self.key, value_set=self.unmatched_keys))
            self._outside = np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)
        return self._outside


@dataclass
class LinkInfo:
    """What a linked :class:`~retention_mcp.data.dataset.Dataset` knows beyond one table."""

    definition: LinkedDefinition
    files: list[FileLink]
    population_person: Any  # numpy int64 per population row: its person number (rehires share one)
    persons: int
    _alone: dict[tuple, Any] = field(default_factory=dict)  # the joined files' own dimensions, by column

    @property
    def sources(self) -> list[Any]:
        return [link.source.source for link in self.files]

    def origin(self, column: str) -> tuple[FileLink, Aggregate] | None:
        for link in self.files[1:]:
            if column in link.added:
                return link, link.added[column]
        return None

    def forced_tables(self, dims: Sequence[Any], k: int) -> dict[tuple[int, ...], np.ndarray]:
        """Cells to hide in every table a call shows over ``dims`` (positions in that list), whatever their size.

        For each joined file and each subset of ``dims`` the file alone could show too — every dimension has a
        counterpart there (a column it adds by copying its values, or a population column whose role it also
        records) and at least one comes from it — the linked table may not show more than the file alone does:

        - a cell the file alone hides (small, or hidden so that a small one cannot be worked out) stays hidden;
        - a file with one row per person: a cell is shown only where the linked rows are exactly the file's own
          rows there (no one outside the population, no rehire counted twice, no duplicate counted once), so
          subtracting one figure from the other gives 0, and all hidden cells together differ by no more than the
          two totals already show;
        - a file with several rows per person counts rows alone, not people: a cell holding 1 to k − 1 rows of
          people outside the population is hidden.

        The policy's secondary rule then hides what would give these cells away."""
        import itertools

        out: dict[tuple[int, ...], np.ndarray] = {}

        def force(subset: tuple[int, ...], mask: np.ndarray) -> None:
            out[subset] = out[subset] | mask if subset in out else mask

        for link in self.files[1:]:
            columns = [self._counterpart(link, dim) for dim in dims]
            own = [dim.column is not None and dim.column in link.added for dim in dims]
            usable = [i for i, column in enumerate(columns) if column is not None]
            if not any(own[i] for i in usable):
                continue
            alone_dims = {i: self._alone_dimension(link, columns[i], dims[i]) for i in usable}
            coded = {i: _linked_codes(link.source, columns[i], dims[i], alone_dims[i]) for i in usable}
            outside = link.outside
            for size in range(1, len(usable) + 1):
                for subset in itertools.combinations(usable, size):
                    if not any(own[i] for i in subset):
                        continue
                    shape = tuple(len(dims[i].labels) for i in subset)
                    file_counts = _cross_counts([coded[i] for i in subset], shape)
                    orphans = _cross_counts([coded[i][outside] for i in subset], shape)
                    if link.spec.rows == "one":
                        linked_counts = _cross_counts([dims[i].codes for i in subset], shape)
                        force(subset, (file_counts != linked_counts) | (orphans > 0))
                    else:
                        force(subset, (orphans > 0) & (orphans < k))
                    for part, cells in _alone_hidden([alone_dims[i] for i in subset], k).items():
                        if any(own[subset[i]] for i in part):
                            force(tuple(subset[i] for i in part),
                                  _in_linked_labels(cells, [alone_dims[subset[i]] for i in part],
                                                    [dims[subset[i]] for i in part]))
        return out

    def _alone_dimension(self, link: FileLink, column: str, linked_dim: Any) -> Any:
        """The dimension the joined file alone builds for ``column`` (same bins as the linked call), labelled by
        the values themselves (people's names too: matched with the linked labels, never shown); kept per file,
        column and bins, as the file does not change under a cached linked table."""
        from pathlib import Path

        from retention_mcp.data.dimensions import build_dimension
        from retention_mcp.data.disclosure import Policy

        key = (link.spec.path, column, repr(linked_dim.bins))
        if key not in self._alone:
            policy = Policy(floor=link.source.min_group, allow_names=True, key_dir=Path())
            self._alone[key] = build_dimension(link.source, column, policy, linked_dim.bins)
        return self._alone[key]

    def _counterpart(self, link: FileLink, dim: Any) -> str | None:
        """The joined file's own column for ``dim``, or None when the file alone has no such column."""
        if dim.codes is None or dim.coder is None or dim.column is None:
            return None
        if dim.column in link.added:
            aggregate = link.added[dim.column]
            if aggregate.rule not in VALUE_RULES or aggregate.column is None:
                return None  # a sum or a count: the file alone has no such column
            return aggregate.column
        role = self.files[0].source.roles.role_of(dim.column)
        if dim.column in self.files[0].source.columns and role:
            return link.source.roles.get(role)
        return None


def _cross_counts(codes: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    code = np.zeros(len(codes[0]), dtype="int64")
    for values, size in zip(codes, shape, strict=True):
        code = code * size + values
    return np.bincount(code, minlength=int(np.prod(shape, dtype="int64"))).reshape(shape)


def _linked_codes(ds: Dataset, column: str, linked: Any, alone: Any) -> np.ndarray:
    """The joined file's rows coded with the linked dimension's groups: bands by the linked call's own edges;
    values through the file's own groups, matched by label (a value the linked table lacks is coded missing)."""
    import numpy as np

    if linked.banded:
        import pandas as pd

        return linked.coder(pd.to_numeric(ds.frame[column], errors="coerce").to_numpy(dtype="float64",
                                                                                      na_value=np.nan))
    position = {label: i for i, label in enumerate(linked.raw_labels or linked.labels)}
    table = np.array([position.get(label, len(linked.labels) - 1) for label in alone.raw_labels or alone.labels],
                     dtype="int64")
    return table[alone.codes]



def _alone_hidden(dims: Sequence[Any], k: int) -> dict[tuple[int, ...], np.ndarray]:
    """What the joined file alone hides over ``dims`` (its own labels) in any table a call on it shows: the count
    policy's cells and, where group means are shown, the cells the means rule adds."""
    import numpy as np

    from retention_mcp.data.dimensions import dimension_key
    from retention_mcp.data.disclosure import protect_means, suppress

    sizes = _cross_counts([d.codes for d in dims], tuple(len(d.labels) for d in dims)).astype("float64")
    lattice = suppress(sizes, k, keys=[dimension_key(d) for d in dims])
    out = {}
    for part, hidden in lattice.items():
        if not part:
            continue
        table = sizes.sum(axis=tuple(i for i in range(len(dims)) if i not in part)) if len(part) < len(dims) \
            else sizes
        margins = {axis: lattice[tuple(d for d in part if d != part[axis])] for axis in range(len(part))}
        out[part] = np.asarray(hidden, dtype=bool) | protect_means(table, hidden, k, margins)
    return out


def _in_linked_labels(cells: np.ndarray, alone: Sequence[Any], linked: Sequence[Any]) -> np.ndarray:
    """Hidden cells over the file's own labels, moved to the linked dimensions' labels (same text)."""
    import numpy as np

    out = np.zeros(tuple(len(d.labels) for d in linked), dtype=bool)
    positions = [{label: i for i, label in enumerate(d.raw_labels or d.labels)} for d in linked]
    for index in zip(*np.nonzero(cells), strict=True):
        target = tuple(positions[axis].get(alone[axis].labels[i]) for axis, i in enumerate(index))
        if None not in target:
            out[target] = True
    return out


# -- defining a linked dataset (dataset_link)


def _close(word: str, options: Sequence[str]) -> str:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f"; did you mean {found[0]!r}?" if found else ""


def _resolve(ds: Dataset, name: Any, purpose: str) -> str:
    """A column of ``ds`` by header, normalised header or role; identifying columns allowed (keys, counts)."""
    from retention_mcp.data.roles import close_matches, normalise_header

    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{purpose}: give a column name, not {name!r}")
    if name in ds.columns:
        return name
    same = [c for c in ds.columns if normalise_header(c) == normalise_header(name)]
    if len(same) == 1:
        return same[0]
    if (by_role := ds.roles.get(name.strip())) is not None:
        return by_role
    close = close_matches(name, ds.columns)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(f"{_shown(ds)} has no column {name!r} ({purpose}){hint} Its columns: "
                     f"{', '.join(ds.columns[:60])}")


def _shown(ds: Dataset) -> str:
    source = ds.source
    return repr(getattr(source, "name", None) or (source or {}).get("name", "the file"))


def _detect_key(ds: Dataset, given: Any) -> tuple[tuple[str, ...], str]:
    """The file's key columns and kind: given, else its ID column, else its name column."""
    if given is not None:
        names = [given] if isinstance(given, str) else given
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InputError(f"key for {_shown(ds)}: a column name or a list of them, e.g. '工号' or "
                             "['姓名', '部门']")
        columns = tuple(_resolve(ds, n, "the key") for n in names)
        kind = "id" if ds.roles.role_of(columns[0]) == "employee_id" and len(columns) == 1 else "name"
        return columns, kind
    if (column := ds.roles.get("employee_id")) is not None:
        return (column,), "id"
    if (column := ds.roles.get("name")) is not None:
        return (column,), "name"
    raise InputError(f"{_shown(ds)} has no employee ID or name column to join on (looked for 工号, 员工编号, "
                     "employee_id, 姓名, name...); name it with key, e.g. \"key\": \"人员代码\", or map it with "
                     "column_map {\"employee_id\": \"...\"}")


def _matching(population: Dataset, ds: Dataset, key: tuple[str, ...]) -> tuple[str, ...]:
    """The population's columns a file's key columns are compared with: same role, else same header."""
    from retention_mcp.data.roles import normalise_header

    out = []
    for column in key:
        role = ds.roles.role_of(column)
        found = population.roles.get(role) if role else None
        if found is None:
            same = [c for c in population.columns if normalise_header(c) == normalise_header(column)]
            found = same[0] if len(same) == 1 else None
        if found is None:
            raise InputError(f"{_shown(ds)} joins on {column!r}, but the population file {_shown(population)} has "
                             f"no column of the same kind{f' ({role})' if role else ''}; join on a column both "
                             "files have (key), or put a file with both first")
        out.append(found)
    return tuple(out)


def _parse_rule(ds: Dataset, output: str, text: Any) -> Aggregate:
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"columns[{output!r}]: give a rule such as 'sum(时长)', 'latest(绩效等级)' or 'count()', "
                         "or a column name to copy")
    text = text.strip()
    if text in ds.columns:
        return Aggregate(output, "last", text)
    match = _RULE.match(text)
    if match is None:
        return Aggregate(output, "last", _resolve(ds, text, f"columns[{output!r}]"))
    rule, inner = match.group(1).lower(), match.group(2).strip()
    if rule not in ALL_RULES:
        raise InputError(f"columns[{output!r}]: unknown rule {rule!r}{_close(rule, ALL_RULES)} Rules: "
                         f"{', '.join(ALL_RULES)}")
    if inner in ("", "*"):
        if rule != "count":
            raise InputError(f"columns[{output!r}]: {rule}() needs a column, e.g. {rule}(时长)")
        return Aggregate(output, "count", None)
    column = _resolve(ds, inner, f"columns[{output!r}]")
    identity = ds.identity(column)
    if identity == "identifying" and rule not in ("count", "count_distinct"):
        raise InputError(f"columns[{output!r}]: {column!r} identifies people (IDs, names, contact details or free "
                         "text); only count() or count_distinct() of it can join the linked table")
    if rule in NUMBER_RULES:
        import pandas as pd

        values = ds.frame[column]
        numbers = pd.to_numeric(values, errors="coerce")
        if not pd.api.types.is_numeric_dtype(values) and numbers.notna().sum() < 0.9 * values.notna().sum():
            raise InputError(f"columns[{output!r}]: {rule}() needs numbers, and {column!r} in {_shown(ds)} is "
                             "mostly text; use count(), count_distinct(), first(), last(), earliest() or latest()")
    return Aggregate(output, rule, column)


def _order_column(ds: Dataset, given: Any) -> str | None:
    """The column that orders a person's rows: given, else the file's first column of dates (not hire or
    termination dates, not a date of birth), else None (the file's row order). Its values are never shown, so a
    date column the intake holds as identifying (dates typed as text look like phone numbers) may order rows."""
    import pandas as pd

    from retention_mcp.data.dates import parse_dates

    if given is not None:
        return _resolve(ds, given, "order_by")
    for column in ds.columns:
        role = ds.roles.role_of(column)
        if role in ("hire_date", "termination_date") or role in ds.table.identifying:
            continue
        values = ds.frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            return column
        if values.dtype.kind in "iufb":
            continue
        sample = values.dropna().head(200)
        if len(sample) and parse_dates(sample.astype(str)).values.notna().mean() >= 0.9:
            return column
    return None


def _default_columns(population: Dataset, ds: Dataset, key: tuple[str, ...], taken: set[str]) -> list[Aggregate]:
    """What a one-row-per-person file adds by default: every column that is not its key, not identifying, not a
    status or date fact, and not a role the population already has (those are reconciled, not used)."""
    out = []
    for column in ds.columns:
        role = ds.roles.role_of(column)
        if column in key or ds.is_identifying(column) or role in FACT_ROLES or role in ("employee_id", "name"):
            continue
        if role is not None and population.roles.get(role) is not None:
            continue
        if column in population.columns or column in taken:
            continue
        out.append(Aggregate(column, "last", column))
    return out


def _suggestions(ds: Dataset, key: tuple[str, ...], order_by: str | None) -> str:
    examples = []
    for column in ds.columns:
        if column in key or column == order_by or ds.is_identifying(column):
            continue
        numeric = ds.frame[column].dtype.kind in "iuf"
        examples.append(f'"{column}": "{"sum" if numeric else "latest"}({column})"')
        if len(examples) == 3:
            break
    examples.append('"记录数": "count()"')
    return "{" + ", ".join(examples) + "}"


def _check_fields(entry: Any, position: int) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise InputError(f"files[{position}] must be an object like {{\"path\": \"payroll.csv\"}}")
    for name in entry:
        if name not in FILE_FIELDS:
            raise InputError(f"files[{position}]: unknown field {name!r}{_close(str(name), FILE_FIELDS)} Fields: "
                             f"{', '.join(FILE_FIELDS)}")
    if not isinstance(entry.get("path"), str) or not entry["path"].strip():
        raise InputError(f"files[{position}] needs a path, e.g. {{\"path\": \"payroll.csv\"}}")
    if is_dataset_name(entry["path"]):
        raise InputError(f"files[{position}]: {entry['path']!r} names a dataset, not a file; give file names with "
                         "their extension (.csv, .xlsx, .parquet)")
    if entry.get("rows") not in (None, "one", "many"):
        raise InputError(f"files[{position}].rows is 'one' (one row per person) or 'many' (several rows per "
                         f"person, aggregated by the rules in columns), not {entry.get('rows')!r}")
    if entry.get("columns") is not None and not isinstance(entry["columns"], Mapping):
        raise InputError(f"files[{position}].columns maps each new column to a rule, e.g. "
                         "{\"培训时长\": \"sum(时长)\", \"末次绩效\": \"latest(绩效等级)\"}")
    return dict(entry)


def define(settings: Settings, name: str, files: Any, progress: Progress | None = None) -> LinkedDefinition:
    """Check a ``dataset_link`` request against the files and turn it into a definition (InputError otherwise).

    Each file is read through the one intake; keys are detected (ID, else name) unless given; a file with
    several rows for many of its people needs its ``columns`` rules."""
    import pyarrow.compute as pc

    from retention_mcp.data.dataset import load_dataset

    name = check_name(name)
    if not isinstance(files, list) or not 2 <= len(files) <= MAX_FILES:
        raise InputError(f"files lists 2 to {MAX_FILES} exports, the population (the HR roster) first, e.g. "
                         "[{\"path\": \"花名册.csv\"}, {\"path\": \"考勤.xlsx\", \"columns\": {\"出勤天数\": "
                         "\"count()\"}}]")
    entries = [_check_fields(entry, i) for i, entry in enumerate(files)]
    if len({e["path"].strip() for e in entries}) != len(entries):
        raise InputError("files names the same file twice; list each export once")
    sources = []
    for i, entry in enumerate(entries):
        if progress:
            progress(0.05 + 0.5 * i / len(entries), f"reading {entry['path']}")
        sources.append(load_dataset(settings, path=entry["path"], sheet=entry.get("sheet"),
                                    header_row=entry.get("header_row"), column_map=entry.get("column_map"),
                                    kind="hr"))
    population = sources[0]
    head = entries[0]
    if head.get("columns") or head.get("rows") == "many":
        raise InputError("the first file is the population: one row per person (or employment), used as it is; "
                         "put a file with several rows per person after it, with its columns rules")
    key, kind = _detect_key(population, head.get("key"))
    linked = [LinkedFile(path=head["path"].strip(), key=key, key_kind=kind, sheet=head.get("sheet"),
                         header_row=head.get("header_row"),
                         column_map=tuple(sorted((head.get("column_map") or {}).items())))]
    taken = set(population.columns)
    for entry, ds in zip(entries[1:], sources[1:], strict=True):
        key, kind = _detect_key(ds, entry.get("key"))
        match = _matching(population, ds, key)
        if kind == "id" and population.roles.role_of(match[0]) != "employee_id":
            kind = "name"
        counts = pc.value_counts(key_values(ds, key).drop_null()).field("counts")
        several = float(pc.mean(pc.greater(counts, 1)).as_py() or 0.0) if len(counts) else 0.0
        rows = entry.get("rows") or ("many" if several > MANY_SHARE else "one")
        order_by = _order_column(ds, entry.get("order_by"))
        if entry.get("columns"):
            aggregates = [_parse_rule(ds, str(output).strip(), rule) for output, rule in entry["columns"].items()]
        elif rows == "many":
            raise InputError(f"{entry['path']!r} has several rows for {several:.0%} of its people: say how to turn "
                             f"them into one value per person with columns, e.g. {_suggestions(ds, key, order_by)} "
                             f"(rules: {', '.join(ALL_RULES)})")
        else:
            aggregates = _default_columns(population, ds, key, taken)
        if not aggregates:
            raise InputError(f"{entry['path']!r} adds no column: its columns are its key, identifying columns or "
                             "facts the population already records; name what to add with columns")
        if any(a.rule in ORDER_RULES for a in aggregates) and order_by is None:
            raise InputError(f"{entry['path']!r}: earliest()/latest() need a column that orders a person's rows "
                             "(a date or a period such as 2024H2); name it with order_by")
        for aggregate in aggregates:
            if not aggregate.output or aggregate.output in taken:
                raise InputError(f"the linked table already has a column {aggregate.output!r}; give the new one "
                                 f"another name in columns, e.g. {{\"{aggregate.output}_{len(linked)}\": "
                                 f"\"{aggregate.describe()}\"}}")
            taken.add(aggregate.output)
        linked.append(LinkedFile(path=entry["path"].strip(), key=key, match=match, key_kind=kind,
                                 sheet=entry.get("sheet"), header_row=entry.get("header_row"),
                                 column_map=tuple(sorted((entry.get("column_map") or {}).items())), rows=rows,
                                 aggregates=tuple(aggregates), order_by=order_by))
    return LinkedDefinition(name=name, files=tuple(linked))


# -- building the linked table (every call on a dataset name)


def load_linked(settings: Settings, definition: LinkedDefinition, *, column_map: Mapping[str, str] | None = None,
                shape: str | None = None, kind: str = "hr", progress: Progress | None = None,
                memory_mb: float | None = None) -> Dataset:
    """The linked table as a prepared Dataset, cached by definition, file contents, column_map, kind and shape."""
    from retention_mcp.data.cache import PREPARED, frame_bytes
    from retention_mcp.data.dataset import load_dataset
    from retention_mcp.data.roles import load_roles

    if shape not in (None, "", "auto", "event", "snapshot"):
        raise InputError(f"shape must be 'event' or 'snapshot', or left out to detect it; got {shape!r}")
    if column_map is not None and not isinstance(column_map, Mapping):
        raise InputError("column_map must be an object like {\"performance\": \"末次绩效\"}")
    sources = []
    for i, spec in enumerate(definition.files):
        if progress:
            progress(0.05 + 0.55 * i / len(definition.files), f"reading {spec.path}")
        sources.append(load_dataset(settings, path=spec.path, sheet=spec.sheet, header_row=spec.header_row,
                                    column_map=spec.column_map_dict, kind="hr"))
    table = load_roles(settings)
    key = ("linked", definition.digest, definition.version, tuple(_identity_of(ds.source) for ds in sources),
           tuple(sorted((column_map or {}).items())), shape or "auto", kind, table.version, settings.min_group_size)

    def build() -> tuple[Dataset, int]:
        if progress:
            progress(0.65, "joining the files on the employee key")
        dataset = _build(settings, definition, sources, column_map, shape, kind, memory_mb)
        return dataset, frame_bytes(dataset.frame) // 4

    return PREPARED.get_or_create(key, build)


def _identity_of(source: Any) -> tuple:
    return (getattr(source, "name", ""), getattr(source, "size", 0), getattr(source, "sha256", ""),
            getattr(source, "sheet", None), getattr(source, "header_row", None))


#: The order of a row with no order value: before every other (it is never a person's "latest" if they have one).
NO_ORDER = -(2**31)


def order_values(ds: Dataset, column: str | None) -> Any:
    """A number per row ordering a person's rows: day numbers for dates, ranks for text (2024H1 < 2024H2), the
    numbers themselves (float) for numbers; missing sorts first. Whole numbers come back as int64."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from retention_mcp.data.dataset import NO_DATE, day_numbers
    from retention_mcp.data.dates import parse_dates

    if column is None:
        return None
    values = ds.frame[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        return pa.array(np.where(np.isnan(numbers), -np.inf, numbers), pa.float64())
    parsed = parse_dates(values)
    present = values.notna().sum()
    if present and parsed.values.notna().sum() >= 0.9 * present:
        days = day_numbers(parsed.values)
        return pa.array(np.where(days == NO_DATE, NO_ORDER, days), pa.int64())
    ranks = pd.factorize(values.astype("string"), sort=True)[0].astype("int64")
    return pa.array(np.where(ranks < 0, NO_ORDER, ranks), pa.int64())


def _values(ds: Dataset, aggregate: Aggregate) -> Any:
    import pandas as pd

    values = ds.frame[aggregate.column]
    if aggregate.rule in NUMBER_RULES and not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values, errors="coerce")
    return _arrow(values)


def _build(settings: Settings, definition: LinkedDefinition, sources: list[Dataset],
           column_map: Mapping[str, str] | None, shape: str | None, kind: str, memory_mb: float | None) -> Dataset:
    import dataclasses

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from retention_mcp.data import engine
    from retention_mcp.data.dataset import _identity, _names_category, _prepare, identity_roles
    from retention_mcp.data.roles import load_roles

    population = sources[0]
    spec = definition.population
    keys = key_values(population, spec.key)
    encoded = keys.dictionary_encode()
    person = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype="float64")
    dictionary = encoded.dictionary
    persons = len(dictionary)
    missing = np.isnan(person)
    person[missing] = persons + np.arange(int(missing.sum()))  # a row without a key is its own person
    person = person.astype("int64")
    persons += int(missing.sum())
    del encoded
    frame = population.frame.copy(deep=False)
    links = [FileLink(spec=spec, source=population, key=keys, match=keys, population_person=person,
                      _people=(person, np.ones(len(person), dtype="int64")))]
    for file_spec, ds in zip(definition.files[1:], sources[1:], strict=True):
        match = keys if file_spec.match == spec.key else key_values(population, file_spec.match)
        file_key = key_values(ds, file_spec.key)
        columns = list(dict.fromkeys(a.column for a in file_spec.aggregates if a.column is not None))
        position = {c: i for i, c in enumerate(columns)}
        values = [_values(ds, next(a for a in file_spec.aggregates if a.column == c)) for c in columns]
        aggregations = [engine.Aggregation(a.rule, None if a.column is None else position[a.column])
                        for a in file_spec.aggregates]
        grouped, per_key = engine.aggregate(file_key, values, order_values(ds, file_spec.order_by), aggregations,
                                            memory_mb=memory_mb)
        # A population row takes its key's values, unless its match key is one several people share (a name).
        shared = _shared_keys(match, person) if match is not keys else pa.array([], pa.string())
        slot = pc.index_in(match, value_set=grouped)
        if len(shared):
            slot = pc.if_else(pc.is_in(match, value_set=shared), pa.scalar(None, slot.type), slot)
        matched_keys = match if not len(shared) else pc.filter(match, pc.invert(pc.is_in(match, value_set=shared)))
        unmatched = pc.filter(grouped, pc.invert(pc.is_in(grouped, value_set=matched_keys)))
        link = FileLink(spec=file_spec, source=ds, key=file_key, match=match, population_person=person,
                        unmatched_keys=unmatched, shared_keys=shared,
                        persons=dictionary if match is keys else None)
        for spec_aggregate, array in zip(file_spec.aggregates, per_key, strict=True):
            frame[spec_aggregate.output] = _pandas(array.take(slot), frame.index)
            link.added[spec_aggregate.output] = spec_aggregate
        links.append(link)
    table = load_roles(settings)
    roles = _linked_roles(frame, population, links, table, column_map, kind)
    facts = FACT_ROLES | {"employee_id", "name"}
    if kind == "hr" and shape in (None, "", "auto") and all(roles.get(r) == population.roles.get(r) for r in facts):
        # The population file's own dates, flags and findings, parsed at its intake: the same columns, the same
        # roles, so the same arrays (re-parsing a million dates would give them again).
        # Its record keys too (the same people, so the same keys: a person's figures do not change with the view);
        # nothing else of its cache, which is about the population file's columns (header roles ...).
        dataset = dataclasses.replace(population, frame=frame, roles=roles, findings=list(population.findings),
                                      _identity=dict(population._identity), _watched=None,
                                      cache={key: value for key, value in population.cache.items()
                                             if isinstance(key, tuple) and key[0] == "record_keys"})
    else:
        dataset = _prepare(frame, table, None, None if shape in (None, "", "auto") else shape, kind,
                           settings.min_group_size, roles=roles)
    for link in links[1:]:
        for output, aggregate in link.added.items():
            inherited = link.source.identity(aggregate.column) if aggregate.column and (
                aggregate.rule in VALUE_RULES) else None
            # As at any intake (issue 19): from the header and the content, never from a role given by the caller.
            header_role = identity_roles([output], table).get(output)
            category = header_role is None and _names_category(output, table)
            own = _identity(frame[output], output, header_role, category, table)
            dataset._identity[output] = _strictest(inherited, own)
    dataset.linked = LinkInfo(definition=definition, files=links, population_person=person, persons=persons)
    dataset.source = {"name": definition.name, "format": "linked dataset", "version": definition.version,
                      "sha256": definition.digest, "files": [f.path for f in definition.files]}
    return dataset


def _shared_keys(match: Any, person: np.ndarray) -> Any:
    """Match keys (names) that several population people share: they match none of them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.table({"m": match, "p": pa.array(person)}).filter(pc.is_valid(match))
    counts = table.group_by("m").aggregate([("p", "count_distinct")])
    return pc.filter(counts.column("m"), pc.greater(counts.column("p_count_distinct"), 1)).combine_chunks()


def _strictest(*identities: Any) -> Any:
    order = {None: 0, "people": 1, "identifying": 2}
    return max(identities, key=lambda i: order[i])


def _pandas(array: Any, index: Any) -> pd.Series:
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return pd.Series(pd.array(array, dtype=pd.ArrowDtype(pa.string())), index=index)
    return pd.Series(array.to_pandas(), index=index)


def _linked_roles(frame: pd.DataFrame, population: Dataset, links: list[FileLink], table: Any,
                  column_map: Mapping[str, str] | None, kind: str) -> Any:
    """Roles of the linked table: the population file's (with its column_map), then the roles added columns
    bring that the population lacks — never status, date, tenure or identity roles, which only the population
    gives. A call's column_map (on either side) wins."""
    from retention_mcp.data.roles import detect_roles, normalise_header

    added = [c for link in links[1:] for c in link.added]
    added_headers = {normalise_header(c) for c in added}
    calls = dict(column_map or {})
    on_added = {role: column for role, column in calls.items()
                if isinstance(column, str) and (column in added or (column not in population.columns
                                                                    and normalise_header(column) in added_headers))}
    on_population = {role: column for role, column in calls.items() if role not in on_added}
    roles = detect_roles(population.columns, table, {**dict(links[0].spec.column_map), **on_population}, kind=kind)
    extra = detect_roles(added, table, on_added, kind=kind)
    for role, column in extra.single.items():
        if role in extra.overridden or (role not in FACT_ROLES and role not in table.identifying
                                        and roles.get(role) is None):
            roles.single[role] = column
            if role in extra.overridden:
                roles.overridden.add(role)
    for role, columns in extra.multi.items():
        roles.multi.setdefault(role, []).extend(columns)
    del frame
    return roles
