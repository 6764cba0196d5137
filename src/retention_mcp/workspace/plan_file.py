"""A plan as the file people circulate: every cited number checked and marked, the charts of cited results where
they are cited, a cited roadmap drawn as a Gantt chart and a table, and the evidence appendix — all in the plan's
language. ``plan_export`` writes the markdown this builds through ``report.export``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from retention_mcp.plan_words import PlanWords, plan_words
from retention_mcp.settings import Settings
from retention_mcp.workspace.store import Evidence, PlanState

#: Charts of one cited result placed in a plan (a result that draws more, e.g. the ROI's scenarios and sensitivity).
MAX_CHARTS_PER_RESULT = 2


@dataclass
class PlanFile:
    markdown: str  # without the title (export_report writes it)
    verified: int = 0
    flagged: list[str] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)  # PNG files placed, in the output folder


def _block_end(text: str, position: int) -> int:
    """The end of the paragraph, list or table holding ``position`` (the next blank line, or the end)."""
    found = text.find("\n\n", position)
    return len(text) if found < 0 else found


def chart_file(settings: Settings, png: bytes, stem: str) -> str:
    """The chart as a PNG in the output folder named ``stem``: an existing file with the same bytes is reused,
    another is never replaced."""
    from retention_mcp.report.charts import _safe_stem, save_chart

    existing = settings.output_dir / f"{_safe_stem(stem)}.png"
    if existing.is_file() and not existing.is_symlink() and existing.read_bytes() == png:
        return existing.name
    return save_chart(settings, png, stem).name


def roadmap_section(settings: Settings, item: Evidence, evidence: Mapping[str, Evidence], w: PlanWords) -> str:
    """A cited roadmap's table and checks, recomputed from its phases and its parents' figures in the plan's
    language."""
    from retention_mcp.analysis.kpi_catalog import load_kpi_catalog
    from retention_mcp.analysis.roadmap import Phase, build_roadmap, roadmap_markdown

    parents = {link.argument: evidence.get(link.parent) for link in item.parents}
    roi, kpis = parents.get("roi_evidence_id"), parents.get("kpi_evidence_id")
    names = {k.id: k.name_zh if w.zh else k.name_en for k in load_kpi_catalog(settings).kpis}
    phases = [Phase.model_validate(p) for p in item.arguments.get("phases") or []]
    if not phases:
        return ""
    result = build_roadmap(phases, roi=roi.figures if roi else None, kpis=kpis.figures if kpis else None,
                           currency=str(item.arguments.get("currency") or ""), words=w, kpi_names=names)
    return roadmap_markdown(result, w, names)


def plan_file(settings: Settings, state: PlanState, evidence: Mapping[str, Evidence], *,
              scoped: Mapping[str, str] | None = None, scoped_note: str = "", scope_word: str = "Scope") -> PlanFile:
    """The plan's sections with checked numbers and charts, then the appendix (``evidence``: the cited records and
    every result they were computed from). ``scoped`` ({evidence id: "computed within Department = Sales, not
    company-wide"}): a section citing such evidence ends with ``scoped_note`` listing them."""
    from retention_mcp.report.charts import draw_spec
    from retention_mcp.workspace.appendix import appendix_markdown, figure_label, figure_labels
    from retention_mcp.workspace.citations import cited_ids
    from retention_mcp.workspace.figures import numeric_figures
    from retention_mcp.workspace.verify import check_text, mark_text

    w = plan_words(state.language)
    labels = figure_labels(evidence, w)
    figures_by_id = {i: numeric_figures(i, e.figures, e.units) for i, e in evidence.items()}
    out = PlanFile(markdown="")
    all_checks = []
    placed: set[str] = set()
    parts = []
    for section in state.sections:
        text = section.markdown.strip()
        if not text:
            parts += [f"## {section.heading}", "", w.get("plan.export.not_written", "—") or "—", ""]
            continue
        checks = check_text(text, figures_by_id, labels)
        all_checks += checks
        out.verified += sum(1 for c in checks for n in c.numbers if n.verified)
        for check in checks:
            for number in check.flagged:
                figure = number.figure
                out.flagged.append(w("plan.appendix.flagged_item", number=number.text, section=section.heading,
                                     closest=figure_label(figure.name, w) if figure else "—",
                                     shown=number.shown or "—", id=figure.evidence_id if figure else "—"))
        marked = mark_text(text, checks)
        inserts: dict[int, list[str]] = {}
        for evidence_id in cited_ids(marked):
            item = evidence.get(evidence_id)
            if item is None or evidence_id in placed:
                continue
            placed.add(evidence_id)
            end = _block_end(marked, marked.lower().find(f"[{evidence_id}"))
            pieces = []
            specs = [c for c in item.charts if c.get("kind")][:MAX_CHARTS_PER_RESULT]
            for number, spec in enumerate(specs, 1):
                try:
                    png = draw_spec(spec, state.language)
                except ValueError:  # a chart that cannot be drawn (every group hidden) is left out
                    continue
                name = chart_file(settings, png, f"plan{state.id}-{evidence_id}-{number}")
                out.charts.append(name)
                caption = w("plan.appendix.chart_caption", id=evidence_id, tool=w.get(f"plan.tools.{item.tool}",
                                                                                      item.tool))
                pieces.append(f"![{caption}]({name})")
            if item.tool == "build_roadmap":
                pieces.append(roadmap_section(settings, item, evidence, w))
            if pieces:
                inserts.setdefault(end, []).extend(pieces)
        for end in sorted(inserts, reverse=True):
            marked = marked[:end] + "\n\n" + "\n\n".join(inserts[end]) + marked[end:]
        parts += [f"## {section.heading}", "", marked, ""]
        partial = [f"[{i}] {scoped[i]}" for i in cited_ids(text) if scoped and i in scoped]
        if partial and scoped_note:
            parts += [f"> {scoped_note.format(items=w.semicolon.join(partial))}", ""]
    appendix = appendix_markdown(state, evidence, all_checks, w, out.flagged, scoped=scoped, scope_word=scope_word)
    out.markdown = "\n".join(parts).rstrip() + "\n" + ("\n" + appendix if appendix else "")
    return out

