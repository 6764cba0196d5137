"""What one leaver costs: an annual cost per employee × the replacement-cost multipliers of a role family.

The annual cost comes from the company's own file when it has pay (describe_groups' mean pay, annualised), else
from a public wage statistic of ``tools/wages.yaml`` (marked external: a national or regional average by industry
or occupation, with its source, year and verification), else as given. The multipliers are the low / base / high
of ``tools/cost_presets.yaml``, each end naming the source it comes from. cost per leaver = multiplier × annual cost;
with ``leavers`` (e.g. forecast_leavers' 12-month figure) the yearly cost of those leavers too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.errors import InputError
from retention_mcp.runtime.spec import Evidenced


class AnnualCost(BaseModel):
    value: float = Field(description="annual cost per employee used, in `currency`")
    currency: str
    origin: Literal["file", "external", "given"] = Field(description="file: the company's pay; external: a public "
                                                         "wage statistic, not the company's; given: typed in")
    description: str
    ci_low: float | None = Field(None, description="95% interval of the mean (file)")
    ci_high: float | None = None
    people: int | None = Field(None, description="people whose pay the mean is over (file)")
    wage_id: str | None = Field(None, description="the wages.yaml entry (external)")
    year: int | None = None
    source: str | None = None
    url: str | None = None
    verification: str | None = None


class CostBand(BaseModel):
    scenario: Literal["low", "base", "high"]
    multiplier: float = Field(description="replacement cost ÷ annual cost")
    cost_per_leaver: float
    source: str = Field(description="where this end of the range comes from (or 'assumption')")
    says: str = Field(description="what that source says")
    total: float | None = Field(None, description="cost_per_leaver × leavers, when leavers is given")


class RoiHandOff(BaseModel):
    average_annual_cost: float
    cost_preset: str


class LeaverCostResult(Evidenced):
    annual_cost: AnnualCost
    preset: str
    preset_label: str
    bands: list[CostBand]
    leavers: float | None = None
    calculate_roi_inputs: RoiHandOff
    sources: dict[str, str] = Field(description="citation of every source named in the bands")
    notes: list[str] = Field(default_factory=list)


def _key(value: str, table: Mapping[str, Mapping[str, Any]], what: str) -> str:
    from retention_mcp.analysis.benchmarks import resolve_key

    key = resolve_key(value, table, what)
    assert key is not None
    return key


def external_wage(catalog: Mapping[str, Any], *, region: str | None, industry: str | None, occupation: str | None,
                  ownership: str = "non_private") -> AnnualCost:
    """The latest public wage figure for the region and industry (or occupation), marked external."""
    regions, industries, occupations = catalog["regions"], catalog["industries"], catalog["occupations"]
    region_key = _key(region, regions, "region") if region else "cn"
    wages = [w for w in catalog["wages"] if w["region"] == region_key]
    notes = []
    if occupation:
        wanted = _key(occupation, occupations, "occupation")
        found = [w for w in wages if w.get("occupation") == wanted]
        label = occupations[wanted]
    else:
        wanted = _key(industry, industries, "industry") if industry else "all"
        measure = "cn_private" if ownership == "private" else "cn_nonprivate"
        found = [w for w in wages if w.get("industry") == wanted and w["measure"] in (measure, "us_oews_mean")]
        if not found and region_key.startswith("cn_"):  # regional tables are for all industries only
            found = [w for w in catalog["wages"] if w["region"] == "cn" and w.get("industry") == wanted
                     and w["measure"] == measure]
            notes.append(f"no {regions[region_key]['en']} figure for this industry: the national one is used")
        label = industries[wanted]
    if not found:
        raise InputError(f"no public wage figure for {label['en']} in {regions[region_key]['en']}; give "
                         "average_annual_cost, or another industry/occupation (see tools/wages.yaml)")
    wage = max(found, key=lambda w: w["year"])
    source = catalog["sources"][wage["source"]]
    measure_text = catalog["measures"][wage["measure"]]["en"]
    description = (f"EXTERNAL, not your company's pay: {measure_text}, {label['en']}, "
                   f"{regions[wage['region']]['en']}, {wage['year']}" + (f" ({'; '.join(notes)})" if notes else ""))
    return AnnualCost(value=float(wage["value"]), currency=wage["currency"], origin="external", description=description,
                      wage_id=wage["id"], year=int(wage["year"]), source=source["citation"], url=source["url"],
                      verification=source["verification"])


def leaver_cost(annual: AnnualCost, presets: Mapping[str, Any], preset: str,
                leavers: float | None = None) -> LeaverCostResult:
    from retention_mcp.analysis.roi import preset_band

    key, band = preset_band(presets, preset)
    entry = presets["presets"][key]
    ranges = entry.get("range") or {}
    bands = []
    for scenario in ("low", "base", "high"):
        end = ranges.get(scenario) or {"source": "assumption", "says": "not stated in the preset"}
        cost = band[scenario] * annual.value
        bands.append(CostBand(scenario=scenario, multiplier=band[scenario], cost_per_leaver=cost,
                              source=str(end["source"]), says=str(end["says"]),
                              total=cost * leavers if leavers is not None else None))
    cited = {b.source for b in bands} - {"assumption"}
    sources = {name: str(presets["sources"][name].get("citation", "")) for name in sorted(cited)
               if name in presets["sources"]}
    notes = []
    if annual.origin == "external":
        notes.append("The annual cost is a public average, not your company's pay; replace it with your own "
                     "(a pay column in the file, or average_annual_cost) before a decision rests on it.")
    notes.append("Multipliers are shares of annual pay (salary basis); a fully loaded cost makes each figure larger.")
    return LeaverCostResult(annual_cost=annual, preset=key, preset_label=str(entry.get("label", key)), bands=bands,
                            leavers=leavers, calculate_roi_inputs=RoiHandOff(average_annual_cost=annual.value,
                                                                             cost_preset=key),
                            sources=sources, notes=notes)


def _money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}".strip()


def leaver_cost_markdown(result: LeaverCostResult, language: str = "en") -> str:
    zh = language == "zh"
    a = result.annual_cost
    origin = {"file": "来自文件" if zh else "from your file", "external": "外部数据" if zh else "EXTERNAL",
              "given": "输入值" if zh else "given"}[a.origin]
    lines = [(f"**每名离职者的成本**（{result.preset_label}）" if zh else
              f"**Cost of one leaver** ({result.preset_label})"), "",
             (f"年度成本基数：{_money(a.value, a.currency)}（{origin}）— {a.description}" if zh else
              f"Annual cost basis: {_money(a.value, a.currency)} ({origin}) — {a.description}")]
    if a.origin == "external":
        lines.append(f"{'来源' if zh else 'Source'}: {a.source} <{a.url}>; "
                     f"{'核实程度' if zh else 'verification'}: {a.verification}.")
    if a.ci_low is not None and a.ci_high is not None:
        lines.append(f"95% CI {_money(a.ci_low, a.currency)}–{_money(a.ci_high, a.currency)}, "
                     f"{a.people} {'人' if zh else 'people'}.")
    heads = ("| 情景 | 倍数 | 每人成本 | 来源 |" if zh else "| scenario | multiplier | per leaver | source |")
    total_head = (" 合计 |" if zh else " total |") if result.leavers is not None else ""
    lines += ["", heads + total_head, "|---|---:|---:|---|" + ("---:|" if total_head else "")]
    for b in result.bands:
        total = f" {_money(b.total, a.currency)} |" if b.total is not None else ""
        lines.append(f"| {b.scenario} | {b.multiplier:g}× | {_money(b.cost_per_leaver, a.currency)} | "
                     f"{b.source}: {b.says} |{total}")
    if result.leavers is not None:
        count = f"{result.leavers:g}"
        lines.append(f"\n合计按 {count} 名离职者。" if zh else f"\nTotals for {count} leavers.")
    r = result.calculate_roi_inputs
    lines += ["", f"For `calculate_roi`: average_annual_cost={r.average_annual_cost:.0f}, "
                  f"cost_preset='{r.cost_preset}'."]
    lines += [f"- {name}: {citation}" for name, citation in result.sources.items()]
    lines += [f"\n{'说明' if zh else 'Note'}: {note}" for note in result.notes]
    return "\n".join(lines)
