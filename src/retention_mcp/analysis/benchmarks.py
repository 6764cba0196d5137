"""A company's turnover rate beside the closest comparable published figures (``tools/benchmarks.yaml``).

Comparable means: the same measure (all / voluntary / involuntary leavers; early-attrition figures only when asked
for), the same region (else a stated fallback), the same industry (else a related one, else all industries), the
nearest period, and the firmest verification. Every figure is put on an annual leavers ÷ average headcount basis
before the difference is taken — US JOLTS rates are annual averages of monthly rates, so × 12 — and carries its
source, year, verification level in words and the warnings where the definitions differ. A figure marked
conflicting is never shown; a secondary transcription says that it is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced

MeasureKind = Literal["all", "voluntary", "involuntary", "early", "unclear"]
#: Years between the company's period and a figure's before the figure is called dated.
DATED_YEARS = 5
MAX_SHOWN = 12
SERIES_SHOWN = 2


class BenchmarkFigure(BaseModel):
    id: str
    group: str
    region: str
    source: str = Field(min_length=3)
    url: str = Field(min_length=8)
    verification: str
    published: str = ""
    period: str | int
    measure: str
    industry: str
    value: float | None = None
    caveats: str = Field(min_length=1)
    measure_kind: MeasureKind
    region_key: str
    industry_key: str
    period_year: int | None = None
    status: Literal["usable", "range_only", "lower_bound", "conflicting"]
    annual_value: float | None = None
    conversion: str = "none"
    value_range: list[float] | None = None
    value_type: str | None = None
    annualized_equivalent_derived: float | None = None


class BenchmarkCatalog(BaseModel):
    version: int = 1
    readme: str = ""
    verification_levels: dict[str, dict[str, Any]]
    conversions: dict[str, dict[str, str]]
    group_notes: dict[str, dict[str, str]]
    warnings: dict[str, dict[str, str]]
    regions: dict[str, dict[str, Any]]
    region_fallback: dict[str, list[str]] = {}
    industries: dict[str, dict[str, Any]]
    figures: list[BenchmarkFigure]


def parse_benchmarks(raw: Any) -> BenchmarkCatalog:
    """Validate the catalog; an entry without a source, URL, verification level or caveats is refused by id."""
    try:
        catalog = BenchmarkCatalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["loc"][:1] == ("figures",) and isinstance(raw, Mapping) and len(first["loc"]) > 1:
            entry = (raw.get("figures") or [])[first["loc"][1]]
            where = f"figure {entry.get('id', first['loc'][1]) if isinstance(entry, Mapping) else first['loc'][1]}"
            where += "." + ".".join(str(p) for p in first["loc"][2:])
        raise InputError(f"the benchmark catalog is invalid at {where}: {first['msg']}; fix benchmarks.yaml") from None
    for figure in catalog.figures:
        if figure.verification not in catalog.verification_levels:
            raise InputError(f"benchmark {figure.id}: unknown verification level {figure.verification!r}")
    return catalog


class Company(BaseModel):
    rate: float = Field(description="the company's annual rate compared, a fraction")
    measure: str = Field(description="all, voluntary, involuntary or early")
    region: str | None
    industry: str | None
    year: int | None
    source: str = Field(description="given, or the evidence id and group it came from")


class Comparison(BaseModel):
    id: str
    label: str = Field(description="what the figure is, in one line")
    published_value: float | None = Field(description="the value as published, a fraction")
    annual_value: float | None = Field(description="the value on an annual basis (JOLTS × 12), a fraction")
    conversion: str = Field(description="the conversion applied, with the numbers")
    difference_pp: float | None = Field(description="company − annual value, percentage points")
    ratio: float | None = Field(description="company ÷ annual value")
    source: str
    url: str
    period: str
    year: int | None
    verification: str
    verification_text: str = Field(description="how firmly the figure was verified, in words")
    caveats: str
    warnings: list[str] = Field(description="where the definitions differ from the company's rate")


class BenchmarkResult(Evidenced):
    company: Company
    comparisons: list[Comparison]
    verdict: str = Field(description="the company's rate against the comparable figures, in words")
    left_out: list[str] = Field(default_factory=list, description="why other figures were not shown (counts)")
    notes: list[str] = Field(default_factory=list)


def resolve_key(value: str | None, table: Mapping[str, Mapping[str, Any]], what: str) -> str | None:
    """A region or industry key from a word people use (either language); None for an empty value."""
    if value is None or not str(value).strip():
        return None
    wanted = str(value).strip().lower()
    for key, entry in table.items():
        names = {key, str(entry.get("en", "")).lower(), str(entry.get("zh", "")),
                 *(str(a).lower() for a in entry.get("aliases") or ())}
        if wanted in names:
            return key
    for key, entry in table.items():  # a longer phrase that names one, e.g. "software company", "软件公司"
        if any(len(str(a)) >= 2 and str(a).lower() in wanted for a in entry.get("aliases") or ()):
            return key
    choices = ", ".join(f"{k} ({v.get('zh', '')})" for k, v in table.items())
    raise InputError(f"unknown {what} {value!r}; use one of {choices}")


def compare(catalog: BenchmarkCatalog, *, rate: float, measure: str = "all", region: str | None = None,
            industry: str | None = None, year: int | None = None, limit: int = 6, language: str = "en",
            source: str = "given", company_warnings: list[str] | None = None) -> BenchmarkResult:
    """The closest comparable figures to ``rate`` (an annual fraction), best first."""
    if not 0 <= rate <= 10:
        raise InputError(f"rate must be an annual fraction such as 0.297 (29.7%), not {rate!r}")
    if measure not in ("all", "voluntary", "involuntary", "early"):
        raise InputError("measure must be all, voluntary, involuntary or early (leavers within the first months)")
    lang = "zh" if language == "zh" else "en"
    region_key = resolve_key(region, catalog.regions, "region")
    industry_key = resolve_key(industry, catalog.industries, "industry")
    regions = catalog.region_fallback.get(region_key, [region_key]) if region_key else None
    related = list(catalog.industries.get(industry_key, {}).get("related") or []) if industry_key else []
    counts = {"conflicting": 0, "other_measure": 0, "other_industry": 0, "no_value": 0}
    scored: list[tuple[float, BenchmarkFigure, list[str]]] = []
    for figure in catalog.figures:
        if figure.status == "conflicting":
            counts["conflicting"] += 1
            continue
        if (measure == "early") != (figure.measure_kind == "early"):
            counts["other_measure"] += 1
            continue
        warns: list[str] = []
        score = 0.0
        if measure != "early":
            if figure.measure_kind == measure:
                score += 4
            elif figure.measure_kind == "unclear":
                score += 1
                warns.append(catalog.warnings["measure_unclear"][lang])
            else:
                counts["other_measure"] += 1
                continue
        if regions is not None:
            # the same region first, then its stated fallbacks, then any region (said so): a figure for the same
            # industry elsewhere says more than none
            score += 3 - regions.index(figure.region_key) if figure.region_key in regions else 0
            if figure.region_key != region_key:
                warns.append(catalog.warnings["other_region"][lang].format(
                    region=catalog.regions[figure.region_key][lang], wanted=catalog.regions[region_key][lang]))
        if industry_key is not None:
            if figure.industry_key == industry_key:  # the industry weighs more than the region: a contact centre is
                score += 4.5                        # more like contact centres abroad than like all industries at home
            elif figure.industry_key in related:
                score += 2
                warns.append(catalog.warnings["related_industry"][lang].format(
                    industry=catalog.industries[figure.industry_key][lang]))
            elif figure.industry_key == "all":
                score += 1
                warns.append(catalog.warnings["all_industries"][lang])
            else:
                counts["other_industry"] += 1
                continue
        elif figure.industry_key not in ("all", "all_private"):
            score -= 1
        if figure.annual_value is None:
            counts["no_value"] += 1
            continue
        if year is not None and figure.period_year is not None:
            gap = abs(year - figure.period_year)
            score -= 0.2 * gap
            if year - figure.period_year > DATED_YEARS:
                warns.append(catalog.warnings["dated"][lang].format(years=year - figure.period_year))
        elif figure.period_year is None:
            score -= 0.5
        score -= 0.1 * int(catalog.verification_levels[figure.verification]["rank"])
        if figure.status == "lower_bound":
            warns.append(catalog.warnings["lower_bound"][lang])
        if "median" in figure.measure.lower():
            warns.append(catalog.warnings["median"][lang])
        scored.append((score, figure, warns))
    scored.sort(key=lambda item: (-item[0], item[1].id))
    chosen: list[tuple[float, BenchmarkFigure, list[str]]] = []
    per_series: dict[tuple[str, ...], int] = {}
    for item in scored:  # at most SERIES_SHOWN years of one series, so one survey does not fill the table
        f = item[1]
        series = (f.group, f.region_key, f.industry_key, f.measure_kind, f.source.split(",")[0])
        if per_series.get(series, 0) < SERIES_SHOWN:
            per_series[series] = per_series.get(series, 0) + 1
            chosen.append(item)
    comparisons = []
    for _, figure, warns in chosen[:max(1, min(limit, MAX_SHOWN))]:
        note = catalog.group_notes.get(figure.group, {}).get(lang)
        conversion = catalog.conversions[figure.conversion][lang].format(
            value=_pct(figure.value), annual=_pct(figure.annual_value))
        annual = figure.annual_value
        comparisons.append(Comparison(
            id=figure.id, label=f"{figure.source.split(',')[0]} — {figure.measure}; {figure.industry}; "
                                f"{figure.region}; {figure.period}",
            published_value=figure.value, annual_value=annual, conversion=conversion,
            difference_pp=None if annual is None else round((rate - annual) * 100, 2),
            ratio=None if not annual else rate / annual, source=figure.source, url=figure.url,
            period=str(figure.period), year=figure.period_year, verification=figure.verification,
            verification_text=str(catalog.verification_levels[figure.verification][lang]), caveats=figure.caveats,
            warnings=[*(company_warnings or []), *warns, *([note] if note else [])]))
    company = Company(rate=rate, measure=measure, region=region_key, industry=industry_key, year=year, source=source)
    left_out = [f"{name.replace('_', ' ')}: {count}" for name, count in counts.items() if count]
    return BenchmarkResult(company=company, comparisons=comparisons, verdict=_verdict(rate, comparisons, lang),
                           left_out=left_out)


def _pct(value: float | None) -> str:
    from retention_mcp.units import percent

    return "n/a" if value is None else percent(value)


def _verdict(rate: float, comparisons: list[Comparison], lang: str) -> str:
    values = [c.annual_value for c in comparisons if c.annual_value is not None]
    if not values:
        return "没有可比的公开数据。" if lang == "zh" else "No comparable published figure."
    best = next(c for c in comparisons if c.annual_value is not None)
    low, high = min(values), max(values)
    gap = (rate - best.annual_value) * 100  # type: ignore[operator]
    if lang == "zh":
        return (f"最接近的可比数据 `{best.id}`（年化 {_pct(best.annual_value)}，{best.period}）：您的 {_pct(rate)} "
                f"{'高' if gap > 0 else '低'} {abs(gap):.1f} 个百分点；所列 {len(values)} 个数据的范围为 {_pct(low)}–"
                f"{_pct(high)}。基准只是背景，不是目标：先看各数据的口径与核实程度，再判断高低。")
    where = "above" if rate > high else "below" if rate < low else "within"
    return (f"Closest comparable figure `{best.id}` (annual {_pct(best.annual_value)}, {best.period}): your "
            f"{_pct(rate)} is {abs(gap):.1f} pp {'above' if gap > 0 else 'below'} it, and {where} the range of the "
            f"{len(values)} figures shown ({_pct(low)}–{_pct(high)}). Benchmarks are context, not targets: read each "
            "figure's definition and verification before calling a rate high or low.")


def benchmark_markdown(result: BenchmarkResult, language: str = "en") -> str:
    zh = language == "zh"
    c = result.company
    kind = "" if c.measure == "all" else c.measure + " "
    head = (f"**离职率对标**：您的{kind}年化离职率 {_pct(c.rate)}（{c.source}）" if zh else
            f"**Benchmarks** for your {c.measure} annual turnover of {_pct(c.rate)} ({c.source})")
    lines = [head, "", result.verdict, ""]
    if result.comparisons:
        lines += ["| 数据 | 发布值 | 年化 | 差距（百分点）| 年份 | 核实程度 |" if zh else
                  "| figure | published | annual | gap (pp) | year | verification |", "|---|---:|---:|---:|---|---|"]
        for item in result.comparisons:
            gap = "" if item.difference_pp is None else f"{item.difference_pp:+.1f}"
            lines.append(f"| {item.label} | {_pct(item.published_value)} | {_pct(item.annual_value)} | {gap} | "
                         f"{item.period} | {item.verification_text} |")
        lines.append("")
        for item in result.comparisons:
            lines.append(f"- `{item.id}`: {item.conversion}. {item.source} <{item.url}>. "
                         + ("注意：" if zh else "Warnings: ") + "; ".join(w.rstrip("。.") for w in item.warnings)
                         + ". "
                         + ("说明：" if zh else "Caveats: ") + item.caveats)
    if result.left_out:
        lines.append("\n" + ("未列出：" if zh else "Not shown: ") + ", ".join(result.left_out)
                     + ("（冲突数据从不显示）。" if zh else " (a conflicting figure is never shown)."))
    for note in result.notes:
        lines.append(f"\n{'说明' if zh else 'Note'}: {note}")
    return "\n".join(lines)
