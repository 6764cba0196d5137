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

    from retention_mcp.data.cellkey import Cells, Tally
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
    import numpy as np
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
        return _banded(column, values.to_numpy(dtype="float64", na_value=np.nan), bins, policy.floor)
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
    if ds.identity(column) == "people":
        from retention_mcp.data.dataset import header_roles

        word = role if role in ds.table.people else header_roles(ds).get(column, "person")
        shown, key_file = policy.pseudonyms(word, merged, source=f"{_source_name(ds)}:{column}")
        # Listed in pseudonym order: the order of the real names would let anyone sort the names to match them.
        order = sorted(range(len(shown)), key=lambda i: shown[i])
        position = {old: new for new, old in enumerate(order)}
        lookup = np.array([position[i] for i in range(len(merged))] + [len(merged)], dtype="int64")
        codes = lookup[codes]
        merged = [shown[i] for i in order]
        if key_file:
            note = (f"{column}: people's names are shown as stable pseudonyms ({merged[0] if merged else ''}, ...); "
                    f"the key is in the server's output folder ({key_file}), for the person running the server")
    labels = [*merged, MISSING_LABEL]
    if len(labels) > MAX_GROUPS:
        raise InputError(f"{column!r} has {len(labels) - 1} distinct values; use a column with fewer groups "
                         "(or give numeric `bins`)")
    return Dimension(column, codes, labels, note, column=column, key_file=key_file)


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


#: Bands a caller may ask for; the edges come from the server (see :func:`band_ladder`).
MIN_BANDS, MAX_BANDS = 2, 10
#: The ladder of candidate edges has at most this many steps.
LADDER_STEPS = 20


def band_ladder(numbers: Any, min_band: int) -> Any:
    """Candidate band edges of a numeric column, from the data: values where the rows below reach a multiple
    of the step, each step holding at least ``min_band`` rows (and at most LADDER_STEPS steps).

    Every banding a caller can get is a union of these steps, so two bandings never differ by fewer than
    ``min_band`` people: bands one unit apart (age ≤ 36 against age ≤ 37) cannot isolate anyone."""
    import numpy as np

    finite = np.sort(numbers[np.isfinite(numbers)])
    if not len(finite):
        return np.zeros(0)
    step = max(min_band, int(np.ceil(len(finite) / LADDER_STEPS)))
    values, counts = np.unique(finite, return_counts=True)
    edges, since = [], 0
    for value, count in zip(values[:-1], counts[:-1], strict=True):
        since += int(count)
        if since >= step:
            edges.append(value)
            since = 0
    if edges and int((finite > edges[-1]).sum()) < step:
        edges.pop()  # the top step is too small: merge it into the one below
    return np.asarray(edges, dtype="float64")


def _banded(column: str, numbers: Any, bins: Any, min_band: int) -> Dimension:
    import numpy as np

    if isinstance(bins, list | tuple):
        raise InputError(f"bins for {column!r}: give the number of bands, e.g. {{{column!r}: 4}}; band edges come "
                         "from the data (quantiles, each band at least the minimum group size), not from the call, "
                         "so that no two calls can isolate one person between edges")
    count = 5 if bins is None else bins
    if isinstance(count, bool) or not isinstance(count, int) or not MIN_BANDS <= count <= MAX_BANDS:
        raise InputError(f"bins for {column!r}: ask for {MIN_BANDS} to {MAX_BANDS} bands, not {bins!r}")
    ladder = band_ladder(numbers, min_band)
    finite = numbers[np.isfinite(numbers)]
    if len(ladder):
        # The ladder edges nearest to the count-quantiles of the column.
        targets = np.quantile(finite, np.arange(1, count) / count)
        chosen = sorted({float(ladder[np.argmin(np.abs(ladder - t))]) for t in targets})
    else:
        chosen = []
    edges = np.asarray(chosen, dtype="float64")
    codes = np.searchsorted(edges, numbers, side="left")
    if len(edges):
        labels = [f"<= {_edge(edges[0])}"]
        labels += [f"{_edge(edges[i])}–{_edge(edges[i + 1])}" for i in range(len(edges) - 1)]
        labels += [f"> {_edge(edges[-1])}"]
    else:
        labels = ["all"]
    note = (f"{column!r} in {len(labels)} bands from the data (about equal numbers of people; edges at its "
            f"values, upper edge inclusive; each band at least {min_band} people in the file)")
    if len(labels) < count:
        note += f"; {count} were asked for, but the file has too few distinct values or people for more"
    codes = np.where(np.isfinite(numbers), codes, len(labels)).astype("int64")
    return Dimension(column, codes, [*labels, MISSING_LABEL], note, column=column)


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
                    keys=[dimension_key(d) for d in all_dims])


def scope_slice(tally: Tally, scope: Scope) -> Tally:
    """A tally over the cross of ``scope``'s columns and some more dimensions, cut to the selected values of the
    scope's columns (the leading axes) and added up over them: the filtered table."""
    for axis, mask in enumerate(scope.selected):
        tally = tally.compress(mask, axis)
    lead = tuple(range(len(scope.selected)))
    return tally.total(axis=lead) if lead else tally


# -- where


@dataclass
class Scope:
    """A ``where`` filter: dimensions with the selected label positions, and the rows kept."""

    dims: list[Dimension] = field(default_factory=list)
    selected: list[Any] = field(default_factory=list)  # bool mask over each dimension's labels
    rows: Any = None  # bool mask over the dataset's rows (None: all rows)
    text: str = ""  # the filter in words, e.g. "Department = R&D; Shift in (night, evening)"
    notes: list[str] = field(default_factory=list)  # filters that select everyone, said so

    @property
    def active(self) -> bool:
        return bool(self.dims)

    def describe(self, cells: Cells) -> str:
        """The filter in words with the rows it keeps (counted as every figure is: perturbed in protected mode)."""
        if not self.active:
            return ""
        import numpy as np

        kept = cells.count(self.rows)
        total = cells.count(np.ones(len(self.rows), dtype=bool))
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
        for value in values:
            position = _match_label(dim, value)
            mask[position] = True
            chosen.append(dim.labels[position])
        assert dim.codes is not None
        if bool(mask[dim.codes].all()):
            # Every row's value is listed: the same query as no filter, answered as one (a filter that selects
            # everyone would otherwise change which cells are suppressed, and two such calls could be subtracted).
            scope.notes.append(f"where[{dim.name!r}] lists every value of the column, so it selects everyone: "
                               "no filter on it")
            continue
        scope.dims.append(dim)
        scope.selected.append(mask)
        scope.rows &= mask[dim.codes]
        parts.append(f"{dim.name} = {chosen[0]}" if len(chosen) == 1 else f"{dim.name} in ({', '.join(chosen)})")
    scope.text = "; ".join(parts)
    if not scope.dims:
        scope.rows = None
    return scope


def check_complements(ds: Dataset, scope: Scope, k: int) -> None:
    """Refuse a filter that leaves a few people just outside it: along each `where` column (the other columns'
    values kept), the rows not selected must be none or at least ``k``. Otherwise the unfiltered result minus
    this one would be their figures (all agents but one, every department but a three-person one)."""
    import numpy as np

    if not scope.active:
        return
    for i, dim in enumerate(scope.dims):
        others = np.ones(ds.rows, dtype=bool)
        for j, (other, selected) in enumerate(zip(scope.dims, scope.selected, strict=True)):
            if j != i:
                others &= selected[other.codes]
        rest = int((others & ~scope.selected[i][dim.codes]).sum())
        if 0 < rest < k:
            raise InputError(f"the filter {scope.text} leaves fewer than {k} people outside it in {dim.name!r}; their "
                             f"figures could be worked out by comparing with the unfiltered result. Widen the filter "
                             f"(or leave {dim.name!r} out of it), or break down by {dim.name!r} instead")


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
