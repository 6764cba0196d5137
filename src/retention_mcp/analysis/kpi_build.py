"""Building a KPI set a manager can adopt: completing items from the catalog and checking the set.

The rules: weights sum to 100, BSC balance or OKR objective -> key-result structure, SMART per KPI,
the weight bands of a call-center appraisal linked to CSAT, and the target / baseline achievement
coefficient. Weights are percentage points summing to 100.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.analysis.kpi_catalog import (
    DIRECTION_ALIASES,
    DIRECTIONS,
    PERSPECTIVES,
    Band,
    KpiCatalog,
    KpiDefinition,
    Severity,
    find_kpis,
    normalise_perspective,
    parse_number,
    perspective_name,
    unit_name,
)
from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced
from retention_mcp.wording import ResultLanguage, Words, words

# --------------------------------------------------------------------------- build


class KpiItem(BaseModel):
    """One KPI of a set: a catalog id, or a custom KPI defined inline."""

    id: str | None = Field(None, description="catalog id (see find_kpis), e.g. 'fcr'; omit for a custom KPI")
    name: str | None = Field(None, max_length=200, description="name of a custom KPI (required when id is omitted)")
    objective: str | None = Field(None, max_length=500, description="OKR: the objective this key result belongs to")
    perspective: str | None = Field(None, description="BSC perspective: financial, customer, internal_process, "
                                                      "learning_growth (defaults to the catalog's)")
    unit: str | None = Field(None, description="percent (points 0-100), seconds, days, score_1_5, ... "
                                               "(defaults to the catalog's)")
    direction: str | None = Field(None, description="'higher' or 'lower' is better (defaults to the catalog's)")
    baseline: float | str | None = Field(None, description="current value in the KPI's unit, e.g. 65 or '65%'")
    target: float | str | None = Field(None, description="target value in the KPI's unit")
    weight: float | str | None = Field(None, description="weight in percentage points; a set's weights sum to 100")
    deadline: str | None = Field(None, description="date the target is due, YYYY-MM-DD")
    definition: str | None = Field(None, max_length=2000)
    formula: str | None = Field(None, max_length=500)
    data_source: str | None = Field(None, max_length=500)
    cadence: str | None = Field(None, max_length=100)
    owner: str | None = Field(None, max_length=200)
    profile_group: str | None = Field(None, description="weight group of the CSAT-linked call-center appraisal: "
                                                        "customer, efficiency, quality_attitude")
    actual: float | str | None = Field(None, description="score_kpis: the actual value (or pass actuals)")


class CompletedKpi(BaseModel):
    id: str | None = Field(description="catalog id, or null for a custom KPI")
    name: str = Field(description="English name (or the custom name)")
    name_zh: str = ""
    custom: bool
    objective: str | None = None
    perspective: str | None = None
    domain: str | None = None
    unit: str | None = None
    direction: str | None = Field(None, description="'higher' or 'lower' is better")
    definition: str | None = Field(None, max_length=2000)
    formula: str | None = Field(None, max_length=500)
    data_source: str | None = Field(None, max_length=500)
    cadence: str | None = Field(None, max_length=100)
    owner: str | None = Field(None, max_length=200)
    profile_group: str | None = None
    baseline: float | None = Field(None, description="KPI unit; percent KPIs in points")
    target: float | None = Field(None, description="KPI unit; percent KPIs in points")
    weight: float | None = Field(None, description="percentage points of the total score")
    deadline: str | None = None
    achievement_coefficient: float | None = Field(
        None, description="achievement coefficient (达成系数) = target / baseline (e.g. 60 s / 180 s = 0.33)")
    relative_change: float | None = Field(None, description="(target - baseline) / |baseline|, a fraction")
    smart: dict[str, bool] = Field(default_factory=dict,
                                   description="specific, measurable, achievable, relevant, time_bound")
    bands: list[Band] = Field(default_factory=list, description="target bands from the catalog, with sources")


class Finding(BaseModel):
    severity: Severity
    code: str = Field(description="machine-readable check name, e.g. weights_sum, direction, smart_time_bound")
    kpi: str | None = Field(None, description="the KPI the finding is about (id or name), null for the set")
    message: str


class BuildResult(Evidenced):
    framework: Literal["bsc", "okr"]
    profile: str | None
    weights_mode: str = Field(description="'given' or 'equal (none given)' or 'partial'")
    weight_total: float | None = Field(description="sum of the weights, percentage points")
    max_relative_change: float = Field(description="plausibility threshold for |target - baseline| / |baseline|")
    kpis: list[CompletedKpi]
    findings: list[Finding]
    counts: dict[str, int] = Field(description="findings by severity")
    perspective_weights: dict[str, float] = Field(description="weight points per BSC perspective")
    profile_group_weights: dict[str, float] = Field(default_factory=dict,
                                                    description="weight points per appraisal weight group "
                                                                "(profile only)")
    markdown_table: str
    language: ResultLanguage = "en"


F = "kpi.findings"


def slug(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _parse_deadline(text: str) -> dt.date | None:
    text = text.strip()
    match = re.match(r"^(\d{4})[-/年.](\d{1,2})(?:[-/月.](\d{1,2}))?日?$", text)
    if not match:
        return None
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 0)
    try:
        if day:
            return dt.date(year, month, day)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)  # end of the named month
        return nxt - dt.timedelta(days=1)
    except ValueError:
        return None


def resolve_item(catalog: KpiCatalog, item: KpiItem, index: int,
                 w: Words | None = None) -> tuple[CompletedKpi, KpiDefinition | None]:
    defs = catalog.by_id()
    definition: KpiDefinition | None = None
    if item.id is not None and item.id.strip():
        key = item.id.strip()
        definition = defs.get(key) or defs.get(key.lower())
        if definition is None:
            suggestions = [m.kpi.id for m in find_kpis(catalog, key.replace("_", " "), limit=3).matches]
            hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
            raise InputError(f"item {index + 1}: unknown KPI id {item.id!r}.{hint} Use find_kpis to look ids up, "
                             "or drop id and give name, unit and direction for a custom KPI")
    elif not (item.name and item.name.strip()):
        raise InputError(f"item {index + 1} has neither id nor name: give a catalog id (see find_kpis) or a "
                         "custom KPI with name, unit, direction, baseline and target")
    base = catalog.in_language(definition, w or words("en")) if definition is not None else None
    direction = item.direction
    if direction is not None:
        direction = DIRECTION_ALIASES.get(direction.strip().lower())
        if direction is None:
            raise InputError(f"item {index + 1}: direction must be 'higher' or 'lower' (is better), "
                             f"not {item.direction!r}")
    completed = CompletedKpi(
        id=base.id if base else None,
        name=(item.name or "").strip() or ((base.name_zh if (w and w.zh) else base.name_en) if base else ""),
        name_zh=base.name_zh if base else "",
        custom=base is None,
        objective=item.objective,
        perspective=(normalise_perspective(item.perspective) if item.perspective
                     else (base.perspective if base else None)),
        domain=base.domain if base else None,
        unit=item.unit or (base.unit if base else None),
        direction=direction or (base.direction if base else None),
        definition=item.definition or (base.definition if base else None),
        formula=item.formula or (base.formula if base else None),
        data_source=item.data_source or (base.data_source if base else None),
        cadence=item.cadence or (base.cadence if base else None),
        owner=item.owner,
        profile_group=item.profile_group or (base.profile_group if base else None),
        deadline=item.deadline,
        bands=list(base.bands) if base else [],
    )
    return completed, definition


def kpi_label(kpi: CompletedKpi) -> str:
    return kpi.id or kpi.name


def parse_weights(items: list[KpiItem]) -> list[float | None]:
    weights: list[float | None] = []
    for i, item in enumerate(items):
        if item.weight is None or (isinstance(item.weight, str) and not item.weight.strip()):
            weights.append(None)
            continue
        try:
            weights.append(parse_number(item.weight, f"item {i + 1} ({item.id or item.name}) weight"))
        except ValueError as exc:
            raise InputError(f"{exc}; weights are percentage points that sum to 100, e.g. 25") from None
    return weights


def apply_weights(kpis: list[CompletedKpi], weights: list[float | None], findings: list[Finding],
                   scoring: bool = False, w: Words | None = None) -> tuple[str, float | None]:
    w = w or words("en")
    given = [weight for weight in weights if weight is not None]
    if not given:
        equal = 100.0 / len(kpis)
        for kpi in kpis:
            kpi.weight = round(equal, 4)
        findings.append(Finding(severity="info", code="weights_equal", message=w(
            f"{F}.weights_equal", count=len(kpis), equal=f"{equal:.4g}")))
        return "equal (none given)", 100.0
    for kpi, weight in zip(kpis, weights, strict=True):
        kpi.weight = weight
        if weight is not None and weight < 0:
            findings.append(Finding(severity="error", code="weight_negative", kpi=kpi_label(kpi),
                                    message=w(f"{F}.weight_negative", weight=f"{weight:g}")))
    total = sum(given)
    if len(given) < len(kpis):
        missing = [kpi_label(k) for k, weight in zip(kpis, weights, strict=True) if weight is None]
        findings.append(Finding(severity="error", code="weights_partial", message=w(
            f"{F}.weights_partial", given=len(given), count=len(kpis), missing=w.enumeration.join(missing))))
        return "partial", total
    if abs(total - 100) > 0.01:
        if abs(total - 1) <= 0.01 and all(weight <= 1 for weight in given):
            hint = w(f"{F}.weights_fractions")
        else:
            hint = w(f"{F}.weights_adjust", points=f"{100 - total:+g}")
        effect = w(f"{F}.weights_scoring", total=f"{total:g}") if scoring else w(f"{F}.weights_not_rescaled")
        findings.append(Finding(severity="warning" if scoring else "error", code="weights_sum", message=w(
            f"{F}.weights_sum", total=f"{total:g}", hint=hint, effect=effect)))
    return "given", total


def _check_values(kpi: CompletedKpi, item: KpiItem, catalog: KpiCatalog, max_rel: float,
                  findings: list[Finding], w: Words) -> dict[str, bool]:
    label = kpi_label(kpi)
    measurable = True
    for field in ("baseline", "target"):
        raw = getattr(item, field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            measurable = False
            findings.append(Finding(severity="warning", code=f"{field}_missing", kpi=label,
                                    message=w(f"{F}.{field}_missing", unit=kpi.unit or w(f"{F}.the_unit"))))
            continue
        try:
            setattr(kpi, field, parse_number(raw, field))
        except ValueError as exc:
            measurable = False
            findings.append(Finding(severity="error", code=f"{field}_not_numeric", kpi=label, message=str(exc)))
    unit = catalog.units.get(kpi.unit or "")
    if kpi.unit is None:
        measurable = False
        findings.append(Finding(severity="warning", code="unit_missing", kpi=label,
                                message=w(f"{F}.unit_missing")))
    elif unit is None:
        findings.append(Finding(severity="info", code="unit_unknown", kpi=label,
                                message=w(f"{F}.unit_unknown", unit=kpi.unit, known=", ".join(catalog.units))))
    in_range = True
    for field in ("baseline", "target"):
        value = getattr(kpi, field)
        if value is None or unit is None:
            continue
        if (unit.min is not None and value < unit.min) or (unit.max is not None and value > unit.max):
            in_range = False
            bounds = f"{unit.min:g}" if unit.min is not None else "-inf"
            upper = f"{unit.max:g}" if unit.max is not None else "inf"
            findings.append(Finding(severity="error", code="out_of_range", kpi=label, message=w(
                f"{F}.out_of_range", field=w(f"kpi.fields.{field}"), value=f"{value:g}", unit=kpi.unit, low=bounds,
                high=upper)))
    if (kpi.unit == "percent" and kpi.baseline is not None and kpi.target is not None
            and 0 < max(abs(kpi.baseline), abs(kpi.target)) <= 1):
        findings.append(Finding(severity="warning", code="percent_as_fraction", kpi=label, message=w(
            f"{F}.percent_as_fraction", baseline=f"{kpi.baseline:g}", target=f"{kpi.target:g}",
            baseline100=f"{kpi.baseline * 100:g}", target100=f"{kpi.target * 100:g}")))
    achievable = in_range
    if kpi.direction is None:
        findings.append(Finding(severity="error", code="direction_missing", kpi=label,
                                message=w(f"{F}.direction_missing")))
    b, t = kpi.baseline, kpi.target
    if b is not None and t is not None:
        if b != 0:
            kpi.achievement_coefficient = round(t / b, 4)
            kpi.relative_change = round((t - b) / abs(b), 4)
        if t == b:
            achievable = False
            findings.append(Finding(severity="warning", code="target_equals_baseline", kpi=label, message=w(
                f"{F}.target_equals_baseline", value=f"{t:g}")))
        elif kpi.direction in DIRECTIONS and (t > b) != (kpi.direction == "higher"):
            achievable = False
            wanted = "above" if kpi.direction == "higher" else "below"
            findings.append(Finding(severity="error", code="direction", kpi=label, message=w(
                f"{F}.direction", direction=w.option(f"{F}.directions", kpi.direction), target=f"{t:g}",
                wanted=w.option(f"{F}.wanted", wanted), baseline=f"{b:g}")))
        if b != 0 and abs((t - b) / b) > max_rel:
            achievable = False
            findings.append(Finding(severity="warning", code="implausible_jump", kpi=label, message=w(
                f"{F}.implausible_jump", change=f"{(t - b) / abs(b):+.0%}", threshold=f"{max_rel:.0%}")))
        elif b == 0 and t != 0:
            findings.append(Finding(severity="info", code="zero_baseline", kpi=label, message=w(f"{F}.zero_baseline")))
    return {"measurable": measurable, "achievable": achievable}


def build_kpi_set(catalog: KpiCatalog, items: list[KpiItem], framework: str = "bsc", profile: str | None = None,
                  deadline: str | None = None, max_relative_change: float = 0.5,
                  today: dt.date | None = None, w: Words | None = None) -> BuildResult:
    """Complete ``items`` from the catalog and check them; see the module docstring for the rules. Texts (findings,
    catalog definitions) in ``w``'s language."""
    w = w or words("en")
    framework = (framework or "bsc").strip().lower()
    if framework not in ("bsc", "okr"):
        raise InputError(f"framework must be 'bsc' (balanced scorecard) or 'okr', not {framework!r}")
    if profile is not None and not profile.strip():
        profile = None
    if profile is not None and profile not in catalog.profiles:
        raise InputError(f"unknown profile {profile!r}; known: {', '.join(catalog.profiles) or 'none'}")
    if not items:
        raise InputError("items is empty: give at least one KPI, e.g. [{'id': 'fcr', 'baseline': 65, "
                         "'target': 75, 'weight': 100}]")
    if max_relative_change <= 0:
        raise InputError("max_relative_change must be positive, e.g. 0.5 for 50%")
    today = today or dt.date.today()
    findings: list[Finding] = []
    weights = parse_weights(items)
    kpis: list[CompletedKpi] = []
    for i, item in enumerate(items):
        kpi, _ = resolve_item(catalog, item, i, w)
        if kpi.deadline is None and deadline:
            kpi.deadline = deadline
        kpis.append(kpi)
    weights_mode, weight_total = apply_weights(kpis, weights, findings, w=w)

    seen: dict[str, int] = {}
    for i, kpi in enumerate(kpis):
        for key in {f"id:{kpi.id}" if kpi.id else None, f"name:{slug(kpi.name)}"} - {None}:
            if key in seen:
                findings.append(Finding(severity="warning", code="duplicate", kpi=kpi_label(kpi), message=w(
                    f"{F}.duplicate", item=i + 1, first=seen[key] + 1, name=kpi.name)))
                break
            seen[key] = i

    for item, kpi in zip(items, kpis, strict=True):
        label = kpi_label(kpi)
        checks = _check_values(kpi, item, catalog, max_relative_change, findings, w)
        specific = bool(kpi.definition and kpi.name)
        if not specific:
            findings.append(Finding(severity="warning", code="smart_specific", kpi=label, message=w(
                f"{F}.smart_specific")))
        relevant = bool(kpi.objective) if framework == "okr" else bool(kpi.perspective)
        if not relevant:
            what = w(f"{F}.an_objective") if framework == "okr" else w(f"{F}.a_perspective")
            findings.append(Finding(severity="warning", code="smart_relevant", kpi=label,
                                    message=w(f"{F}.smart_relevant", what=what)))
        time_bound = False
        if not kpi.deadline:
            findings.append(Finding(severity="warning", code="smart_time_bound", kpi=label, message=w(
                f"{F}.smart_time_bound")))
        else:
            due = _parse_deadline(kpi.deadline)
            if due is None:
                findings.append(Finding(severity="info", code="deadline_format", kpi=label, message=w(
                    f"{F}.deadline_format", deadline=kpi.deadline)))
                time_bound = True
            elif due < today:
                findings.append(Finding(severity="warning", code="deadline_past", kpi=label,
                                        message=w(f"{F}.deadline_past", deadline=due.isoformat())))
            else:
                time_bound = True
        if not checks["measurable"]:
            findings.append(Finding(severity="warning", code="smart_measurable", kpi=label, message=w(
                f"{F}.smart_measurable")))
        kpi.smart = {"specific": specific, "measurable": checks["measurable"], "achievable": checks["achievable"],
                     "relevant": relevant, "time_bound": time_bound}

    perspective_weights: dict[str, float] = {}
    for kpi in kpis:
        key = kpi.perspective or "unassigned"
        perspective_weights[key] = round(perspective_weights.get(key, 0.0) + (kpi.weight or 0.0), 4)
    if framework == "bsc":
        missing = [p for p in PERSPECTIVES if p not in perspective_weights]
        if missing:
            findings.append(Finding(severity="warning", code="bsc_coverage", message=w(
                f"{F}.bsc_coverage", missing=w.enumeration.join(missing))))
    else:
        _check_okr(kpis, findings, w)

    group_weights: dict[str, float] = {}
    if profile is not None:
        group_weights = _check_profile(catalog, profile, kpis, weights_mode, findings, w)

    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    result = BuildResult(framework=framework, profile=profile, weights_mode=weights_mode,  # type: ignore[arg-type]
                         weight_total=weight_total, max_relative_change=max_relative_change, kpis=kpis,
                         findings=findings, counts=counts, perspective_weights=perspective_weights,
                         profile_group_weights=group_weights, markdown_table="", language=w.language)
    result.markdown_table = kpi_table(result, w)
    return result


def _check_okr(kpis: list[CompletedKpi], findings: list[Finding], w: Words) -> None:
    objectives: dict[str, list[str]] = {}
    for kpi in kpis:
        if not kpi.objective:
            findings.append(Finding(severity="error", code="okr_no_objective", kpi=kpi_label(kpi), message=w(
                f"{F}.okr_no_objective")))
            continue
        objectives.setdefault(kpi.objective.strip(), []).append(kpi_label(kpi))
    for objective, krs in objectives.items():
        if len(krs) == 1:
            findings.append(Finding(severity="info", code="okr_single_kr", message=w(
                f"{F}.okr_single_kr", objective=objective)))
        elif len(krs) > 5:
            findings.append(Finding(severity="warning", code="okr_too_many_krs", message=w(
                f"{F}.okr_too_many_krs", objective=objective, count=len(krs))))
    if len(objectives) > 5:
        findings.append(Finding(severity="warning", code="okr_too_many_objectives", message=w(
            f"{F}.okr_too_many_objectives", count=len(objectives))))


def _check_profile(catalog: KpiCatalog, profile: str, kpis: list[CompletedKpi], weights_mode: str,
                   findings: list[Finding], w: Words) -> dict[str, float]:
    spec = catalog.profiles[profile]
    groups: dict[str, dict[str, Any]] = spec.get("groups", {})
    totals = {g: 0.0 for g in groups}
    for kpi in kpis:
        if kpi.profile_group in groups:
            totals[kpi.profile_group] += kpi.weight or 0.0
        else:
            findings.append(Finding(severity="warning", code="profile_group_missing", kpi=kpi_label(kpi), message=w(
                f"{F}.profile_group_missing", profile=profile, name=kpi.name, groups=", ".join(groups))))
    if weights_mode == "partial":
        findings.append(Finding(severity="warning", code="profile_unchecked", message=w(
            f"{F}.profile_unchecked", profile=profile)))
        return {g: round(v, 4) for g, v in totals.items()}
    source = spec.get("source", "")
    for group, band in groups.items():
        low, high, value = float(band["min"]), float(band["max"]), totals[group]
        if not low - 1e-9 <= value <= high + 1e-9:
            findings.append(Finding(severity="warning", code="profile_band", message=w(
                f"{F}.profile_band", profile=profile, group=group, group_zh=band.get("zh", ""), value=f"{value:g}",
                source=source, low=f"{low:g}", high=f"{high:g}")))
        else:
            findings.append(Finding(severity="info", code="profile_band_ok", message=w(
                f"{F}.profile_band_ok", profile=profile, group=group, value=f"{value:g}", source=source,
                low=f"{low:g}", high=f"{high:g}")))
    return {g: round(v, 4) for g, v in totals.items()}


def fmt_number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.3g}"


def kpi_table(result: BuildResult, w: Words | None = None) -> str:
    """The KPI set as a markdown table: the KPI's name in the reader's language first, the other beside it."""
    w = w or words(result.language)
    where_col = w("kpi.table.objective") if result.framework == "okr" else w("kpi.table.perspective")
    rule = "|---" * (9 if w.zh else 10) + "|"
    lines = [w("kpi.table.columns", where=where_col), rule]
    for i, k in enumerate(result.kpis, 1):
        where = (k.objective if result.framework == "okr" else perspective_name(k.perspective, w)) or "—"
        name = k.name + ("" if k.id is None else f" (`{k.id}`)")
        names = name if w.zh else f"{name} | {k.name_zh or '—'}"
        direction = w.option("kpi.findings.directions", k.direction) if k.direction else "—"
        lines.append(f"| {i} | {names} | {where} | {unit_name(k.unit, w)} | {direction} "
                     f"| {fmt_number(k.baseline)} | {fmt_number(k.target)} | {fmt_number(k.weight)} | "
                     f"{k.deadline or '—'} |")
    return "\n".join(lines)


def build_text(result: BuildResult, w: Words | None = None) -> str:
    w = w or words(result.language)
    c = result.counts
    lines = [w("kpi.build_title", framework=result.framework.upper(),
               profile=w("kpi.build_profile", profile=result.profile) if result.profile else "",
               count=len(result.kpis), mode=w.option("kpi.weights_modes", result.weights_mode),
               total=fmt_number(result.weight_total), errors=c["error"], warnings=c["warning"], infos=c["info"]),
             "", result.markdown_table, ""]
    order = {"error": 0, "warning": 1, "info": 2}
    for f in sorted(result.findings, key=lambda f: order[f.severity]):
        lines.append(f"- **{w.option('kpi.severities', f.severity)}**{' `' + f.kpi + '`' if f.kpi else ''}"
                     f"{w.colon}{f.message}")
    return "\n".join(lines)

