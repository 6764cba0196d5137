"""The evidence appendix a reader can use, in the plan's language.

Per cited evidence id, in order of first citation:

1. one sentence of what was computed: the tool, the file, the period, the groups, the filter, the leavers counted,
   the inputs of a calculator and the results it was computed from — words, not JSON;
2. the figures the plan cites from it (the numbers its sentences matched, else the first few), each as the tool's
   text shows it (13.8%, 1,835,120, 2.94×);
3. the definition, in the plan's language;
4. the data: each file's name, size, SHA-256 and modified time, and who recorded the result when;
5. the full arguments (non-empty ones) in a block the exports fold away (HTML ``<details>``, small type in Word).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from retention_mcp.plan_words import PlanWords
from retention_mcp.workspace.figures import Figure, display, numeric_figures
from retention_mcp.workspace.render import citations_by_section, when
from retention_mcp.workspace.store import Evidence, PlanState
from retention_mcp.workspace.verify import SentenceCheck

#: Arguments the sentence says in its own words (or that say nothing a reader needs).
_SAID_ELSEWHERE = {"path", "csv_text", "sheet", "header_row", "column_map", "shape", "by", "where", "period_start",
                   "denominator",
                   "period_end", "separation_type", "chart", "language", "max_rows", "min_group_size", "bins",
                   "impact_evidence_id", "turnover_evidence_id", "forecast_evidence_id", "baselines_from",
                   "roi_evidence_id", "kpi_evidence_id", "evidence_id", "as_of", "forecast_date",
                   "max_relative_change"}
#: Figures shown when the plan's sentences matched none (a citation beside words, not numbers).
HEADLINE_FIGURES = 3
_UNIT_WORDS = {"zh": {"days": "天", "months": "个月", "years": "年"}}
#: A figure name: ``base`` or ``base[inside]``.
_FIGURE = re.compile(r"^(?P<base>[^\[]+?)(?:\[(?P<inside>.*)\])?$")


def figure_label(name: str, w: PlanWords) -> str:
    """``rate[研发部]`` → '研发部：离职率'; ``retention[研发部, 365 days]`` → '研发部：留存率（365 天）'."""
    match = _FIGURE.match(name)
    if match is None:
        return name
    base, inside = match.group("base"), match.group("inside")
    label = w.get(f"plan.figures.{base}", base.replace("_", " ")) or base
    if not inside:
        return label
    parts = [p.strip() for p in inside.split(",")]
    times = [p for p in parts if re.match(r"^\d+(?:\.\d+)?\s+(days|months|years)$", p)]
    groups = [p for p in parts if p not in times]
    for word, translated in _UNIT_WORDS.get(w.language, {}).items():
        times = [t.replace(f" {word}", f" {translated}") for t in times]
    if times:
        label += w.paren(", ".join(times))
    return f"{', '.join(groups)}{w.colon}{label}" if groups else label


def figure_labels(evidence: Mapping[str, Evidence], w: PlanWords) -> dict[str, str]:
    """Every figure name of ``evidence`` -> its label in the plan's language (a citation may name either)."""
    return {name: figure_label(name, w) for item in evidence.values() for name in item.figures}


def period_text(period: Mapping[str, Any] | None, w: PlanWords) -> str:
    period = period or {}
    kind = period.get("kind")
    if kind == "period":
        return w("plan.periods.period", start=period.get("start"), end=period.get("end"))
    if kind == "as_of":
        return w("plan.periods.as_of", end=period.get("end"))
    if kind == "snapshot":
        return w("plan.periods.snapshot")
    if kind == "inputs":
        return w("plan.periods.inputs")
    if kind == "several":
        return w.semicolon.join(dict.fromkeys(period_text(p, w) for p in period.get("parts") or []))
    return w("plan.periods.unknown")


def _value(value: Any, w: PlanWords) -> str:
    if isinstance(value, dict):
        if "sha256" in value and "omitted" in value:
            return w("plan.appendix.pasted", size=f"{value.get('bytes', 0):,}")
        return w.comma.join(f"{k} = {_value(v, w)}" for k, v in value.items())
    if isinstance(value, list):
        return w.enumeration.join(_value(v, w) for v in value)
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _inputs(item: Evidence, w: PlanWords) -> str:
    """The arguments the sentence does not say otherwise, with their names in the plan's language."""
    parts = []
    for name, value in item.arguments.items():
        if value is None or value == [] or value == {} or name in _SAID_ELSEWHERE:
            continue
        if name == "initiatives" and isinstance(value, list):
            value = [v.get("name") or v.get("initiative") or _value(v.get("segment"), w) for v in value
                     if isinstance(v, dict)]
        elif name == "phases" and isinstance(value, list):
            value = [v.get("name") for v in value if isinstance(v, dict)]
        elif name == "items" and isinstance(value, list):
            value = [v.get("id") or v.get("name") for v in value if isinstance(v, dict)]
        label = w.get(f"plan.arguments.{name}", name)
        parts.append(f"{label} {_value(value, w)}")
    return w.comma.join(parts)


def computed_sentence(item: Evidence, evidence: Mapping[str, Evidence], w: PlanWords) -> str:
    """What was computed, in one sentence: tool, file, period, groups, filter, leavers, inputs, lineage."""
    args = item.arguments
    details = []
    files = [s.get("name") for s in item.sources if s.get("name") and "pasted" not in str(s.get("name"))]
    if files:
        details.append(w("plan.appendix.file", names=w.enumeration.join(dict.fromkeys(files))))
    elif args.get("csv_text") is not None:
        details.append(_value(args["csv_text"], w))
    if item.period.get("kind") != "inputs" or not item.parents:
        details.append(period_text(item.period, w))
    by = args.get("by")
    if by:
        details.append(w("plan.appendix.by", columns=_value(by if isinstance(by, list) else [by], w)))
    if args.get("where"):
        details.append(w("plan.appendix.where", filter=_value(args["where"], w)))
    kind = args.get("separation_type")
    if kind and kind != "all":
        details.append(w("plan.appendix.separation", kind=w.get(f"plan.separation_types.{kind}", kind)))
    inputs = _inputs(item, w)
    if inputs:
        details.append(w("plan.appendix.inputs", items=inputs))
    if item.parents:
        parents = [f"[{link.parent}] {tool_name(evidence[link.parent].tool, w) if link.parent in evidence else ''}"
                   .strip() for link in item.parents]
        details.append(w("plan.appendix.from", items=w.enumeration.join(dict.fromkeys(parents))))
    return w("plan.appendix.computed", tool=tool_name(item.tool, w), details=w.comma.join(d for d in details if d))


def tool_name(tool: str, w: PlanWords) -> str:
    name = w.get(f"plan.tools.{tool}")
    return f"{name}（{tool}）" if name and w.zh else (f"{name} ({tool})" if name else tool)


def definition_words(item: Evidence, w: PlanWords) -> str:
    """The definition in the plan's language: a stated one per tool (and data shape), else the tool's own words."""
    tool = item.tool
    if tool in ("turnover_breakdown",):
        if item.period.get("kind") == "period":
            denominator = str(item.arguments.get("denominator") or "average")
            return w("plan.definitions.turnover_event",
                     denominator=w.get(f"plan.denominators.{denominator}", denominator))
        return w("plan.definitions.turnover_snapshot")
    text = w.get(f"plan.definitions.{tool}")
    if text:
        return text
    own = "; ".join(line.strip() for line in (item.definition or "").splitlines() if line.strip())
    return own if len(own) <= 300 else own[:297] + "..."


def source_lines(item: Evidence, w: PlanWords) -> list[str]:
    lines = []
    for source in item.sources:
        if not source.get("sha256"):
            continue
        size = source.get("size")
        lines.append(w("plan.appendix.source_line", name=source.get("name", "?"),
                       format=str(source.get("format") or "").upper() or "?",
                       size=f"{size:,}" if isinstance(size, int) else "?", sha=source.get("sha256"),
                       modified=source.get("modified") or "—"))
    return lines or [w("plan.appendix.no_file")]


def cited_figures(evidence_id: str, item: Evidence, checks: Sequence[SentenceCheck]) -> list[Figure]:
    """The figures of ``item`` the plan's sentences matched, in order of first mention; else the first few."""
    matched: dict[str, Figure] = {}
    for check in checks:
        for number in check.numbers:
            if number.verified and number.figure is not None and number.figure.evidence_id == evidence_id:
                matched.setdefault(number.figure.name, number.figure)
    if matched:
        return list(matched.values())
    return numeric_figures(evidence_id, item.figures, item.units)[:HEADLINE_FIGURES]


def appendix_markdown(state: PlanState, evidence: Mapping[str, Evidence], checks: Sequence[SentenceCheck],
                      w: PlanWords, flagged: Sequence[str] = (), scoped: Mapping[str, str] | None = None,
                      scope_word: str = "Scope") -> str:
    """The appendix: an intro with the legend of the marks (and the numbers to check), then one entry per citation
    (with its scope when it covers only part of the data, ``scoped``)."""
    cited = citations_by_section(state)
    if not cited:
        return ""
    parts = [f"## {w('plan.appendix.title')}", "", w("plan.appendix.intro"), ""]
    if flagged:
        parts += [w("plan.appendix.flagged", items=w.semicolon.join(flagged)), ""]
    for evidence_id in cited:
        item = evidence.get(evidence_id)
        if item is None:
            parts += [f"### [{evidence_id}] {w('plan.appendix.missing')}", ""]
            continue
        parts += [f"### [{evidence_id}] {w.get(f'plan.tools.{item.tool}', item.tool)}", "",
                  computed_sentence(item, evidence, w), ""]
        figures = cited_figures(evidence_id, item, checks)
        shown = w.semicolon.join(f"{figure_label(f.name, w)} {display(f)}" for f in figures)
        heading = "plan.appendix.figures" if any(
            n.verified and n.figure is not None and n.figure.evidence_id == evidence_id
            for c in checks for n in c.numbers) else "plan.appendix.headline"
        lines = [f"- **{w(heading)}**{w.colon}{shown or '—'}",
                 f"- **{w('plan.appendix.definition')}**{w.colon}{definition_words(item, w)}"]
        lines += [f"- **{w('plan.appendix.source')}**{w.colon}{line}" for line in source_lines(item, w)]
        if scoped and evidence_id in scoped:
            lines.append(f"- **{scope_word}**{w.colon}{scoped[evidence_id]}")
        lines.append(f"- {w('plan.appendix.recorded', when=when(item.created_at), who=item.author)}")
        given = {k: v for k, v in item.arguments.items() if v is not None and v != [] and v != {}}
        arguments = json.dumps(given, ensure_ascii=False, separators=(",", ": "))
        parts += [*lines, "", f"```details {w('plan.appendix.arguments')}", arguments, "```", ""]
    return "\n".join(parts).rstrip() + "\n"
