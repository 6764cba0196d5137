"""Re-run a plan's cited evidence on the current version of its files (or a named new file) and report
which figures changed, by how much, and which sections cite them. A result on a linked dataset (``path`` naming
it) re-runs on the dataset's current files; ``path`` then replaces it only with another linked dataset.

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


def rerun_arguments(item: Evidence, path: str | None, w: Any = None) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments to re-run ``item`` with, or (None, why not — in ``w``'s language)."""
    from retention_mcp.wording import words

    w = w or words("en")
    arguments = dict(item.arguments)
    # The runtime records every argument, the unused ones as None: a file is read when `path` has a value.
    reads_file = arguments.get(PATH_ARGUMENT) is not None
    inline = arguments.get(INLINE_ARGUMENT) is not None
    if path:
        if not (reads_file or inline):
            return None, w("workspace.refresh_reasons.calculator")
        from retention_mcp.data.linked import is_dataset_name

        if reads_file and is_dataset_name(arguments[PATH_ARGUMENT]) != is_dataset_name(path):
            # A linked dataset's columns are not in one file (nor a file's in another dataset): re-run it as it was.
            key = "linked_not_dataset" if is_dataset_name(arguments[PATH_ARGUMENT]) else "file_not_dataset"
            return None, w(f"workspace.refresh_reasons.{key}", was=arguments[PATH_ARGUMENT], path=path)
        arguments.pop(INLINE_ARGUMENT, None)
        arguments[PATH_ARGUMENT] = path
        return arguments, None
    if inline:
        return None, w("workspace.refresh_reasons.inline")
    if not reads_file:
        return None, w("workspace.refresh_reasons.calculator")
    return arguments, None


async def refresh_plan(state: PlanState, evidence: dict[str, Evidence], rerun: Rerun,
                       path: str | None = None, skip: Callable[[Evidence], str | None] | None = None,
                       scope_notes: dict[str, str] | None = None) -> RefreshReport:
    """Re-run every evidence id the plan (at ``state.version``) cites; compare old and new figures. Reasons in the
    plan's language."""
    from retention_mcp.errors import InputError
    from retention_mcp.wording import words

    w = words(state.language if state.language in ("en", "zh") else "en")
    by_section = citations_by_section(state)
    results: list[RefreshedEvidence] = []
    for evidence_id, sections in by_section.items():
        item = evidence.get(evidence_id)
        if item is None:
            results.append(RefreshedEvidence(evidence_id=evidence_id, tool="?", sections=sections, status="failed",
                                             reason=w("workspace.refresh_reasons.missing")))
            continue
        arguments, why_not = rerun_arguments(item, path, w)
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
