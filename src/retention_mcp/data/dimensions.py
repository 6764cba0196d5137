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

from retention_mcp.data.dataset import NO_DATE, Dataset, day_to_date
from retention_mcp.data.roles import close_matches, normalise_word
from retention_mcp.data.vocabulary import (
    MISSING_LABEL,
    TENURE_BAND_EDGES_MONTHS,
    TENURE_BAND_LABELS,
    TENURE_YEAR_EDGES,
    TENURE_YEAR_LABELS,
    derived_kind,
    likert_box,
    likert_box_of,
    match_derived,
    separation_kind,
    shown,
)
from retention_mcp.errors import InputError
from retention_mcp.wording import Words, words

if TYPE_CHECKING:
    import numpy as np

    from retention_mcp.data.cellkey import Cells, Tally
    from retention_mcp.data.disclosure import Policy

#: Days per month, as turnover and tenure count them.
DAYS_PER_MONTH = 365.25 / 12


def english() -> Words:
    return words("en")

TENURE_BAND = "tenure_band"
#: Month bands need tenure recorded at least this finely (months); coarser columns get year bands.
MONTH_BAND_RESOLUTION = 3.0
MAX_GROUPS = 500
#: Numeric columns with more distinct values than this are banded (quantiles unless ``bins`` are given).
MAX_UNBANDED_VALUES = 12
DERIVED_KINDS = ("tenure_band", "hire_year", "hire_quarter")
#: Columns that describe the departure itself: a turnover rate or a retention curve by one restates the outcome.
OUTCOME_ROLES = ("termination_date", "termination_type", "termination_reason", "leaver_flag", "regretted")


@dataclass
class Dimension:
    name: str  # as shown (column name or 'tenure_band')
    codes: np.ndarray | None  # int per row (static dimension); None for tenure_band (it changes with time)
    labels: list[str]  # the groups' codes: data values as they are, derived groups by their English label
    note: str = ""
    column: str | None = None
    key_file: str | None = None  # pseudonym key written for this dimension, if any
    coder: Any = None  # values -> codes as above (to code a linked dataset's joined file the same way)
    bins: Any = None  # the `bins` a numeric column was banded with
    raw_labels: list[str] | None = None  # the names behind pseudonym labels (never shown; matched across files)
    kind: str = "column"  # column | banded | tenure_band | hire_year | hire_quarter
    shown: list[str] | None = None  # the labels in the caller's language (derived groups), else the labels

    @property
    def banded(self) -> bool:
        """A numeric column cut into bands (quantiles or `bins` edges)."""
        return self.kind == "banded"

    def label(self, index: int) -> str:
        return (self.shown or self.labels)[index]

    def title(self, w: Words) -> str:
        """The dimension's name as shown in a text: a column's header, a derived dimension in ``w``'s language."""
        return w.option("vocabulary.dimension", self.name) if self.kind in DERIVED_KINDS else self.name


def is_tenure_band(name: str) -> bool:
    return derived_kind(name) == "tenure_band"


@dataclass(frozen=True)
class TenureBands:
    """How tenure is banded: upper edges (inclusive) in months, or in completed years when ``completed_years``."""

    edges: tuple[float, ...]
    labels: tuple[str, ...]
    completed_years: bool
    column: str | None = None  # the whole-years column behind year bands


MONTH_BANDS = TenureBands(TENURE_BAND_EDGES_MONTHS, TENURE_BAND_LABELS, False)


def tenure_bands(ds: Dataset) -> TenureBands:
    """The bands the data can support — one definition for every tool. Event data (dates) and tenure columns
    recorded to the month or finer get month bands; a column recorded in whole years (IBM's YearsAtCompany) gets the
    same edges at year resolution (0 | 1-2 | 3-4 | 5+ completed years), because 0 years means anything from day 1
    to month 11 and cannot be split into "<=3 months" and "3-12 months"."""
    if ds.shape == "event" or ds.tenure_months is None:
        return MONTH_BANDS
    resolution = ds.tenure_resolution_months
    if resolution is None or resolution <= MONTH_BAND_RESOLUTION:
        return MONTH_BANDS
    column = ds.roles.get(f"tenure_{ds.tenure_unit}") or "the tenure column"
    return TenureBands(TENURE_YEAR_EDGES, TENURE_YEAR_LABELS, True, column)


def tenure_note(bands: TenureBands, w: Words) -> str:
    """How tenure_band is banded, in ``w``'s language."""
    if bands.completed_years:
        return w("dimensions.tenure_year_bands", column=bands.column)
    return w("dimensions.tenure_month_bands")


def tenure_dimension(ds: Dataset, w: Words | None = None, *, static: bool) -> Dimension:
    """tenure_band on :func:`tenure_bands`. ``static``: one group per person — tenure at the termination date or
    the latest date in the file (or as the tenure column records it) — for a profile of people; otherwise the codes
    are None and a turnover breakdown bands tenure on each headcount day."""
    w = w or english()
    bands = tenure_bands(ds)
    labels = [*bands.labels, MISSING_LABEL]
    note = tenure_note(bands, w) if bands.completed_years else ""
    codes = None
    if static:
        import numpy as np

        if ds.tenure_months is not None:
            months = ds.tenure_months
        else:
            if ds.hire is None or ds.as_of is None or not bool((ds.hire != NO_DATE).any()):
                raise InputError("tenure_band needs a tenure column (years, months or days) or hire dates; none was "
                                 "recognised — name one with column_map, e.g. {\"tenure_years\": \"Service\"}")
            end = np.minimum(ds.term, ds.as_of) if ds.term is not None else np.full(ds.rows, ds.as_of)
            usable = (ds.hire != NO_DATE) & (end >= ds.hire)
            months = np.where(usable, (end - ds.hire) / DAYS_PER_MONTH, np.nan)
            note = w("dimensions.tenure_from_dates")
        codes = tenure_band_codes(np.asarray(months, dtype="float64"), bands)
    return Dimension(TENURE_BAND, codes, labels, note, kind="tenure_band", shown=[shown(c, w) for c in labels])


def hire_cohort_dimension(ds: Dataset, kind: str, w: Words | None = None) -> Dimension:
    """hire_year / hire_quarter: the calendar year or quarter of each person's hire date, as period names."""
    import numpy as np

    w = w or english()
    if ds.hire is None or not bool((ds.hire != NO_DATE).any()):
        raise InputError(f"{kind} needs hire dates; none were recognised — name the column with column_map, e.g. "
                         "{\"hire_date\": \"Start\"}")
    dates = np.array([day_to_date(int(d)) if d != NO_DATE else None for d in ds.hire], dtype=object)
    present = ds.hire != NO_DATE
    keys = np.full(ds.rows, "", dtype=object)
    if kind == "hire_year":
        keys[present] = [f"{d.year}" for d in dates[present]]
    else:
        keys[present] = [f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in dates[present]]
    merged = sorted(set(keys[present]))
    index = {label: i for i, label in enumerate(merged)}
    codes = np.array([index.get(k, len(merged)) for k in keys], dtype="int64")
    labels = [*merged, MISSING_LABEL]
    if len(labels) > MAX_GROUPS:
        raise InputError(f"{kind} gives {len(labels) - 1} groups; use hire_year, or filter with where")
    return Dimension(kind, codes, labels, w(f"dimensions.{kind}_note"), kind=kind, shown=[shown(c, w) for c in labels])


def refuse_outcome_dimension(ds: Dataset, dim: Dimension, tool: str) -> None:
    """A rate or a curve by a column that describes the departure itself is no finding: every group of
    'termination type' is made of leavers (辞退 342.9%). Refused, naming what answers the question instead."""
    if dim.column is None:
        return
    role = ds.roles.role_of(dim.column)
    if role in OUTCOME_ROLES:
        instead = ("separation_type='voluntary' / 'involuntary' / 'regretted' (the rate of that kind of leaving), or "
                   "describe_groups by it to profile the leavers")
        raise InputError(f"{dim.column!r} describes the departure itself ({role}), so a {tool} by it restates the "
                         f"outcome (its groups are leavers by definition). Use {instead}")


def build_dimension(ds: Dataset, name: str, policy: Policy, bins: Any = None, *,
                    purpose: str = "a breakdown dimension", w: Words | None = None,
                    static_tenure: bool = False) -> Dimension:
    """Codes and labels for one dimension. Numbers with many values are banded (``bins`` or quintiles);
    columns naming people (managers) get pseudonyms; identifying columns and dates are refused. Derived dimensions
    (tenure_band, hire_year, hire_quarter) come from the vocabulary, their labels shown in ``w``'s language;
    tenure_band has no fixed codes unless ``static_tenure`` (see :func:`tenure_dimension`)."""
    import pandas as pd

    w = w or english()
    derived = derived_kind(name) if name not in ds.columns else None
    if derived == "tenure_band":
        return tenure_dimension(ds, w, static=static_tenure)
    if derived in ("hire_year", "hire_quarter"):
        return hire_cohort_dimension(ds, derived, w)
    column = ds.column(name, purpose=purpose, allow_people=True)
    role = ds.roles.role_of(column)
    values = ds.frame[column]
    if role in ("hire_date", "termination_date") or pd.api.types.is_datetime64_any_dtype(values):
        raise InputError(f"{column!r} holds dates; use 'tenure_band' instead, or a hire-year column")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and (bins is not None or values.nunique() > MAX_UNBANDED_VALUES):
        dim, coder = _banded(column, values.to_numpy(dtype="float64", na_value=float("nan")), bins, policy.floor, w)
    else:
        dim, coder = _grouped(ds, column, role, values, policy, w)
    if len(dim.labels) > MAX_GROUPS:
        raise InputError(f"{column!r} has {len(dim.labels) - 1} distinct values; use a column with fewer groups "
                         "(or give numeric `bins`)")
    dim.coder, dim.bins = coder, bins
    if ds.linked is not None and (origin := ds.linked.origin(column)) is not None:
        link, aggregate = origin
        joined = w("dimensions.linked_column", column=column, aggregate=aggregate.describe(), file=link.spec.path,
                   population=ds.linked.definition.population.path)
        dim.note = f"{joined}{w.stop} {dim.note}" if dim.note else joined
    return dim


def forced_cells(ds: Dataset, dims: Sequence[Dimension], k: int) -> dict[tuple[int, ...], Any] | None:
    """Cells a linked dataset keeps hidden in tables over ``dims`` (see ``LinkInfo.forced_tables``); None for a
    plain file."""
    return ds.linked.forced_tables(dims, k) if ds.linked is not None else None


def _grouped(ds: Dataset, column: str, role: str | None, values: Any, policy: Policy,
             w: Words) -> tuple[Dimension, Any]:
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
        from retention_mcp.data.dataset import header_roles

        word = role if role in ds.table.people else header_roles(ds).get(column, "person")
        pseudonyms, key_file = policy.pseudonyms(word, merged, source=f"{_source_name(ds)}:{column}")
        # Listed in pseudonym order: the order of the real names would let anyone sort the names to match them.
        order = sorted(range(len(pseudonyms)), key=lambda i: pseudonyms[i])
        position = {old: new for new, old in enumerate(order)}
        lookup = np.array([position[i] for i in range(len(merged))] + [len(merged)], dtype="int64")
        codes = lookup[codes]
        index = {label: position[i] for label, i in index.items()}
        raw = [*(merged[i] for i in order), MISSING_LABEL]
        merged = [pseudonyms[i] for i in order]
        if key_file:
            note = w("dimensions.pseudonyms", column=column, example=merged[0] if merged else "", key_file=key_file)

    def coder(other: Any) -> Any:
        raw, found = pd.factorize(pd.Series(other).reset_index(drop=True), use_na_sentinel=True)
        table = np.array([index.get(_plain(u).strip(), len(merged)) for u in found] + [len(merged)], dtype="int64")
        return table[np.where(raw >= 0, raw, len(found))]

    return (Dimension(column, codes, [*merged, MISSING_LABEL], note, column=column, key_file=key_file, raw_labels=raw,
                      shown=[*merged, shown(MISSING_LABEL, w)]), coder)


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


def _banded(column: str, numbers: Any, bins: Any, min_band: int, w: Words) -> tuple[Dimension, Any]:
    """Numeric bands with edges from the data (:func:`band_ladder`; ``bins`` is the number of bands asked for),
    upper edges inclusive, and the coder."""
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
    if len(edges):
        labels = [f"<= {_edge(edges[0])}"]
        labels += [f"{_edge(edges[i])}–{_edge(edges[i + 1])}" for i in range(len(edges) - 1)]
        labels += [f"> {_edge(edges[-1])}"]
        shown_labels = list(labels)
    else:
        labels, shown_labels = ["all"], [w("dimensions.all_band")]
    note = w("dimensions.bands_from_data", column=column, bands=len(labels), min_band=min_band)
    if len(labels) < count:
        note += w.semicolon + w("dimensions.bands_fewer", count=count)

    def coder(values: Any) -> Any:
        import pandas as pd

        if not (isinstance(values, np.ndarray) and values.dtype.kind == "f"):
            values = pd.to_numeric(pd.Series(list(values), dtype="object"), errors="coerce").to_numpy(dtype="float64")
        codes = np.searchsorted(edges, values, side="left")
        return np.where(np.isfinite(values), codes, len(labels)).astype("int64")

    return (Dimension(column, coder(numbers), [*labels, MISSING_LABEL], note, column=column, kind="banded",
                      shown=[*shown_labels, shown(MISSING_LABEL, w)]), coder)


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
    """The group of a mixed-radix ``code``: each dimension's label as shown (in the caller's language)."""
    labels: dict[str, str] = {}
    for dim in reversed(dims):
        code, index = divmod(code, len(dim.labels))
        labels[dim.name] = dim.label(index)
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
    w: Words | None = None  # the language the filter is described in
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
        return (self.w or english())("dimensions.scope", filter=self.text, kept=f"{kept:,}", total=f"{total:,}")


def parse_where(ds: Dataset, where: Mapping[str, Any] | None, policy: Policy, w: Words | None = None) -> Scope:
    """``{"department": "R&D"}`` or ``{"department": ["R&D", "QA"], "shift": "night"}`` -> a Scope.

    Columns by name or role; values matched as the data has them (trimmed; case and full-width forms
    ignored when that is unambiguous); derived groups (hire_year, hire_quarter), separation kinds on the
    termination-type column and Likert boxes on a Likert item in either language (see
    :mod:`retention_mcp.data.vocabulary`); an unknown value is an error listing close ones."""
    import numpy as np

    w = w or english()
    if where is None or where == {}:
        return Scope(w=w)
    if not isinstance(where, Mapping):
        raise InputError('where must be an object like {"department": "R&D"} or {"department": ["R&D", "QA"]}')
    if len(where) > 3:
        raise InputError("where takes at most 3 columns; filter on fewer at a time")
    scope = Scope(rows=np.ones(ds.rows, dtype=bool), w=w)
    parts = []
    for name, wanted in where.items():
        if is_tenure_band(str(name)):
            raise InputError("where cannot filter on tenure_band (it changes over the period); filter on a column, "
                             "or pass tenure_band as `by` or as estimate_impact's segment")
        dim = build_dimension(ds, str(name), policy, purpose="a where filter", w=w)
        if dim.kind == "banded":
            raise InputError(f"where on {dim.name!r}: it is a number with many values; filter on a column with "
                             "groups, or break down by it with bins")
        values = wanted if isinstance(wanted, list | tuple) else [wanted]
        if not values:
            raise InputError(f"where[{name!r}] is an empty list; give one value or several")
        mask = np.zeros(len(dim.labels), dtype=bool)
        chosen = []
        forced = (forced_cells(ds, [dim], policy.floor) or {}).get((0,))
        for value in values:
            for position in match_labels(ds, dim, value):
                if forced is not None and forced[position]:
                    raise InputError(f"where[{dim.name!r}] = {dim.labels[position]!r} selects a group this linked "
                                     "dataset keeps hidden: comparing it with the joined file alone would show a small "
                                     "group of people. Filter on a population column, or analyse that file on its own")
                if not mask[position]:
                    chosen.append(dim.label(position))
                mask[position] = True
        assert dim.codes is not None
        if bool(mask[dim.codes].all()):
            # Every row's value is listed: the same query as no filter, answered as one (a filter that selects
            # everyone would otherwise change which cells are suppressed, and two such calls could be subtracted).
            scope.notes.append(w("dimensions.where_everyone", name=dim.title(w)))
            continue
        scope.dims.append(dim)
        scope.selected.append(mask)
        scope.rows &= mask[dim.codes]
        parts.append(w("dimensions.where_one", name=dim.title(w), value=chosen[0]) if len(chosen) == 1 else
                     w("dimensions.where_many", name=dim.title(w), values=w.enumeration.join(chosen)))
    scope.text = w.semicolon.join(parts)
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


def match_labels(ds: Dataset, dim: Dimension, value: Any) -> list[int]:
    """The positions of ``dim``'s labels that ``value`` names: one data value, one derived group in either language,
    a separation kind (voluntary / 主动离职 ...) on the termination-type column, or a Likert box (favourable / 好评
    ...) on a Likert item."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise InputError(f"where[{dim.name!r}]: give the value as text or a number, not {value!r}")
    text = _plain(value).strip()
    labels = dim.labels[:-1]  # not "(missing)"
    if text in labels:
        return [labels.index(text)]
    folded = [i for i, label in enumerate(labels) if normalise_word(label) == normalise_word(text)]
    if len(folded) == 1:
        return folded
    if dim.kind != "column" or text.strip("()（）") in ("missing", "缺失"):
        position = match_derived(text, dim.labels)
        if position is not None:
            return [position]
    group = _vocabulary_group(ds, dim, text)
    if group:
        return group
    close = close_matches(text, labels)
    hint = f" Close values: {', '.join(repr(c) for c in close)}." if close else ""
    listing = "" if len(labels) > 30 else f" Its values are: {', '.join(labels)}."
    raise InputError(f"where[{dim.name!r}]: no group {text!r} in the data.{hint}{listing}")


def _vocabulary_group(ds: Dataset, dim: Dimension, text: str) -> list[int]:
    """Labels of ``dim`` in a separation kind or a Likert box named by ``text`` (empty when it names none)."""
    import numpy as np
    import pandas as pd

    if dim.column is None or dim.codes is None:
        return []
    role = ds.roles.role_of(dim.column)
    if role == "termination_type" and ds.separation is not None:
        kind = separation_kind(text)
        if kind in ("voluntary", "involuntary", "other"):
            from retention_mcp.data.dataset import SEP_INVOLUNTARY, SEP_OTHER, SEP_VOLUNTARY

            wanted = {"voluntary": SEP_VOLUNTARY, "involuntary": SEP_INVOLUNTARY, "other": SEP_OTHER}[kind]
            hits = np.bincount(dim.codes[ds.separation == wanted], minlength=len(dim.labels))
            return [int(i) for i in np.flatnonzero(hits[:-1])]
    box = likert_box(text)
    if box is not None:
        from retention_mcp.data.vocabulary import likert_scale

        numbers = pd.to_numeric(pd.Series(dim.labels[:-1]), errors="coerce")
        scale = likert_scale(dim.column, pd.to_numeric(ds.frame[dim.column], errors="coerce"))
        if scale is not None and numbers.notna().all():
            return [i for i, answer in enumerate(numbers) if likert_box_of(float(answer), scale) == box]
    return []
