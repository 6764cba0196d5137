"""Grouping rows: ``by`` dimensions, numeric bands, tenure bands, and ``where`` filters.

A :class:`Dimension` gives every row a group code (``labels[code]``); crossing several is a mixed-radix
code. A :class:`Scope` is a ``where`` filter: the rows it keeps, and the same filter as dimensions with
selected values, so suppression can treat the filtered population as a slice of the crossed table the
server would give without the filter (see :func:`retention_mcp.data.disclosure.suppress`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retention_mcp.data.dataset import Dataset
from retention_mcp.data.roles import close_matches, normalise_header, normalise_word
from retention_mcp.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from retention_mcp.data.disclosure import Policy

TENURE_BAND = "tenure_band"
#: Upper edges in months (inclusive) and labels of the tenure bands, for tenure known to the day or month.
TENURE_BAND_EDGES_MONTHS = (3.0, 12.0, 36.0, 60.0)
TENURE_BAND_LABELS = ("<=3 months", "3-12 months", "1-3 years", "3-5 years", ">5 years")
#: Bands of completed years (upper edges inclusive: 0 | 1-2 | 3-5 | 6+), for tenure recorded in whole years.
TENURE_YEAR_EDGES = (0.0, 2.0, 5.0)
TENURE_YEAR_LABELS = ("<1 year", "1–2 years", "3–5 years", ">5 years")
#: Month bands need tenure recorded at least this finely (months); coarser columns get year bands.
MONTH_BAND_RESOLUTION = 3.0
MISSING_LABEL = "(missing)"
MAX_GROUPS = 500
#: Numeric columns with more distinct values than this are banded (quantiles unless ``bins`` are given).
MAX_UNBANDED_VALUES = 12


@dataclass
class Dimension:
    name: str  # as shown (column name or 'tenure_band')
    codes: np.ndarray | None  # int per row (static dimension); None for tenure_band (it changes with time)
    labels: list[str]
    note: str = ""
    column: str | None = None
    key_file: str | None = None  # pseudonym key written for this dimension, if any
    coder: Any = None  # values -> codes as above (to code a linked dataset's joined file the same way)
    bins: Any = None  # the `bins` a numeric column was banded with
    banded: bool = False  # a numeric column cut into bands (quantiles or `bins` edges)
    raw_labels: list[str] | None = None  # the names behind pseudonym labels (never shown; matched across files)


def is_tenure_band(name: str) -> bool:
    return normalise_header(name) in ("tenureband", "tenure", "司龄段")


@dataclass(frozen=True)
class TenureBands:
    """How tenure is banded: upper edges (inclusive) in months, or in completed years when ``completed_years``."""

    edges: tuple[float, ...]
    labels: tuple[str, ...]
    completed_years: bool
    note: str


MONTH_BANDS = TenureBands(TENURE_BAND_EDGES_MONTHS, TENURE_BAND_LABELS, False,
                          "tenure_band: <=3 months, 3-12 months, 1-3 years, 3-5 years, >5 years (upper edges "
                          "inclusive), from tenure known to the month or finer")


def tenure_bands(ds: Dataset) -> TenureBands:
    """The bands the data can support. Event data (dates) and tenure columns recorded to the month or finer get
    month bands; a column recorded in whole years (IBM's YearsAtCompany) gets bands of completed years, because
    0 years means anything from day 1 to month 11 and cannot be split into "<=3 months" and "3-12 months"."""
    if ds.shape == "event" or ds.tenure_months is None:
        return MONTH_BANDS
    resolution = ds.tenure_resolution_months
    if resolution is None or resolution <= MONTH_BAND_RESOLUTION:
        return MONTH_BANDS
    column = ds.roles.get(f"tenure_{ds.tenure_unit}") or "the tenure column"
    return TenureBands(TENURE_YEAR_EDGES, TENURE_YEAR_LABELS, True,
                       f"tenure_band: {column!r} is recorded in whole years, so tenure is banded in completed years — "
                       "<1 year (0), 1–2 years, 3–5 years, >5 years (6 or more); month bands (<=3 months, 3-12 "
                       "months) and 90-day attrition need hire dates or tenure in months or days")


def build_dimension(ds: Dataset, name: str, policy: Policy, bins: Any = None, *,
                    purpose: str = "a breakdown dimension") -> Dimension:
    """Codes and labels for one dimension. Numbers with many values are banded (``bins`` or quintiles);
    columns naming people (managers) get pseudonyms; identifying columns and dates are refused."""
    import pandas as pd

    if is_tenure_band(name):
        bands = tenure_bands(ds)
        return Dimension(TENURE_BAND, None, [*bands.labels, MISSING_LABEL], bands.note if bands.completed_years else "")
    column = ds.column(name, purpose=purpose, allow_people=True)
    role = ds.roles.role_of(column)
    values = ds.frame[column]
    if role in ("hire_date", "termination_date") or pd.api.types.is_datetime64_any_dtype(values):
        raise InputError(f"{column!r} holds dates; use 'tenure_band' instead, or a hire-year column")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and (bins is not None or values.nunique() > MAX_UNBANDED_VALUES):
        dim, coder = _banded(column, values.astype("float64"), bins)
    else:
        dim, coder = _grouped(ds, column, role, values, policy)
    if len(dim.labels) > MAX_GROUPS:
        raise InputError(f"{column!r} has {len(dim.labels) - 1} distinct values; use a column with fewer groups "
                         "(or give numeric `bins`)")
    dim.coder, dim.bins = coder, bins
    if ds.linked is not None and (origin := ds.linked.origin(column)) is not None:
        link, aggregate = origin
        joined = (f"{column}: {aggregate.describe()} from {link.spec.path}; (missing) = people of "
                  f"{ds.linked.definition.population.path} with no row there. A group is shown only where it holds "
                  "exactly the people that file alone counts there (a group with people outside the population, a "
                  "rehire or a duplicate row is hidden), so no one is found by comparing the two")
        dim.note = f"{joined}. {dim.note}" if dim.note else joined
    return dim


def forced_cells(ds: Dataset, dims: Sequence[Dimension], k: int) -> dict[tuple[int, ...], Any] | None:
    """Cells a linked dataset keeps hidden in tables over ``dims`` (see ``LinkInfo.forced_tables``); None for a
    plain file."""
    return ds.linked.forced_tables(dims, k) if ds.linked is not None else None


def _grouped(ds: Dataset, column: str, role: str | None, values: Any, policy: Policy) -> tuple[Dimension, Any]:
    """A dimension of a column's distinct values (trimmed; people named by pseudonyms), and its coder."""
    import numpy as np
    import pandas as pd

    if isinstance(values.dtype, pd.CategoricalDtype):
        raw_codes = values.cat.codes.to_numpy().astype("int64")
        uniques = list(values.cat.categories)
    else:
        raw_codes, found = pd.factorize(values, use_na_sentinel=True)
        uniques = list(found)
    # Trim labels ("Production   " and "Production" are one group) and merge what becomes equal.
    trimmed = [_plain(u).strip() for u in uniques]
    merged = sorted({t for t in trimmed if t})
    index = {label: i for i, label in enumerate(merged)}
    lookup = np.array([index.get(t, len(merged)) for t in trimmed] + [len(merged)], dtype="int64")
    codes = lookup[np.where(raw_codes >= 0, raw_codes, len(uniques))]
    note, key_file = "", None
    raw = None
    if ds.identity(column) == "people":
        raw = [*merged, MISSING_LABEL]
        merged, key_file = policy.pseudonyms(role or "person", merged, source=f"{_source_name(ds)}:{column}")
        if key_file:
            note = (f"{column}: people's names are shown as stable pseudonyms ({merged[0] if merged else ''}, ...); "
                    f"the key is in the server's output folder ({key_file}), for the person running the server")

    def coder(other: Any) -> Any:
        raw, found = pd.factorize(pd.Series(other).reset_index(drop=True), use_na_sentinel=True)
        table = np.array([index.get(_plain(u).strip(), len(merged)) for u in found] + [len(merged)], dtype="int64")
        return table[np.where(raw >= 0, raw, len(found))]

    return (Dimension(column, codes, [*merged, MISSING_LABEL], note, column=column, key_file=key_file, raw_labels=raw),
            coder)


def _source_name(ds: Dataset) -> str:
    source = ds.source
    if isinstance(source, Mapping):
        return str(source.get("name", ""))
    return str(getattr(source, "name", ""))


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _edge(value: float) -> str:
    """A band edge for a label: 9860.000000000002 -> '9860', 0.4567 -> '0.4567'."""
    return f"{float(value):.6g}"


def _banded(column: str, numbers: Any, bins: Any) -> tuple[Dimension, Any]:
    """Numeric bands — ``bins`` edges (−inf, e0], (e0, e1], …, (ek, inf), or quantile groups — and the coder."""
    import numpy as np

    finite = numbers[np.isfinite(numbers)]
    note = ""
    quantiles = bins is None or isinstance(bins, int)
    if quantiles:
        count = bins or 5
        if not 1 <= count <= 50:
            raise InputError(f"bins for {column!r}: ask for 1 to 50 equal groups, not {count}")
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, count + 1))) if len(finite) else np.array([0.0])
        note = f"{column!r} banded into {count} quantile groups"
        labels = ([f"{_edge(edges[i])}–{_edge(edges[i + 1])}" for i in range(len(edges) - 1)]
                  if len(edges) > 1 else [_edge(edges[0])])
    else:
        try:
            edges = np.unique(np.asarray([float(b) for b in bins], dtype="float64"))
        except (TypeError, ValueError):
            raise InputError(f"bins for {column!r} must be a list of numbers (band edges, e.g. [0, 2, 5, 10]) "
                             "or a number of equal-sized groups") from None
        if len(edges) < 1 or len(edges) > 50 or not np.isfinite(edges).all():
            raise InputError(f"bins for {column!r} needs 1 to 50 finite band edges")
        labels = [f"<= {_edge(edges[0])}"]
        labels += [f"{_edge(edges[i])}–{_edge(edges[i + 1])}" for i in range(len(edges) - 1)]
        labels += [f"> {_edge(edges[-1])}"]

    def coder(values: Any) -> Any:
        import pandas as pd

        if not (isinstance(values, np.ndarray) and values.dtype.kind == "f"):
            values = pd.to_numeric(pd.Series(list(values), dtype="object"), errors="coerce").to_numpy(dtype="float64")
        if quantiles:
            inner = edges[1:-1] if len(edges) > 2 else edges
            codes = np.clip(np.searchsorted(inner, values, side="left"), 0, max(len(edges) - 2, 0))
        else:
            codes = np.searchsorted(edges, values, side="left")
        return np.where(np.isfinite(values), codes, len(labels)).astype("int64")

    return Dimension(column, coder(numbers), [*labels, MISSING_LABEL], note, column=column, banded=True), coder


def tenure_band_codes(tenure_months: Any, bands: TenureBands = MONTH_BANDS) -> Any:
    """Band index for tenure in months (0 .. len(labels) − 1); len(labels) (the "(missing)" label) for NaN."""
    import numpy as np

    tenure_months = np.asarray(tenure_months, dtype="float64")
    with np.errstate(invalid="ignore"):
        values = np.floor(tenure_months / 12 + 1e-9) if bands.completed_years else tenure_months
    codes = np.searchsorted(np.asarray(bands.edges), values, side="left")
    return np.where(np.isfinite(tenure_months), codes, len(bands.labels)).astype("int64")


def dimension_key(dim: Dimension) -> str:
    """What identifies a dimension for suppression: its column and its groups (bands included)."""
    return dim.name + "\x00" + "\x01".join(dim.labels)


def combined_codes(dims: Sequence[Dimension], rows: int) -> np.ndarray:
    """One mixed-radix code per row over static dimensions (the first dimension varies slowest)."""
    import numpy as np

    code = np.zeros(rows, dtype="int64")
    for dim in dims:
        assert dim.codes is not None
        code = code * len(dim.labels) + dim.codes
    return code


def decode(code: int, dims: Sequence[Dimension]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for dim in reversed(dims):
        code, index = divmod(code, len(dim.labels))
        labels[dim.name] = dim.labels[index]
    return {d.name: labels[d.name] for d in dims}


def hidden_cells(ds: Dataset, scope: Scope, dims: Sequence[Dimension], k: int, counted: Any) -> dict[tuple, Any]:
    """Which groups of ``dims`` (crossed) to suppress within ``scope``: the sizes are the ``counted`` rows per
    cell of the cross of the scope's columns and ``dims`` over the whole file, so the filtered table is a
    slice of what an unfiltered call would show. Keys are subsets of positions in ``dims`` (see
    :func:`retention_mcp.data.disclosure.suppress`); ``()`` is the scope's overall."""
    import numpy as np

    from retention_mcp.data.disclosure import suppress

    all_dims = [*scope.dims, *dims]
    code = combined_codes(all_dims, ds.rows)
    shape = tuple(len(d.labels) for d in all_dims)
    sizes = np.bincount(code[counted], minlength=int(np.prod(shape, dtype="int64")) if shape else 1)
    return suppress(sizes.reshape(shape).astype("float64"), k, scope.selected or None,
                    keys=[dimension_key(d) for d in all_dims], forced=forced_cells(ds, all_dims, k))


# -- where


@dataclass
class Scope:
    """A ``where`` filter: dimensions with the selected label positions, and the rows kept."""

    dims: list[Dimension] = field(default_factory=list)
    selected: list[Any] = field(default_factory=list)  # bool mask over each dimension's labels
    rows: Any = None  # bool mask over the dataset's rows (None: all rows)
    text: str = ""  # the filter in words, e.g. "Department = R&D; Shift in (night, evening)"

    @property
    def active(self) -> bool:
        return bool(self.dims)

    def describe(self, kept: int, total: int) -> str:
        if not self.active:
            return ""
        return f"filter: {self.text} ({kept:,} of {total:,} rows in scope)"


def parse_where(ds: Dataset, where: Mapping[str, Any] | None, policy: Policy) -> Scope:
    """``{"department": "R&D"}`` or ``{"department": ["R&D", "QA"], "shift": "night"}`` -> a Scope.

    Columns by name or role; values matched as the data has them (trimmed; case and full-width forms
    ignored when that is unambiguous); an unknown value is an error listing close ones."""
    import numpy as np

    if where is None or where == {}:
        return Scope()
    if not isinstance(where, Mapping):
        raise InputError('where must be an object like {"department": "R&D"} or {"department": ["R&D", "QA"]}')
    if len(where) > 3:
        raise InputError("where takes at most 3 columns; filter on fewer at a time")
    scope = Scope(rows=np.ones(ds.rows, dtype=bool))
    parts = []
    for name, wanted in where.items():
        if is_tenure_band(str(name)):
            raise InputError("where cannot filter on tenure_band (it changes over the period); filter on a column")
        dim = build_dimension(ds, str(name), policy, purpose="a where filter")
        if dim.labels[-1] == MISSING_LABEL and dim.note and "quantile" in dim.note:
            raise InputError(f"where on {dim.name!r}: it is a number with many values; filter on a column with "
                             "groups, or break down by it with bins")
        values = wanted if isinstance(wanted, list | tuple) else [wanted]
        if not values:
            raise InputError(f"where[{name!r}] is an empty list; give one value or several")
        mask = np.zeros(len(dim.labels), dtype=bool)
        chosen = []
        forced = (forced_cells(ds, [dim], policy.floor) or {}).get((0,))
        for value in values:
            position = _match_label(dim, value)
            if forced is not None and forced[position]:
                raise InputError(f"where[{dim.name!r}] = {dim.labels[position]!r} selects a group this linked dataset "
                                 "keeps hidden: comparing it with the joined file alone would show a small group of "
                                 "people. Filter on a population column, or analyse that file on its own")
            mask[position] = True
            chosen.append(dim.labels[position])
        scope.dims.append(dim)
        scope.selected.append(mask)
        assert dim.codes is not None
        scope.rows &= mask[dim.codes]
        parts.append(f"{dim.name} = {chosen[0]}" if len(chosen) == 1 else f"{dim.name} in ({', '.join(chosen)})")
    scope.text = "; ".join(parts)
    return scope


def _match_label(dim: Dimension, value: Any) -> int:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise InputError(f"where[{dim.name!r}]: give the value as text or a number, not {value!r}")
    text = _plain(value).strip()
    labels = dim.labels[:-1]  # not "(missing)"
    if text in labels:
        return labels.index(text)
    folded = [i for i, label in enumerate(labels) if normalise_word(label) == normalise_word(text)]
    if len(folded) == 1:
        return folded[0]
    close = close_matches(text, labels)
    hint = f" Close values: {', '.join(repr(c) for c in close)}." if close else ""
    listing = "" if len(labels) > 30 else f" Its values are: {', '.join(labels)}."
    raise InputError(f"where[{dim.name!r}]: no group {text!r} in the data.{hint}{listing}")
