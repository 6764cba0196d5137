"""Re-run what a plan cites on the data as it is now, through its whole lineage, and say what changed.

For a plan version, :func:`refresh_plan`:

1. collects the evidence its sections cite and every result those were computed from (lineage: an ROI from an
   impact estimate from an HR export), and orders them parents first;
2. re-runs each one with the arguments it was recorded with — on the files as they are now, or on ``path`` —
   holding the period it was computed for (``roll_forward`` moves it to the latest data instead, keeping its
   length); a result computed from other results is re-run on their new evidence ids, so a change in the data
   reaches the ROI; only results computed from data pasted into the chat are skipped (it was never stored), and
   so are the results computed from them;
3. compares each figure old and new, and re-checks every citing sentence: the numbers that matched the old
   figures but match none of the new ones are listed, sentence by sentence.
A result on a linked dataset (``path`` naming it) re-runs on the dataset's current files; ``path`` then replaces it
only with another linked dataset. Reasons and reports are in the plan's language.

The seam to the tool runtime is one injected async callable::

    async def rerun(tool_name: str, arguments: dict, evidence: Evidence) -> dict:
        # -> {"evidence_id": "ev-…", "figures": {...}, "units": {...}, "sources": [...], "period": {...}}

It calls the tool again (recording new evidence, with its lineage, as any call does); ``evidence`` is the record
being re-run (its scope: a manager's department is re-run on that department). ``skip(evidence)`` may give a
reason not to re-run one (it was computed beyond the caller's access). ``endpoints/workspace.py`` builds both from
the server; tests may pass their own.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.workspace.citations import cited_ids
from retention_mcp.workspace.figures import Figure, display, numeric_figures
from retention_mcp.workspace.periods import (
    AS_OF_ARGUMENTS,
    default_arguments,
    held_arguments,
    holdable,
    period_end,
    rolled_arguments,
    same_period,
)
from retention_mcp.workspace.render import citations_by_section
from retention_mcp.workspace.store import Evidence, PlanState
from retention_mcp.workspace.verify import check_text

Rerun = Callable[[str, dict[str, Any], Evidence], Awaitable[dict[str, Any]]]
#: Argument names that name the data file a tool read.
PATH_ARGUMENT = "path"
INLINE_ARGUMENT = "csv_text"
#: Figures closer than this (relative) are the same figure (float noise across platforms).
REL_TOLERANCE = 1e-9
Status = Literal["changed", "unchanged", "skipped", "failed"]
PeriodStatus = Literal["held", "rolled forward", "moved with the file", "moved with its inputs", "no period"]


class FigureChange(BaseModel):
    figure: str = Field(description="figure name, e.g. overall_rate or rate[研发部]")
    old: float | int | str | None
    new: float | int | str | None
    old_shown: str | None = Field(None, description="the old value as the tool displays it, e.g. 13.8%")
    new_shown: str | None = None
    change: float | None = Field(None, description="new − old, in the figure's own unit (rates: a fraction; "
                                 "0.021 = 2.1 percentage points)")
    relative_change: float | None = Field(None, description="(new − old) ÷ |old|, a fraction")


class RefreshedEvidence(BaseModel):
    evidence_id: str
    tool: str
    sections: list[str] = Field(description="sections of the plan that cite this evidence (empty: it is only an "
                                "input of cited results)")
    computed_from: list[str] = Field(default_factory=list, description="the evidence ids it was computed from")
    status: Status = Field(description="changed | unchanged | skipped | failed")
    reason: str | None = Field(None, description="why skipped or failed")
    new_evidence_id: str | None = Field(None, description="the re-run's evidence id: cite it in revised text")
    data_changed: bool | None = Field(None, description="a file it read differs from the one recorded (SHA-256)")
    period_before: dict[str, Any] = Field(default_factory=dict, description="the period it was computed for")
    period_after: dict[str, Any] = Field(default_factory=dict, description="the period of the re-run")
    period_status: PeriodStatus = Field("no period", description="held (the same dates), rolled forward (asked), "
                                        "moved with the file (the tool follows its file's latest date, or a "
                                        "snapshot), moved with its inputs (a result computed from results whose "
                                        "period moved), no period (typed inputs)")
    scope_note: str | None = Field(None, description="when the figures cover only part of the data (a manager's "
                                   "department): which part; the re-run used the same part")
    changes: list[FigureChange] = Field(default_factory=list, description="figures whose value changed")
    unchanged: int = Field(0, description="figures re-computed with the same value")
    old_sources: list[dict[str, Any]] = Field(default_factory=list, description="the files it read before")
    new_sources: list[dict[str, Any]] = Field(default_factory=list, description="the files the re-run read")


class StaleNumber(BaseModel):
    number: str = Field(description="the number as written in the plan")
    figure: str | None = Field(description="the figure it matched before the refresh")
    was: str | None = Field(description="that figure before, as displayed")
    now: str | None = Field(description="that figure now, as displayed")


class StaleSentence(BaseModel):
    section: str
    sentence: str
    cites: list[str] = Field(description="evidence ids the sentence cites (cite the new ones when revising)")
    new_ids: list[str] = Field(description="their re-runs' evidence ids, in the same order")
    numbers: list[StaleNumber]


class SectionRefresh(BaseModel):
    section: str
    evidence: list[str] = Field(description="the evidence behind this section, inputs first (data → … → ROI)")
    changed_figures: int
    stale_sentences: int


class PastedData(BaseModel):
    evidence_id: str
    tool: str
    sections: list[str]
    figures: list[str] = Field(description="numbers the plan cites from it, as written (they cannot be refreshed)")


class RefreshReport(BaseModel):
    plan_id: int
    version: int = Field(description="the plan version whose citations were re-run")
    path: str | None = Field(None, description="the file every data result was re-run on, if one was named")
    roll_forward: bool = Field(False, description="periods moved to the latest data (else each one held)")
    evidence: list[RefreshedEvidence] = Field(description="every cited result and its inputs, inputs first")
    changed_figures: int
    affected_sections: list[str] = Field(description="sections citing at least one changed figure")
    sections: list[SectionRefresh] = Field(default_factory=list)
    stale_sentences: list[StaleSentence] = Field(
        default_factory=list, description="sentences with a number that matched the old figures and matches none "
                                          "of the new ones: revise them citing the new evidence ids")
    pasted: list[PastedData] = Field(default_factory=list, description="results computed from pasted data: not "
                                     "re-run, and the figures of the plan this affects")


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        return math.isclose(float(old), float(new), rel_tol=REL_TOLERANCE, abs_tol=1e-12)
    return old == new


def _shown(evidence_id: str, name: str, value: Any, units: Mapping[str, str] | None) -> str | None:
    found = numeric_figures(evidence_id, {name: value}, units)
    return display(found[0]) if found else (None if value is None else str(value))


def compare_figures(old: dict[str, Any], new: dict[str, Any], old_units: Mapping[str, str] | None = None,
                    new_units: Mapping[str, str] | None = None) -> tuple[list[FigureChange], int]:
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
        changes.append(FigureChange(figure=name, old=before, new=after, change=change, relative_change=relative,
                                    old_shown=_shown("", name, before, old_units),
                                    new_shown=_shown("", name, after, new_units or old_units)))
    return changes, unchanged


def substitute(value: Any, new_ids: Mapping[str, str]) -> Any:
    """``value`` with every string that is an old evidence id replaced by its re-run's id (lineage arguments)."""
    if isinstance(value, str):
        return new_ids.get(value.strip().lower(), value)
    if isinstance(value, dict):
        return {k: substitute(v, new_ids) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, new_ids) for v in value]
    return value


def rerun_arguments(item: Evidence, path: str | None, new_ids: Mapping[str, str] | None = None,
                    w: Any = None) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments to re-run ``item`` with (before its period is set), or (None, why not — in ``w``'s language).

    The runtime records every argument, unset ones as None: a file or pasted data is one that was given. A result
    computed from other results (a calculator) re-runs on their new evidence ids (``new_ids``); a calculator on
    typed inputs re-runs too (the same figures)."""
    from retention_mcp.wording import words

    w = w or words("en")
    arguments = substitute(dict(item.arguments), new_ids or {})
    reads_file = bool(arguments.get(PATH_ARGUMENT))
    inline = arguments.get(INLINE_ARGUMENT) is not None
    if inline:
        if not path:
            return None, w("workspace.refresh_reasons.inline")
        arguments.pop(INLINE_ARGUMENT, None)
        arguments[PATH_ARGUMENT] = path
    elif path and reads_file:
        from retention_mcp.data.linked import is_dataset_name

        if is_dataset_name(arguments[PATH_ARGUMENT]) != is_dataset_name(path):
            # A linked dataset's columns are not in one file (nor a file's in another dataset): re-run it as it was.
            key = "linked_not_dataset" if is_dataset_name(arguments[PATH_ARGUMENT]) else "file_not_dataset"
            return None, w(f"workspace.refresh_reasons.{key}", was=arguments[PATH_ARGUMENT], path=path)
        arguments[PATH_ARGUMENT] = path
    return arguments, None


def dependency_order(ids: Iterable[str], evidence: Mapping[str, Evidence]) -> list[str]:
    """``ids`` and their ancestors, every result after the results it was computed from (first cited first)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(evidence_id: str) -> None:
        if evidence_id in seen:
            return
        seen.add(evidence_id)
        item = evidence.get(evidence_id)
        for link in (item.parents if item is not None else ()):
            visit(link.parent)
        order.append(evidence_id)

    for evidence_id in ids:
        visit(evidence_id)
    return order


def _sources_differ(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool | None:
    before = {s.get("sha256") for s in old if s.get("sha256")}
    after = {s.get("sha256") for s in new if s.get("sha256")}
    if not before or not after:
        return None
    return before != after


async def _run(rerun: Rerun, item: Evidence, arguments: dict[str, Any],
               roll_forward: bool) -> tuple[dict[str, Any], PeriodStatus]:
    """Re-run one result, holding its period or rolling it forward."""
    period = item.period or {}
    if not holdable(arguments, period):
        outcome = await rerun(item.tool, arguments, item)
        if item.parents:
            return outcome, "moved with its inputs"
        moved = period.get("kind") in ("period", "as_of", "snapshot", "several") or (
            not period and bool(arguments.get(PATH_ARGUMENT)))
        return outcome, "moved with the file" if moved else "no period"
    if not roll_forward:
        return await rerun(item.tool, held_arguments(arguments, period), item), "held"
    outcome = await rerun(item.tool, default_arguments(arguments), item)  # the tool's default ends at the latest date
    latest = period_end(outcome.get("period"))
    rolled = rolled_arguments(arguments, period, latest) if latest else None
    if rolled is not None and not same_period(outcome.get("period"), _period_of(rolled, period)):
        outcome = await rerun(item.tool, rolled, item)
    return outcome, "rolled forward"


def _period_of(arguments: Mapping[str, Any], period: Mapping[str, Any]) -> dict[str, Any]:
    if period.get("kind") == "period":
        return {"kind": "period", "start": arguments.get("period_start"), "end": arguments.get("period_end")}
    return {"kind": "as_of", "end": next((arguments[n] for n in AS_OF_ARGUMENTS if n in arguments), None)}


async def refresh_plan(state: PlanState, evidence: dict[str, Evidence], rerun: Rerun, path: str | None = None,
                       roll_forward: bool = False, labels: Mapping[str, str] | None = None,
                       skip: Callable[[Evidence], str | None] | None = None,
                       scope_notes: dict[str, str] | None = None) -> RefreshReport:
    """Re-run every evidence id the plan (at ``state.version``) cites and its inputs; compare; re-check sentences.

    ``evidence`` holds the cited records and their ancestors (``Workspace.ancestry``). ``skip(evidence)`` may give
    a reason not to re-run one (computed beyond the caller's access); ``scope_notes`` say which results cover only
    part of the data."""
    from retention_mcp.errors import InputError
    from retention_mcp.wording import words

    w = words(state.language if state.language in ("en", "zh") else "en")
    by_section = citations_by_section(state)
    order = dependency_order(by_section, evidence)
    results: dict[str, RefreshedEvidence] = {}
    new_ids: dict[str, str] = {}
    new_figures: dict[str, list[Figure]] = {}
    pasted_ids: set[str] = set()  # not re-run: computed from data pasted into the chat (or from such a result)
    for evidence_id in order:
        item = evidence.get(evidence_id)
        sections = by_section.get(evidence_id, [])
        if item is None:
            results[evidence_id] = RefreshedEvidence(evidence_id=evidence_id, tool="?", sections=sections,
                                                     status="failed", reason=w("workspace.refresh_reasons.missing"))
            continue
        parents = list(dict.fromkeys(link.parent for link in item.parents))
        base = dict(evidence_id=evidence_id, tool=item.tool, sections=sections, computed_from=parents,
                    period_before=item.period, old_sources=item.sources,
                    scope_note=(scope_notes or {}).get(evidence_id))
        blocked = [p for p in parents if results.get(p) is not None and results[p].status in ("skipped", "failed")]
        if blocked:
            why = w.semicolon.join(f"{p}{w.colon}{results[p].reason}" for p in blocked)
            results[evidence_id] = RefreshedEvidence(**base, status="skipped", reason=w(
                "workspace.refresh_reasons.blocked", ids=w.enumeration.join(blocked), why=why))
            if any(p in pasted_ids for p in blocked):
                pasted_ids.add(evidence_id)
            continue
        arguments, why_not = rerun_arguments(item, path, new_ids, w)
        if arguments is not None and skip is not None and (beyond := skip(item)) is not None:
            arguments, why_not = None, beyond
        if arguments is None:
            results[evidence_id] = RefreshedEvidence(**base, status="skipped", reason=why_not)
            if item.arguments.get(INLINE_ARGUMENT) is not None:
                pasted_ids.add(evidence_id)
            continue
        try:
            outcome, period_status = await _run(rerun, item, arguments, roll_forward)
        except ValueError as exc:  # InputError / ToolError text: the file is gone, a column is missing...
            results[evidence_id] = RefreshedEvidence(**base, status="failed", reason=str(exc))
            continue
        if not isinstance(outcome, dict) or not isinstance(outcome.get("figures"), dict):
            raise InputError(f"re-running {item.tool} gave no figures to compare")
        new_id = outcome.get("evidence_id")
        changes, unchanged = compare_figures(item.figures, outcome["figures"], item.units, outcome.get("units"))
        new_sources = list(outcome.get("sources") or [])
        period_after = dict(outcome.get("period") or {})
        if period_status.startswith("moved") and same_period(item.period, period_after):
            period_status = "held" if item.period.get("kind") not in (None, "inputs") else "no period"
        elif period_status == "moved with its inputs" and roll_forward:
            period_status = "rolled forward"
        results[evidence_id] = RefreshedEvidence(
            **base, status="changed" if changes else "unchanged", new_evidence_id=new_id,
            data_changed=_sources_differ(item.sources, new_sources), new_sources=new_sources,
            period_after=period_after, period_status=period_status, changes=changes, unchanged=unchanged)
        if new_id:
            new_ids[evidence_id] = new_id
            new_figures[evidence_id] = numeric_figures(evidence_id, outcome["figures"], outcome.get("units")
                                                       or item.units)
    evidence_list = [results[i] for i in order]
    affected = [s.heading for s in state.sections
                if any(r.status == "changed" and s.heading in r.sections for r in evidence_list)]
    stale, pasted_numbers = _stale_sentences(state, evidence, new_figures, new_ids, labels or {})
    sections = []
    for section in state.sections:
        cited = cited_ids(section.markdown)
        if not cited:
            continue
        chain = dependency_order(cited, evidence)
        sections.append(SectionRefresh(
            section=section.heading, evidence=chain,
            changed_figures=sum(len(results[i].changes) for i in chain if i in results),
            stale_sentences=sum(1 for s in stale if s.section == section.heading)))
    pasted = [PastedData(evidence_id=r.evidence_id, tool=r.tool, sections=r.sections,
                         figures=pasted_numbers.get(r.evidence_id, []))
              for r in evidence_list if r.status == "skipped" and r.evidence_id in pasted_ids]
    return RefreshReport(plan_id=state.id, version=state.version, path=path, roll_forward=roll_forward,
                         evidence=evidence_list, changed_figures=sum(len(r.changes) for r in evidence_list),
                         affected_sections=affected, sections=sections, stale_sentences=stale, pasted=pasted)


def _stale_sentences(state: PlanState, evidence: Mapping[str, Evidence], new_figures: Mapping[str, list[Figure]],
                     new_ids: Mapping[str, str], labels: Mapping[str, str]
                     ) -> tuple[list[StaleSentence], dict[str, list[str]]]:
    """Sentences whose numbers matched the old figures and match none of the new ones; and, per evidence id, the
    numbers the plan cites from it (for results that could not be re-run)."""
    old = {i: numeric_figures(i, e.figures, e.units) for i, e in evidence.items()}
    new = {**old, **new_figures}
    stale: list[StaleSentence] = []
    cited_numbers: dict[str, list[str]] = {}
    for section in state.sections:
        before = check_text(section.markdown, old, labels)
        after = check_text(section.markdown, new, labels)
        for was, now in zip(before, after, strict=True):
            for number in was.numbers:
                if number.verified and number.figure is not None:
                    cited_numbers.setdefault(number.figure.evidence_id, []).append(number.text)
            numbers = []
            for old_number, new_number in zip(was.numbers, now.numbers, strict=True):
                if not old_number.verified or new_number.verified:
                    continue
                figure = old_number.figure
                replaced = next((f for f in new.get(figure.evidence_id, ()) if f.name == figure.name), None) \
                    if figure is not None else None
                numbers.append(StaleNumber(number=old_number.text, figure=figure.name if figure else None,
                                           was=display(figure) if figure else None,
                                           now=display(replaced) if replaced is not None else None))
            if numbers:
                stale.append(StaleSentence(section=section.heading, sentence=was.text, cites=list(was.cited),
                                           new_ids=[new_ids.get(i, i) for i in was.cited], numbers=numbers))
    return stale, cited_numbers


def cited_evidence_ids(state: PlanState) -> list[str]:
    found: dict[str, None] = {}
    for section in state.sections:
        for evidence_id in cited_ids(section.markdown):
            found.setdefault(evidence_id, None)
    return list(found)
