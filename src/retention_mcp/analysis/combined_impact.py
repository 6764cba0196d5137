"""Several initiatives on one population at once, without double counting (``estimate_combined_impact``).

Each initiative i targets a segment S_i and lowers its turnover by a relative reduction r_i: given ("by 30%"), or
from a reference group R_i (S_i leaves at R_i's rate: r_i = 1 − p_R ÷ p_S, as ``estimate_impact`` reads it).
Segments may overlap — night-shift staff who are also new hires are in two segments — and a person is counted
once, under one stated rule:

- ``multiply`` (default): effects act independently on a person's turnover, so someone in segments i and j keeps
  (1 − r_i)(1 − r_j) of it: 30% and 20% make 44%, not 50%;
- ``largest``: only the strongest initiative a person is in applies (30% and 20% make 30%).

The population in scope is split into cells: the people with the same membership in every segment and every
reference group (for one initiative: segment, reference, the rest — exactly ``estimate_impact``'s groups). With
n_c the headcount (employees, or average headcount for event data), x_c the leavers and p_c = x_c ÷ n_c of cell c,
and r_c the combined reduction of the initiatives whose segments contain c:

- leavers avoided A = f · Σ_c r_c · x_c, f = 12 ÷ months (annualised; 1 for a snapshot);
- each initiative alone: A_i = f · r_i · x_{S_i}; the sum of these minus A is what adding them up would double count;
- new overall rate = f · (L − A ÷ f) ÷ N, L the leavers and N the headcount in scope.

One 95% interval: each cell's rate is an estimate (binomial p(1 − p) ÷ n for a share of people, Poisson x ÷ n² for
leavers over an average headcount) and cells are independent; A is a smooth function of the cell rates (the
reference reductions are ratios of them), so its variance is Σ_c (∂A/∂p_c)² Var(p_c) (delta method; exact when no
initiative uses a reference). The new rate's interval follows from the same gradient.

Privacy: every segment and reference must be a group a breakdown would show, and every non-empty cell must hold at
least the minimum group size — otherwise the combined figure minus the single ones would give a small cell's
leavers by subtraction — so such a request is refused, without saying how small the cell is.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.analysis.impact import (
    RoiInputs,
    Selection,
    check_disjoint,
    population_in_scope,
    rate_variance,
    select_group,
)
from retention_mcp.analysis.stats import Z_95
from retention_mcp.analysis.turnover import Definition, turnover_breakdown
from retention_mcp.data.dataset import Dataset
from retention_mcp.data.dimensions import Scope
from retention_mcp.data.disclosure import Policy
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words

Overlap = Literal["multiply", "largest"]
#: Initiatives one call combines.
MAX_INITIATIVES = 6
#: Columns all segments and references may use together (cells are their cross).
MAX_COLUMNS = 4
#: Cross groups the cells are built from; more is a request to narrow, not a plan.
MAX_ATOMS = 5_000
OVERLAP_RULES = {
    "multiply": "a person in several segments keeps the product of what each initiative leaves of their turnover: "
                "the combined reduction is 1 − (1 − r₁)(1 − r₂)…, e.g. 30% and 20% make 44%, not 50%",
    "largest": "a person in several segments gets only the largest of their initiatives' reductions",
}


class InitiativeLine(BaseModel):
    name: str
    segment: str = Field(description="the segment in words, e.g. 'shift = night'")
    scenario: str = Field(description="'reduction' (the rate falls by `reduction`), or the reference group whose rate "
                          "the segment moves to")
    reduction: float = Field(description="relative reduction of the segment's turnover, a fraction (0.3 = 30%); "
                             "from a reference: 1 − reference rate ÷ segment rate")
    headcount: float = Field(description="employees (snapshot) or average headcount (event) in the segment")
    leavers: int
    segment_rate: float = Field(description="the segment's turnover over the period, a fraction")
    reference_rate: float | None = None
    avoided_alone: float = Field(description="leavers avoided a year if this initiative ran alone")
    shared_headcount: float = Field(description="of the segment, people also in another initiative's segment")


class CombinedImpactResult(Evidenced):
    initiatives: list[InitiativeLine]
    overlap_rule: Overlap
    population_headcount: float = Field(description="everyone in scope: employees or average headcount")
    population_leavers: int
    headcount_in_several: float = Field(description="people in two or more segments (counted once)")
    avoided_leavers: float = Field(description="leavers avoided a year by all initiatives together, each person "
                                   "counted once under the overlap rule")
    avoided_ci_low: float | None = None
    avoided_ci_high: float | None = None
    significant: bool | None = Field(None, description="the 95% interval of leavers avoided excludes 0")
    sum_of_single: float = Field(description="the initiatives' leavers avoided added up one by one")
    double_counted: float = Field(description="sum_of_single − avoided_leavers: what adding them up would count "
                                  "twice")
    current_overall_rate: float = Field(description="annual turnover of the population now, a fraction")
    new_overall_rate: float = Field(description="annual turnover with all initiatives: calculate_roi's "
                                    "target_turnover_rate")
    new_overall_ci_low: float | None = None
    new_overall_ci_high: float | None = None
    reduction_pp: float = Field(description="current − new overall rate, percentage points")
    impact_fraction: float = Field(description="avoided ÷ current leavers")
    calculate_roi_inputs: RoiInputs
    method: str
    caveat: str
    shape: Literal["event", "snapshot"]
    formula: str = Field(description="the turnover definition (turnover_breakdown's)")
    period_start: str | None = None
    period_end: str | None = None
    months: float | None = None
    scope: str | None = None
    notes: list[str] = Field(default_factory=list)
    language: ResultLanguage = "en"


@dataclasses.dataclass
class _Initiative:
    name: str
    segment: Selection
    reference: Selection | None
    reduction: float | None  # given; None: from the reference


def combine(reductions: Sequence[float], rule: Overlap) -> float:
    """The reduction a person in several segments gets (see the module docstring)."""
    if not reductions:
        return 0.0
    if rule == "largest":
        return max(reductions)
    kept = 1.0
    for r in reductions:
        kept *= 1.0 - r
    return 1.0 - kept


def _partials(reductions: Sequence[float], rule: Overlap) -> list[float]:
    """∂ combine / ∂ r_i for each i."""
    if rule == "largest":
        best = max(range(len(reductions)), key=lambda i: reductions[i])
        return [1.0 if i == best else 0.0 for i in range(len(reductions))]
    out = []
    for i in range(len(reductions)):
        others = 1.0
        for j, r in enumerate(reductions):
            if j != i:
                others *= 1.0 - r
        out.append(others)
    return out


def estimate_combined(ds: Dataset, *, initiatives: Sequence[Mapping[str, Any]], policy: Policy,
                      overlap: Overlap = "multiply", scope: Scope | None = None, min_group_size: int | None = None,
                      period_start: str | None = None, period_end: str | None = None, denominator: str = "average",
                      separation_type: str = "all", language: str = "en") -> tuple[CombinedImpactResult, Definition]:
    """Leavers avoided by several initiatives together, each person counted once (see the module docstring), and
    the turnover definition the rates follow.

    ``initiatives``: ``[{"name": "night shift", "segment": {"shift": "night"}, "reduction": 0.3}, {"segment":
    {"tenure_band": "<=3 months"}, "reference": {"tenure_band": "1-3 years"}}, ...]``."""
    import numpy as np

    from retention_mcp.plan_words import plan_words

    w = plan_words(language)
    if overlap not in OVERLAP_RULES:
        raise InputError(f"overlap must be one of {', '.join(OVERLAP_RULES)}, not {overlap!r}")
    if not 2 <= len(initiatives) <= MAX_INITIATIVES:
        raise InputError(f"give 2 to {MAX_INITIATIVES} initiatives (one initiative: use estimate_impact)")
    base = population_in_scope(ds, policy=policy, scope=scope, min_group_size=min_group_size,
                               period_start=period_start, period_end=period_end, denominator=denominator,
                               separation_type=separation_type, w=w)
    k, scope, common, whole, definition = base.k, base.scope, base.common, base.whole, base.definition
    shape, months, factor, n_total, l_total = base.shape, base.months, base.factor, base.headcount, base.leavers

    plans = [_initiative(ds, item, number, policy, scope, k, common, w) for number, item in enumerate(initiatives, 1)]
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"give each initiative its own name; these repeat: {', '.join(repeated)}")
    groups: list[Selection] = [p.segment for p in plans] + [p.reference for p in plans if p.reference is not None]
    dims = list(dict.fromkeys(name for g in groups for name in g.names))
    if len(dims) > MAX_COLUMNS:
        raise InputError(f"the segments and references use {len(dims)} columns together ({', '.join(dims)}); "
                         f"combine at most {MAX_COLUMNS}")

    # The cross of every column used, unsuppressed, only to add people up into cells (never shown).
    inside = dataclasses.replace(policy, floor=0)
    atoms = turnover_breakdown(ds, by=dims, policy=inside, scope=scope, max_rows=MAX_ATOMS, w=w, **common)
    if atoms.truncated:
        raise InputError(f"the columns {', '.join(dims)} have more than {MAX_ATOMS:,} groups together; use "
                         "coarser segments")
    member = np.array([[all(row.group.get(d) in g.names[d] for d in g.names) for g in groups]
                       for row in atoms.rows], dtype=bool).reshape(len(atoms.rows), len(groups))
    heads = np.array([row.headcount or 0.0 for row in atoms.rows], dtype=float)
    leavers = np.array([row.leavers or 0 for row in atoms.rows], dtype=float)
    patterns, cell_of = np.unique(member, axis=0, return_inverse=True)
    cell_of = cell_of.reshape(-1)
    n_c = np.bincount(cell_of, weights=heads, minlength=len(patterns))
    x_c = np.bincount(cell_of, weights=leavers, minlength=len(patterns))
    # Whether the segments cover everyone and leave no small cell is decided on the true counts (a yes or a no, as
    # suppression is); in protected mode the estimate itself uses the perturbed cells, which need not add up to the
    # perturbed total exactly.
    n_true, x_true, total_heads, total_leavers = n_c, x_c, n_total, l_total
    if policy.protected:
        exact = dataclasses.replace(inside, mode="exact")
        truth = turnover_breakdown(ds, by=dims, policy=exact, scope=scope, max_rows=MAX_ATOMS, w=w, **common)
        whole_truth = turnover_breakdown(ds, by=[], policy=dataclasses.replace(policy, mode="exact"), scope=scope,
                                         w=w, **common)
        # The two crosses list the same groups, not necessarily in the same order (rows are sorted by figures that
        # the perturbation moves): match them by group.
        exact_rows = {tuple(sorted(row.group.items())): row for row in truth.rows}
        if set(exact_rows) != {tuple(sorted(row.group.items())) for row in atoms.rows}:
            raise AssertionError("the exact and the protected cross of the segments' columns differ in their groups")
        matched = [exact_rows[tuple(sorted(row.group.items()))] for row in atoms.rows]
        n_true = np.bincount(cell_of, weights=np.array([row.headcount or 0.0 for row in matched], dtype=float),
                             minlength=len(patterns))
        x_true = np.bincount(cell_of, weights=np.array([row.leavers or 0 for row in matched], dtype=float),
                             minlength=len(patterns))
        total_heads = float(whole_truth.overall.headcount or 0.0)
        total_leavers = int(whole_truth.overall.leavers or 0)
    if (abs(n_true.sum() - total_heads) > 0.05 * max(1.0, len(patterns))
            or round(float(x_true.sum())) != total_leavers):
        raise InputError("the segments' columns do not cover everyone in scope (rows without a value?); "
                         "filter them out with where or choose other columns")
    occupied = n_true > 0
    if bool(((n_true < k) & occupied).any()) or bool(((x_true > 0) & (n_true < k)).any()):
        raise InputError(f"the initiatives' segments overlap in a group of fewer than {k} people (or leave one that "
                         "small outside them all): the combined figure would reveal it by subtraction. Make the "
                         "segments coarser, drop one, or narrow `where`")
    p_c = np.divide(x_c, n_c, out=np.zeros_like(x_c), where=n_c > 0)
    var_c = np.array([rate_variance(p, n, round(x), shape) for p, n, x in zip(p_c, n_c, x_c, strict=True)])
    segments = patterns[:, :len(plans)]  # cell c is in segment i
    ref_index = {i: len(plans) + j for j, i in enumerate(i for i, p in enumerate(plans) if p.reference is not None)}

    def reductions(p: Any) -> list[float]:
        out = []
        for i, plan in enumerate(plans):
            if plan.reference is None:
                out.append(float(plan.reduction))  # type: ignore[arg-type]
                continue
            in_s, in_r = segments[:, i], patterns[:, ref_index[i]]
            p_s = float((n_c[in_s] * p[in_s]).sum() / n_c[in_s].sum())
            p_r = float((n_c[in_r] * p[in_r]).sum() / n_c[in_r].sum())
            if p_s <= 0:
                raise InputError(f"initiative {plan.name!r}: nobody in its segment left, so there is no turnover to "
                                 "reduce")
            out.append(1.0 - p_r / p_s)
        return out

    r = reductions(p_c)
    r_cell = np.array([combine([r[i] for i in range(len(plans)) if segments[c, i]], overlap)
                       for c in range(len(patterns))])
    avoided_period = float((r_cell * x_c).sum())

    # Delta method: ∂A/∂p_b = n_b r_b + Σ_i W_i ∂r_i/∂p_b, W_i = Σ_{c∈S_i} n_c p_c ∂r_c/∂r_i.
    gradient = n_c * r_cell
    for i, plan in enumerate(plans):
        if plan.reference is None:
            continue
        weight = 0.0
        for c in np.flatnonzero(segments[:, i]):
            members = [j for j in range(len(plans)) if segments[c, j]]
            weight += n_c[c] * p_c[c] * _partials([r[j] for j in members], overlap)[members.index(i)]
        in_s, in_r = segments[:, i], patterns[:, ref_index[i]]
        n_s, n_r = n_c[in_s].sum(), n_c[in_r].sum()
        p_s, p_r = (n_c[in_s] * p_c[in_s]).sum() / n_s, (n_c[in_r] * p_c[in_r]).sum() / n_r
        gradient = gradient + weight * (np.where(in_s, p_r * n_c / (n_s * p_s * p_s), 0.0)
                                        - np.where(in_r, n_c / (n_r * p_s), 0.0))
    se_avoided = math.sqrt(float((gradient ** 2 * var_c).sum()))
    se_remaining = math.sqrt(float(((n_c - gradient) ** 2 * var_c).sum()))
    avoided = avoided_period * factor
    low, high = (avoided_period - Z_95 * se_avoided) * factor, (avoided_period + Z_95 * se_avoided) * factor
    new_rate = (l_total - avoided_period) / n_total
    lines = []
    for i, plan in enumerate(plans):
        in_s = segments[:, i]
        x_s, n_s = float(x_c[in_s].sum()), float(n_c[in_s].sum())
        shared = float(n_c[in_s & (segments.sum(axis=1) > 1)].sum())
        ref_rate = None
        if plan.reference is not None:
            in_r = patterns[:, ref_index[i]]
            ref_rate = float(x_c[in_r].sum() / n_c[in_r].sum())
        scenario = ("reduction" if plan.reference is None else plan.reference.label)
        lines.append(InitiativeLine(name=plan.name, segment=plan.segment.label, scenario=scenario, reduction=r[i],
                                    headcount=round(n_s, 2), leavers=round(x_s), segment_rate=x_s / n_s,
                                    reference_rate=ref_rate, avoided_alone=r[i] * x_s * factor,
                                    shared_headcount=round(shared, 2)))
    several = float(n_c[segments.sum(axis=1) > 1].sum())
    sum_single = sum(line.avoided_alone for line in lines)
    notes = []
    if any(value < 0 for value in r):
        notes.append(w("plan.combined.notes.adds_leavers"))
    if shape == "snapshot":
        notes.append(w("plan.combined.notes.snapshot"))
    elif months != 12:
        notes.append(w("plan.combined.notes.period", months=f"{months:g}"))
    method = w("plan.combined.method_text", variance=w(f"plan.combined.variance.{shape}"), formula=definition.formula)
    current_annual, new_annual = l_total / n_total * factor, new_rate * factor
    return CombinedImpactResult(
        initiatives=lines, overlap_rule=overlap, population_headcount=round(n_total, 2), population_leavers=l_total,
        headcount_in_several=round(several, 2),
        avoided_leavers=avoided, avoided_ci_low=low, avoided_ci_high=high,
        significant=not (low <= 0 <= high) if se_avoided > 0 else None,
        sum_of_single=sum_single, double_counted=sum_single - avoided,
        current_overall_rate=current_annual, new_overall_rate=new_annual,
        new_overall_ci_low=max(0.0, new_rate - Z_95 * se_remaining / n_total) * factor,
        new_overall_ci_high=(new_rate + Z_95 * se_remaining / n_total) * factor,
        reduction_pp=(current_annual - new_annual) * 100, impact_fraction=avoided_period / l_total,
        calculate_roi_inputs=RoiInputs(headcount=round(n_total, 2), current_turnover_rate=current_annual,
                                       target_turnover_rate=new_annual),
        method=method, caveat=w("plan.combined.caveat"), shape=shape, formula=definition.formula,
        period_start=definition.period_start, period_end=definition.period_end, months=definition.months,
        scope=whole.scope, notes=notes, language=w.language), definition


def _initiative(ds: Dataset, item: Mapping[str, Any], number: int, policy: Policy, scope: Scope, k: int,
                common: Mapping[str, Any], w: Words) -> _Initiative:
    from retention_mcp.units import parse_rate

    if not isinstance(item, Mapping):
        raise InputError(f"initiative {number} must be an object like {{\"name\": \"night shift\", \"segment\": "
                         "{\"shift\": \"night\"}, \"reduction\": 0.3}")
    unknown = set(item) - {"name", "segment", "reduction", "reference"}
    if unknown:
        raise InputError(f"initiative {number}: unknown key(s) {', '.join(sorted(unknown))}; an initiative has name, "
                         "segment and one of reduction or reference")
    if (item.get("reduction") is not None) == (item.get("reference") is not None):
        raise InputError(f"initiative {number}: give exactly one of reduction (e.g. 0.3 or '30%') or reference (a "
                         "group whose rate the segment moves to)")
    segment, _ = select_group(ds, item.get("segment"), f"initiative {number} segment", policy, scope, k, common,
                              w)
    reference = None
    reduction = None
    if item.get("reference") is not None:
        reference, _ = select_group(ds, item["reference"], f"initiative {number} reference", policy, scope, k,
                                    common, w)
        check_disjoint(segment, reference)
    else:
        try:
            reduction = parse_rate(item["reduction"])
        except ValueError as exc:
            raise InputError(f"initiative {number} reduction: {exc}") from None
        if not 0 < reduction <= 1:
            raise InputError(f"initiative {number}: reduction must be above 0 and at most 1 (0.3 = the segment's "
                             f"turnover falls by 30%), not {reduction!r}")
    name = str(item.get("name") or segment.label).strip()[:100]
    return _Initiative(name=name, segment=segment, reference=reference, reduction=reduction)


def combined_markdown(result: CombinedImpactResult, language: str | None = None) -> str:
    """The result as the model and the reader see it, in ``language``."""
    from retention_mcp.plan_words import plan_words
    from retention_mcp.units import percent

    w = plan_words(language or result.language)
    period = (w("plan.combined.period_event", start=result.period_start, end=result.period_end)
              if result.shape == "event" else w("plan.combined.period_snapshot"))
    lines = [w("plan.combined.title", period=period, rule=w(f"plan.combined.rule.{result.overlap_rule}")), "",
             w("plan.combined.columns"), "|" + "---|" * 8]
    for item in result.initiatives:
        effect = (w("plan.combined.falls_by", reduction=percent(item.reduction, 0)) if item.scenario == "reduction"
                  else w("plan.combined.reference", group=item.scenario, rate=percent(item.reference_rate)))
        lines.append(f"| {item.name} | {item.segment} | {effect} | {item.headcount:g} | {percent(item.segment_rate)} "
                     f"| {percent(item.reduction)} | {item.avoided_alone:.1f} | {item.shared_headcount:g} |")
    significance = w("plan.combined.not_significant") if result.significant is False else ""
    lines += ["", w("plan.combined.avoided", avoided=f"{result.avoided_leavers:.1f}",
                    low=f"{result.avoided_ci_low:.1f}", high=f"{result.avoided_ci_high:.1f}",
                    significance=significance)]
    if result.headcount_in_several:
        lines.append(w("plan.combined.overlap", several=f"{result.headcount_in_several:g}",
                       single=f"{result.sum_of_single:.1f}", double=f"{result.double_counted:.1f}"))
    else:
        lines.append(w("plan.combined.no_overlap", single=f"{result.sum_of_single:.1f}"))
    lines.append(w("plan.combined.overall", current=percent(result.current_overall_rate),
                   new=percent(result.new_overall_rate), low=percent(result.new_overall_ci_low),
                   high=percent(result.new_overall_ci_high), pp=f"{result.reduction_pp:.1f}",
                   fraction=percent(result.impact_fraction)))
    roi = result.calculate_roi_inputs
    lines += ["", w("plan.combined.roi", headcount=f"{roi.headcount:g}", current=percent(roi.current_turnover_rate),
                    new=percent(roi.target_turnover_rate)),
              "", f"{w('plan.combined.method')}{'：' if w.zh else ': '}{result.method}", "", w("plan.combined.caveat")]
    if result.scope:
        lines.append("\n" + w("plan.combined.scope", scope=result.scope))
    lines += [f"\n- {note}" for note in result.notes]
    return "\n".join(lines)
