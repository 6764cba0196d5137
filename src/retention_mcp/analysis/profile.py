"""Group profiles (``describe_groups``): who is in each group, in numbers, against the rest of the population.

Per group (``by``, within a ``where`` scope) and profiled column:

- numbers (pay, tenure, overtime hours, scores): n, mean with a Student t 95% interval, SD, median with a
  distribution-free 95% interval (order statistics), quartiles and IQR (linear interpolation, type 7), and
  the difference of means to the rest of the population with a Welch 95% interval;
- Likert items (1-4 … 0-10, detected as :func:`retention_mcp.data.vocabulary.likert_scale` does): the same,
  plus favourability = top-box share with a Wilson interval and its difference to the rest (Newcombe);
- categories (text, yes/no): the share of each level with a Wilson interval, and the difference to the rest.

Disclosure (:mod:`retention_mcp.data.disclosure`): groups are suppressed as in every breakdown (primary and
secondary, the `where` filter as a slice of the unfiltered table), and then as group means need
(:func:`~retention_mcp.data.disclosure.protect_means`); a level share or a top-box share is a cell of the
table crossed with that column, hidden exactly when a breakdown by both would hide it; a column's figures are
hidden in a group where its few missing values would otherwise be given away. Values of identifying columns
are never profiled; pay per person is never shown, group means of pay are.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.data.cellkey import Cells
from retention_mcp.data.dataset import NO_DATE, Dataset
from retention_mcp.data.dimensions import (
    MISSING_LABEL,
    Dimension,
    Scope,
    build_dimension,
    check_complements,
    combined_codes,
    decode,
    hidden_cells,
    is_tenure_band,
)
from retention_mcp.data.disclosure import Policy, protect_means
from retention_mcp.data.roles import normalise_header
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, all_entries, words

Kind = Literal["numeric", "likert", "categorical"]
PayPeriod = Literal["auto", "monthly", "annual"]
MAX_BY = 3

DEFINITION_KEYS = ("mean", "sd", "median", "iqr", "difference", "favourable", "share", "suppression")


def definitions(w: Words) -> dict[str, str]:
    """What each statistic of the profile is, in ``w``'s language."""
    return {key: w(f"profile.definitions.{key}") for key in DEFINITION_KEYS}


class LevelShare(BaseModel):
    level: str
    count: int | None = Field(description="rows at this level; None when suppressed")
    share: float | None = Field(description="count ÷ rows in the group, a fraction")
    ci_low: float | None = None
    ci_high: float | None = None
    diff_share: float | None = Field(None, description="share − the rest's share, a fraction (0.05 = 5 pp)")
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    significant: bool | None = None
    suppressed: bool = False


class ColumnSummary(BaseModel):
    column: str
    kind: Kind
    n: int | None = Field(None, description="non-missing values used (numbers, Likert items)")
    suppressed: bool = Field(False, description="figures hidden: the group, or a few missing values in it, "
                             "would be given away")
    mean: float | None = None
    mean_ci_low: float | None = None
    mean_ci_high: float | None = None
    sd: float | None = None
    median: float | None = None
    median_ci_low: float | None = None
    median_ci_high: float | None = None
    q1: float | None = None
    q3: float | None = None
    iqr: float | None = None
    diff_mean: float | None = Field(None, description="mean − the rest's mean (Welch interval below)")
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    significant: bool | None = Field(None, description="the difference's 95% interval excludes 0")
    favourable: float | None = Field(None, description="Likert: top-box share, a fraction")
    favourable_ci_low: float | None = None
    favourable_ci_high: float | None = None
    favourable_diff: float | None = Field(None, description="top-box share − the rest's, a fraction")
    favourable_diff_ci_low: float | None = None
    favourable_diff_ci_high: float | None = None
    favourable_significant: bool | None = None
    favourable_suppressed: bool = Field(False, description="the top-box share is hidden: it would give away a "
                                        "small cell of the group crossed with this item")
    levels: list[LevelShare] | None = Field(None, description="categories: the share of each level")


class GroupProfile(BaseModel):
    group: dict[str, str] = Field(description="the group's value for each `by` dimension")
    label: str
    count: int | None = Field(description="rows (people) in the group; None when suppressed")
    suppressed: bool
    average_annual_cost: float | None = Field(
        None, description="mean pay × the annual factor (12 for monthly pay): calculate_roi's average_annual_cost")
    average_annual_cost_ci_low: float | None = None
    average_annual_cost_ci_high: float | None = None
    columns: list[ColumnSummary] = Field(default_factory=list)


class ProfiledColumn(BaseModel):
    column: str
    kind: Kind
    role: str | None
    scale: str | None = Field(None, description="Likert scale, e.g. '1-4'")
    favourable_definition: str | None = None
    favourable_box: str | None = Field(None, description="the answers counted favourable, e.g. '4-5'")
    note: str | None = None


class PayInfo(BaseModel):
    column: str
    period: Literal["monthly", "annual", "unknown"]
    period_source: str
    annual_factor: float | None = Field(description="12 for monthly pay, 1 for annual; None when unknown")
    note: str


class ProfileResult(Evidenced):
    by: list[str]
    population: str = Field(description="who is profiled: the rows in scope")
    overall: GroupProfile
    groups: list[GroupProfile] = Field(description="groups in label order; suppressed groups last")
    groups_total: int
    suppressed_groups: int
    truncated: bool
    columns: list[ProfiledColumn]
    pay: PayInfo | None = None
    definitions: dict[str, str]
    min_group_size: int
    scope: str | None = None
    notes: list[str] = Field(default_factory=list)
    language: ResultLanguage = "en"


@dataclass
class _Column:
    name: str  # as shown
    kind: Kind
    role: str | None
    values: Any = None  # float array (numeric, likert)
    dim: Dimension | None = None  # categorical levels, or the Likert item's values as a dimension
    scale: tuple[int, int, int] | None = None  # (low, high, first favourable)
    note: str | None = None
    derived: bool = False
    quantile_min: int = 0  # fewer values than this: no medians or quartiles (they are single people's values)


# -- columns


def resolve_pay_period(ds: Dataset, column: str, requested: str, catalog: Mapping[str, Any],
                       w: Words | None = None) -> PayInfo:
    w = w or words("en")
    factors = {str(k): float(v) for k, v in (catalog.get("annual_factor") or {"monthly": 12, "annual": 1}).items()}
    if requested in ("monthly", "annual"):
        period, source = requested, w("profile.pay.given")
    else:
        header = normalise_header(column)
        period, source = "unknown", w("profile.pay.no_period", column=column)
        for name, period_words in (catalog.get("pay_period_words") or {}).items():
            hit = next((p for p in period_words or () if normalise_header(p) and normalise_header(p) in header), None)
            if hit is not None:
                period, source = str(name), w("profile.pay.says", column=column, hit=hit)
                break
    factor = factors.get(period)
    note = w(f"profile.pay.{period}", column=column, source=source, factor=f"{factor:g}" if factor else "")
    return PayInfo(column=column, period=period, period_source=source, annual_factor=factor, note=note)  # type: ignore[arg-type]


def _numbers(series: Any) -> Any | None:
    """Float values of a numeric column (or of numbers stored as text); None when it is not numeric."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float64", na_value=math.nan)
    from retention_mcp.analysis.scorecard import to_number

    present = series.dropna()
    if present.empty:
        return None
    parsed = to_number(series)
    if parsed.notna().sum() < 0.9 * len(present):
        return None
    return parsed.to_numpy(dtype="float64", na_value=math.nan)


def _derived_tenure_years(ds: Dataset) -> Any | None:
    import numpy as np

    if ds.hire is None or ds.as_of is None or not bool((ds.hire != NO_DATE).any()):
        return None
    end = np.minimum(ds.term, ds.as_of) if ds.term is not None else np.full(ds.rows, ds.as_of)
    usable = (ds.hire != NO_DATE) & (end >= ds.hire)
    return np.where(usable, (end - ds.hire) / 365.25, np.nan)


def resolve_columns(ds: Dataset, names: Sequence[str] | None, by_names: Sequence[str], policy: Policy,
                    catalog: Mapping[str, Any], notes: list[str], w: Words | None = None) -> list[_Column]:
    """The columns to profile (named, or the default roles), each classified as numeric, Likert or categorical."""
    import numpy as np

    from retention_mcp.data.vocabulary import likert_scale

    w = w or words("en")
    max_columns = int(catalog.get("max_columns", 15))
    max_levels = int(catalog.get("max_levels", 20))
    derived_name = w("profile.derived_tenure")
    derived_names = {derived_name, str(catalog.get("derived_tenure_name", "tenure_years (from hire dates)")),
                     *(w_.get("zh", "") for w_ in [all_entries().get("profile.derived_tenure", {})])}
    explicit = names is not None
    wanted: list[str] = []
    if explicit:
        if isinstance(names, str):
            names = [names]
        if not names:
            raise InputError("columns is an empty list; name the columns to profile, e.g. [\"MonthlyIncome\", "
                             "\"JobSatisfaction\"], or leave it out for the defaults")
        if len(names) > max_columns:
            raise InputError(f"columns names {len(names)} columns; profile at most {max_columns} at a time")
        wanted = [str(n) for n in names]
    else:
        for role in catalog.get("default_roles") or ():
            if role in ds.roles.multi:
                wanted += ds.roles.multi[role]
            elif ds.roles.get(role) is not None:
                wanted.append(ds.roles.get(role))  # type: ignore[arg-type]
        has_tenure = any(ds.roles.get(r) is not None for r in ("tenure_years", "tenure_months", "tenure_days"))
        if not has_tenure and _derived_tenure_years(ds) is not None:
            wanted.insert(1 if ds.roles.get("pay") is not None else 0, derived_name)
    by_columns = set()
    for name in by_names:
        if not is_tenure_band(name):
            with contextlib.suppress(InputError):
                by_columns.add(ds.column(name, purpose="a breakdown dimension", allow_people=True))
    out: list[_Column] = []
    seen: set[str] = set()
    for name in wanted:
        if name in derived_names or (explicit and normalise_header(name) in ("tenure", "tenureyears")
                                    and name not in ds.columns and ds.roles.get("tenure_years") is None):
            values = _derived_tenure_years(ds)
            if values is None:
                raise InputError(f"{name!r}: the file has no tenure column and no hire dates to derive tenure from")
            if derived_name not in seen:
                seen.add(derived_name)
                out.append(_Column(derived_name, "numeric", "tenure_years", values=values, derived=True,
                                   note=w("profile.derived_tenure_note")))
            continue
        column = ds.column(name, purpose="a column to profile")
        if column in seen:
            continue
        seen.add(column)
        if column in by_columns:
            notes.append(w("profile.by_not_profiled", column=column))
            continue
        role = ds.roles.role_of(column)
        series = ds.frame[column]
        import pandas as pd

        if pd.api.types.is_datetime64_any_dtype(series) or role in ("hire_date", "termination_date"):
            if explicit:
                raise InputError(f"{column!r} holds dates; profile tenure instead (e.g. columns=[\"tenure\"])")
            continue
        sensitive = w.paren(w("profile.sensitive_note")) if ds.is_sensitive(column) else ""
        values = _numbers(series)
        if values is not None:
            if not np.isfinite(values).any():
                if explicit:
                    raise InputError(f"{column!r} has no numbers to profile")
                continue
            scale = likert_scale(column, pd.Series(values).dropna())
            if scale is not None:
                low, high, top = scale
                dim = build_dimension(ds, column, policy, purpose="a column to profile", w=w)
                out.append(_Column(column, "likert", role, values=values, dim=dim, scale=scale,
                                   note=w("profile.likert_note", low=low, high=high, top=top) + sensitive))
            else:
                quantile_min = int(catalog.get("pay_quantiles_min_people", 20)) if role == "pay" else 0
                note = w("profile.sensitive_note") if sensitive else None
                if quantile_min:
                    note = w("profile.pay_quantiles", count=quantile_min)
                out.append(_Column(column, "numeric", role, values=values, note=note, quantile_min=quantile_min))
            continue
        dim = build_dimension(ds, column, policy, purpose="a column to profile", w=w)
        if len(dim.labels) - 1 > max_levels:
            if explicit:
                raise InputError(f"{column!r} has {len(dim.labels) - 1} distinct values; profile columns with at "
                                 f"most {max_levels} levels, or use it as `by`")
            continue
        out.append(_Column(column, "categorical", role, dim=dim,
                           note=w("profile.sensitive_note") if sensitive else None))
    if not out:
        raise InputError("no column to profile: the file has none of pay, tenure, satisfaction, overtime, "
                         "performance or survey items (by role); name them with columns=[...]")
    return out[:max_columns]


# -- groups


def _lattice_margins(lattice: Mapping[tuple, Any], ndim: int, offset: int = 0) -> dict[int, Any]:
    """For the cells over dims offset..offset+ndim-1: whether the margin along each of them is hidden."""
    cells = tuple(range(offset, offset + ndim))
    return {axis: lattice[tuple(d for d in cells if d != offset + axis)] for axis in range(ndim)}


def describe_groups(ds: Dataset, *, by: Sequence[str] = (), columns: Sequence[str] | None = None, policy: Policy,
                    min_group_size: int | None = None, scope: Scope | None = None,
                    bins: Mapping[str, Any] | None = None, pay_period: str = "auto",
                    catalog: Mapping[str, Any] | None = None, max_groups: int = 30,
                    w: Words | None = None) -> ProfileResult:
    """Profile each group of ``by`` within ``scope``: see the module docstring. Texts in ``w``'s language."""
    import numpy as np

    w = w or words("en")
    catalog = dict(catalog or {})
    k = policy.min_group(min_group_size)
    scope = scope or Scope()
    if isinstance(by, str):
        by = [by]
    by = [str(b) for b in by]
    if len(by) > MAX_BY:
        raise InputError(f"`by` takes at most {MAX_BY} dimensions for a profile; cross fewer at a time")
    if len(set(by)) != len(by):
        raise InputError("`by` names the same dimension twice")
    if pay_period not in ("auto", "monthly", "annual"):
        raise InputError("pay_period must be 'auto', 'monthly' or 'annual'")
    bins = dict(bins or {})
    if unknown := [name for name in bins if name not in by]:
        raise InputError(f"bins names {', '.join(map(str, unknown))}, which is not in `by`")
    notes: list[str] = []
    # tenure_band: each person's band (at the termination date or the latest date), on the bands every tool uses
    dims = [build_dimension(ds, name, policy, bins.get(name), w=w, static_tenure=True) for name in by]
    notes += [d.note for d in dims if d.note]
    profiled = resolve_columns(ds, columns, by, policy, catalog, notes, w)
    counter = policy.cells(ds)
    if counter.protected:
        # Spreads, medians and quartiles are not perturbed: in protected mode only larger groups show them.
        protected_min = int(catalog.get("protected_quantiles_min_people", 20))
        for column in profiled:
            column.quantile_min = max(column.quantile_min, protected_min)
        notes.append(w("profile.protected_quantiles", count=protected_min))
    in_scope = scope.rows if scope.active else np.ones(ds.rows, dtype=bool)
    everyone = np.ones(ds.rows, dtype=bool)

    # Groups: the count policy (as every breakdown) and then the rule for means.
    lattice = hidden_cells(ds, scope, dims, k, everyone)
    if bool(lattice[()]):
        raise InputError(f"the filter {scope.text} selects a group that is suppressed (fewer than {k} people, or "
                         "hidden so that a small group cannot be worked out by subtraction); widen the filter")
    check_complements(ds, scope, k)
    shape = tuple(len(d.labels) for d in dims)
    code = combined_codes(dims, ds.rows) if dims else np.zeros(ds.rows, dtype="int64")
    sizes = np.bincount(code[in_scope], minlength=int(np.prod(shape, dtype="int64")) if shape else 1)
    if dims:
        cell_hidden = protect_means(sizes.reshape(shape).astype("float64"), lattice[tuple(range(len(dims)))], k,
                                    _lattice_margins(lattice, len(dims)))
        flat_hidden = cell_hidden.reshape(-1)
    else:
        flat_hidden = np.zeros(1, dtype=bool)

    pay_column = ds.roles.get("pay")
    pay = None
    pay_profiled = next((c for c in profiled if c.name == pay_column and c.kind != "categorical"), None)
    if pay_profiled is not None:
        pay = resolve_pay_period(ds, pay_column, pay_period, catalog, w)  # type: ignore[arg-type]
    elif pay_period != "auto":
        notes.append(w("profile.pay_ignored"))

    # Per column: the cells the policy hides (a column's own small cells; Likert top box; category levels).
    extras = {c.name: _column_cells(ds, scope, dims, c, k, code, in_scope) for c in profiled}

    overall_profile = _profile(ds, w("profile.text.overall"), {}, in_scope, None, profiled, extras, (), len(dims),
                               pay, hidden=False, counter=counter)
    groups: list[GroupProfile] = []
    if dims:
        present = np.flatnonzero((sizes > 0) | flat_hidden)
        if len(present) > 500:
            raise InputError("too many groups to profile; pick dimensions with fewer values")
        for cell in present:
            group = decode(int(cell), dims)
            label = " / ".join(group.values())
            mask = in_scope & (code == cell)
            index = np.unravel_index(int(cell), shape)
            groups.append(_profile(ds, label, group, mask, in_scope & ~mask, profiled, extras, index, len(dims), pay,
                                   hidden=bool(flat_hidden[cell]), counter=counter))
        groups.sort(key=lambda g: (g.suppressed, g.label))
    if overall_profile.count is not None and overall_profile.count < 2 * k and dims:
        notes.append(w("profile.few_people"))
    columns_info = [ProfiledColumn(column=c.name, kind=c.kind, role=c.role,
                                   scale=f"{c.scale[0]}-{c.scale[1]}" if c.scale else None,
                                   favourable_definition=w("profile.favourable_definition", low=c.scale[0],
                                                           high=c.scale[1], top=c.scale[2]) if c.scale else None,
                                   favourable_box=f"{c.scale[2]}-{c.scale[1]}" if c.scale else None,
                                   note=c.note) for c in profiled]
    kept = counter.count(in_scope)
    population = w("profile.population", kept=f"{kept:,}",
                   where=w("profile.population_where", filter=scope.text) if scope.active
                   else w("profile.population_all"),
                   who=w("profile.population_event") if ds.shape == "event" else "")
    truncated = len(groups) > max_groups
    return ProfileResult(by=[d.name for d in dims], population=population, overall=overall_profile,
                         groups=groups[:max_groups], groups_total=len(groups),
                         suppressed_groups=sum(g.suppressed for g in groups), truncated=truncated,
                         columns=columns_info, pay=pay, definitions=definitions(w), min_group_size=k,
                         scope=scope.describe(counter) or None, notes=notes, language=w.language)


def _column_cells(ds: Dataset, scope: Scope, dims: list[Dimension], column: _Column, k: int, code: Any,
                  in_scope: Any) -> dict[str, Any]:
    """The policy's hidden cells for one profiled column: 'present' — per group (flat over the `by` cross) and for
    the overall, whether the statistics of the people with a value are hidden; 'favourable' and 'answered' (Likert
    top box, a selection) and 'levels' (categories) as lattices over the `by` dimensions plus the column's own axis.

    A column's statistics are hidden only where its own cell is small: the people with a value in the group, with
    the complementary rule for counts and for means across the groups (so a small cell cannot be had by
    subtraction). A missing value is not a small group: 3 blanks in a group of 311 hide nothing."""
    import numpy as np

    out: dict[str, Any] = {}
    if column.kind in ("numeric", "likert"):
        present = np.isfinite(column.values)
        if not present.all():
            lattice = hidden_cells(ds, scope, dims, k, present)
            cells: Any = np.zeros(1, dtype=bool)
            if dims:
                shape = tuple(len(d.labels) for d in dims)
                sizes = np.bincount(code[in_scope & present], minlength=int(np.prod(shape, dtype="int64")))
                cells = protect_means(sizes.reshape(shape).astype("float64"), lattice[tuple(range(len(dims)))], k,
                                      _lattice_margins(lattice, len(dims))).reshape(-1)
            out["present"] = {"overall": bool(lattice[()]), "cells": cells,
                              "shape": tuple(len(d.labels) for d in dims)}
    if column.kind == "likert":
        dim = column.dim
        assert dim is not None and column.scale is not None
        top = column.scale[2]
        favourable = np.array([_is_number(label) and float(label) >= top for label in dim.labels])
        answered = np.array([label != MISSING_LABEL for label in dim.labels])
        # The top-box share gives away both the favourable and the not-favourable answers: each must be shown.
        for name, mask in (("favourable", favourable), ("unfavourable", answered & ~favourable),
                           ("answered", answered)):
            selection = Scope(dims=[*scope.dims, dim], selected=[*scope.selected, mask])
            out[name] = hidden_cells(ds, selection, dims, k, np.ones(ds.rows, dtype=bool))
    if column.kind == "categorical":
        assert column.dim is not None
        out["levels"] = hidden_cells(ds, scope, [*dims, column.dim], k, np.ones(ds.rows, dtype=bool))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _profile(ds: Dataset, label: str, group: dict[str, str], mask: Any, rest: Any, profiled: list[_Column],
             extras: Mapping[str, Mapping[str, Any]], index: tuple, n_by: int, pay: PayInfo | None, *,
             hidden: bool, counter: Cells) -> GroupProfile:
    """One row of the profile: ``index`` is the group's cell over the ``n_by`` dimensions (() for the overall
    row); a column's own axis in the lattices of :func:`_column_cells` comes after them (position ``n_by``)."""
    if hidden:
        return GroupProfile(group=group, label=label, count=None, suppressed=True,
                            columns=[ColumnSummary(column=c.name, kind=c.kind, suppressed=True) for c in profiled])
    import numpy as np

    cells = tuple(range(len(index)))
    summaries = []
    for column in profiled:
        cells_of = extras[column.name]
        if "present" in cells_of:  # the people with a value in this column: their own cell
            present = cells_of["present"]
            flat = int(np.ravel_multi_index(index, present["shape"])) if index else None
            if present["overall"] if flat is None else bool(present["cells"][flat]):
                summaries.append(ColumnSummary(column=column.name, kind=column.kind, suppressed=True))
                continue
        if column.kind == "categorical":
            summaries.append(_levels(column, mask, rest, cells_of["levels"], cells, index, n_by, counter))
        else:
            summaries.append(_numeric(column, mask, rest, cells_of, cells, index, counter))
    profile = GroupProfile(group=group, label=label, count=counter.count(mask), suppressed=False, columns=summaries)
    if pay is not None and pay.annual_factor is not None:
        pay_summary = next((s for s in summaries if s.column == pay.column and not s.suppressed), None)
        if pay_summary is not None and pay_summary.mean is not None:
            factor = pay.annual_factor
            profile.average_annual_cost = pay_summary.mean * factor
            if pay_summary.mean_ci_low is not None and pay_summary.mean_ci_high is not None:
                profile.average_annual_cost_ci_low = pay_summary.mean_ci_low * factor
                profile.average_annual_cost_ci_high = pay_summary.mean_ci_high * factor
    return profile


def _numeric(column: _Column, mask: Any, rest: Any, cells_of: Mapping[str, Any], cells: tuple,
             index: tuple, counter: Cells) -> ColumnSummary:
    """A number or Likert item in one group. Counts and means are the counter's (perturbed in protected mode);
    spreads and order statistics are the group's own, shown from ``column.quantile_min`` values up."""
    import numpy as np

    from retention_mcp.analysis.stats import (
        median_interval,
        newcombe_difference,
        t_interval,
        welch_interval,
        wilson_interval,
    )

    values = column.values
    present = mask & np.isfinite(values)
    mine = values[present]
    if not len(mine):
        return ColumnSummary(column=column.name, kind=column.kind, n=0)
    n = max(1, counter.count(present))
    out = ColumnSummary(column=column.name, kind=column.kind, n=n)
    ordered = np.sort(mine)
    mean = counter.mean(values, mask, measure=column.name)
    assert mean is not None
    sd = float(ordered.std(ddof=1)) if len(ordered) > 1 else None
    out.mean = mean
    if sd is not None and n > 1:
        out.mean_ci_low, out.mean_ci_high = t_interval(mean, sd, n)
    if not counter.protected or len(ordered) >= column.quantile_min:
        out.sd = sd
    q1, median, q3 = (float(q) for q in np.quantile(ordered, [0.25, 0.5, 0.75]))
    if len(ordered) >= column.quantile_min:
        out.median, out.q1, out.q3, out.iqr = median, q1, q3, q3 - q1
        out.median_ci_low, out.median_ci_high = median_interval(ordered)
    others = values[rest & np.isfinite(values)] if rest is not None else None
    if others is not None and len(others) >= 2 and sd is not None:
        other_sd = float(others.std(ddof=1))
        other_mean = counter.mean(values, rest, measure=column.name)
        other_n = max(2, counter.count(rest & np.isfinite(values)))
        assert other_mean is not None
        low, high, _ = welch_interval(mean, sd, n, other_mean, other_sd, other_n)
        out.diff_mean = mean - other_mean
        out.diff_ci_low, out.diff_ci_high = low, high
        if low is not None and high is not None:
            out.significant = not (low <= 0 <= high)
    if column.kind == "likert":
        assert column.scale is not None
        top = column.scale[2]
        out.favourable_suppressed = any(
            bool(cells_of[name][cells][index]) if cells else bool(cells_of[name][()])
            for name in ("favourable", "unfavourable", "answered"))
        if not out.favourable_suppressed:
            k1 = min(n, counter.count(present & (values >= top)))
            out.favourable = k1 / n
            out.favourable_ci_low, out.favourable_ci_high = wilson_interval(k1, n)
            if others is not None and len(others):
                n2 = max(1, counter.count(rest & np.isfinite(values)))
                k2 = min(n2, counter.count(rest & np.isfinite(values) & (values >= top)))
                diff, low, high = newcombe_difference(k1, n, k2, n2)
                out.favourable_diff, out.favourable_diff_ci_low, out.favourable_diff_ci_high = diff, low, high
                if low is not None and high is not None:
                    out.favourable_significant = not (low <= 0 <= high)
    return out


def _levels(column: _Column, mask: Any, rest: Any, lattice: Mapping[tuple, Any], cells: tuple,
            index: tuple, n_by: int, counter: Cells) -> ColumnSummary:
    import numpy as np

    from retention_mcp.analysis.stats import newcombe_difference, wilson_interval

    dim = column.dim
    assert dim is not None and dim.codes is not None
    hidden = lattice[(*cells, n_by)][index]
    n = counter.count(mask)
    true_counts = np.bincount(dim.codes[mask], minlength=len(dim.labels))
    counts = np.minimum(counter.counts(dim.codes, len(dim.labels), mask), n)
    true_rest = np.bincount(dim.codes[rest], minlength=len(dim.labels)) if rest is not None else None
    rest_n = counter.count(rest) if rest is not None else 0
    rest_counts = np.minimum(counter.counts(dim.codes, len(dim.labels), rest), rest_n) if rest is not None else None
    levels = []
    for position, label in enumerate(dim.labels):
        count = int(counts[position])
        if true_counts[position] == 0 and not bool(hidden[position]) and (true_rest is None
                                                                           or true_rest[position] == 0):
            continue
        if bool(hidden[position]):
            levels.append(LevelShare(level=label, count=None, share=None, suppressed=True))
            continue
        low, high = wilson_interval(count, n)
        level = LevelShare(level=label, count=count, share=count / n if n else None, ci_low=low, ci_high=high)
        if rest_counts is not None and rest_n:
            diff, d_low, d_high = newcombe_difference(count, n, int(rest_counts[position]), rest_n)
            level.diff_share, level.diff_ci_low, level.diff_ci_high = diff, d_low, d_high
            if d_low is not None and d_high is not None:
                level.significant = not (d_low <= 0 <= d_high)
        levels.append(level)
    levels.sort(key=lambda item: (item.level == MISSING_LABEL, item.suppressed, -(item.count or 0), item.level))
    return ColumnSummary(column=column.name, kind="categorical", levels=levels)


# -- text


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _star(flag: bool | None) -> str:
    return "*" if flag else ""


def _cell(summary: ColumnSummary, level: str | None, w: Words) -> str:
    from retention_mcp.units import percent

    if summary.suppressed:
        return w("common.suppressed")
    if summary.kind == "categorical":
        found = next((lv for lv in summary.levels or [] if lv.level == level), None)
        if found is None:
            return "0.0%"
        if found.suppressed or found.share is None:
            return w("common.suppressed")
        return f"{percent(found.share)}{_star(found.significant)}"
    if summary.kind == "likert" and summary.favourable is not None:
        return w("profile.text.fav", share=percent(summary.favourable), star=_star(summary.favourable_significant))
    if summary.kind == "likert" and summary.favourable_suppressed:
        return w("profile.text.fav_suppressed")
    if summary.mean is None:
        return "—"
    return f"{_money(summary.mean)}{_star(summary.significant)}"


def profile_markdown(result: ProfileResult, max_groups: int = 25, max_columns: int = 8,
                     w: Words | None = None) -> str:
    w = w or words(result.language)
    t = "profile.text"
    shown = result.columns[:max_columns]
    # For a category, show the share of its least common level (OverTime = Yes, not No).
    focus: dict[str, str | None] = {}
    for info in shown:
        if info.kind != "categorical":
            continue
        summary = next(s for s in result.overall.columns if s.column == info.column)
        levels = [lv for lv in summary.levels or [] if not lv.suppressed and lv.level != MISSING_LABEL
                  and lv.share is not None]
        focus[info.column] = min(levels, key=lambda lv: lv.share or 0).level if len(levels) > 1 else (
            levels[0].level if levels else None)
    heads = []
    for info in shown:
        if info.kind == "categorical":
            heads.append(w(f"{t}.col_level", column=info.column, level=focus.get(info.column)))
        elif info.kind == "likert":
            heads.append(w(f"{t}.col_favourable", column=info.column, box=info.favourable_box or ""))
        else:
            heads.append(w(f"{t}.col_mean", column=info.column))
    by = w(f"{t}.by", by=" × ".join(w.option("vocabulary.dimension", b) for b in result.by)) if result.by else ""
    lines = [w(f"{t}.title", by=by, population=result.population), "",
             f"| {w(f'{t}.col_group')} | {w(f'{t}.col_people')} | " + " | ".join(heads) + " |",
             "|---|---:|" + "---:|" * len(heads)]
    for profile in [result.overall, *result.groups[:max_groups]]:
        if profile.suppressed:
            lines.append(f"| {profile.label} | — |" + f" {w('common.suppressed')} |" * len(heads))
            continue
        cells = []
        for info in shown:
            summary = next(s for s in profile.columns if s.column == info.column)
            cells.append(_cell(summary, focus.get(info.column), w))
        lines.append(f"| {profile.label} | {profile.count:,} | " + " | ".join(cells) + " |")
    if result.groups_total > min(max_groups, len(result.groups)):
        lines.append("\n" + w(f"{t}.more_groups", count=result.groups_total - min(max_groups, len(result.groups)),
                               truncated=w(f"{t}.truncated") if result.truncated else ""))
    if len(result.columns) > max_columns:
        lines.append("\n" + w(f"{t}.more_columns", count=len(result.columns) - max_columns,
                               columns=w.enumeration.join(c.column for c in result.columns[max_columns:])))
    if result.by:
        lines.append("\n" + w(f"{t}.star"))
    if result.pay is not None:
        lines.append("\n" + w(f"{t}.pay", column=result.pay.column, note=result.pay.note))
        if result.pay.annual_factor is not None:
            costs = [(p.label, p.average_annual_cost, p.average_annual_cost_ci_low, p.average_annual_cost_ci_high)
                     for p in [result.overall, *result.groups[:max_groups]]
                     if not p.suppressed and p.average_annual_cost is not None]
            if costs:
                lines.append(w(f"{t}.costs", costs=w.semicolon.join(
                    w(f"{t}.cost_item", label=label, cost=_money(cost), low=_money(low), high=_money(high))
                    for label, cost, low, high in costs[:12])))
    lines.append("\n" + w(f"{t}.suppressed_line", k=result.min_group_size))
    for note in result.notes:
        lines.append(f"\n{w('common.note')}{w.colon}{note}")
    return "\n".join(lines)
