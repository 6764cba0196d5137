"""KPI catalog search, KPI-set building and validation, and scoring against actuals.

Plain functions over the catalog in ``tools/kpi_catalog.yaml`` (or a team override). The rules come
from the seeds: weights sum to 100 (002, 004), BSC balance or OKR objective -> key-result structure
(002), SMART per KPI (002, 003), seed 001's weight bands for a call-center appraisal linked to CSAT,
seed 004's baseline / target / achievement coefficient and its four-colour warnings.

Units: values of a ``percent`` KPI are percentage points (75 = 75%). Achievements and the weighted
score are fractions (1.0 = 100%); weights are percentage points summing to 100.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

PERSPECTIVES = ("financial", "customer", "internal_process", "learning_growth")
DIRECTIONS = ("higher", "lower")
#: Words people use for a perspective, mapped to the catalog's ids.
PERSPECTIVE_ALIASES = {
    "financial": "financial", "finance": "financial", "财务": "financial",
    "customer": "customer", "客户": "customer",
    "internal_process": "internal_process", "internal": "internal_process", "process": "internal_process",
    "internal process": "internal_process", "内部流程": "internal_process", "流程": "internal_process",
    "learning_growth": "learning_growth", "learning": "learning_growth", "learning and growth": "learning_growth",
    "learning & growth": "learning_growth", "学习与成长": "learning_growth", "学习成长": "learning_growth",
}
DIRECTION_ALIASES = {"higher": "higher", "up": "higher", "increase": "higher", "越高越好": "higher", "高": "higher",
                     "lower": "lower", "down": "lower", "decrease": "lower", "越低越好": "lower", "低": "lower"}
DEFAULT_THRESHOLDS = {"green": 1.0, "yellow": 0.8, "orange": 0.5}
COLOUR_ZH = {"green": "绿", "yellow": "黄", "orange": "橙", "red": "红"}
Severity = Literal["info", "warning", "error"]


# --------------------------------------------------------------------------- catalog


class Band(BaseModel):
    label: str = ""
    baseline: float | None = Field(None, description="a baseline the source states, in the KPI's unit")
    target_low: float | None = Field(None, description="lower end of the target band (or the minimum), KPI unit")
    target_high: float | None = Field(None, description="upper end of the target band (or the maximum), KPI unit")
    relative_change: float | None = Field(None, description="target as a relative change from baseline, percent")
    relative_change_high: float | None = None
    note: str = Field("", description="the source's own words")
    source: str = Field(description="source id, e.g. seed004 or dora_2021")
    source_text: str = Field("", description="what the source is")


class KpiDefinition(BaseModel):
    id: str
    name_en: str
    name_zh: str
    synonyms: list[str] = []
    definition: str
    formula: str
    unit: str
    direction: Literal["higher", "lower"]
    perspective: Literal["financial", "customer", "internal_process", "learning_growth"]
    domain: str
    data_source: str
    cadence: str
    profile_group: str | None = Field(None, description="seed 001 weight group: customer, efficiency, "
                                                        "quality_attitude")
    bands: list[Band] = []


class UnitInfo(BaseModel):
    label: str = ""
    min: float | None = None
    max: float | None = None


class KpiCatalog(BaseModel):
    version: int = 1
    sources: dict[str, str] = {}
    units: dict[str, UnitInfo] = {}
    perspectives: dict[str, dict[str, str]] = {}
    domains: dict[str, dict[str, str]] = {}
    profiles: dict[str, dict[str, Any]] = {}
    kpis: list[KpiDefinition]

    def by_id(self) -> dict[str, KpiDefinition]:
        return {k.id: k for k in self.kpis}


_catalog_cache: dict[int, KpiCatalog] = {}


def parse_catalog(raw: Any) -> KpiCatalog:
    """Validate the YAML structure; a broken team catalog gets a message naming the problem."""
    if not isinstance(raw, dict) or "kpis" not in raw:
        raise ValueError("the KPI catalog must be a mapping with a 'kpis' list; check kpi_catalog.yaml")
    cached = _catalog_cache.get(id(raw))
    if cached is not None:
        return cached
    try:
        catalog = KpiCatalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"the KPI catalog is invalid at {where}: {first['msg']}; fix kpi_catalog.yaml") from None
    for kpi in catalog.kpis:
        for band in kpi.bands:
            band.source_text = catalog.sources.get(band.source, "")
    _catalog_cache.clear()  # load_catalog returns the same object until the file changes
    _catalog_cache[id(raw)] = catalog
    return catalog


def load_kpi_catalog(settings: Any) -> KpiCatalog:
    from retention_mcp.catalog import load_catalog

    return parse_catalog(load_catalog(settings, "kpi_catalog.yaml"))


# --------------------------------------------------------------------------- search


class KpiMatch(BaseModel):
    score: float = Field(description="relevance, higher is better")
    matched_on: str = Field(description="which field matched: id, name, synonym, definition")
    kpi: KpiDefinition


class KpiSearchResult(BaseModel):
    query: str
    domain: str | None
    perspective: str | None
    total: int = Field(description="matches before the limit")
    truncated: bool
    matches: list[KpiMatch]


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-/()（）·.,，、:：]+", " ", text.lower()).strip()


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _bigrams(text: str) -> set[str]:
    chars = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    return {a + b for a, b in itertools.pairwise(chars)}


def normalise_perspective(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    key = str(value).strip().lower()
    if key in PERSPECTIVE_ALIASES:
        return PERSPECTIVE_ALIASES[key]
    raise ValueError(f"unknown BSC perspective {value!r}; use one of {', '.join(PERSPECTIVES)} "
                     "(or 财务/客户/内部流程/学习与成长)")


def _match_score(kpi: KpiDefinition, query: str) -> tuple[float, str]:
    q = _fold(query)
    if not q:
        return 1.0, "filter"
    names = [_fold(kpi.name_en), _fold(kpi.name_zh)]
    synonyms = [_fold(s) for s in kpi.synonyms]
    if q == _fold(kpi.id) or q in names:
        return 100.0, "id" if q == _fold(kpi.id) else "name"
    if q in synonyms:
        return 90.0, "synonym"
    if any(q in n for n in names):
        return 70.0, "name"
    if any(q in s for s in synonyms):
        return 60.0, "synonym"
    if q in _fold(kpi.id):
        return 55.0, "id"
    definition = _fold(kpi.definition + " " + kpi.formula)
    if q in definition:
        return 35.0, "definition"
    words = [w for w in q.split() if w]
    everything = " ".join([*names, *synonyms, _fold(kpi.id), definition])
    if len(words) > 1 and all(w in everything for w in words):
        return 30.0, "all words"
    if _has_cjk(q):  # Chinese has no spaces: fall back to shared character pairs
        query_pairs = _bigrams(q)
        if query_pairs:
            name_pairs = _bigrams(" ".join([kpi.name_zh, *kpi.synonyms]))
            share = len(query_pairs & name_pairs) / len(query_pairs)
            if share >= 0.5:
                return 20.0 * share, "name (partial)"
    elif len(words) > 1:
        hits = sum(1 for w in words if len(w) > 2 and w in everything)
        if hits:
            return 10.0 * hits / len(words), "some words"
    return 0.0, ""


def find_kpis(catalog: KpiCatalog, query: str = "", domain: str | None = None, perspective: str | None = None,
              limit: int = 10) -> KpiSearchResult:
    """Search names (en/zh), synonyms and definitions; filter by domain and BSC perspective."""
    if domain is not None and not domain.strip():
        domain = None
    if domain is not None:
        domain = domain.strip().lower()
        known = sorted({k.domain for k in catalog.kpis} | set(catalog.domains))
        if domain not in known:
            raise ValueError(f"unknown domain {domain!r}; use one of {', '.join(known)}")
    perspective = normalise_perspective(perspective)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    matches: list[KpiMatch] = []
    for kpi in catalog.kpis:
        if domain and kpi.domain != domain:
            continue
        if perspective and kpi.perspective != perspective:
            continue
        score, field = _match_score(kpi, query or "")
        if score > 0:
            matches.append(KpiMatch(score=round(score, 2), matched_on=field, kpi=kpi))
    matches.sort(key=lambda m: -m.score)
    return KpiSearchResult(query=query or "", domain=domain, perspective=perspective, total=len(matches),
                           truncated=len(matches) > limit, matches=matches[:limit])


def find_kpis_text(result: KpiSearchResult) -> str:
    if not result.matches:
        return (f"No KPI matches {result.query!r}. Try an English or Chinese name, a synonym (e.g. 'FCR', "
                "'离职率'), or list a domain with an empty query.")
    lines = [f"{result.total} KPI(s) match" + (f" (showing {len(result.matches)})" if result.truncated else ""),
             "", "| id | KPI | 中文 | unit | better | perspective | domain |", "|---|---|---|---|---|---|---|"]
    for m in result.matches:
        k = m.kpi
        lines.append(f"| `{k.id}` | {k.name_en} | {k.name_zh} | {k.unit} | {k.direction} | {k.perspective} "
                     f"| {k.domain} |")
    top = result.matches[0].kpi
    lines += ["", f"**{top.name_en}** — {top.definition} Formula: {top.formula}."]
    if top.bands:
        lines.append("Target bands: " + "; ".join(_band_text(b) for b in top.bands[:4]))
    return "\n".join(lines)


def _band_text(band: Band) -> str:
    parts = [band.label] if band.label else []
    if band.baseline is not None:
        parts.append(f"baseline {band.baseline:g}")
    if band.target_low is not None and band.target_high is not None:
        parts.append(f"target {band.target_low:g}–{band.target_high:g}")
    elif band.target_low is not None:
        parts.append(f"target ≥ {band.target_low:g}")
    elif band.target_high is not None:
        parts.append(f"target ≤ {band.target_high:g}")
    if band.relative_change is not None:
        high = f" to {band.relative_change_high:+g}" if band.relative_change_high is not None else ""
        parts.append(f"change {band.relative_change:+g}%{high}")
    return " ".join(parts) + f" [{band.source}]"


# --------------------------------------------------------------------------- numbers


def parse_number(value: Any, what: str) -> float:
    """75, '75', '75%', '1,200' -> float; anything else raises ValueError naming ``what``."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "").replace("％", "%").rstrip("%").strip()
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{what} must be a number (e.g. 75 or '75%'), not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return number


def parse_fraction(value: Any, what: str) -> float:
    """'80%' -> 0.8, 0.8 -> 0.8, 80 -> 0.8 (a bare number above 2 is read as percent)."""
    text = str(value).strip()
    number = parse_number(value, what)
    if text.endswith(("%", "％")) or number > 2:
        number /= 100
    return number


# --------------------------------------------------------------------------- build


class KpiItem(BaseModel):
    """One KPI of a set: a catalog id, or a custom KPI defined inline."""

    id: str | None = Field(None, description="catalog id (see find_kpis), e.g. 'fcr'; omit for a custom KPI")
    name: str | None = Field(None, description="name of a custom KPI (required when id is omitted)")
    objective: str | None = Field(None, description="OKR: the objective this key result belongs to")
    perspective: str | None = Field(None, description="BSC perspective: financial, customer, internal_process, "
                                                      "learning_growth (defaults to the catalog's)")
    unit: str | None = Field(None, description="percent (points 0-100), seconds, days, score_1_5, ... "
                                               "(defaults to the catalog's)")
    direction: str | None = Field(None, description="'higher' or 'lower' is better (defaults to the catalog's)")
    baseline: float | str | None = Field(None, description="current value in the KPI's unit, e.g. 65 or '65%'")
    target: float | str | None = Field(None, description="target value in the KPI's unit")
    weight: float | str | None = Field(None, description="weight in percentage points; a set's weights sum to 100")
    deadline: str | None = Field(None, description="date the target is due, YYYY-MM-DD")
    definition: str | None = None
    formula: str | None = None
    data_source: str | None = None
    cadence: str | None = None
    owner: str | None = None
    profile_group: str | None = Field(None, description="seed 001 group: customer, efficiency, quality_attitude")
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
    definition: str | None = None
    formula: str | None = None
    data_source: str | None = None
    cadence: str | None = None
    owner: str | None = None
    profile_group: str | None = None
    baseline: float | None = Field(None, description="KPI unit; percent KPIs in points")
    target: float | None = Field(None, description="KPI unit; percent KPIs in points")
    weight: float | None = Field(None, description="percentage points of the total score")
    deadline: str | None = None
    achievement_coefficient: float | None = Field(
        None, description="seed 004's 达成系数 = target / baseline (e.g. 60 s / 180 s = 0.33)")
    relative_change: float | None = Field(None, description="(target - baseline) / |baseline|, a fraction")
    smart: dict[str, bool] = Field(default_factory=dict,
                                   description="specific, measurable, achievable, relevant, time_bound")
    bands: list[Band] = Field(default_factory=list, description="target bands from the catalog, with sources")


class Finding(BaseModel):
    severity: Severity
    code: str = Field(description="machine-readable check name, e.g. weights_sum, direction, smart_time_bound")
    kpi: str | None = Field(None, description="the KPI the finding is about (id or name), null for the set")
    message: str


class BuildResult(BaseModel):
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
                                                    description="weight points per seed 001 group (profile only)")
    markdown_table: str


def _slug(text: str) -> str:
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


def _resolve_item(catalog: KpiCatalog, item: KpiItem, index: int) -> tuple[CompletedKpi, KpiDefinition | None]:
    defs = catalog.by_id()
    definition: KpiDefinition | None = None
    if item.id is not None and item.id.strip():
        key = item.id.strip()
        definition = defs.get(key) or defs.get(key.lower())
        if definition is None:
            suggestions = [m.kpi.id for m in find_kpis(catalog, key.replace("_", " "), limit=3).matches]
            hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
            raise ValueError(f"item {index + 1}: unknown KPI id {item.id!r}.{hint} Use find_kpis to look ids up, "
                             "or drop id and give name, unit and direction for a custom KPI")
    elif not (item.name and item.name.strip()):
        raise ValueError(f"item {index + 1} has neither id nor name: give a catalog id (see find_kpis) or a "
                         "custom KPI with name, unit, direction, baseline and target")
    base = definition
    direction = item.direction
    if direction is not None:
        direction = DIRECTION_ALIASES.get(direction.strip().lower())
        if direction is None:
            raise ValueError(f"item {index + 1}: direction must be 'higher' or 'lower' (is better), "
                             f"not {item.direction!r}")
    completed = CompletedKpi(
        id=base.id if base else None,
        name=(item.name or "").strip() or (base.name_en if base else ""),
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


def _parse_weights(items: list[KpiItem]) -> list[float | None]:
    weights: list[float | None] = []
    for i, item in enumerate(items):
        if item.weight is None or (isinstance(item.weight, str) and not item.weight.strip()):
            weights.append(None)
            continue
        try:
            weights.append(parse_number(item.weight, f"item {i + 1} ({item.id or item.name}) weight"))
        except ValueError as exc:
            raise ValueError(f"{exc}; weights are percentage points that sum to 100, e.g. 25") from None
    return weights


def _apply_weights(kpis: list[CompletedKpi], weights: list[float | None], findings: list[Finding],
                   scoring: bool = False) -> tuple[str, float | None]:
    given = [w for w in weights if w is not None]
    if not given:
        equal = 100.0 / len(kpis)
        for kpi in kpis:
            kpi.weight = round(equal, 4)
        findings.append(Finding(severity="info", code="weights_equal", message=(
            f"No weights were given, so each of the {len(kpis)} KPIs gets an equal weight of {equal:.4g} points "
            "(100 / n). Give weights (summing to 100) to say what matters most.")))
        return "equal (none given)", 100.0
    for kpi, weight in zip(kpis, weights, strict=True):
        kpi.weight = weight
        if weight is not None and weight < 0:
            findings.append(Finding(severity="error", code="weight_negative", kpi=kpi_label(kpi),
                                    message=f"weight {weight:g} is negative; weights are points from 0 to 100"))
    total = sum(given)
    if len(given) < len(kpis):
        missing = [kpi_label(k) for k, w in zip(kpis, weights, strict=True) if w is None]
        findings.append(Finding(severity="error", code="weights_partial", message=(
            f"Weights were given for {len(given)} of {len(kpis)} KPIs; {', '.join(missing)} have none. Give every "
            "KPI a weight (summing to 100) or none at all for equal weights. Nothing was filled in.")))
        return "partial", total
    if abs(total - 100) > 0.01:
        if abs(total - 1) <= 0.01 and all(w <= 1 for w in given):
            hint = " They look like fractions: write them as percentage points (0.25 -> 25)."
        else:
            hint = f" Adjust them by {100 - total:+g} points in total."
        effect = (f" The weighted score divides by their total ({total:g}), it does not change them."
                  if scoring else " They were not rescaled.")
        findings.append(Finding(severity="warning" if scoring else "error", code="weights_sum", message=(
            f"Weights sum to {total:g}, not 100.{hint}{effect}")))
    return "given", total


def _check_values(kpi: CompletedKpi, item: KpiItem, catalog: KpiCatalog, max_rel: float,
                  findings: list[Finding]) -> dict[str, bool]:
    label = kpi_label(kpi)
    measurable = True
    for field in ("baseline", "target"):
        raw = getattr(item, field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            measurable = False
            findings.append(Finding(severity="warning", code=f"{field}_missing", kpi=label,
                                    message=f"no {field}: give the {field} in {kpi.unit or 'the KPI unit'}"))
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
                                message="no unit: say what the numbers measure (percent, seconds, days, ...)"))
    elif unit is None:
        findings.append(Finding(severity="info", code="unit_unknown", kpi=label,
                                message=f"unit {kpi.unit!r} is not in the catalog's units, so its range is not "
                                        f"checked (known: {', '.join(catalog.units)})"))
    in_range = True
    for field in ("baseline", "target"):
        value = getattr(kpi, field)
        if value is None or unit is None:
            continue
        if (unit.min is not None and value < unit.min) or (unit.max is not None and value > unit.max):
            in_range = False
            bounds = f"{unit.min:g}" if unit.min is not None else "-inf"
            upper = f"{unit.max:g}" if unit.max is not None else "inf"
            findings.append(Finding(severity="error", code="out_of_range", kpi=label, message=(
                f"{field} {value:g} is outside the range of unit {kpi.unit} ({bounds} to {upper})")))
    if (kpi.unit == "percent" and kpi.baseline is not None and kpi.target is not None
            and 0 < max(abs(kpi.baseline), abs(kpi.target)) <= 1):
        findings.append(Finding(severity="warning", code="percent_as_fraction", kpi=label, message=(
            f"baseline {kpi.baseline:g} and target {kpi.target:g} look like fractions, but percent KPIs take "
            f"percentage points: write {kpi.baseline * 100:g} and {kpi.target * 100:g} if that is what you mean")))
    achievable = in_range
    if kpi.direction is None:
        findings.append(Finding(severity="error", code="direction_missing", kpi=label,
                                message="direction missing: say whether 'higher' or 'lower' is better"))
    b, t = kpi.baseline, kpi.target
    if b is not None and t is not None:
        if b != 0:
            kpi.achievement_coefficient = round(t / b, 4)
            kpi.relative_change = round((t - b) / abs(b), 4)
        if t == b:
            achievable = False
            findings.append(Finding(severity="warning", code="target_equals_baseline", kpi=label, message=(
                f"target equals baseline ({t:g}): no improvement is asked, and achievement "
                "(actual - baseline) / (target - baseline) is undefined; set a different target")))
        elif kpi.direction in DIRECTIONS and (t > b) != (kpi.direction == "higher"):
            achievable = False
            wanted = "above" if kpi.direction == "higher" else "below"
            findings.append(Finding(severity="error", code="direction", kpi=label, message=(
                f"{kpi.direction} is better, but the target {t:g} is not {wanted} the baseline {b:g}; "
                "swap them or fix the direction")))
        if b != 0 and abs((t - b) / b) > max_rel:
            achievable = False
            findings.append(Finding(severity="warning", code="implausible_jump", kpi=label, message=(
                f"target is a {(t - b) / abs(b):+.0%} change from the baseline, above the {max_rel:.0%} "
                "plausibility threshold; check it, or stage it over several periods")))
        elif b == 0 and t != 0:
            findings.append(Finding(severity="info", code="zero_baseline", kpi=label, message=(
                "baseline is 0, so the relative change and achievement coefficient are not defined")))
    return {"measurable": measurable, "achievable": achievable}


def build_kpi_set(catalog: KpiCatalog, items: list[KpiItem], framework: str = "bsc", profile: str | None = None,
                  deadline: str | None = None, max_relative_change: float = 0.5,
                  today: dt.date | None = None) -> BuildResult:
    """Complete ``items`` from the catalog and check them; see the module docstring for the rules."""
    framework = (framework or "bsc").strip().lower()
    if framework not in ("bsc", "okr"):
        raise ValueError(f"framework must be 'bsc' (balanced scorecard) or 'okr', not {framework!r}")
    if profile is not None and not profile.strip():
        profile = None
    if profile is not None and profile not in catalog.profiles:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(catalog.profiles) or 'none'}")
    if not items:
        raise ValueError("items is empty: give at least one KPI, e.g. [{'id': 'fcr', 'baseline': 65, "
                         "'target': 75, 'weight': 100}]")
    if max_relative_change <= 0:
        raise ValueError("max_relative_change must be positive, e.g. 0.5 for 50%")
    today = today or dt.date.today()
    findings: list[Finding] = []
    weights = _parse_weights(items)
    kpis: list[CompletedKpi] = []
    for i, item in enumerate(items):
        kpi, _ = _resolve_item(catalog, item, i)
        if kpi.deadline is None and deadline:
            kpi.deadline = deadline
        kpis.append(kpi)
    weights_mode, weight_total = _apply_weights(kpis, weights, findings)

    seen: dict[str, int] = {}
    for i, kpi in enumerate(kpis):
        for key in {f"id:{kpi.id}" if kpi.id else None, f"name:{_slug(kpi.name)}"} - {None}:
            if key in seen:
                findings.append(Finding(severity="warning", code="duplicate", kpi=kpi_label(kpi), message=(
                    f"item {i + 1} repeats item {seen[key] + 1} ({kpi.name}); merge them or drop one")))
                break
            seen[key] = i

    for item, kpi in zip(items, kpis, strict=True):
        label = kpi_label(kpi)
        checks = _check_values(kpi, item, catalog, max_relative_change, findings)
        specific = bool(kpi.definition and kpi.name)
        if not specific:
            findings.append(Finding(severity="warning", code="smart_specific", kpi=label, message=(
                "SMART-S: no definition; write what is counted and how (numerator / denominator)")))
        relevant = bool(kpi.objective) if framework == "okr" else bool(kpi.perspective)
        if not relevant:
            what = "an objective" if framework == "okr" else "a BSC perspective"
            findings.append(Finding(severity="warning", code="smart_relevant", kpi=label,
                                    message=f"SMART-R: not tied to {what}; say which one it serves"))
        time_bound = False
        if not kpi.deadline:
            findings.append(Finding(severity="warning", code="smart_time_bound", kpi=label, message=(
                "SMART-T: no deadline; give deadline (YYYY-MM-DD) for the item or the whole set")))
        else:
            due = _parse_deadline(kpi.deadline)
            if due is None:
                findings.append(Finding(severity="info", code="deadline_format", kpi=label, message=(
                    f"deadline {kpi.deadline!r} is not a date the checker reads; write YYYY-MM-DD")))
                time_bound = True
            elif due < today:
                findings.append(Finding(severity="warning", code="deadline_past", kpi=label,
                                        message=f"deadline {due.isoformat()} is already past"))
            else:
                time_bound = True
        if not checks["measurable"]:
            findings.append(Finding(severity="warning", code="smart_measurable", kpi=label, message=(
                "SMART-M: needs a numeric baseline, a numeric target and a unit")))
        kpi.smart = {"specific": specific, "measurable": checks["measurable"], "achievable": checks["achievable"],
                     "relevant": relevant, "time_bound": time_bound}

    perspective_weights: dict[str, float] = {}
    for kpi in kpis:
        key = kpi.perspective or "unassigned"
        perspective_weights[key] = round(perspective_weights.get(key, 0.0) + (kpi.weight or 0.0), 4)
    if framework == "bsc":
        missing = [p for p in PERSPECTIVES if p not in perspective_weights]
        if missing:
            findings.append(Finding(severity="warning", code="bsc_coverage", message=(
                f"BSC perspectives with no KPI: {', '.join(missing)}; a balanced scorecard covers financial, "
                "customer, internal process and learning & growth (use find_kpis with perspective=...)")))
    else:
        _check_okr(kpis, findings)

    group_weights: dict[str, float] = {}
    if profile is not None:
        group_weights = _check_profile(catalog, profile, kpis, weights_mode, findings)

    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    result = BuildResult(framework=framework, profile=profile, weights_mode=weights_mode,  # type: ignore[arg-type]
                         weight_total=weight_total, max_relative_change=max_relative_change, kpis=kpis,
                         findings=findings, counts=counts, perspective_weights=perspective_weights,
                         profile_group_weights=group_weights, markdown_table="")
    result.markdown_table = kpi_table(result)
    return result


def _check_okr(kpis: list[CompletedKpi], findings: list[Finding]) -> None:
    objectives: dict[str, list[str]] = {}
    for kpi in kpis:
        if not kpi.objective:
            findings.append(Finding(severity="error", code="okr_no_objective", kpi=kpi_label(kpi), message=(
                "OKR: this key result names no objective; set objective to the goal it measures")))
            continue
        objectives.setdefault(kpi.objective.strip(), []).append(kpi_label(kpi))
    for objective, krs in objectives.items():
        if len(krs) == 1:
            findings.append(Finding(severity="info", code="okr_single_kr", message=(
                f"OKR: objective {objective!r} has one key result; 2-5 measurable key results per objective "
                "show whether it is met")))
        elif len(krs) > 5:
            findings.append(Finding(severity="warning", code="okr_too_many_krs", message=(
                f"OKR: objective {objective!r} has {len(krs)} key results; keep 2-5 so the focus holds")))
    if len(objectives) > 5:
        findings.append(Finding(severity="warning", code="okr_too_many_objectives", message=(
            f"OKR: {len(objectives)} objectives; 3-5 per cycle keep the focus")))


def _check_profile(catalog: KpiCatalog, profile: str, kpis: list[CompletedKpi], weights_mode: str,
                   findings: list[Finding]) -> dict[str, float]:
    spec = catalog.profiles[profile]
    groups: dict[str, dict[str, Any]] = spec.get("groups", {})
    totals = {g: 0.0 for g in groups}
    for kpi in kpis:
        if kpi.profile_group in groups:
            totals[kpi.profile_group] += kpi.weight or 0.0
        else:
            findings.append(Finding(severity="warning", code="profile_group_missing", kpi=kpi_label(kpi), message=(
                f"{profile}: {kpi.name} is in none of the groups {', '.join(groups)}, so its weight counts toward "
                "no band; set profile_group if it belongs to one")))
    if weights_mode == "partial":
        findings.append(Finding(severity="warning", code="profile_unchecked", message=(
            f"{profile}: group weights were not checked because some KPIs have no weight")))
        return {g: round(v, 4) for g, v in totals.items()}
    source = spec.get("source", "")
    for group, band in groups.items():
        low, high, value = float(band["min"]), float(band["max"]), totals[group]
        if not low - 1e-9 <= value <= high + 1e-9:
            findings.append(Finding(severity="warning", code="profile_band", message=(
                f"{profile}: {group} ({band.get('zh', '')}) KPIs carry {value:g}% of the weight, outside "
                f"{source}'s band {low:g}–{high:g}% (the seed allows adjustment by business line; say why if kept)")))
        else:
            findings.append(Finding(severity="info", code="profile_band_ok", message=(
                f"{profile}: {group} weight {value:g}% is within {source}'s band {low:g}–{high:g}%")))
    return {g: round(v, 4) for g, v in totals.items()}


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.3g}"


def kpi_table(result: BuildResult) -> str:
    framework_col = "objective" if result.framework == "okr" else "perspective"
    lines = [f"| # | KPI | 中文 | {framework_col} | unit | better | baseline | target | weight | deadline |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for i, k in enumerate(result.kpis, 1):
        where = (k.objective if result.framework == "okr" else k.perspective) or "—"
        name = k.name + ("" if k.id is None else f" (`{k.id}`)")
        lines.append(f"| {i} | {name} | {k.name_zh or '—'} | {where} | {k.unit or '—'} | {k.direction or '—'} "
                     f"| {_fmt(k.baseline)} | {_fmt(k.target)} | {_fmt(k.weight)} | {k.deadline or '—'} |")
    return "\n".join(lines)


def build_text(result: BuildResult) -> str:
    c = result.counts
    lines = [f"KPI set ({result.framework.upper()}{', profile ' + result.profile if result.profile else ''}): "
             f"{len(result.kpis)} KPIs, weights {result.weights_mode}, total {_fmt(result.weight_total)}. "
             f"Findings: {c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s).", "",
             result.markdown_table, ""]
    order = {"error": 0, "warning": 1, "info": 2}
    for f in sorted(result.findings, key=lambda f: order[f.severity]):
        lines.append(f"- **{f.severity}**{' `' + f.kpi + '`' if f.kpi else ''}: {f.message}")
    return "\n".join(lines)


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
        description="seed 004's 达成系数 = target / baseline, reported alongside (not the achievement)")
    method: str = Field(description="how the achievement was computed")
    message: str = ""


class ScoreResult(BaseModel):
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
    chart_path: str | None = Field(default=None, description="PNG of the KPI scorecard (capped achievement per "
                                   "KPI, four-colour status) in the output folder, when chart=true was asked")


def _thresholds(overrides: dict[str, Any] | None) -> dict[str, float]:
    values = dict(DEFAULT_THRESHOLDS)
    for key, raw in (overrides or {}).items():
        name = str(key).strip().lower()
        if name not in values:
            raise ValueError(f"unknown threshold {key!r}; give green, yellow and/or orange, e.g. "
                             "{'green': 1.0, 'yellow': 0.8, 'orange': 0.5}")
        values[name] = parse_fraction(raw, f"threshold {name}")
    if not values["green"] >= values["yellow"] >= values["orange"] >= 0:
        raise ValueError(f"thresholds must satisfy green >= yellow >= orange >= 0, got {values}")
    return values


def colour(achievement: float, thresholds: dict[str, float]) -> str:
    for name in ("green", "yellow", "orange"):
        if achievement >= thresholds[name] - 1e-12:
            return name
    return "red"


def _lookup_actual(actuals: dict[str, Any], kpi: CompletedKpi) -> Any:
    folded = {_slug(str(k)): v for k, v in actuals.items()}
    for key in (kpi.id, kpi.name, kpi.name_zh):
        if key and _slug(key) in folded:
            return folded[_slug(key)]
    return None


def score_kpi_set(catalog: KpiCatalog, items: list[KpiItem], actuals: dict[str, Any] | None = None,
                  cap: Any = 1.2, thresholds: dict[str, Any] | None = None) -> ScoreResult:
    """Achievement per KPI (raw and capped), weighted score and four-colour status."""
    if not items:
        raise ValueError("kpis is empty: pass the KPI set (e.g. build_kpis' kpis) with baseline, target and weight")
    cap_value = parse_fraction(cap, "cap")
    limits = _thresholds(thresholds)
    if cap_value < limits["green"]:
        raise ValueError(f"cap {cap_value:.0%} is below the green threshold {limits['green']:.0%}; raise the cap")
    actuals = actuals or {}
    findings: list[Finding] = []
    weights = _parse_weights(items)
    kpis = [_resolve_item(catalog, item, i)[0] for i, item in enumerate(items)]
    weights_mode, _ = _apply_weights(kpis, weights, findings, scoring=True)
    matched_keys: set[str] = set()
    scored: list[ScoredKpi] = []
    for item, kpi in zip(items, kpis, strict=True):
        label = kpi_label(kpi)
        raw_actual = _lookup_actual(actuals, kpi)
        if raw_actual is None:
            raw_actual = item.actual
        else:
            matched_keys.update(_slug(k) for k in (kpi.id, kpi.name, kpi.name_zh) if k)
        baseline = parse_number(item.baseline, f"{label} baseline") if item.baseline not in (None, "") else None
        target = parse_number(item.target, f"{label} target") if item.target not in (None, "") else None
        actual = parse_number(raw_actual, f"actual of {label}") if raw_actual not in (None, "") else None
        if target is None:
            raise ValueError(f"{label} has no target; every scored KPI needs a numeric target")
        coefficient = round(target / baseline, 4) if baseline not in (None, 0) else None
        row = ScoredKpi(id=kpi.id, name=kpi.name, unit=kpi.unit, direction=kpi.direction, baseline=baseline,
                        target=target, actual=actual, weight=kpi.weight, achievement_raw=None,
                        achievement_capped=None, weighted_points=None, status="undefined",
                        achievement_coefficient=coefficient, method="")
        if actual is None:
            row.status, row.method = "no_actual", "not scored"
            row.message = f"no actual for {label}: add it to actuals as {{'{label}': value}}"
            findings.append(Finding(severity="warning", code="actual_missing", kpi=label, message=row.message))
        elif baseline is None:
            direction = kpi.direction
            if direction not in DIRECTIONS:
                row.message = f"{label}: no baseline and no direction; give a baseline (or direction) to score it"
            elif direction == "higher" and target != 0:
                row.achievement_raw, row.method = actual / target, "actual / target (no baseline; higher is better)"
            elif direction == "lower" and actual != 0:
                row.achievement_raw, row.method = target / actual, "target / actual (no baseline; lower is better)"
            else:
                row.message = f"{label}: ratio undefined (division by zero); give a baseline"
        elif target == baseline:
            row.message = (f"{label}: target equals baseline ({target:g}), so (actual - baseline) / (target - "
                           "baseline) divides by zero; set a target different from the baseline. "
                           f"Met: {'yes' if _met(actual, target, kpi.direction) else 'no'}.")
            row.method = "undefined (target = baseline)"
            findings.append(Finding(severity="warning", code="target_equals_baseline", kpi=label, message=row.message))
        else:
            row.achievement_raw = (actual - baseline) / (target - baseline)
            row.method = "(actual - baseline) / (target - baseline)"
            if kpi.direction in DIRECTIONS and (target > baseline) != (kpi.direction == "higher"):
                findings.append(Finding(severity="warning", code="direction", kpi=label, message=(
                    f"{label}: {kpi.direction} is better but the target is on the other side of the baseline; "
                    "the achievement follows the target you set")))
        if row.achievement_raw is not None:
            row.achievement_raw = round(row.achievement_raw, 6)
            row.achievement_capped = round(min(max(row.achievement_raw, 0.0), cap_value), 6)
            row.status = colour(row.achievement_capped, limits)  # type: ignore[assignment]
        row.status_zh = COLOUR_ZH.get(row.status, "")
        scored.append(row)
    unknown = [k for k in actuals if _slug(str(k)) not in matched_keys]
    if unknown:
        findings.append(Finding(severity="warning", code="actual_unmatched", message=(
            f"actuals for {', '.join(map(str, unknown))} match no KPI in the set (use the KPI id or name)")))
    usable = [r for r in scored if r.achievement_capped is not None and (r.weight or 0) > 0]
    weight_scored = sum(r.weight or 0 for r in usable)
    weighted: float | None = None
    if weight_scored > 0:
        for r in usable:
            r.weighted_points = round((r.weight or 0) * (r.achievement_capped or 0) / weight_scored, 6)
        weighted = round(sum(r.weighted_points or 0 for r in usable), 6)
        if len(usable) < len(scored):
            findings.append(Finding(severity="info", code="partial_score", message=(
                f"the weighted score covers {len(usable)} of {len(scored)} KPIs ({weight_scored:g} weight points), "
                "re-normalised over them")))
    overall = colour(weighted, limits) if weighted is not None else "undefined"
    result = ScoreResult(weighted_score=weighted, overall_status=overall, cap=cap_value, thresholds=limits,
                         weights_mode=weights_mode, weight_scored=weight_scored, kpis=scored, findings=findings,
                         markdown_table="")
    result.markdown_table = score_table(result)
    return result


def _met(actual: float, target: float, direction: str | None) -> bool:
    return actual <= target if direction == "lower" else actual >= target


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def score_table(result: ScoreResult) -> str:
    lines = ["| KPI | baseline | target | actual | achievement | capped | weight | status "
             "| 达成系数 (target ÷ baseline) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result.kpis:
        lines.append(f"| {r.name} | {_fmt(r.baseline)} | {_fmt(r.target)} | {_fmt(r.actual)} | "
                     f"{_pct(r.achievement_raw)} | {_pct(r.achievement_capped)} | {_fmt(r.weight)} | "
                     f"{r.status} {r.status_zh} | {_fmt(r.achievement_coefficient)} |")
    return "\n".join(lines)


def score_text(result: ScoreResult) -> str:
    t = result.thresholds
    lines = [f"Weighted score **{_pct(result.weighted_score)}** ({result.overall_status} "
             f"{COLOUR_ZH.get(result.overall_status, '')}). Achievement = (actual − baseline) ÷ (target − baseline), "
             f"capped to 0–{result.cap:.0%}; green ≥ {t['green']:.0%}, yellow ≥ {t['yellow']:.0%}, "
             f"orange ≥ {t['orange']:.0%}, red below. The achievement coefficient (seed 004) is target ÷ baseline.",
             "", result.markdown_table]
    for f in result.findings:
        lines.append(f"- **{f.severity}**{' `' + f.kpi + '`' if f.kpi else ''}: {f.message}")
    for r in result.kpis:
        if r.message and r.status in ("undefined", "no_actual") and not any(f.message == r.message
                                                                           for f in result.findings):
            lines.append(f"- {r.message}")
    return "\n".join(lines)
