"""Scoring a KPI set against actuals: achievement per KPI, weighted score, four-colour status.

Achievements and the weighted score are fractions (1.0 = 100%).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.analysis.kpi_build import (
    CompletedKpi,
    Finding,
    KpiItem,
    apply_weights,
    fmt_number,
    kpi_label,
    parse_weights,
    resolve_item,
    slug,
)
from retention_mcp.analysis.kpi_catalog import (
    COLOUR_ZH,
    DEFAULT_THRESHOLDS,
    DIRECTIONS,
    KpiCatalog,
    parse_fraction,
    parse_number,
)
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, words

# --------------------------------------------------------------------------- score


class ScoredKpi(BaseModel):
    id: str | None
    name: str
    unit: str | None
    direction: str | None
    baseline: float | None
    target: float | None
    actual: float | None
    weight: float | None = Field(description="percentage points as given (or equal weights)")
    achievement_raw: float | None = Field(description="(actual - baseline) / (target - baseline), a fraction")
    achievement_capped: float | None = Field(description="raw achievement limited to [0, cap], a fraction")
    weighted_points: float | None = Field(description="this KPI's share of the weighted score, a fraction")
    status: Literal["green", "yellow", "orange", "red", "undefined", "no_actual"]
    status_zh: str = ""
    achievement_coefficient: float | None = Field(
        description="achievement coefficient (达成系数) = target / baseline, reported alongside (not the achievement)")
    method: str = Field(description="how the achievement was computed")
    message: str = ""


class ScoreResult(Evidenced):
    weighted_score: float | None = Field(description="sum(weight x capped achievement) / sum(weight) over scored "
                                                     "KPIs, a fraction (1.0 = 100%)")
    overall_status: str
    cap: float = Field(description="upper limit of the capped achievement, a fraction (1.2 = 120%)")
    thresholds: dict[str, float] = Field(description="lower bounds of green, yellow, orange (fractions); below "
                                                     "orange is red")
    weights_mode: str
    weight_scored: float = Field(description="weight points of the KPIs that could be scored")
    kpis: list[ScoredKpi]
    findings: list[Finding]
    markdown_table: str
    language: ResultLanguage = "en"


S = "kpi.score"


def _thresholds(overrides: dict[str, Any] | None) -> dict[str, float]:
    values = dict(DEFAULT_THRESHOLDS)
    for key, raw in (overrides or {}).items():
        name = str(key).strip().lower()
        if name not in values:
            raise InputError(f"unknown threshold {key!r}; give green, yellow and/or orange, e.g. "
                             "{'green': 1.0, 'yellow': 0.8, 'orange': 0.5}")
        values[name] = parse_fraction(raw, f"threshold {name}")
    if not values["green"] >= values["yellow"] >= values["orange"] >= 0:
        raise InputError(f"thresholds must satisfy green >= yellow >= orange >= 0, got {values}")
    return values


def colour(achievement: float, thresholds: dict[str, float]) -> str:
    for name in ("green", "yellow", "orange"):
        if achievement >= thresholds[name] - 1e-12:
            return name
    return "red"


def _lookup_actual(actuals: dict[str, Any], kpi: CompletedKpi) -> Any:
    folded = {slug(str(k)): v for k, v in actuals.items()}
    for key in (kpi.id, kpi.name, kpi.name_zh):
        if key and slug(key) in folded:
            return folded[slug(key)]
    return None


def score_kpi_set(catalog: KpiCatalog, items: list[KpiItem], actuals: dict[str, Any] | None = None,
                  cap: Any = 1.2, thresholds: dict[str, Any] | None = None, w: Words | None = None) -> ScoreResult:
    """Achievement per KPI (raw and capped), weighted score and four-colour status; texts in ``w``'s language."""
    w = w or words("en")
    if not items:
        raise InputError("kpis is empty: pass the KPI set (e.g. build_kpis' kpis) with baseline, target and weight")
    cap_value = parse_fraction(cap, "cap")
    limits = _thresholds(thresholds)
    if cap_value < limits["green"]:
        raise InputError(f"cap {cap_value:.0%} is below the green threshold {limits['green']:.0%}; raise the cap")
    actuals = actuals or {}
    findings: list[Finding] = []
    weights = parse_weights(items)
    kpis = [resolve_item(catalog, item, i, w)[0] for i, item in enumerate(items)]
    weights_mode, _ = apply_weights(kpis, weights, findings, scoring=True, w=w)
    matched_keys: set[str] = set()
    scored: list[ScoredKpi] = []
    for item, kpi in zip(items, kpis, strict=True):
        label = kpi_label(kpi)
        raw_actual = _lookup_actual(actuals, kpi)
        if raw_actual is None:
            raw_actual = item.actual
        else:
            matched_keys.update(slug(k) for k in (kpi.id, kpi.name, kpi.name_zh) if k)
        baseline = parse_number(item.baseline, f"{label} baseline") if item.baseline not in (None, "") else None
        target = parse_number(item.target, f"{label} target") if item.target not in (None, "") else None
        actual = parse_number(raw_actual, f"actual of {label}") if raw_actual not in (None, "") else None
        if target is None:
            raise InputError(f"{label} has no target; every scored KPI needs a numeric target")
        coefficient = round(target / baseline, 4) if baseline not in (None, 0) else None
        row = ScoredKpi(id=kpi.id, name=kpi.name, unit=kpi.unit, direction=kpi.direction, baseline=baseline,
                        target=target, actual=actual, weight=kpi.weight, achievement_raw=None,
                        achievement_capped=None, weighted_points=None, status="undefined",
                        achievement_coefficient=coefficient, method="")
        if actual is None:
            row.status, row.method = "no_actual", w(f"{S}.methods.not_scored")
            row.message = w(f"{S}.no_actual", label=label)
            findings.append(Finding(severity="warning", code="actual_missing", kpi=label, message=row.message))
        elif baseline is None:
            direction = kpi.direction
            if direction not in DIRECTIONS:
                row.message = w(f"{S}.no_baseline_direction", label=label)
            elif direction == "higher" and target != 0:
                row.achievement_raw = actual / target
                row.method = w(f"{S}.methods.ratio_higher")
            elif direction == "lower" and actual != 0:
                row.achievement_raw = target / actual
                row.method = w(f"{S}.methods.ratio_lower")
            else:
                row.message = w(f"{S}.ratio_undefined", label=label)
        elif target == baseline:
            row.message = w(f"{S}.target_equals_baseline", label=label, target=f"{target:g}",
                            met=w("common.yes") if _met(actual, target, kpi.direction) else w("common.no"))
            row.method = w(f"{S}.methods.undefined")
            findings.append(Finding(severity="warning", code="target_equals_baseline", kpi=label, message=row.message))
        else:
            row.achievement_raw = (actual - baseline) / (target - baseline)
            row.method = w(f"{S}.methods.standard")
            if kpi.direction in DIRECTIONS and (target > baseline) != (kpi.direction == "higher"):
                findings.append(Finding(severity="warning", code="direction", kpi=label, message=w(
                    f"{S}.direction", label=label, direction=w.option("kpi.findings.directions", kpi.direction))))
        if row.achievement_raw is not None:
            row.achievement_raw = round(row.achievement_raw, 6)
            row.achievement_capped = round(min(max(row.achievement_raw, 0.0), cap_value), 6)
            row.status = colour(row.achievement_capped, limits)  # type: ignore[assignment]
        row.status_zh = COLOUR_ZH.get(row.status, "")
        scored.append(row)
    unknown = [k for k in actuals if slug(str(k)) not in matched_keys]
    if unknown:
        findings.append(Finding(severity="warning", code="actual_unmatched", message=w(
            f"{S}.unmatched", keys=w.enumeration.join(map(str, unknown)))))
    usable = [r for r in scored if r.achievement_capped is not None and (r.weight or 0) > 0]
    weight_scored = sum(r.weight or 0 for r in usable)
    weighted: float | None = None
    if weight_scored > 0:
        for r in usable:
            r.weighted_points = round((r.weight or 0) * (r.achievement_capped or 0) / weight_scored, 6)
        weighted = round(sum(r.weighted_points or 0 for r in usable), 6)
        if len(usable) < len(scored):
            findings.append(Finding(severity="info", code="partial_score", message=w(
                f"{S}.partial", usable=len(usable), count=len(scored), points=f"{weight_scored:g}")))
    overall = colour(weighted, limits) if weighted is not None else "undefined"
    result = ScoreResult(weighted_score=weighted, overall_status=overall, cap=cap_value, thresholds=limits,
                         weights_mode=weights_mode, weight_scored=weight_scored, kpis=scored, findings=findings,
                         markdown_table="", language=w.language)
    result.markdown_table = score_table(result, w)
    return result


def _met(actual: float, target: float, direction: str | None) -> bool:
    return actual <= target if direction == "lower" else actual >= target


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def score_table(result: ScoreResult, w: Words | None = None) -> str:
    w = w or words(result.language)
    lines = [w(f"{S}.columns"), "|---|---|---|---|---|---|---|---|---|"]
    for r in result.kpis:
        lines.append(f"| {r.name} | {fmt_number(r.baseline)} | {fmt_number(r.target)} | {fmt_number(r.actual)} | "
                     f"{_pct(r.achievement_raw)} | {_pct(r.achievement_capped)} | {fmt_number(r.weight)} | "
                     f"{w.option(f'{S}.statuses', r.status)} | {fmt_number(r.achievement_coefficient)} |")
    return "\n".join(lines)


def score_text(result: ScoreResult, w: Words | None = None) -> str:
    w = w or words(result.language)
    t = result.thresholds
    lines = [w(f"{S}.title", score=_pct(result.weighted_score),
               status=w.option(f"{S}.statuses", result.overall_status), cap=f"{result.cap:.0%}",
               green=f"{t['green']:.0%}", yellow=f"{t['yellow']:.0%}", orange=f"{t['orange']:.0%}"),
             "", result.markdown_table]
    for f in result.findings:
        lines.append(f"- **{w.option('kpi.severities', f.severity)}**{' `' + f.kpi + '`' if f.kpi else ''}"
                     f"{w.colon}{f.message}")
    for r in result.kpis:
        if r.message and r.status in ("undefined", "no_actual") and not any(f.message == r.message
                                                                           for f in result.findings):
            lines.append(f"- {r.message}")
    return "\n".join(lines)
