"""Re-run a plan's cited evidence on the current version of its files (or a named new file) and report
which figures changed, by how much, and which sections cite them.

The seam to the tool runtime is one injected async callable::

    async def rerun(tool_name: str, arguments: dict, evidence: Evidence) -> dict:
        # -> {"figures": {name: number | str | None}, "sources": [{...}], "evidence_id": "ev-…"}

It calls the tool again (recording new evidence as any call does) and returns the new figures; ``evidence`` is
the record being re-run (its scope: a manager's department is re-run on that department). ``skip(evidence)``
may give a reason not to re-run one (it was computed beyond the caller's access). ``endpoints/workspace.py``
builds both from the server; tests may pass their own.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from retention_mcp.workspace.citations import cited_ids
from retention_mcp.workspace.render import citations_by_section
from retention_mcp.workspace.store import Evidence, PlanState

Rerun = Callable[[str, dict[str, Any], Evidence], Awaitable[dict[str, Any]]]
#: Argument names that name the data file a tool read.
PATH_ARGUMENT = "path"
INLINE_ARGUMENT = "csv_text"
#: Figures closer than this (relative) are the same figure (float noise across platforms).
REL_TOLERANCE = 1e-9


class FigureChange(BaseModel):
    figure: str = Field(description="figure name, e.g. overall_rate")
    old: float | int | str | None
    new: float | int | str | None
    change: float | None = Field(None, description="new − old, in the figure's own unit (rates: a fraction; "
                                 "0.021 = 2.1 percentage points)")
    relative_change: float | None = Field(None, description="(new − old) ÷ |old|, a fraction")


class RefreshedEvidence(BaseModel):
    evidence_id: str
    tool: str
    sections: list[str] = Field(description="sections of the plan that cite this evidence")
    status: str = Field(description="changed | unchanged | skipped | failed")
    reason: str | None = Field(None, description="why skipped or failed")
    new_evidence_id: str | None = Field(None, description="the re-run's evidence id: cite it in revised text")
    scope_note: str | None = Field(None, description="when the figures cover only part of the data (a manager's "
                                   "department): which part; the re-run used the same part")
    old_sources: list[dict[str, Any]] = []
    new_sources: list[dict[str, Any]] = []
    changes: list[FigureChange] = Field(default_factory=list, description="figures whose value changed")
    unchanged: int = Field(0, description="figures re-computed with the same value")


class RefreshReport(BaseModel):
    plan_id: int
    version: int = Field(description="the plan version whose citations were re-run")
    path: str | None = Field(None, description="the file every data result was re-run on, if one was named")
    evidence: list[RefreshedEvidence]
    changed_figures: int
    affected_sections: list[str] = Field(description="sections citing at least one changed figure")


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        return math.isclose(float(old), float(new), rel_tol=REL_TOLERANCE, abs_tol=1e-12)
    return old == new


def compare_figures(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[FigureChange], int]:
    """Changes of the figures the evidence recorded (a figure the re-run no longer gives becomes None;
    figures the re-run adds were never cited and are not reported)."""
    changes, unchanged = [], 0
    for name in old:
        before, after = old.get(name), new.get(name)
        if _same(before, after):
            unchanged += 1
            continue
        change = relative = None
        if isinstance(before, int | float) and isinstance(after, int | float):
            change = float(after) - float(before)
            relative = change / abs(float(before)) if before else None
        changes.append(FigureChange(figure=name, old=before, new=after, change=change, relative_change=relative))
    return changes, unchanged


def rerun_arguments(item: Evidence, path: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments to re-run ``item`` with, or (None, why not)."""
    # Arguments recorded from a tool call list every parameter, the unused ones as null.
    arguments = {k: v for k, v in item.arguments.items() if v is not None}
    reads_file = PATH_ARGUMENT in arguments
    inline = INLINE_ARGUMENT in arguments
    if path:
        if not (reads_file or inline):
            return None, "a calculator result (no data file): its inputs did not change"
        arguments.pop(INLINE_ARGUMENT, None)
        arguments[PATH_ARGUMENT] = path
        return arguments, None
    if inline:
        return None, "computed from data pasted into the chat (not stored); name a file with path= to re-run it"
    if not reads_file:
        return None, "a calculator result (no data file): its inputs did not change"
    return arguments, None


async def refresh_plan(state: PlanState, evidence: dict[str, Evidence], rerun: Rerun,
                       path: str | None = None, skip: Callable[[Evidence], str | None] | None = None,
                       scope_notes: dict[str, str] | None = None) -> RefreshReport:
    """Re-run every evidence id the plan (at ``state.version``) cites; compare old and new figures."""
    from retention_mcp.errors import InputError

    by_section = citations_by_section(state)
    results: list[RefreshedEvidence] = []
    for evidence_id, sections in by_section.items():
        item = evidence.get(evidence_id)
        if item is None:
            results.append(RefreshedEvidence(evidence_id=evidence_id, tool="?", sections=sections, status="failed",
                                             reason="this evidence id is not in the workspace"))
            continue
        arguments, why_not = rerun_arguments(item, path)
        if arguments is not None and skip is not None and (beyond := skip(item)) is not None:
            arguments, why_not = None, beyond
        base = dict(evidence_id=evidence_id, tool=item.tool, sections=sections, old_sources=item.sources,
                    scope_note=(scope_notes or {}).get(evidence_id))
        if arguments is None:
            results.append(RefreshedEvidence(**base, status="skipped", reason=why_not))
            continue
        try:
            outcome = await rerun(item.tool, arguments, item)
        except ValueError as exc:  # InputError / ToolError text: the file is gone, a column is missing...
            results.append(RefreshedEvidence(**base, status="failed", reason=str(exc)))
            continue
        if not isinstance(outcome, dict) or not isinstance(outcome.get("figures"), dict):
            raise InputError(f"re-running {item.tool} gave no figures to compare")
        changes, unchanged = compare_figures(item.figures, outcome["figures"])
        results.append(RefreshedEvidence(
            **base, status="changed" if changes else "unchanged", new_evidence_id=outcome.get("evidence_id"),
            new_sources=list(outcome.get("sources") or []), changes=changes, unchanged=unchanged))
    affected = [s.heading for s in state.sections
                if any(r.status == "changed" and s.heading in r.sections for r in results)]
    return RefreshReport(plan_id=state.id, version=state.version, path=path, evidence=results,
                         changed_figures=sum(len(r.changes) for r in results), affected_sections=affected)


def cited_evidence_ids(state: PlanState) -> list[str]:
    found: dict[str, None] = {}
    for section in state.sections:
        for evidence_id in cited_ids(section.markdown):
            found.setdefault(evidence_id, None)
    return list(found)
