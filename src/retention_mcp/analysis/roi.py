"""Retention-program ROI: avoided leavers, benefit by component, ROI and benefit/cost ratio, payback, NPV.

Retention plans use two meanings of "return", so both are reported by name:
``roi`` = (benefit − cost) ÷ cost and ``benefit_cost_ratio`` = benefit ÷ cost ("2–4× return").

Model (monthly, stated in every result):
- avoided leavers per year = headcount × (current − target turnover rate)
- retention savings per year = avoided leavers × multiplier × average annual cost
- productivity per year = productivity_gain_fte × average annual cost; other benefits per year as given
- benefits ramp up linearly: month k earns min(1, k ÷ ramp) of the full monthly rate
- the one-off cost is paid at the start (month 0), the annual cost spread evenly over the months
- NPV discounts month k by (1 + discount_rate)^(−k/12)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, Field

from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.units import parse_rate, percent, plain_number
from retention_mcp.wording import ResultLanguage, Words, words

#: Payback is looked for up to this many months, past the horizon, assuming the program simply continues.
PAYBACK_SEARCH_MONTHS = 120
SCENARIO_REDUCTION_SHARES = {"low": 0.5, "base": 1.0, "high": 1.2}
SENSITIVITY_SWING = 0.2


@dataclass(frozen=True)
class RoiInputs:
    """Validated inputs; rates are fractions, money in one currency."""

    headcount: float
    current_turnover_rate: float
    target_turnover_rate: float
    average_annual_cost: float
    replacement_cost_multiplier: float
    program_cost_one_off: float = 0.0
    program_cost_annual: float = 0.0
    productivity_gain_fte: float = 0.0
    other_annual_benefits: float = 0.0
    horizon_months: int = 12
    benefit_ramp_months: float = 0.0
    discount_rate: float = 0.08

    @property
    def reduction(self) -> float:
        return self.current_turnover_rate - self.target_turnover_rate


class BenefitComponent(BaseModel):
    component: str = Field(description="retention_savings, productivity or other")
    annual: float = Field(description="benefit per year at full rate (after the ramp), currency")
    over_horizon: float = Field(description="benefit over the horizon, ramp applied, currency (undiscounted)")


class Scenario(BaseModel):
    name: str = Field(description="low, base or high")
    replacement_cost_multiplier: float
    achieved_reduction_share: float = Field(description="share of the planned turnover reduction achieved "
                                                        "(0.5 / 1.0 / 1.2, or the impact interval's ends)")
    turnover_reduction: float = Field(description="achieved reduction in the turnover rate, fraction (0.026 = 2.6 pp)")
    avoided_leavers_per_year: float
    total_benefit: float
    total_cost: float
    net_benefit: float
    roi: float | None = Field(description="(benefit − cost) ÷ cost; None when cost is 0")
    benefit_cost_ratio: float | None = Field(description="benefit ÷ cost; None when cost is 0")
    payback_month: int | None
    npv: float


class SensitivityRow(BaseModel):
    input: str = Field(description="input varied one at a time by ±20%, others held at base")
    base_value: float
    low_value: float = Field(description="input × 0.8 (a reduction is capped at the current rate)")
    high_value: float = Field(description="input × 1.2")
    metric_at_low: float | None = Field(description="ROI (or net benefit when cost is 0) with the input at low_value")
    metric_at_high: float | None
    swing: float = Field(description="|metric_at_high − metric_at_low|: bar length for a tornado chart")


class RoiResult(Evidenced):
    headcount: float
    current_turnover_rate: float = Field(description="fraction per year")
    target_turnover_rate: float = Field(description="fraction per year")
    turnover_reduction: float = Field(description="current − target, fraction (0.026 = 2.6 pp)")
    average_annual_cost: float = Field(description="average annual cost per employee, currency")
    replacement_cost_multiplier: float = Field(description="replacement cost ÷ average annual cost")
    multiplier_source: str = Field(description="'given' or the cost preset used")
    preset_band: dict[str, float] | None = Field(description="the preset's low / base / high multipliers")
    currency: str
    horizon_months: int
    benefit_ramp_months: float
    discount_rate: float = Field(description="annual discount rate for NPV, fraction")
    avoided_leavers_per_year: float = Field(description="headcount × (current − target)")
    replacement_cost_per_leaver: float = Field(description="multiplier × average annual cost, currency")
    benefits: list[BenefitComponent]
    annual_benefit_full_rate: float = Field(description="all components per year at full rate, currency")
    total_benefit: float = Field(description="benefit over the horizon, ramp applied, undiscounted")
    cost_one_off: float
    cost_running: float = Field(description="annual program cost × horizon ÷ 12")
    total_cost: float = Field(description="cost over the horizon, undiscounted")
    net_benefit: float = Field(description="total_benefit − total_cost")
    roi: float | None = Field(description="(benefit − cost) ÷ cost over the horizon, fraction (1.5 = 150%); "
                                          "None when cost is 0")
    benefit_cost_ratio: float | None = Field(description="benefit ÷ cost over the horizon (2.5 = '2.5× return'); "
                                                         "None when cost is 0")
    payback_month: int | None = Field(description="first month whose cumulative benefit covers cumulative cost "
                                                  "(searched up to 120 months); None if never")
    payback_within_horizon: bool
    npv: float = Field(description="net present value over the horizon at discount_rate, currency")
    break_even_reduction: float | None = Field(
        description="turnover reduction (fraction) at which benefit = cost over the horizon; 0 when the other "
                    "benefits already cover the cost; None when retention savings are zero per point")
    break_even_reduction_pp: float | None = Field(description="the same in percentage points")
    break_even_target_rate: float | None = Field(description="current rate − break-even reduction, fraction")
    break_even_achievable: bool | None = Field(description="False when the break-even reduction exceeds the "
                                                           "current rate")
    scenarios: list[Scenario]
    sensitivity_metric: str = Field(description="'roi' (or 'net_benefit' when the program costs nothing)")
    sensitivity: list[SensitivityRow] = Field(description="sorted by swing, largest first (tornado order)")
    formula: str = Field(description="the calculation with the numbers filled in")
    assumptions: list[str]
    impact_evidence_id: str | None = Field(None, description="the estimate_impact result the headcount, rates and "
                                           "scenario interval came from")
    scenario_basis: str = Field("", description="where low and high come from: the impact's 95% interval, or "
                                "50% / 120% of the planned reduction")
    interval_includes_zero: bool | None = Field(None, description="the impact's 95% interval of leavers avoided "
                                                "includes 0 (the programme may avoid no one)")
    language: ResultLanguage = "en"


# -- inputs


def _rate(name: str, value: float | str) -> float:
    try:
        return parse_rate(value)
    except ValueError as exc:
        example = "" if "%" in str(exc) else " (write e.g. '12.6%' or 0.126)"
        raise InputError(f"{name}: {exc}{example}") from None


#: Upper bounds that keep every figure finite (money in one currency; no real program is near them).
MAX_HEADCOUNT = 10_000_000
MAX_MONEY = 1e13


def _finite(name: str, value: float, *, minimum: float = 0.0, allow_equal: bool = True, hint: str = "",
            maximum: float = MAX_MONEY) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, not {value!r}{hint}")
    if value < minimum or (not allow_equal and value == minimum):
        relation = "at least" if allow_equal else "above"
        raise InputError(f"{name} must be {relation} {plain_number(minimum)}, not {plain_number(value, 2)}{hint}")
    if value > maximum:
        raise InputError(f"{name} must be at most {maximum:,.0f}, not {value:.4g}{hint}")
    return float(value)


def preset_band(presets: dict[str, Any], key: str) -> tuple[str, dict[str, float]]:
    """(canonical key, {'low','base','high'}) for a preset name or alias; ValueError listing the choices."""
    table = (presets or {}).get("presets") or {}
    wanted = key.strip().lower().replace(" ", "_").replace("-", "_").replace("/", "_")
    for name, entry in table.items():
        names = {str(name).lower()} | {str(a).lower() for a in entry.get("aliases") or ()}
        if wanted in names:
            try:
                band = {level: float(entry[level]) for level in ("low", "base", "high")}
            except (KeyError, TypeError, ValueError):
                raise InputError(f"cost preset {name!r} in cost_presets.yaml lacks numeric low/base/high") from None
            return str(name), band
    raise InputError(f"unknown cost_preset {key!r}; use one of: {', '.join(table)} "
                     "(or pass replacement_cost_multiplier, e.g. 0.4)")


def build_inputs(*, headcount: float, current_turnover_rate: float | str, target_turnover_rate: float | str,
                 average_annual_cost: float, replacement_cost_multiplier: float | None,
                 band: dict[str, float] | None, program_cost_one_off: float = 0.0, program_cost_annual: float = 0.0,
                 productivity_gain_fte: float = 0.0, other_annual_benefits: float = 0.0, horizon_months: int = 12,
                 benefit_ramp_months: float = 0.0, discount_rate: float | str = 0.08) -> RoiInputs:
    """Check and convert the caller's inputs; every error says what to change."""
    headcount = _finite("headcount", headcount, allow_equal=False, hint=" (employees in the group, e.g. 200)",
                        maximum=MAX_HEADCOUNT)
    current = _rate("current_turnover_rate", current_turnover_rate)
    target = _rate("target_turnover_rate", target_turnover_rate)
    if target > current:
        raise InputError(f"target_turnover_rate ({percent(target)}) is above current_turnover_rate "
                         f"({percent(current)}); the target is the lower rate the program aims for — swap them or "
                         "check the figures")
    cost = _finite("average_annual_cost", average_annual_cost, allow_equal=False,
                   hint=" (average annual cost per employee, e.g. 60000)")
    if replacement_cost_multiplier is None:
        if band is None:
            raise InputError("give replacement_cost_multiplier (e.g. 0.4 = 40% of a year's cost) or cost_preset "
                             "(frontline, professional, technical, manager, executive)")
        multiplier = band["base"]
    else:
        multiplier = _finite("replacement_cost_multiplier", replacement_cost_multiplier, allow_equal=False,
                             hint=" (e.g. 0.4 for 40% of a year's cost)")
        if multiplier > 5:
            raise InputError(f"replacement_cost_multiplier {plain_number(multiplier, 2)} is above 5× a year's cost; "
                             "the literature tops out near 2.1× (CAP 2012 executives); pass 0.4 for 40%")
    horizon = int(_finite("horizon_months", horizon_months, minimum=1, hint=" (e.g. 12)"))
    if horizon != horizon_months or horizon > PAYBACK_SEARCH_MONTHS:
        raise InputError(f"horizon_months must be a whole number of months from 1 to {PAYBACK_SEARCH_MONTHS}, "
                         f"not {horizon_months!r}")
    ramp = _finite("benefit_ramp_months", benefit_ramp_months, hint=" (months until benefits reach full rate)")
    if ramp > PAYBACK_SEARCH_MONTHS:
        raise InputError(f"benefit_ramp_months must be at most {PAYBACK_SEARCH_MONTHS}")
    return RoiInputs(
        headcount=headcount, current_turnover_rate=current, target_turnover_rate=target, average_annual_cost=cost,
        replacement_cost_multiplier=multiplier,
        program_cost_one_off=_finite("program_cost_one_off", program_cost_one_off),
        program_cost_annual=_finite("program_cost_annual", program_cost_annual),
        productivity_gain_fte=_finite("productivity_gain_fte", productivity_gain_fte,
                                      hint=" (full-time equivalents of capacity freed, e.g. 4)", maximum=headcount),
        other_annual_benefits=_finite("other_annual_benefits", other_annual_benefits),
        horizon_months=horizon, benefit_ramp_months=ramp, discount_rate=_rate("discount_rate", discount_rate),
    )


# -- the model


def ramp_factor(month: int, ramp_months: float) -> float:
    """Share of the full monthly benefit earned in month ``month`` (1-based): linear up to the ramp."""
    if ramp_months <= 0:
        return 1.0
    return min(1.0, month / ramp_months)


@dataclass(frozen=True)
class _Outcome:
    retention_annual: float
    productivity_annual: float
    other_annual: float
    full_rate_months: float  # Σ ramp factors over the horizon
    total_benefit: float
    cost_running: float
    total_cost: float
    net: float
    roi: float | None
    bcr: float | None
    payback_month: int | None
    npv: float


def evaluate(inputs: RoiInputs) -> _Outcome:
    """Monthly cash flows over the horizon, and payback searched beyond it."""
    retention = inputs.headcount * inputs.reduction * inputs.replacement_cost_multiplier * inputs.average_annual_cost
    productivity = inputs.productivity_gain_fte * inputs.average_annual_cost
    other = inputs.other_annual_benefits
    monthly_benefit = (retention + productivity + other) / 12.0
    monthly_cost = inputs.program_cost_annual / 12.0
    monthly_discount = (1.0 + inputs.discount_rate) ** (-1.0 / 12.0)

    full_rate_months = sum(ramp_factor(k, inputs.benefit_ramp_months) for k in range(1, inputs.horizon_months + 1))
    total_benefit = monthly_benefit * full_rate_months
    cost_running = monthly_cost * inputs.horizon_months
    total_cost = inputs.program_cost_one_off + cost_running
    npv = -inputs.program_cost_one_off + sum(
        (monthly_benefit * ramp_factor(k, inputs.benefit_ramp_months) - monthly_cost) * monthly_discount ** k
        for k in range(1, inputs.horizon_months + 1))

    payback: int | None = None
    if total_cost > 0 or monthly_cost > 0:
        cumulative = -inputs.program_cost_one_off
        for k in range(1, PAYBACK_SEARCH_MONTHS + 1):
            cumulative += monthly_benefit * ramp_factor(k, inputs.benefit_ramp_months) - monthly_cost
            if cumulative >= -1e-9 * max(1.0, total_cost):
                payback = k
                break
    net = total_benefit - total_cost
    roi = net / total_cost if total_cost > 0 else None
    bcr = total_benefit / total_cost if total_cost > 0 else None
    return _Outcome(retention, productivity, other, full_rate_months, total_benefit, cost_running, total_cost, net,
                    roi, bcr, payback, npv)


def break_even_reduction(inputs: RoiInputs) -> float | None:
    """Turnover reduction (fraction) at which benefit equals cost over the horizon, others held fixed."""
    outcome = evaluate(inputs)
    per_point = (inputs.headcount * inputs.replacement_cost_multiplier * inputs.average_annual_cost
                 * outcome.full_rate_months / 12.0)
    if per_point <= 0:
        return None
    other_benefit = (outcome.productivity_annual + outcome.other_annual) * outcome.full_rate_months / 12.0
    return max(0.0, (outcome.total_cost - other_benefit) / per_point)


def _with_reduction(inputs: RoiInputs, reduction: float) -> RoiInputs:
    reduction = min(max(reduction, 0.0), inputs.current_turnover_rate)
    return replace(inputs, target_turnover_rate=inputs.current_turnover_rate - reduction)


def scenarios(inputs: RoiInputs, band: dict[str, float] | None,
              interval: tuple[float, float] | None = None) -> list[Scenario]:
    """low / base / high: the preset's multiplier band (when given) with 50% / 100% / 120% of the planned reduction,
    or — when the reduction comes from an impact estimate — with the ends of its 95% interval (``interval``: the
    low and high reductions, fractions; the low one may be negative: the programme may add leavers)."""
    rows = []
    for name, share in SCENARIO_REDUCTION_SHARES.items():
        multiplier = inputs.replacement_cost_multiplier if band is None or name == "base" else band[name]
        if interval is not None and name != "base":
            reduction = min(interval[0] if name == "low" else interval[1], inputs.current_turnover_rate)
            varied = replace(inputs, target_turnover_rate=inputs.current_turnover_rate - reduction)
            share = reduction / inputs.reduction if inputs.reduction else 0.0
        else:
            varied = _with_reduction(inputs, inputs.reduction * share)
        varied = replace(varied, replacement_cost_multiplier=multiplier)
        outcome = evaluate(varied)
        rows.append(Scenario(
            name=name, replacement_cost_multiplier=multiplier, achieved_reduction_share=share,
            turnover_reduction=varied.reduction, avoided_leavers_per_year=varied.headcount * varied.reduction,
            total_benefit=outcome.total_benefit, total_cost=outcome.total_cost, net_benefit=outcome.net,
            roi=outcome.roi, benefit_cost_ratio=outcome.bcr, payback_month=outcome.payback_month, npv=outcome.npv,
        ))
    return rows


SENSITIVITY_INPUTS = {
    "headcount": "headcount",
    "turnover_reduction": "reduction",
    "replacement_cost_multiplier": "replacement_cost_multiplier",
    "average_annual_cost": "average_annual_cost",
    "productivity_gain_fte": "productivity_gain_fte",
    "other_annual_benefits": "other_annual_benefits",
    "program_cost_one_off": "program_cost_one_off",
    "program_cost_annual": "program_cost_annual",
}


def sensitivity(inputs: RoiInputs) -> tuple[str, list[SensitivityRow]]:
    """Each non-zero input at −20% and +20%, others at base; sorted by the swing in ROI."""
    use_roi = evaluate(inputs).total_cost > 0
    metric = "roi" if use_roi else "net_benefit"

    def measure(varied: RoiInputs) -> float | None:
        outcome = evaluate(varied)
        return outcome.roi if use_roi else outcome.net

    rows = []
    for label, attribute in SENSITIVITY_INPUTS.items():
        base = getattr(inputs, attribute)
        if base == 0:
            continue
        low, high = base * (1 - SENSITIVITY_SWING), base * (1 + SENSITIVITY_SWING)
        if attribute == "reduction":
            high = min(high, inputs.current_turnover_rate)
            at_low, at_high = measure(_with_reduction(inputs, low)), measure(_with_reduction(inputs, high))
        else:
            at_low = measure(replace(inputs, **{attribute: low}))
            at_high = measure(replace(inputs, **{attribute: high}))
        swing = abs(at_high - at_low) if at_low is not None and at_high is not None else 0.0
        rows.append(SensitivityRow(input=label, base_value=base, low_value=low, high_value=high, metric_at_low=at_low,
                                   metric_at_high=at_high, swing=swing))
    rows.sort(key=lambda row: row.swing, reverse=True)
    return metric, rows


# -- the result


def _money(value: float, currency: str = "") -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {currency}".strip() if currency else text


def _ratio(value: float | None, w: Words) -> str:
    return w("roi.text.no_cost") if value is None else f"{value:.2f}"


def formula_text(inputs: RoiInputs, outcome: _Outcome, currency: str = "", w: Words | None = None) -> str:
    """The calculation, step by step, with this case's numbers in it (in ``w``'s language)."""
    w = w or words("en")
    f = "roi.formula"
    m = inputs
    avoided = m.headcount * m.reduction
    per_leaver = m.replacement_cost_multiplier * m.average_annual_cost
    steps = [
        w(f"{f}.avoided", headcount=plain_number(m.headcount, 2), current=percent(m.current_turnover_rate),
          target=percent(m.target_turnover_rate), avoided=f"{avoided:.2f}"),
        w(f"{f}.per_leaver", multiplier=f"{m.replacement_cost_multiplier:g}", cost=_money(m.average_annual_cost),
          per_leaver=_money(per_leaver)),
        w(f"{f}.savings", avoided=f"{avoided:.2f}", per_leaver=_money(per_leaver),
          savings=_money(outcome.retention_annual), multiple=f"{avoided * m.replacement_cost_multiplier:.2f}"),
    ]
    if m.productivity_gain_fte:
        steps.append(w(f"{f}.productivity", fte=f"{m.productivity_gain_fte:g}", cost=_money(m.average_annual_cost),
                       value=_money(outcome.productivity_annual)))
    if m.other_annual_benefits:
        steps.append(w(f"{f}.other", value=_money(outcome.other_annual)))
    annual = outcome.retention_annual + outcome.productivity_annual + outcome.other_annual
    ramp = w(f"{f}.ramp", months=plain_number(m.benefit_ramp_months)) if m.benefit_ramp_months > 0 else ""
    steps += [
        w(f"{f}.benefit", months=m.horizon_months, ramp=ramp, annual=_money(annual),
          full=f"{outcome.full_rate_months:.2f}", total=_money(outcome.total_benefit)),
        w(f"{f}.cost", months=m.horizon_months, one_off=_money(m.program_cost_one_off),
          annual=_money(m.program_cost_annual), total=_money(outcome.total_cost)),
    ]
    if outcome.roi is not None and outcome.bcr is not None:
        steps += [
            w(f"{f}.roi", benefit=_money(outcome.total_benefit), cost=_money(outcome.total_cost),
              roi=f"{outcome.roi:.2f}", roi_pct=percent(outcome.roi)),
            w(f"{f}.bcr", benefit=_money(outcome.total_benefit), cost=_money(outcome.total_cost),
              bcr=f"{outcome.bcr:.2f}"),
        ]
    else:
        steps.append(w(f"{f}.no_cost"))
    if currency:
        steps.append(w(f"{f}.currency", currency=currency))
    return "\n".join(steps)


def calculate_roi(inputs: RoiInputs, *, band: dict[str, float] | None = None, multiplier_source: str = "given",
                  currency: str = "", w: Words | None = None, interval: tuple[float, float] | None = None,
                  impact_evidence_id: str | None = None) -> RoiResult:
    """The full ROI result for validated inputs (see ``build_inputs``); texts in ``w``'s language. ``interval``:
    the low and high turnover reductions of an impact estimate's 95% interval, for the low and high scenarios."""
    w = w or words("en")
    a = "roi.assumptions"
    outcome = evaluate(inputs)
    be = break_even_reduction(inputs)
    metric, tornado = sensitivity(inputs)
    horizon_share = outcome.full_rate_months / 12.0
    benefits = [
        BenefitComponent(component="retention_savings", annual=outcome.retention_annual,
                         over_horizon=outcome.retention_annual * horizon_share),
        BenefitComponent(component="productivity", annual=outcome.productivity_annual,
                         over_horizon=outcome.productivity_annual * horizon_share),
        BenefitComponent(component="other", annual=outcome.other_annual,
                         over_horizon=outcome.other_annual * horizon_share),
    ]
    assumptions = [
        w(f"{a}.monthly"),
        w(f"{a}.ramp", months=plain_number(inputs.benefit_ramp_months)) if inputs.benefit_ramp_months > 0
        else w(f"{a}.no_ramp"),
        w(f"{a}.npv", rate=percent(inputs.discount_rate)),
        w(f"{a}.replacement"),
        w(f"{a}.payback"),
    ]
    includes_zero = None
    if interval is not None:
        low, high = (r * inputs.headcount for r in interval)
        includes_zero = low <= 0 <= high
        basis = w(f"{a}.basis_interval", low=f"{low:.1f}", high=f"{high:.1f}",
                  base=f"{inputs.headcount * inputs.reduction:.1f}")
        if band:
            basis += w(f"{a}.basis_interval_preset", low=f"{band['low']:g}", high=f"{band['high']:g}")
        assumptions.append(w(f"{a}.scenarios_basis", basis=basis))
        if includes_zero:
            assumptions.append(w(f"{a}.interval_zero", low_case=w(f"{a}.low_adds" if low < 0 else f"{a}.low_none")))
    elif band is None:
        basis = w(f"{a}.basis_no_preset")
        assumptions.append(w(f"{a}.no_preset"))
    else:
        basis = w(f"{a}.basis_preset", low=f"{band['low']:g}", high=f"{band['high']:g}")
        assumptions.append(w(f"{a}.scenarios", low=f"{band['low']:g}", base=f"{inputs.replacement_cost_multiplier:g}",
                             high=f"{band['high']:g}"))
    return RoiResult(
        headcount=inputs.headcount, current_turnover_rate=inputs.current_turnover_rate,
        target_turnover_rate=inputs.target_turnover_rate, turnover_reduction=inputs.reduction,
        average_annual_cost=inputs.average_annual_cost, replacement_cost_multiplier=inputs.replacement_cost_multiplier,
        multiplier_source=multiplier_source, preset_band=band, currency=currency,
        horizon_months=inputs.horizon_months, benefit_ramp_months=inputs.benefit_ramp_months,
        discount_rate=inputs.discount_rate, avoided_leavers_per_year=inputs.headcount * inputs.reduction,
        replacement_cost_per_leaver=inputs.replacement_cost_multiplier * inputs.average_annual_cost,
        benefits=benefits,
        annual_benefit_full_rate=outcome.retention_annual + outcome.productivity_annual + outcome.other_annual,
        total_benefit=outcome.total_benefit, cost_one_off=inputs.program_cost_one_off,
        cost_running=outcome.cost_running, total_cost=outcome.total_cost, net_benefit=outcome.net, roi=outcome.roi,
        benefit_cost_ratio=outcome.bcr, payback_month=outcome.payback_month,
        payback_within_horizon=outcome.payback_month is not None and outcome.payback_month <= inputs.horizon_months,
        npv=outcome.npv, break_even_reduction=be, break_even_reduction_pp=None if be is None else be * 100,
        break_even_target_rate=None if be is None else inputs.current_turnover_rate - be,
        break_even_achievable=None if be is None else be <= inputs.current_turnover_rate,
        scenarios=scenarios(inputs, band, interval), sensitivity_metric=metric, sensitivity=tornado,
        formula=formula_text(inputs, outcome, currency, w), assumptions=assumptions, language=w.language,
        impact_evidence_id=impact_evidence_id, scenario_basis=basis, interval_includes_zero=includes_zero,
    )


def roi_text(result: RoiResult, w: Words | None = None) -> str:
    """Markdown: headline, components, scenarios, tornado table, formula, assumptions."""
    w = w or words(result.language)
    t = "roi.text"
    cur = result.currency

    def roi_cell(value: float | None) -> str:
        return w(f"{t}.na") if value is None else percent(value)

    payback = (w(f"{t}.never") if result.payback_month is None
               else w(f"{t}.month", month=result.payback_month)
               + ("" if result.payback_within_horizon else w(f"{t}.after_horizon")))
    lines = [
        *([w(f"{t}.interval_zero", basis=result.scenario_basis), ""] if result.interval_includes_zero else []),
        w(f"{t}.title", months=result.horizon_months, roi=roi_cell(result.roi),
          bcr=_ratio(result.benefit_cost_ratio, w), net=_money(result.net_benefit, cur), payback=payback,
          npv=_money(result.npv, cur), rate=percent(result.discount_rate)),
        "",
        w(f"{t}.avoided", avoided=f"{result.avoided_leavers_per_year:.2f}",
          current=percent(result.current_turnover_rate), target=percent(result.target_turnover_rate),
          headcount=plain_number(result.headcount, 2)),
        w(f"{t}.per_leaver", cost=_money(result.replacement_cost_per_leaver, cur),
          multiplier=f"{result.replacement_cost_multiplier:g}", source=result.multiplier_source),
    ]
    if result.break_even_reduction_pp == 0:
        lines.append(w(f"{t}.break_even_zero"))
    elif result.break_even_reduction_pp is not None:
        reach = "" if result.break_even_achievable else w(f"{t}.unreachable")
        lines.append(w(f"{t}.break_even", pp=f"{result.break_even_reduction_pp:.2f}",
                       rate=percent(result.break_even_target_rate), reach=reach))
    lines += ["", w(f"{t}.component_columns"), "|---|---:|---:|"]
    for b in result.benefits:
        lines.append(f"| {w.option('roi.components', b.component)} | {_money(b.annual, cur)} | "
                     f"{_money(b.over_horizon, cur)} |")
    lines.append(f"| **{w(f'{t}.total_benefit')}** | {_money(result.annual_benefit_full_rate, cur)} | "
                 f"**{_money(result.total_benefit, cur)}** |")
    lines.append(f"| **{w(f'{t}.total_cost')}** | | **{_money(result.total_cost, cur)}** |")
    if result.scenario_basis:
        lines += ["", w(f"{t}.scenarios", basis=result.scenario_basis)]
    lines += ["", w(f"{t}.scenario_columns"), "|---|---:|---:|---:|---:|---:|---:|"]
    for s in result.scenarios:
        lines.append(f"| {w.option('roi.scenario_names', s.name)} | {s.replacement_cost_multiplier:g}× | "
                     f"{percent(s.achieved_reduction_share, 0)} ({s.turnover_reduction * 100:.2f} pp) | "
                     f"{roi_cell(s.roi)} | {_ratio(s.benefit_cost_ratio, w)} | {_money(s.net_benefit, cur)} | "
                     f"{s.payback_month or '—'} |")
    if result.sensitivity:
        fmt = roi_cell if result.sensitivity_metric == "roi" else (lambda v: _money(v or 0.0, cur))
        lines += ["", w(f"{t}.sensitivity", metric=w.option("roi.metrics", result.sensitivity_metric)),
                  "", w(f"{t}.sensitivity_columns"), "|---|---:|---:|---:|"]
        for row in result.sensitivity:
            swing = percent(row.swing) if result.sensitivity_metric == "roi" else _money(row.swing, cur)
            lines.append(f"| {w.option('roi.inputs', row.input)} | {fmt(row.metric_at_low)} | "
                         f"{fmt(row.metric_at_high)} | {swing} |")
    lines += ["", w(f"{t}.formula"), "```", result.formula, "```", ""] + [f"- {a}" for a in result.assumptions]
    return "\n".join(lines)
