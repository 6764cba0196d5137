"""The expected effect of a retention initiative stated as a change in the data (``estimate_impact``).

Two scenarios on a segment S of the population in scope (everyone in the `where` filter):

- **reference**: S leaves at the rate of a reference group R ("people with overtime leave at the rate of those
  without": S = {OverTime: Yes}, R = {OverTime: No});
- **reduction**: S's rate falls by a fraction r ("the 0-3-month cohort's rate falls by 30%").

Rates are turnover_breakdown's (the same functions): snapshot data, leavers ÷ employees; event data,
separations in the period ÷ average headcount, annualised additively. With n the headcount and p the rate of
S, R and O (the rest of the population in scope, neither S nor R), N = n_S + n_R + n_O and L the leavers:

- avoided leavers A = n_S · (p_S − p_S'), p_S' = p_R or (1 − r)·p_S;
- new overall rate = (L − A) ÷ N;
- impact fraction = A ÷ L (the share of today's leavers avoided; the potential impact fraction);
- Levin's population attributable fraction over S ∪ R: PAF = P_e(RR − 1) ÷ (1 + P_e(RR − 1)), P_e = n_S ÷
  (n_S + n_R), RR = p_S ÷ p_R; equal to the impact fraction when S and R make up the whole population.

Uncertainty (95%): each group's rate is an estimate — binomial variance p(1 − p)/n for a share of people
(snapshot), Poisson variance x/H² for leavers over an average headcount (event) — and the groups are
independent. A and the new rate are linear in the rates, so their variances are exact sums; the impact
fraction and the PAF use the delta method on ln(1 − fraction) (the usual transform, Walter 1975), mapped
back. Headcounts and group sizes are the company's own, taken as known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.analysis.initiatives import InitiativeUsed
from retention_mcp.analysis.stats import Z_95, poisson_interval, wilson_interval
from retention_mcp.analysis.turnover import Definition, turnover_breakdown
from retention_mcp.data.dataset import Dataset
from retention_mcp.data.dimensions import TENURE_BAND, TENURE_BAND_LABELS, Scope, is_tenure_band, parse_where
from retention_mcp.data.disclosure import Policy
from retention_mcp.data.roles import normalise_header
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

#: Headcounts are rounded to 2 decimals in turnover_breakdown's rows: sums agree within this.
HEADCOUNT_TOLERANCE = 0.05

CAVEAT = ("An association in this company's data, not a proven cause: the segment may differ from the reference "
          "in other ways (role, pay, tenure, manager), so an initiative that removes only the named difference can "
          "achieve less. The interval covers sampling noise in the rates, not that.")


class RateLine(BaseModel):
    label: str = Field(description="the group in words, e.g. 'OverTime = Yes'")
    headcount: float = Field(description="employees (snapshot) or average headcount over the period (event)")
    leavers: int
    rate: float | None = Field(description="leavers ÷ headcount over the period (or the file), a fraction")
    annualised_rate: float | None = Field(None, description="event data: rate × 12 ÷ months")
    ci_low: float | None = Field(None, description="95% interval of the rate: Wilson (snapshot) or exact Poisson "
                                 "(event)")
    ci_high: float | None = None


class RoiInputs(BaseModel):
    headcount: float = Field(description="calculate_roi headcount: the population in scope")
    current_turnover_rate: float = Field(description="calculate_roi current_turnover_rate (annual, fraction)")
    target_turnover_rate: float = Field(description="calculate_roi target_turnover_rate = new_overall_rate")


class ImpactResult(Evidenced):
    scenario: Literal["reference", "reduction"]
    scenario_text: str
    population: RateLine = Field(description="everyone in scope (the `where` filter)")
    segment: RateLine
    reference: RateLine | None = None
    rest: RateLine | None = Field(None, description="the rest of the population in scope (neither segment nor "
                                  "reference); its rate does not change")
    segment_new_rate: float = Field(description="the segment's rate under the scenario (same period as `rate`)")
    relative_risk: float | None = Field(None, description="segment rate ÷ reference rate")
    avoided_leavers: float = Field(description="expected leavers avoided per year (snapshot: per period the flag "
                                   "covers)")
    avoided_ci_low: float | None = None
    avoided_ci_high: float | None = None
    significant: bool | None = Field(None, description="the interval of avoided leavers excludes 0")
    current_overall_rate: float = Field(description="annual turnover of the population now, a fraction")
    new_overall_rate: float = Field(description="annual turnover under the scenario: calculate_roi's "
                                    "target_turnover_rate")
    new_overall_ci_low: float | None = None
    new_overall_ci_high: float | None = None
    reduction_pp: float = Field(description="current − new overall rate, percentage points")
    impact_fraction: float | None = Field(None, description="avoided ÷ current leavers (potential impact fraction)")
    impact_fraction_ci_low: float | None = None
    impact_fraction_ci_high: float | None = None
    paf: float | None = Field(None, description="Levin's population attributable fraction over segment ∪ "
                              "reference (reference scenario)")
    paf_ci_low: float | None = None
    paf_ci_high: float | None = None
    exposure_share: float | None = Field(None, description="P_e = segment ÷ (segment + reference) headcount")
    calculate_roi_inputs: RoiInputs
    method: str
    caveat: str
    definition: Definition = Field(description="the turnover definition used (turnover_breakdown's)")
    scope: str | None = None
    initiative: InitiativeUsed | None = Field(None, description="the catalog initiative the reduction came from, "
                                              "with its evidence and the low / base / high scenarios")
    notes: list[str] = Field(default_factory=list)


@dataclass
class _Selection:
    label: str
    names: dict[str, set[str]]  # dimension name -> labels selected
    heads: float
    leavers: int
    rows: Any  # static row mask, or None when tenure_band is involved


def _tenure_labels(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    if not values:
        raise InputError("tenure_band: give one band or several")
    chosen = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise InputError(f"tenure_band: give a band as text, e.g. '<=3 months', not {item!r}")
        wanted = normalise_header(str(item)).replace("≤", "<=")
        match = next((label for label in TENURE_BAND_LABELS if normalise_header(label) == wanted), None)
        if match is None:
            raise InputError(f"tenure_band has no band {item!r}; bands: {', '.join(TENURE_BAND_LABELS)}")
        chosen.append(match)
    return chosen


def _parse_spec(ds: Dataset, spec: Any, what: str, policy: Policy) -> tuple[list[str], dict[str, set[str]], Any, str]:
    """(breakdown dimensions, labels selected per dimension, static row mask or None, text)."""
    import numpy as np

    if not isinstance(spec, Mapping) or not spec:
        raise InputError(f"{what} must be an object like {{\"OverTime\": \"Yes\"}} or {{\"shift\": [\"night\", "
                         "\"evening\"]}} (column or role -> value or values)")
    if len(spec) > 3:
        raise InputError(f"{what} takes at most 3 columns")
    dims: list[str] = []
    names: dict[str, set[str]] = {}
    rows = np.ones(ds.rows, dtype=bool)
    static = True
    parts = []
    for key, value in spec.items():
        if is_tenure_band(str(key)):
            labels = _tenure_labels(value)
            name = TENURE_BAND
            static = False
        else:
            single = parse_where(ds, {str(key): value}, policy)
            dim = single.dims[0]
            name = dim.name
            labels = [label for label, chosen in zip(dim.labels, single.selected[0], strict=True) if chosen]
            rows &= single.rows
        if name in names:
            raise InputError(f"{what} names {name!r} twice")
        dims.append(name)
        names[name] = set(labels)
        parts.append(f"{name} = {labels[0]}" if len(labels) == 1 else f"{name} in ({', '.join(labels)})")
    return dims, names, rows if static else None, "; ".join(parts)


def _select(ds: Dataset, spec: Any, what: str, policy: Policy, scope: Scope, k: int,
            common: Mapping[str, Any]) -> tuple[_Selection, Any]:
    dims, names, rows, text = _parse_spec(ds, spec, what, policy)
    result = turnover_breakdown(ds, by=dims, policy=policy, min_group_size=k, scope=scope, max_rows=500, **common)
    if result.truncated:
        raise InputError(f"{what}: its columns have too many groups together; name fewer columns")
    picked = [row for row in result.rows if all(row.group.get(name) in labels for name, labels in names.items())]
    if any(row.suppressed for row in picked):
        raise InputError(f"{what} ({text}) includes a group that is suppressed (fewer than {k} people, or hidden so "
                         "that a small group cannot be worked out by subtraction); choose a larger group")
    heads = math.fsum(row.headcount or 0.0 for row in picked)
    leavers = sum(row.leavers or 0 for row in picked)
    if heads <= 0:
        raise InputError(f"{what} ({text}) has no one in scope" + (f" ({scope.text})" if scope.active else "")
                         + " over the period; check the values and the period")
    return _Selection(text, names, heads, leavers, rows), result.definition


def _rate_line(label: str, heads: float, leavers: int, shape: str, months: float | None) -> RateLine:
    rate = leavers / heads if heads > 0 else None
    if shape == "snapshot":
        low, high = wilson_interval(leavers, heads) if heads > 0 else (None, None)
    else:
        low, high = poisson_interval(leavers, heads)
    annualised = rate * 12 / months if (rate is not None and months) else None
    return RateLine(label=label, headcount=round(heads, 2), leavers=leavers, rate=rate, annualised_rate=annualised,
                    ci_low=low, ci_high=high)


def _variance(rate: float, heads: float, leavers: int, shape: str) -> float:
    """Sampling variance of a period rate: binomial for a share of people, Poisson for leavers ÷ headcount."""
    if heads <= 0:
        return 0.0
    if shape == "snapshot":
        return rate * (1 - rate) / heads
    return leavers / (heads * heads)


def _log_fraction_interval(numerator: float, denominator: float, gradient: Mapping[str, float],
                           variances: Mapping[str, float]) -> tuple[float | None, float | None]:
    """CI of 1 − numerator/denominator ... as a fraction F = 1 − numerator ÷ denominator, from the delta
    method on g = ln(numerator) − ln(denominator) = ln(1 − F); ``gradient`` holds ∂g/∂rate."""
    if not (numerator > 0 and denominator > 0):
        return (None, None)
    se = math.sqrt(sum(gradient[key] ** 2 * variances[key] for key in gradient))
    g = math.log(numerator) - math.log(denominator)
    return (1 - math.exp(g + Z_95 * se), 1 - math.exp(g - Z_95 * se))


def estimate_impact(ds: Dataset, *, segment: Any, reference: Any = None, reduction: float | None = None,
                    policy: Policy, scope: Scope | None = None, min_group_size: int | None = None,
                    period_start: str | None = None, period_end: str | None = None, denominator: str = "average",
                    separation_type: str = "all") -> ImpactResult:
    """Leavers avoided, new overall rate and attributable fraction when ``segment``'s rate moves to
    ``reference``'s or falls by ``reduction`` (see the module docstring)."""
    if (reference is None) == (reduction is None):
        raise InputError("give exactly one of reference (a group whose rate the segment moves to, e.g. "
                         "{\"OverTime\": \"No\"}) or reduction (the fraction the segment's rate falls by, e.g. 0.3)")
    if reduction is not None and (isinstance(reduction, bool) or not isinstance(reduction, int | float)
                                  or not math.isfinite(reduction) or not 0 < reduction <= 1):
        raise InputError(f"reduction must be a fraction above 0 and at most 1 (0.3 = the rate falls by 30%), not "
                         f"{reduction!r}")
    if ds.shape is None:
        raise InputError(f"cannot tell who left: {ds.shape_source}")
    k = policy.min_group(min_group_size)
    scope = scope or Scope()
    common = {"period_start": period_start, "period_end": period_end, "denominator": denominator,
              "separation_type": separation_type}
    whole = turnover_breakdown(ds, by=[], policy=policy, min_group_size=k, scope=scope, **common)
    if whole.overall.suppressed or whole.overall.headcount is None:
        raise InputError(f"the population in scope is suppressed (fewer than {k} people); widen the filter")
    definition = whole.definition
    shape = definition.shape
    months = definition.months if shape == "event" else None
    factor = 12 / months if months else 1.0
    n_total, l_total = float(whole.overall.headcount), int(whole.overall.leavers or 0)
    if l_total == 0:
        raise InputError("nobody in scope left" + (" in the period" if shape == "event" else "")
                         + ", so there is no turnover to reduce")

    seg, _ = _select(ds, segment, "segment", policy, scope, k, common)
    ref = None
    if reference is not None:
        ref, _ = _select(ds, reference, "reference", policy, scope, k, common)
        _check_disjoint(seg, ref)
    n_s, x_s = seg.heads, seg.leavers
    n_r, x_r = (ref.heads, ref.leavers) if ref is not None else (0.0, 0)
    n_o, x_o = n_total - n_s - n_r, l_total - x_s - x_r
    if n_o < HEADCOUNT_TOLERANCE and x_o == 0:
        n_o, x_o = 0.0, 0
    if n_o < -HEADCOUNT_TOLERANCE or x_o < 0:
        raise InputError("segment and reference overlap or reach outside the population in scope; make them "
                         "separate groups")
    if 0 < max(n_o, x_o) < k:
        raise InputError(f"the rest of the population in scope (neither segment nor reference) has fewer than {k} "
                         "people, so its figures could be worked out from this result; include them in the segment "
                         "or the reference, or narrow `where`")
    p_s = x_s / n_s
    p_r = x_r / n_r if n_r > 0 else 0.0
    p_o = x_o / n_o if n_o > 0 else 0.0
    variances = {"s": _variance(p_s, n_s, x_s, shape), "r": _variance(p_r, n_r, x_r, shape),
                 "o": _variance(p_o, n_o, x_o, shape)}
    sizes = {"s": n_s, "r": n_r, "o": n_o}
    notes: list[str] = []

    if ref is not None:
        new_segment = p_r
        avoided = n_s * (p_s - p_r)
        d_avoided = {"s": n_s, "r": -n_s}
        d_remaining = {"r": n_s + n_r, "o": n_o}  # N·p' = (n_S + n_R)·p_R + n_O·p_O
        scenario_text = f"{seg.label} leaves at the rate of {ref.label}"
    else:
        assert reduction is not None
        new_segment = p_s * (1 - reduction)
        avoided = n_s * p_s * reduction
        d_avoided = {"s": n_s * reduction}
        d_remaining = {"s": n_s * (1 - reduction), "o": n_o}  # N·p' = n_S·(1 − r)·p_S + n_O·p_O
        scenario_text = f"the rate of {seg.label} falls by {reduction:.0%}"
    remaining = l_total - avoided  # N · new rate (per period)
    var_avoided = sum(d ** 2 * variances[key] for key, d in d_avoided.items())
    var_remaining = sum(d ** 2 * variances[key] for key, d in d_remaining.items())
    se_avoided = math.sqrt(var_avoided)
    avoided_low, avoided_high = avoided - Z_95 * se_avoided, avoided + Z_95 * se_avoided
    new_rate = remaining / n_total
    se_new = math.sqrt(var_remaining) / n_total
    # Impact fraction F = A ÷ L: delta method on ln(1 − F) = ln(N·p') − ln(L), L = Σ n_i·p_i.
    gradient = {key: d_remaining.get(key, 0.0) / remaining - sizes[key] / l_total if remaining > 0 else 0.0
                for key in ("s", "r", "o") if sizes[key] > 0}
    fraction = avoided / l_total
    f_low, f_high = _log_fraction_interval(remaining, l_total, gradient, variances)
    paf = paf_low = paf_high = exposure = relative_risk = None
    if ref is not None:
        exposure = n_s / (n_s + n_r)
        if p_r > 0:
            relative_risk = p_s / p_r
            excess = exposure * (relative_risk - 1)
            paf = excess / (1 + excess)
            l_sr = n_s * p_s + n_r * p_r
            paf_low, paf_high = _log_fraction_interval(
                (n_s + n_r) * p_r, l_sr, {"s": -n_s / l_sr, "r": 1 / p_r - n_r / l_sr}, variances)
        else:
            notes.append("the reference group has no leavers, so the relative risk and Levin's PAF are undefined "
                         "(every leaver of the segment is 'attributable'); the impact fraction still applies")
        if n_o > 0:
            notes.append(f"{n_o:g} people in scope are in neither group; their rate ({p_o:.1%}) stays as it is. "
                         "Levin's PAF is over segment + reference only; the impact fraction is over everyone")
    if avoided < 0:
        notes.append("the segment's rate is already below the scenario's rate: the scenario would add leavers")
    if x_s == 0 or (ref is not None and x_r == 0):
        notes.append("a group with no leavers has a sampling variance of 0 in this method: the interval is too "
                     "narrow; treat it with care")
    if shape == "snapshot":
        notes.append("snapshot data: the file does not say what period the leaver flag covers; 'per year' assumes "
                     "it is one year (as calculate_roi reads the rates)")
    elif months != 12:
        notes.append(f"the period is {months:g} months: leavers avoided and rates are annualised additively "
                     "(× 12 ÷ months)")
    current_annual = l_total / n_total * factor
    new_annual = new_rate * factor
    method = ("Rates as turnover_breakdown defines them (" + definition.formula + "). Avoided leavers = n_segment "
              "× (segment rate − new segment rate); new overall rate = (leavers − avoided) ÷ headcount; 95% "
              "intervals by propagating each group's sampling variance ("
              + ("binomial p(1−p)/n" if shape == "snapshot" else "Poisson leavers ÷ headcount²")
              + ", groups independent; exact for these linear quantities); impact fraction and Levin's PAF by the "
              "delta method on ln(1 − fraction). Normal (Wald) intervals; the new rate's is clipped at 0.")
    return ImpactResult(
        scenario="reference" if ref is not None else "reduction", scenario_text=scenario_text,
        population=_rate_line("Population in scope", n_total, l_total, shape, months),
        segment=_rate_line(seg.label, n_s, x_s, shape, months),
        reference=_rate_line(ref.label, n_r, x_r, shape, months) if ref is not None else None,
        rest=_rate_line("Neither", n_o, x_o, shape, months) if n_o > 0 else None,
        segment_new_rate=new_segment, relative_risk=relative_risk,
        avoided_leavers=avoided * factor, avoided_ci_low=avoided_low * factor, avoided_ci_high=avoided_high * factor,
        significant=not (avoided_low <= 0 <= avoided_high) if se_avoided > 0 else None,
        current_overall_rate=current_annual, new_overall_rate=new_annual,
        new_overall_ci_low=max(0.0, new_rate - Z_95 * se_new) * factor,
        new_overall_ci_high=(new_rate + Z_95 * se_new) * factor,
        reduction_pp=(current_annual - new_annual) * 100,
        impact_fraction=fraction, impact_fraction_ci_low=f_low, impact_fraction_ci_high=f_high,
        paf=paf, paf_ci_low=paf_low, paf_ci_high=paf_high, exposure_share=exposure,
        calculate_roi_inputs=RoiInputs(headcount=round(n_total, 2), current_turnover_rate=current_annual,
                                       target_turnover_rate=new_annual),
        method=method, caveat=CAVEAT, definition=definition, scope=whole.scope, notes=notes)


def _check_disjoint(seg: _Selection, ref: _Selection) -> None:
    shared = set(seg.names) & set(ref.names)
    if any(not (seg.names[name] & ref.names[name]) for name in shared):
        return  # a shared column with different values: separate groups
    if seg.rows is not None and ref.rows is not None:
        if not (seg.rows & ref.rows).any():
            return
        raise InputError(f"segment ({seg.label}) and reference ({ref.label}) share people; make them separate "
                         "groups, e.g. both on the same column with different values")
    raise InputError("segment and reference must be separate groups: give them the same column with different "
                     "values (e.g. tenure_band '<=3 months' vs '1-3 years')")


# -- text


def impact_markdown(result: ImpactResult) -> str:
    from retention_mcp.units import percent

    def rate_text(line: RateLine) -> str:
        annual = f", annualised {percent(line.annualised_rate)}" if line.annualised_rate is not None and \
            result.definition.months != 12 else ""
        interval = (f" (95% CI {percent(line.ci_low)}–{percent(line.ci_high)})"
                    if line.ci_low is not None and line.ci_high is not None else "")
        return f"{percent(line.rate)}{interval}{annual} — {line.leavers} leavers / {line.headcount:g}"

    d = result.definition
    period = (f"{d.period_start} to {d.period_end}, {d.denominator_definition.split(':')[0]}"
              if d.shape == "event" else "snapshot: leavers ÷ employees")
    lines = [f"**Expected impact: {result.scenario_text}** ({period}).", "",
             "| group | turnover now |", "|---|---|",
             f"| {result.segment.label} (segment) | {rate_text(result.segment)} |"]
    if result.reference is not None:
        lines.append(f"| {result.reference.label} (reference) | {rate_text(result.reference)} |")
    if result.rest is not None:
        lines.append(f"| neither | {rate_text(result.rest)} |")
    lines.append(f"| population in scope | {rate_text(result.population)} |")
    avoided = (f"**{result.avoided_leavers:.1f} leavers avoided per year** (95% CI {result.avoided_ci_low:.1f} to "
               f"{result.avoided_ci_high:.1f})")
    lines += ["", f"- {avoided}; the segment's rate moves to {percent(result.segment_new_rate)}.",
              f"- Overall turnover {percent(result.current_overall_rate)} → **{percent(result.new_overall_rate)}** "
              f"(95% CI {percent(result.new_overall_ci_low)}–{percent(result.new_overall_ci_high)}), "
              f"−{result.reduction_pp:.1f} pp."]
    if result.impact_fraction is not None:
        interval = (f" (95% CI {percent(result.impact_fraction_ci_low)}–{percent(result.impact_fraction_ci_high)})"
                    if result.impact_fraction_ci_low is not None else "")
        lines.append(f"- Share of today's leavers avoided (impact fraction): {percent(result.impact_fraction)}"
                     f"{interval}.")
    if result.paf is not None:
        interval = (f" (95% CI {percent(result.paf_ci_low)}–{percent(result.paf_ci_high)})"
                    if result.paf_ci_low is not None else "")
        lines.append(f"- Levin's population attributable fraction: {percent(result.paf)}{interval}; relative risk "
                     f"{result.relative_risk:.2f}, {percent(result.exposure_share)} of segment + reference in the "
                     "segment.")
    roi = result.calculate_roi_inputs
    lines += ["", f"For `calculate_roi`: headcount={roi.headcount:g}, "
              f"current_turnover_rate={roi.current_turnover_rate:.4f}, "
              f"target_turnover_rate={roi.target_turnover_rate:.4f}.", "", f"Method: {result.method}", "",
              f"Caveat: {result.caveat}"]
    if result.initiative is not None:
        i = result.initiative
        lines += ["", f"**Initiative: {i.name}** — evidence: {i.evidence} ({i.strength}). {i.basis}", "",
                  "| scenario | segment rate falls by | leavers avoided / yr | new overall rate |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {s.scenario} | {s.reduction:.0%} | {s.avoided_leavers:.1f} | {percent(s.new_overall_rate)} |"
                  for s in i.scenarios]
        lines += ["", "Sources: " + "; ".join(i.sources)]
    if result.scope:
        lines.append(f"\nScope: {result.scope}.")
    for note in result.notes:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)
