"""A plan as markdown (what ``plan_get``, the plan resources and exports show) and its evidence appendix."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from retention_mcp.workspace.citations import cited_ids
from retention_mcp.workspace.store import Evidence, PlanState, unified_diff

LABELS = {
    "en": {
        "appendix": "Evidence appendix",
        "appendix_intro": "Every figure cited as [ev-…] in this plan, with the tool, its arguments, the data it "
                          "read and the definition it used.",
        "tool": "Tool", "arguments": "Arguments", "source": "Data source", "definition": "Definition",
        "figures": "Figures", "recorded": "Recorded", "cited_in": "Cited in",
        "missing": "not found in the workspace",
        "no_source": "none (calculator inputs only)",
    },
    "zh": {
        "appendix": "证据附录",
        "appendix_intro": "本方案中以 [ev-…] 引用的每个数字:计算它的工具、参数、所读数据与口径定义。",
        "tool": "工具", "arguments": "参数", "source": "数据来源", "definition": "口径定义",
        "figures": "数值", "recorded": "记录", "cited_in": "引用章节",
        "missing": "工作区中不存在",
        "no_source": "无(仅计算器输入)",
    },
}


def labels(language: str) -> dict[str, str]:
    return LABELS.get(language, LABELS["en"])


def when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def plan_markdown(state: PlanState, *, meta: bool = True, scoped: dict[str, str] | None = None,
                  scoped_note: str = "") -> str:
    """The plan, in its own language: title, a one-line status (unless ``meta=False``, as diffs use), then each
    section.

    ``scoped`` ({evidence id: "computed within Department = Sales, not company-wide"}): a section citing such
    evidence ends with ``scoped_note`` listing them, so figures of part of the company never pass for the whole's
    wherever the plan is read."""
    from retention_mcp.wording import words

    w = words(state.language if state.language in ("en", "zh") else "en")
    parts = [f"# {state.title}", ""]
    if meta:
        group = w("workspace.group", group=state.group) if state.group else ""
        parts += [w("workspace.meta", id=state.id, version=state.version, current=state.current_version,
                    template=state.template, language=state.language, group=group, who=state.changed_by,
                    when=when(state.changed_at)), ""]
    for section in state.sections:
        parts += [f"## {section.heading}", "", section.markdown.strip() or w("workspace.not_written"), ""]
        marked = [f"[{i}] {scoped[i]}" for i in cited_ids(section.markdown) if scoped and i in scoped]
        if marked and scoped_note:
            parts += [f"> {scoped_note.format(items=w.semicolon.join(marked))}", ""]
    return "\n".join(parts).rstrip() + "\n"


def plan_diff(old: PlanState, new: PlanState) -> str:
    """Unified diff of a plan's markdown between two of its versions (without the status line)."""
    return unified_diff(plan_markdown(old, meta=False), plan_markdown(new, meta=False),
                        f"plan {old.id} v{old.version}", f"plan {new.id} v{new.version}")


def citations_by_section(state: PlanState) -> dict[str, list[str]]:
    """Evidence id -> the headings of the sections that cite it, in plan order."""
    found: dict[str, list[str]] = {}
    for section in state.sections:
        for evidence_id in cited_ids(section.markdown):
            found.setdefault(evidence_id, []).append(section.heading)
    return found


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _source_line(source: dict[str, Any]) -> str:
    parts = [f"`{source.get('name', '?')}`"]
    if source.get("format"):
        parts.append(str(source["format"]))
    if source.get("size") is not None:
        parts.append(f"{source['size']:,} bytes" if isinstance(source["size"], int) else str(source["size"]))
    if source.get("modified"):
        parts.append(f"modified {source['modified']}")
    if source.get("sha256"):
        parts.append(f"SHA-256 `{source['sha256']}`")
    return ", ".join(parts)


def evidence_appendix(state: PlanState, evidence: dict[str, Evidence], scoped: dict[str, str] | None = None,
                      scope_word: str = "Scope") -> str:
    """The appendix exports end with: one entry per cited id, in order of first citation (with its scope when it
    covers only part of the data, ``scoped``)."""
    text = labels(state.language)
    cited = citations_by_section(state)
    if not cited:
        return ""
    parts = [f"## {text['appendix']}", "", text["appendix_intro"], ""]
    for evidence_id, sections in cited.items():
        item = evidence.get(evidence_id)
        parts.append(f"### [{evidence_id}] {item.tool if item else text['missing']}")
        parts.append("")
        if item is None:
            continue
        arguments = json.dumps(item.arguments, ensure_ascii=False, sort_keys=True)
        sources: Sequence[dict[str, Any]] = item.sources or []
        lines = [
            f"- **{text['tool']}**: `{item.tool}`",
            f"- **{text['arguments']}**: `{arguments}`",
        ]
        if sources:
            lines += [f"- **{text['source']}**: {_source_line(s)}" for s in sources]
        else:
            lines.append(f"- **{text['source']}**: {text['no_source']}")
        definition = "; ".join(line.strip() for line in (item.definition or "").splitlines() if line.strip())
        lines.append(f"- **{text['definition']}**: {definition or '—'}")
        if item.figures:
            figures = "; ".join(f"{k} = {_format_value(v)}" for k, v in item.figures.items())
            lines.append(f"- **{text['figures']}**: {figures}")
        if scoped and evidence_id in scoped:
            lines.append(f"- **{scope_word}**: {scoped[evidence_id]}")
        lines.append(f"- **{text['cited_in']}**: {', '.join(sections)}")
        lines.append(f"- **{text['recorded']}**: {item.author}, {when(item.created_at)}")
        parts += [*lines, ""]
    return "\n".join(parts).rstrip() + "\n"
