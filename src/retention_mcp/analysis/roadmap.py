"""An implementation roadmap as phases, checked against the plan's own evidence (``build_roadmap``).

A phase has a name, a start and an end month (1-based, inclusive: months 1–3 is the first quarter), an owner
role, activities, a budget, and the KPI values due when it ends (its milestone). The roadmap is grounded when:

- **budget**: the phase budgets add up to the ROI's programme cost over its horizon (one-off + annual ×
  horizon ÷ 12: ``calculate_roi``'s ``total_cost``), within half a percent — the same money typed once;
- **milestones**: every KPI value due at a milestone lies between that KPI's baseline and target in the KPI set
  (``build_kpis``), and a KPI's milestones move from the baseline toward the target, never back;
- **payback**: the ROI's payback month falls inside the roadmap's horizon (its last month), and inside the ROI's.

Each check is ``pass``, ``fail`` (with the numbers) or ``not checked`` (no ROI or KPI evidence given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

#: Longest roadmap, in months (a plan is not a ten-year programme).
MAX_MONTHS = 60
MAX_PHASES = 12
#: Budgets match the ROI's programme cost when they differ by at most this share (rounding of typed amounts).
BUDGET_TOLERANCE = 0.005
CheckStatus = Literal["pass", "fail", "not checked"]


class Phase(BaseModel):
    name: str = Field(max_length=100)
    start_month: int = Field(ge=1, le=MAX_MONTHS, description="1-based")
    end_month: int = Field(ge=1, le=MAX_MONTHS, description="inclusive")
    owner: str = Field("", max_length=100, description="owner role")
    activities: list[str] = Field(default_factory=list, max_length=12)
    budget: float = Field(0.0, ge=0, le=1e13)
    kpi_targets: dict[str, float | str] = Field(default_factory=dict, description="KPI id -> value due at the end")


class Check(BaseModel):
    check: Literal["budget", "milestones", "payback", "horizon"]
    status: CheckStatus
    detail: str


class RoadmapResult(Evidenced):
    phases: list[Phase]
    horizon_months: int = Field(description="the last month of the roadmap")
    total_budget: float
    currency: str
    roi_evidence_id: str | None = None
    kpi_evidence_id: str | None = None
    checks: list[Check]
    grounded: bool = Field(description="no check failed")


def _number(value: float | str, unit: str | None) -> float:
    text = str(value).strip().replace(",", "")
    percent = text.endswith(("%", "％"))
    try:
        number = float(text.rstrip("%％").strip())
    except ValueError:
        raise InputError(f"KPI target {value!r} is not a number; write e.g. 15 or '15%'") from None
    if percent and unit == "fraction":
        return number / 100
    return number


def build_roadmap(phases: Sequence[Phase], *, roi: Mapping[str, Any] | None = None,
                  kpis: Mapping[str, Any] | None = None, currency: str = "", words: Any,
                  kpi_names: Mapping[str, str] | None = None) -> RoadmapResult:
    """Check ``phases`` against the ROI's figures (``roi``: total_cost, horizon_months, payback_month, cost_one_off,
    cost_running) and the KPI set's (``kpis``: baseline[k], target[k]); ``words`` (plan_words) writes the details,
    naming KPIs by ``kpi_names`` (id -> name in the text's language)."""
    w = words
    names_of = dict(kpi_names or {})
    if not phases:
        raise InputError("give at least one phase: {name, start_month, end_month, owner, activities, budget, "
                         "kpi_targets}")
    if len(phases) > MAX_PHASES:
        raise InputError(f"a roadmap has at most {MAX_PHASES} phases")
    names = [p.name.strip() for p in phases]
    if len(set(names)) != len(names) or not all(names):
        raise InputError("give every phase its own, non-empty name")
    for phase in phases:
        if phase.end_month < phase.start_month:
            raise InputError(f"phase {phase.name!r} ends (month {phase.end_month}) before it starts "
                             f"(month {phase.start_month})")
    horizon = max(p.end_month for p in phases)
    total = sum(p.budget for p in phases)
    checks: list[Check] = []

    def money(value: float) -> str:
        return f"{value:,.0f} {currency}".strip()


    if roi is None:
        checks.append(Check(check="budget", status="not checked", detail=w("plan.roadmap.no_roi")))
    else:
        cost = float(roi["total_cost"])
        same = abs(total - cost) <= max(1.0, BUDGET_TOLERANCE * cost)
        checks.append(Check(check="budget", status="pass" if same else "fail", detail=w(
            "plan.roadmap.budget_ok" if same else "plan.roadmap.budget_off", total=money(total), cost=money(cost),
            one_off=money(float(roi.get("cost_one_off") or 0)), running=money(float(roi.get("cost_running") or 0)),
            months=roi.get("horizon_months"), gap=money(total - cost))))
        roi_horizon = int(roi.get("horizon_months") or horizon)
        if roi_horizon != horizon:
            checks.append(Check(check="horizon", status="fail", detail=w(
                "plan.roadmap.horizon_off", roadmap=horizon, roi=roi_horizon)))
        payback = roi.get("payback_month")
        if payback is None:
            checks.append(Check(check="payback", status="fail", detail=w("plan.roadmap.no_payback")))
        else:
            inside = int(payback) <= min(horizon, roi_horizon)
            checks.append(Check(check="payback", status="pass" if inside else "fail", detail=w(
                "plan.roadmap.payback_ok" if inside else "plan.roadmap.payback_late", month=int(payback),
                horizon=min(horizon, roi_horizon))))
    due = [(p, key, value) for p in sorted(phases, key=lambda p: p.end_month) for key, value in p.kpi_targets.items()]
    if kpis is None:
        if due:
            checks.append(Check(check="milestones", status="not checked", detail=w("plan.roadmap.no_kpis")))
    elif due:
        problems: list[str] = []
        reached: dict[str, float] = {}
        for phase, key, value in due:
            baseline, target = kpis.get(f"baseline[{key}]"), kpis.get(f"target[{key}]")
            if not isinstance(baseline, int | float) or not isinstance(target, int | float):
                problems.append(w("plan.roadmap.kpi_unknown", kpi=names_of.get(key, key), phase=phase.name))
                continue
            number = _number(value, None)
            low, high = sorted((float(baseline), float(target)))
            if not low - 1e-9 <= number <= high + 1e-9:
                problems.append(w("plan.roadmap.kpi_outside", kpi=names_of.get(key, key), phase=phase.name,
                                  value=f"{number:g}",
                                  baseline=f"{baseline:g}", target=f"{target:g}"))
            elif key in reached and abs(number - baseline) < abs(reached[key] - baseline) - 1e-9:
                problems.append(w("plan.roadmap.kpi_back", kpi=names_of.get(key, key), phase=phase.name,
                                  value=f"{number:g}",
                                  before=f"{reached[key]:g}"))
            reached[key] = number
        detail = w.semicolon.join(problems) if problems else w("plan.roadmap.kpis_ok", count=len(due))
        checks.append(Check(check="milestones", status="fail" if problems else "pass", detail=detail))
    return RoadmapResult(phases=list(phases), horizon_months=horizon, total_budget=total, currency=currency,
                         checks=checks, grounded=not any(c.status == "fail" for c in checks))


def _shown(value: float | str) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def roadmap_markdown(result: RoadmapResult, words: Any, kpi_names: Mapping[str, str] | None = None) -> str:
    """The roadmap as a table (phase, months, owner, activities, budget, KPI values due) and its checks."""
    w = words
    names_of = dict(kpi_names or {})
    lines = [w("plan.roadmap.columns"), "|" + "---|" * 6]
    for p in result.phases:
        targets = w.comma.join(f"{names_of.get(k, k)} {_shown(v)}" for k, v in p.kpi_targets.items()) or "—"
        activities = w.semicolon.join(a.replace("|", "/") for a in p.activities) or "—"
        lines.append(f"| {p.name} | {w('plan.roadmap.months', start=p.start_month, end=p.end_month)} | "
                     f"{p.owner or '—'} | {activities} | {p.budget:,.0f} | {targets} |")
    lines.append(f"| **{w('plan.roadmap.total')}** | {w('plan.roadmap.months', start=1, end=result.horizon_months)} "
                 f"| | | **{result.total_budget:,.0f}** | |")
    lines += ["", w("plan.roadmap.checks_grounded" if result.grounded else "plan.roadmap.checks_failed")]
    for check in result.checks:
        status = w("plan.roadmap.status." + check.status.replace(" ", "_"))
        lines.append(f"- {status} {w('plan.roadmap.check.' + check.check)}{w.colon}{check.detail}")
    return "\n".join(lines)


def gantt_spec(result: RoadmapResult, words: Any, kpi_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The chart spec plan_export draws where the roadmap is cited."""
    w = words
    names_of = dict(kpi_names or {})
    return {"kind": "roadmap_gantt",
            "data": {"names": [p.name for p in result.phases], "starts": [p.start_month for p in result.phases],
                     "ends": [p.end_month for p in result.phases], "owners": [p.owner for p in result.phases],
                     "budgets": [f"{p.budget:,.0f} {result.currency}".strip() for p in result.phases],
                     "milestones": [w.comma.join(f"{names_of.get(k, k)} {_shown(v)}" for k, v in p.kpi_targets.items())
                                    for p in result.phases]},
            "context": {}}
