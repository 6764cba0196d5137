"""The KPI catalog: loading ``tools/kpi_catalog.yaml`` (or a team override), searching it, and the number
rules every KPI value follows.

Units: values of a ``percent`` KPI are percentage points (75 = 75%).
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from retention_mcp.errors import InputError

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
    source: str = Field(description="source id, e.g. service_efficiency_plan or dora_2021")
    source_text: str = Field("", description="what the source is")


class KpiDefinition(BaseModel):
    id: str
    name_en: str
    name_zh: str
    synonyms: list[str] = []
    definition: str
    definition_zh: str | None = None
    formula: str
    formula_zh: str | None = None
    unit: str
    direction: Literal["higher", "lower"]
    perspective: Literal["financial", "customer", "internal_process", "learning_growth"]
    domain: str
    data_source: str
    data_source_zh: str | None = None
    cadence: str
    profile_group: str | None = Field(None, description="call-center appraisal weight group: customer, efficiency, "
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
        raise InputError("the KPI catalog must be a mapping with a 'kpis' list; check kpi_catalog.yaml")
    cached = _catalog_cache.get(id(raw))
    if cached is not None:
        return cached
    try:
        catalog = KpiCatalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"the KPI catalog is invalid at {where}: {first['msg']}; fix kpi_catalog.yaml") from None
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
    raise InputError(f"unknown BSC perspective {value!r}; use one of {', '.join(PERSPECTIVES)} "
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
            raise InputError(f"unknown domain {domain!r}; use one of {', '.join(known)}")
    perspective = normalise_perspective(perspective)
    if limit < 1:
        raise InputError("limit must be at least 1")
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
        raise InputError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "").replace("％", "%").rstrip("%").strip()
        try:
            number = float(text)
        except ValueError:
            raise InputError(f"{what} must be a number (e.g. 75 or '75%'), not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"{what} must be a finite number, not {value!r}")
    return number


def parse_fraction(value: Any, what: str) -> float:
    """'80%' -> 0.8, 0.8 -> 0.8, 80 -> 0.8 (a bare number above 2 is read as percent)."""
    text = str(value).strip()
    number = parse_number(value, what)
    if text.endswith(("%", "％")) or number > 2:
        number /= 100
    return number

