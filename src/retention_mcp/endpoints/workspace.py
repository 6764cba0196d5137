"""The strategy workspace over MCP: plan tools, template_save, evidence_get, plan and report resources.

Every tool here is a worker tool like the data tools (``@tool`` functions of ``(job, **arguments)``): it runs in
a worker process under the same time and memory bound, with that process's own database engine, and
``job.author`` is the caller read in the server process. The work itself is in ``retention_mcp.workspace``.

``plan_refresh`` is the one tool made of other calls: it runs in the server process and sends each step (read
the plan, re-run each cited tool) through the same bounded path; re-running is :func:`make_rerun`
(``server.call_tool`` + ``key_figures``), the seam ``retention_mcp.workspace.refresh`` takes.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp_types import CallToolResult, ToolAnnotations  # wire types only: a worker module
from pydantic import BaseModel, Field

from retention_mcp.endpoints.turnover import LanguageArg
from retention_mcp.errors import InputError, capped
from retention_mcp.identity import Caller
from retention_mcp.runtime.job import Job
from retention_mcp.runtime.spec import READ_ONLY, ToolOutput, resource, tool
from retention_mcp.settings import Settings
from retention_mcp.views import tool_meta
from retention_mcp.wording import Words, words
from retention_mcp.workspace.refresh import RefreshedEvidence, RefreshReport

if TYPE_CHECKING:
    from retention_mcp.server import Wiring
    from retention_mcp.workspace.refresh import Rerun
    from retention_mcp.workspace.store import Evidence, PlanState

logger = logging.getLogger(__name__)

#: Writes a new version; never overwrites or deletes.
WRITES_WORKSPACE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                   open_world_hint=False)
PLAN_URI = "retention://plans/{id}"
PLAN_VERSION_URI = "retention://plans/{id}/v/{version}"

#: Largest id or version a client may send (SQL integers; beyond it nothing exists anyway).
MAX_ID = 2**31 - 1
PlanId = Annotated[int, Field(ge=1, le=MAX_ID, description="the plan's id (plan_create / plan_list return it), e.g. 3")]


# -- structured results --------------------------------------------------------------------------------

class SectionView(BaseModel):
    number: int = Field(description="1-based position; plan_write_section accepts it instead of the heading")
    heading: str
    markdown: str = Field(description="the section's text; empty when not written yet")
    last_changed_version: int | None = Field(description="the plan version that last changed this section")
    author: str | None = Field(description="who wrote that version")
    changed_at: str | None = Field(description="when, ISO 8601 UTC")
    cited: list[str] = Field(description="evidence ids this section cites")


class PlanView(BaseModel):
    id: int
    title: str
    template: str
    language: str
    group: str = Field(description="the employee group the plan is about")
    version: int = Field(description="the version shown; pass it as base_version when you write a section")
    current_version: int
    uri: str = Field(description="resource with the plan's current markdown")
    version_uri: str = Field(description="resource with exactly this version")
    sections: list[SectionView]


class WriteResult(BaseModel):
    plan_id: int
    version: int = Field(description="the new version; use it as base_version for your next write")
    section: str
    base_version: int
    cited: list[str] = Field(description="evidence ids cited (all exist)")
    uncited_numbers: list[dict[str, str]] = Field(
        description="warning: figures citing no evidence id, with their sentence ({number, context})")
    merged_changes: list[str] = Field(description="other sections changed by others since base_version (kept)")
    verified_numbers: int = Field(0, description="numbers beside a citation that match a figure of that evidence")
    mismatched_numbers: list[dict[str, str]] = Field(
        default_factory=list, description="warning: numbers beside a citation matching none of its figures, with the "
                                          "closest figure ({number, sentence, evidence_id, closest, shown})")
    unknown_figure_names: list[str] = Field(default_factory=list, description="citations naming a figure the "
                                            "evidence does not have, e.g. 'ev-3f9a2c 研发部'")


class PlanListItem(BaseModel):
    id: int
    title: str
    template: str
    language: str
    group: str
    current_version: int
    created_by: str
    updated_at: str
    updated_by: str


class PlanList(BaseModel):
    plans: list[PlanListItem]


class HistoryItem(BaseModel):
    version: int
    section: str | None = Field(description="the section this version changed; null for the creation")
    base_version: int | None = Field(description="the version the writer revised")
    author: str
    created_at: str = Field(description="ISO 8601 UTC")
    chars: int = Field(description="length of the section text written")


class History(BaseModel):
    plan_id: int
    title: str
    current_version: int
    versions: list[HistoryItem]


class PlanDiff(BaseModel):
    plan_id: int
    from_version: int
    to_version: int
    changed_sections: list[str]
    diff: str = Field(description="unified diff of the plan's markdown; empty when identical")


class EvidenceLink(BaseModel):
    evidence_id: str
    tool: str | None = Field(None, description="the tool that made it (null when it is not in the workspace)")
    argument: str = Field(description="the argument that carried the parent's id, e.g. impact_evidence_id")


class EvidenceView(BaseModel):
    id: str
    tool: str
    arguments: dict[str, Any] = Field(description="the arguments given (unset ones left out)")
    sources: list[dict[str, Any]]
    definition: str
    figures: dict[str, Any]
    units: dict[str, str] = Field(default_factory=dict, description="the unit of each figure")
    period: dict[str, Any] = Field(default_factory=dict, description="the period it was computed for, resolved: "
                                   "kind (period | as_of | snapshot | inputs | several), start, end, months")
    parents: list[EvidenceLink] = Field(default_factory=list, description="results it was computed from")
    children: list[EvidenceLink] = Field(default_factory=list, description="results computed from it")
    charts: list[str] = Field(default_factory=list, description="chart files written for it (output folder)")
    author: str
    created_at: str
    scope: dict[str, Any] | None = Field(None, description="the access the figures were computed under (a "
                                         "manager's rows and hidden columns); null: the whole data, or no data")
    scope_note: str | None = Field(None, description="what the scope means for these figures, when partial")


class SavedTemplateResult(BaseModel):
    name: str
    language: str
    version: int = Field(description="the workspace version just saved (1 for the first save)")
    shadows: str | None = Field(description="what it now overrides: 'bundled', 'team' (the prompts folder), "
                                "'workspace vN', or null when the name is new")
    layers: list[str] = Field(description="every definition of this name and language, the one in use first, "
                              "e.g. ['workspace v2', 'team', 'bundled']")
    sections: list[str] = Field(description="the headings a plan made from this template gets")
    arguments: list[str]


class PlanExportResult(BaseModel):
    plan_id: int
    version: int
    filename: str
    format: str
    size_bytes: int
    uri: str = Field(description="retention://reports/<file>: read it to download the file from any client")
    evidence_cited: int = Field(description="evidence entries in the appendix")
    verified_numbers: int = Field(0, description="cited numbers matching their evidence (marked ✓)")
    flagged_numbers: list[str] = Field(default_factory=list, description="cited numbers matching none of their "
                                       "evidence's figures (marked ⚠), with the closest")
    charts: list[str] = Field(default_factory=list, description="chart files placed where their results are cited")


# -- helpers -------------------------------------------------------------------------------------------

def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def plan_view(state: PlanState) -> PlanView:
    from retention_mcp.workspace.citations import cited_ids

    return PlanView(
        id=state.id, title=state.title, template=state.template, language=state.language, group=state.group,
        version=state.version, current_version=state.current_version, uri=f"retention://plans/{state.id}",
        version_uri=f"retention://plans/{state.id}/v/{state.version}",
        sections=[SectionView(number=i, heading=s.heading, markdown=s.markdown, last_changed_version=s.version,
                              author=s.author, changed_at=_iso(s.changed_at), cited=cited_ids(s.markdown))
                  for i, s in enumerate(state.sections, 1)])


def _write_text(result: WriteResult, w: Words | None = None) -> str:
    w = w or words("en")
    text = w("workspace.saved", section=result.section, version=result.version, plan=result.plan_id,
             base=result.base_version)
    if result.cited:
        text += w("workspace.cites", ids=w.enumeration.join(result.cited))
    if result.merged_changes:
        text += w("workspace.merged", sections=w.enumeration.join(result.merged_changes), base=result.base_version)
    if result.verified_numbers or result.mismatched_numbers:
        text += w("plan.write.verified", count=result.verified_numbers)
    if result.mismatched_numbers:
        shown = w.semicolon.join(w("plan.write.mismatch", number=m["number"], closest=m["closest"], shown=m["shown"],
                                   id=m["evidence_id"]) for m in result.mismatched_numbers[:8])
        text += "\n\n" + w("plan.write.mismatches", count=len(result.mismatched_numbers), items=shown)
    if result.unknown_figure_names:
        text += "\n\n" + w("plan.write.unknown_names", items=w.enumeration.join(result.unknown_figure_names))
    if result.uncited_numbers:
        # Every number counted is listed (the list is capped at MAX_REPORTED, and then the count says "at least").
        from retention_mcp.workspace.citations import MAX_REPORTED

        shown = w.semicolon.join(f"{u['number']}{w.paren(chr(0x201c) + u['context'] + chr(0x201d))}"
                                 for u in result.uncited_numbers)
        count = len(result.uncited_numbers)
        total = w("workspace.at_least", count=count) if count >= MAX_REPORTED else str(count)
        text += "\n\n" + w("workspace.uncited", count=total, shown=shown)
    return text


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def marked_plan_markdown(workspace: Any, state: PlanState, settings: Settings) -> str:
    """The plan as markdown, each section that cites evidence computed within part of the data ending with a note
    saying which part (so a manager's department figures never read as the company's)."""
    from retention_mcp.permissions import wording
    from retention_mcp.workspace.render import plan_markdown
    from retention_mcp.workspace.sharing import scoped_plan_evidence

    notes = scoped_plan_evidence(workspace, state, settings)
    return plan_markdown(state, scoped=notes, scoped_note=wording(settings, state.language)["plan_scoped_note"])


def check_overwrite(job: Job, filename: str | None, title: str, fmt: str) -> None:
    """An export may replace only a file its caller may read (never another person's report)."""
    from retention_mcp.report.export import check_filename
    from retention_mcp.workspace.sharing import file_readable

    name, explicit = check_filename(filename, title, fmt)
    if explicit and (job.settings.output_dir / name).exists() and not file_readable(
            job.workspace(), job.caller, name, job.settings):
        raise InputError(f"{name!r} in the output folder was written by someone else; choose another file name "
                         "(overwrite replaces only your own files)")


# -- tools, run in a worker ----------------------------------------------------------------------------

@tool(title="Create a plan", result=PlanView, annotations=WRITES_WORKSPACE, evidence=False)
def plan_create(
    job: Job,
    title: Annotated[str, Field(description="the plan's title, e.g. '客服中心夜班保留方案 2026'")],
    group: Annotated[str, Field(description="the employee group it is about, e.g. '夜班客服专员'")] = "",
    template: Annotated[str, Field(description="template whose output headings become the sections "
                                               "(list_templates shows them)")] = "retention_strategy",
    language: Annotated[Literal["en", "zh"] | None, Field(
        description="'zh' or 'en' (section headings in that language); default: the server's")] = None,
    share: Annotated[dict[str, Literal["read", "write"]] | None, Field(
        description="who else may read or write it: {person: \"read\" | \"write\"}, \"*\" = everyone on this "
                    "server; default: only you (change it later with plan_share)")] = None,
) -> ToolOutput:
    """Start a retention plan that the team composes section by section, across turns and clients.

    The sections are the template's output headings (retention_strategy: 现状分析, 根本原因分析,
    战略建议, 实施路线图, 预期成果 in zh; Current-state analysis ... Expected outcomes in en). Returns
    the plan id and version 1; write each section with plan_write_section(base_version=1). The plan is yours:
    others read or write it when you share it.
    Example: {"title": "夜班客服保留方案", "group": "夜班客服专员", "language": "zh", "share": {"li.wei": "write"}}.
    """
    from retention_mcp.library import load_library
    from retention_mcp.templates import TemplateError
    from retention_mcp.workspace.sharing import require_writer
    from retention_mcp.workspace.templates import template_sections

    require_writer(job.caller, job.settings, "create plans")
    author = job.author
    lang = language or job.settings.language
    library = load_library(job.settings)
    try:
        chosen = library.get(template, lang)
    except TemplateError as exc:
        raise InputError(str(exc)) from None
    sections = template_sections(chosen)
    if not sections:
        raise InputError(f"template {template!r} declares no sections (front matter 'sections:' or '###' "
                         "headings); choose another template")
    state = job.workspace().create_plan(title=title, template=chosen.name, language=chosen.language,
                                        group=group, sections=sections, author=author, share=share)
    view = plan_view(state)
    w = words(chosen.language)
    shared = w.enumeration.join(f"{p}{w.paren(w(f'workspace.levels.{level}'))}" for p, level in (share or {}).items()
                                if p != author)
    text = w("workspace.created", id=state.id, title=state.title, template=chosen.name, language=chosen.language,
             sections=w.semicolon.join(f"{s.number}. {s.heading}" for s in view.sections))
    text += " " + (w("workspace.shared_with", people=shared) if shared else w("workspace.private"))
    return job.output(view, text)


@tool(title="Write a plan section", result=WriteResult, annotations=WRITES_WORKSPACE, evidence=False)
def plan_write_section(
    job: Job,
    plan_id: PlanId,
    section: Annotated[str, Field(description="the section's heading (e.g. '现状分析') or its number ('1')")],
    markdown: Annotated[str, Field(description="the section's whole new text in markdown (no heading line); "
                                               "cite evidence ids next to numbers: '离职率 17.8% [ev-3f9a2c]'")],
    base_version: Annotated[int, Field(ge=1, le=MAX_ID, description="the plan version your text revises: the "
                                       "version plan_get / plan_create / your last write returned")],
) -> ToolOutput:
    """Write one section of a plan as a new version (who and when are recorded).

    Refused, with the current version and a diff of what changed, when someone else changed the
    same section after base_version: merge and write again with the new version. Every cited
    evidence id must exist and be one you can read; numbers citing none are listed as a warning. Example: {"plan_id": 3,
    "section": "现状分析", "base_version": 1, "markdown": "夜班离职率 24.1% [ev-3f9a2c]，高于 ..."}.
    """
    from retention_mcp.plan_words import plan_words
    from retention_mcp.workspace.appendix import figure_labels
    from retention_mcp.workspace.sharing import readable_evidence, require_writer
    from retention_mcp.workspace.verify import check_text, unknown_names

    require_writer(job.caller, job.settings, "write plans")
    workspace = job.workspace()
    outcome = workspace.write_section(
        plan_id, section, markdown, base_version=base_version, author=job.author, check_access=True,
        readable=lambda ids: readable_evidence(workspace, job.caller, ids, job.settings))
    cited = workspace.get_evidence_many(list(outcome.cited))
    figures = figures_of(cited)
    state = workspace.get_plan(plan_id, outcome.version)
    labels = figure_labels(cited, plan_words(state.language))  # a citation may name a figure in the plan's language
    checks = check_text(state.section(outcome.section).markdown, figures, labels)
    result = WriteResult(plan_id=outcome.plan_id, version=outcome.version, section=outcome.section,
                         base_version=outcome.base_version, cited=list(outcome.cited),
                         uncited_numbers=[{"number": u.number, "context": u.context} for u in outcome.uncited],
                         merged_changes=list(outcome.merged_changes),
                         verified_numbers=sum(1 for c in checks for n in c.numbers if n.verified),
                         mismatched_numbers=[mismatch(c, n) for c in checks for n in c.flagged][:MAX_MISMATCHES],
                         unknown_figure_names=[f"{i} {name}" for i, name in unknown_names(checks, figures, labels)])
    return job.output(result, _write_text(result, plan_words(state.language)))


#: Most mismatched numbers listed for one write or export.
MAX_MISMATCHES = 20


def figures_of(evidence: dict[str, Evidence]) -> dict[str, list[Any]]:
    """Evidence id -> its numeric figures (with units), what a citing sentence is checked against."""
    from retention_mcp.workspace.figures import numeric_figures

    return {i: numeric_figures(i, e.figures, e.units) for i, e in evidence.items()}


def mismatch(check: Any, number: Any) -> dict[str, str]:
    figure = number.figure
    return {"number": number.text, "sentence": check.text, "evidence_id": figure.evidence_id if figure else "",
            "closest": figure.name if figure else "", "shown": number.shown or ""}


@tool(title="Read a plan", result=PlanView, annotations=READ_ONLY, evidence=False, meta=tool_meta("plan_get"))
def plan_get(
    job: Job,
    plan_id: PlanId,
    version: Annotated[int | None, Field(ge=1, le=MAX_ID,
                                         description="a past version; default: the current one")] = None,
) -> ToolOutput:
    """Read a plan — all sections as markdown, with who last changed each — now or at a past version.

    Use it before revising a section (its `version` is your base_version). Example: {"plan_id": 3}.
    """
    state = job.workspace().get_plan(plan_id, version, who=job.author)
    return job.output(plan_view(state), marked_plan_markdown(job.workspace(), state, job.settings))


@tool(title="List plans", result=PlanList, annotations=READ_ONLY, evidence=False)
def plan_list(
    job: Job,
    limit: Annotated[int, Field(ge=1, le=1000, description="most plans listed, newest change first")] = 50,
    language: LanguageArg = None,
) -> ToolOutput:
    """List the plans you created or that were shared with you: id, title, group, current version, last change
    and by whom.

    Use it to find a plan id before plan_get or plan_write_section. Example: {"limit": 20}.
    """
    w = job.words(language)
    summaries = job.workspace().list_plans(limit, who=job.author)
    # The store's summary as it is, with the time as ISO text.
    items = [PlanListItem(**{**dataclasses.asdict(p), "updated_at": _iso(p.updated_at) or ""}) for p in summaries]
    if not items:
        return job.output(PlanList(plans=[]), w("workspace.no_plans"))
    text = _table([w(f"workspace.list_columns.{c}") for c in ("id", "title", "group", "version", "last_change")],
                  [[p.id, p.title, p.group, p.current_version, f"{p.updated_by}, {p.updated_at[:16]}"]
                   for p in items])
    return job.output(PlanList(plans=items), text)


@tool(title="Plan history", result=History, annotations=READ_ONLY, evidence=False)
def plan_history(
    job: Job,plan_id: PlanId) -> ToolOutput:
    """Every version of a plan: which section it changed, who wrote it, when, and what it revised.

    Use plan_diff to see what changed between two versions. Example: {"plan_id": 3}.
    """
    workspace = job.workspace()
    state = workspace.get_plan(plan_id, who=job.author)
    versions = workspace.history(plan_id, who=job.author)
    items = [HistoryItem(version=v.version, section=v.section, base_version=v.base_version, author=v.author,
                         created_at=_iso(v.created_at) or "", chars=v.chars) for v in versions]
    w = words(state.language)
    text = w("workspace.history", id=plan_id, title=state.title, count=len(items)) + "\n\n" + _table(
        [w(f"workspace.history_columns.{c}") for c in ("version", "section", "revised", "author", "time")],
        [[i.version, i.section or w("workspace.created_row"), i.base_version or "", i.author,
          i.created_at[:19].replace("T", " ")] for i in items])
    return job.output(History(plan_id=plan_id, title=state.title, current_version=state.current_version,
                               versions=items), text)


@tool(title="Diff plan versions", result=PlanDiff, annotations=READ_ONLY, evidence=False)
def plan_diff(
    job: Job,
    plan_id: PlanId,
    from_version: Annotated[int, Field(ge=1, le=MAX_ID, description="the older version")],
    to_version: Annotated[int | None, Field(ge=1, le=MAX_ID,
                                            description="the newer version; default: current")] = None,
) -> ToolOutput:
    """Unified diff of a plan's markdown between two versions (lines starting - were removed, + added).

    Example: {"plan_id": 3, "from_version": 2, "to_version": 5}.
    """
    from retention_mcp.workspace.render import plan_diff as markdown_diff

    workspace = job.workspace()
    new = workspace.get_plan(plan_id, to_version, who=job.author)
    old = workspace.get_plan(plan_id, from_version, who=job.author)
    diff = markdown_diff(old, new)
    changed = [s.heading for s, o in zip(new.sections, old.sections, strict=True) if s.markdown != o.markdown]
    result = PlanDiff(plan_id=plan_id, from_version=old.version, to_version=new.version,
                      changed_sections=changed, diff=diff)
    w = words(new.language)
    text = (w("workspace.diff", id=plan_id, old=old.version, new=new.version)
            + (w("workspace.diff_changed", sections=w.enumeration.join(changed)) + f"\n\n```diff\n{diff}```"
               if diff else w("workspace.diff_none")))
    return job.output(result, text)


class GrantView(BaseModel):
    person: str = Field(description="a person's name on this server, or '*' for everyone")
    level: str = Field(description="read or write")
    granted_by: str
    granted_at: str


class ShareResult(BaseModel):
    plan_id: int
    owner: str = Field(description="who created the plan: they can always read and write it, and alone share it")
    grants: list[GrantView]


@tool(title="Share a plan", result=ShareResult, annotations=WRITES_WORKSPACE, evidence=False)
def plan_share(
    job: Job,
    plan_id: PlanId,
    person: Annotated[str | None, Field(description="their name on this server (as plan_history shows authors), "
                                                    "or '*' for everyone; omit to list who has access")] = None,
    level: Annotated[Literal["read", "write", "none"], Field(
        description="read, write, or none to stop sharing with them")] = "read",
) -> ToolOutput:
    """Who may read or write a plan you created: give someone read or write, take it away, or list the grants.

    A viewer never writes, whatever the grant. Figures in a plan you share are shown to them with their scope.
    Example: {"plan_id": 3, "person": "li.wei", "level": "write"}; {"plan_id": 3} lists the grants.
    """
    workspace = job.workspace()
    state = workspace.get_plan(plan_id, who=job.author)
    if person is not None:
        grants = workspace.share_plan(plan_id, owner=job.author, person=person, level=level)
    else:
        grants = workspace.grants(plan_id)
    views = [GrantView(person=g.person, level=g.level, granted_by=g.granted_by, granted_at=_iso(g.granted_at) or "")
             for g in grants]
    w = words(state.language)  # the plan's language, as its other texts

    def who(name: str) -> str:
        return w("workspace.share.everyone") if name == "*" else name

    listed = w.semicolon.join(f"{who(g.person)}{w.colon}{w(f'workspace.levels.{g.level}')}" for g in views)
    done = "" if person is None else (w("workspace.share.stopped", person=who(person)) if level == "none" else
                                      w("workspace.share.shared", person=who(person),
                                        level=w(f"workspace.levels.{level}")))
    text = done + w("workspace.share.listing", id=plan_id, title=state.title, owner=state.created_by,
                    grants=listed or w("workspace.share.nobody"))
    return job.output(ShareResult(plan_id=plan_id, owner=state.created_by, grants=views), text,
                      language=state.language)


@tool(title="Export a plan", result=PlanExportResult, annotations=WRITES_WORKSPACE, evidence=False)
def plan_export(
    job: Job,
    plan_id: PlanId,
    format: Annotated[Literal["docx", "html", "md", "xlsx"], Field(
        description="docx = Word; html = one self-contained file; md = Markdown; xlsx = tables only")] = "docx",
    version: Annotated[int | None, Field(ge=1, le=MAX_ID, description="a past version; default: current")] = None,
    filename: Annotated[str | None, Field(description="plain file name; default from the title")] = None,
    overwrite: Annotated[bool, Field(description="replace an existing file of that name")] = False,
) -> ToolOutput:
    """Export a plan as Word, HTML or Markdown in its own language, ending with its evidence appendix.

    Every number beside a citation is checked against that evidence and marked (✓ matches as displayed, ⚠ matches
    none, listed with the closest figure); the charts of cited results (turnover by group, retention curves, ROI
    scenarios and sensitivity, a roadmap's Gantt chart and table) are placed where they are cited. The appendix
    says per citation what was computed (tool, file, period, group, filter), the figures cited, the definition and
    the file's SHA-256, with the full arguments folded away. Example: {"plan_id": 3, "format": "docx"}.
    """
    from retention_mcp.permissions import wording
    from retention_mcp.report.export import export_report
    from retention_mcp.workspace.files import report_uri
    from retention_mcp.workspace.plan_file import plan_file
    from retention_mcp.workspace.refresh import cited_evidence_ids
    from retention_mcp.workspace.sharing import scope_notes

    workspace = job.workspace()
    state = workspace.get_plan(plan_id, version, who=job.author)
    cited = cited_evidence_ids(state)
    evidence = workspace.ancestry(cited)
    if overwrite:
        check_overwrite(job, filename, state.title, format)
    # figures of part of the company (a manager's department) are marked where they are cited
    access_words = wording(job.settings, state.language)
    document = plan_file(job.settings, state, evidence, scoped=scope_notes(evidence, state.language, job.settings),
                         scoped_note=access_words["plan_scoped_note"], scope_word=access_words["appendix_scope"])
    try:
        written = export_report(job.settings, state.title, markdown=document.markdown, fmt=format,
                                filename=filename, overwrite=overwrite, language=state.language)
    except PermissionError:
        raise InputError(f"cannot write into the output folder {job.settings.output_dir}: permission denied; "
                         "start the server with --output-dir pointing at a writable folder") from None
    result = PlanExportResult(plan_id=plan_id, version=state.version, filename=written.filename,
                              format=written.format, size_bytes=written.size_bytes, uri=report_uri(written.filename),
                              evidence_cited=len(cited), verified_numbers=document.verified,
                              flagged_numbers=document.flagged, charts=document.charts)
    from retention_mcp.plan_words import plan_words

    w = plan_words(state.language)
    summary = w("plan.write.exported", cited=result.evidence_cited, verified=result.verified_numbers,
                charts=len(result.charts))
    text = w("workspace.exported", id=plan_id, version=state.version, file=written.filename, format=written.format,
             size=f"{written.size_bytes:,}", summary=summary, uri=result.uri)
    if result.flagged_numbers:
        text += "\n\n" + w("plan.write.check", items=w.semicolon.join(result.flagged_numbers[:MAX_MISMATCHES]))
    job.files_plan_id = plan_id  # readable by whoever may read the plan
    return job.output(result, text, files=[written.filename])  # the runtime adds the resource link


@tool(title="Save a team template", result=SavedTemplateResult, annotations=WRITES_WORKSPACE, evidence=False)
def template_save(
    job: Job,
    source: Annotated[str, Field(description="the whole template file: YAML front matter between '---' lines "
                                             "(name, language, title, description, arguments, optional "
                                             "sections) then the Jinja2 body, as in retention://templates/...")],
) -> ToolOutput:
    """Save a team template in the workspace: every client of this server uses it from the next request.

    Validated like a file template (front matter, argument types, Jinja2 rendered once in the
    sandbox with sample arguments); refused with the error otherwise. Each save is a new version;
    a saved template overrides the prompts folder's and the bundled one of the same name and
    language. Tip: read retention://templates/retention_strategy.zh, edit it, save it.
    """
    from retention_mcp.workspace.templates import template_layers, template_sections, validate_template

    author = job.author
    template = validate_template(source)
    workspace = job.workspace()
    saved = workspace.save_template(template.name, template.language,
                             source.replace("\r\n", "\n"), author)
    layers = (template_layers(job.settings)).get((saved.name, saved.language), [])
    below = [origin for origin in layers if not origin.startswith("workspace")]
    shadows = f"workspace v{saved.version - 1}" if saved.version > 1 else (below[0] if below else None)
    result = SavedTemplateResult(name=saved.name, language=saved.language, version=saved.version,
                                 shadows=shadows, layers=layers, sections=template_sections(template),
                                 arguments=[a.name for a in template.arguments])
    w = words(saved.language)
    text = w("workspace.template_saved", name=saved.name, language=saved.language, version=saved.version,
             replacing=w("workspace.replacing", shadows=shadows) if shadows else "",
             overrides=w("workspace.overrides", layers=w.enumeration.join(below)) if below else "")
    return job.output(result, text)


@tool(title="Show evidence", result=EvidenceView, annotations=READ_ONLY, evidence=False)
def evidence_get(
    job: Job,
    evidence_id: Annotated[str, Field(description="an evidence id from a tool result, e.g. 'ev-3f9a2c'")],
    language: LanguageArg = None,
) -> ToolOutput:
    """Show what an evidence id stands for: the tool, its arguments, the data file (size, SHA-256),
    the definition and the figures it produced. Example: {"evidence_id": "ev-3f9a2c"}."""
    from retention_mcp.permissions import scope_label
    from retention_mcp.workspace.sharing import readable_evidence

    workspace = job.workspace()
    item = workspace.get_evidence(evidence_id)
    if item is None or not readable_evidence(workspace, job.caller, [item.id], job.settings):
        raise InputError(f"there is no evidence {capped(evidence_id, 40)!r} you can read; evidence ids come from "
                         "tool results (evidence_id) and look like ev-3f9a2c")
    from retention_mcp.plan_words import plan_words
    from retention_mcp.workspace.appendix import period_text
    from retention_mcp.workspace.figures import display, numeric_figures

    related = workspace.get_evidence_many([link.parent for link in item.parents]
                                          + [link.child for link in item.children])

    def link(evidence_id: str, argument: str) -> EvidenceLink:
        other = related.get(evidence_id)
        return EvidenceLink(evidence_id=evidence_id, tool=other.tool if other else None, argument=argument)

    view = EvidenceView(id=item.id, tool=item.tool, arguments=given_arguments(item.arguments), sources=item.sources,
                        definition=item.definition, figures=item.figures, units=item.units, period=item.period,
                        parents=[link(e.parent, e.argument) for e in item.parents],
                        children=[link(e.child, e.argument) for e in item.children],
                        charts=[c["file"] for c in item.charts if c.get("file")], author=item.author,
                        created_at=_iso(item.created_at) or "", scope=item.scope,
                        scope_note=scope_label(item.scope, job.words(language).language, job.settings))
    w = job.words(language)
    shown = {f.name: display(f) for f in numeric_figures(item.id, item.figures, item.units)}
    figures = w.semicolon.join(f"{k} = {shown.get(k, v)}" for k, v in list(item.figures.items())[:20])
    files = w.enumeration.join(f"{s.get('name')}{w.paren('sha256 ' + str(s.get('sha256', ''))[:12] + '…')}"
                               for s in item.sources)
    text = w("workspace.evidence", id=item.id, tool=item.tool, author=item.author, when=view.created_at,
             files=files or w("workspace.none"), period=period_text(item.period, plan_words(w.language)),
             definition=item.definition or "—", figures=figures or w("workspace.none"))
    if view.parents:
        text += w("workspace.evidence_parents", items=w.enumeration.join(
            f"{p.evidence_id}{w.paren(f'{p.tool}{w.comma}{p.argument}')}" for p in view.parents))
    if view.children:
        text += w("workspace.evidence_children", items=w.enumeration.join(
            f"{c.evidence_id}{w.paren(str(c.tool))}" for c in view.children))
    if view.scope_note:
        text += " " + w("workspace.evidence_scope", scope=view.scope_note)
    return job.output(view, text)


def given_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments a call was given: the runtime records every one, unset ones as None."""
    return {k: v for k, v in arguments.items() if v is not None}


# -- plan_refresh: a tool made of other bounded calls ---------------------------------------------------

def refresh_inputs(*, settings: Settings, progress: Any, plan_id: int, caller: Caller
                   ) -> tuple[PlanState, dict[str, Evidence], dict[str, str]]:
    """Worker entry point: the plan (one the caller may read), the evidence it cites, and each scoped evidence's
    note."""
    from retention_mcp.workspace.refresh import cited_evidence_ids
    from retention_mcp.workspace.sharing import scope_notes
    from retention_mcp.workspace.store import workspace_for

    workspace = workspace_for(settings)
    state = workspace.get_plan(plan_id, who=caller.name)
    evidence = workspace.ancestry(cited_evidence_ids(state))
    return state, evidence, scope_notes(evidence, settings.language, settings)


def evidence_record(*, settings: Settings, progress: Any, evidence_id: str) -> Evidence | None:
    """Worker entry point: one evidence record (a re-run's: figures, units, sources, period)."""
    from retention_mcp.workspace.store import workspace_for

    return workspace_for(settings).get_evidence(evidence_id)


def make_rerun(wiring: Wiring, caller: Caller) -> Rerun:
    """The ``rerun`` seam for plan_refresh, built on the server's own tools: each re-run is a tool call through
    ``server.call_tool`` (a worker, the same bounds, its evidence and lineage recorded as any call's), computed
    within the scope the evidence was computed in — narrower than or equal to the caller's access (see
    :func:`beyond_reach`), so an analyst refreshing a manager's department figures gets that department's figures
    again, not the company's."""
    from retention_mcp.access import server_mode
    from retention_mcp.identity import narrowed
    from retention_mcp.workspace.evidence import key_figures
    from retention_mcp.workspace.sharing import evidence_access

    async def rerun(tool_name: str, arguments: dict[str, Any], evidence: Evidence) -> dict[str, Any]:
        access = evidence_access(evidence) or caller.access
        with narrowed(caller, access, server_mode(wiring.settings)):
            result = await wiring.server.call_tool(tool_name, arguments)
        if getattr(result, "is_error", False):
            text = " ".join(getattr(c, "text", "") for c in result.content)
            raise InputError(text or f"{tool_name} failed")
        structured = getattr(result, "structured_content", None) or {}
        evidence_id = structured.get("evidence_id")
        record = await wiring.runtime.run("retention_mcp.endpoints.workspace:evidence_record",
                                          {"evidence_id": evidence_id}) if evidence_id else None
        if record is None:
            return {"figures": key_figures(tool_name, structured), "sources": [], "evidence_id": evidence_id}
        return {"figures": record.figures, "units": record.units, "sources": record.sources, "period": record.period,
                "evidence_id": evidence_id}

    return rerun


def beyond_reach(caller: Caller, settings: Settings, w: Words | None = None) -> Any:
    """``skip(evidence)`` for plan_refresh: why a cited result is not re-run for ``caller`` — it was computed with
    access they do not have (the whole data, or another manager's rows) — in ``w``'s language."""
    from retention_mcp.workspace.sharing import within_reach

    w = w or words("en")

    def skip(evidence: Evidence) -> str | None:
        if within_reach(caller, evidence, settings):
            return None
        return w("workspace.refresh_reasons.beyond_reach", author=evidence.author,
                 scope=w("workspace.scope_whole" if not evidence.scope else "workspace.scope_other"))

    return skip


def refresh_text(report: RefreshReport, path: str | None, language: str | Words = "en") -> str:
    """The refresh report as the model and the reader see it: per section, the results behind it (inputs first)
    with what changed and whether each period was held; the sentences to revise; what could not be refreshed."""
    from retention_mcp.plan_words import plan_words

    w = language if isinstance(language, Words) else plan_words(language)
    cited = sum(1 for e in report.evidence if e.sections)
    lines = [w("plan.refresh.head", plan=report.plan_id, version=report.version, cited=cited,
               inputs=len(report.evidence) - cited, on=w("plan.refresh.on_path", path=path) if path else "",
               periods=w("plan.refresh.rolled" if report.roll_forward else "plan.refresh.held"),
               changed=report.changed_figures, stale=len(report.stale_sentences))]
    by_id = {e.evidence_id: e for e in report.evidence}
    for section in report.sections:
        lines.append("\n" + w("plan.refresh.section", section=section.section, changed=section.changed_figures))
        lines += [_evidence_line(by_id[i], w) for i in section.evidence if i in by_id]
    if report.stale_sentences:
        lines.append("\n" + w("plan.refresh.stale_head"))
        for sentence in report.stale_sentences[:30]:
            numbers = w.semicolon.join(w("plan.refresh.stale_number", number=n.number, figure=n.figure, was=n.was,
                                         now=n.now) for n in sentence.numbers)
            lines.append(w("plan.refresh.stale_line", section=sentence.section, sentence=sentence.sentence,
                           numbers=numbers, ids=w.enumeration.join(sentence.new_ids)))
    for item in report.pasted:
        lines.append("\n" + w("plan.refresh.pasted", id=item.evidence_id, tool=item.tool,
                                sections=w.enumeration.join(item.sections),
                                figures=w.enumeration.join(item.figures) or "—"))
    if report.affected_sections:
        lines.append("\n" + w("plan.refresh.revise", sections=w.enumeration.join(report.affected_sections)))
    return "\n".join(lines)


def _evidence_line(item: RefreshedEvidence, w: Any) -> str:
    role = "" if item.sections else w("plan.refresh.input")
    head = f"- [{item.evidence_id}] {item.tool}{role}" + (w.paren(item.scope_note) if item.scope_note else "")
    if item.status in ("skipped", "failed"):
        return f"{head}{w.colon}{w('plan.refresh.' + item.status)} — {item.reason}"
    data = w("plan.refresh.data_changed") if item.data_changed else ""
    period = _period_note(item, w)
    if item.status == "unchanged":
        return f"{head}{w.colon}{data} {w('plan.refresh.unchanged')}{period} → {item.new_evidence_id}"
    changes = w.semicolon.join(f"{c.figure} {c.old_shown} → {c.new_shown}" for c in item.changes[:12])
    more = w("plan.refresh.more", count=len(item.changes) - 12) if len(item.changes) > 12 else ""
    return f"{head}{w.colon}{data}{period} {changes}{more} → {item.new_evidence_id}"


def _period_note(item: RefreshedEvidence, w: Any) -> str:
    from retention_mcp.workspace.appendix import period_text

    if item.period_status == "held":
        return w("plan.refresh.period_held", period=period_text(item.period_before, w))
    if item.period_status == "no period":
        return ""
    return w("plan.refresh.period_moved", status=w("plan.refresh.status." + item.period_status),
             before=period_text(item.period_before, w), after=period_text(item.period_after, w))


# -- resources, read in a worker ------------------------------------------------------------------------

def _whole_number(value: str, what: str) -> int:
    """A plan id or version from a URI: a whole number from 1 to MAX_ID, else an InputError saying so."""
    text = str(value).strip()
    if not text.isdigit() or len(text) > 10 or not 1 <= int(text) <= MAX_ID:
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise InputError(f"plan ids and versions are whole numbers from 1 to {MAX_ID:,}, e.g. retention://plans/3/v/2 "
                         f"(got {what} {shown!r})")
    return int(text)


def _plan_text(settings: Settings, caller: Caller, id: str, version: str | None = None) -> str:
    from retention_mcp.workspace.store import workspace_for

    plan_id = _whole_number(id, "id")
    number = None if version is None else _whole_number(version, "version")
    workspace = workspace_for(settings)
    return marked_plan_markdown(workspace, workspace.get_plan(plan_id, number, who=caller.name), settings)


@resource(PLAN_URI, name="plan_resource", title="Retention plan (current version)",
          description="A workspace plan as markdown, at its current version. {id} from plan_list.")
def plan_resource(*, settings: Settings, progress: Any, caller: Caller, id: str) -> str:
    return _plan_text(settings, caller, id)


@resource(PLAN_VERSION_URI, name="plan_version_resource", title="Retention plan (one version)",
          description="A workspace plan exactly as it was at version {version}.")
def plan_version_resource(*, settings: Settings, progress: Any, caller: Caller, id: str, version: str) -> str:
    return _plan_text(settings, caller, id, version)


@resource("retention://plans", name="plans_resource", title="Retention plans",
          description="The plans you created or that were shared with you: id, title, group, version, last change.")
def plans_resource(*, settings: Settings, progress: Any, caller: Caller) -> str:
    from retention_mcp.workspace.store import workspace_for

    plans = workspace_for(settings).list_plans(200, who=caller.name)
    if not plans:
        return "No plans yet.\n"
    return _table(["id", "title", "group", "version", "last change"],
                  [[f"[{p.id}](retention://plans/{p.id})", p.title, p.group, p.current_version,
                    f"{p.updated_by}, {_iso(p.updated_at)}"] for p in plans]) + "\n"


@resource("retention://reports/{name}", name="report", title="Exported report or chart",
          mime_type="application/octet-stream",
          description="A file in the server's output folder (DOCX, XLSX, HTML, Markdown, PNG...), by file name: "
                      "binary files as a blob with their mime type. Tool results that write a file link to it.")
def report(*, settings: Settings, progress: Any, caller: Caller, name: str) -> str | bytes:
    from retention_mcp.workspace.files import check_report_name, read_report
    from retention_mcp.workspace.sharing import file_readable
    from retention_mcp.workspace.store import workspace_for

    if not file_readable(workspace_for(settings), caller, check_report_name(name), settings):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InputError(f"there is no report {shown!r} you can read in the output folder; export one first "
                         "(export_report or plan_export) and use the name it returns")
    return read_report(settings, name)


def completion_values(*, settings: Settings, progress: Any, kind: str, prefix: str, caller: Caller) -> list[str]:
    """Worker entry point: report names or plan ids starting with ``prefix``, of what ``caller`` may read."""
    from retention_mcp.workspace.engine import workspace_exists
    from retention_mcp.workspace.store import workspace_for

    if kind == "report":
        from retention_mcp.workspace.files import list_reports
        from retention_mcp.workspace.sharing import readable_files

        names = [n for n in list_reports(settings) if n.startswith(prefix)]
        if caller.role == "analyst" and not caller.access.scoped and not workspace_exists(settings):
            return names  # nothing recorded yet: files written before the workspace are the analysts'
        return readable_files(workspace_for(settings), caller, names, settings)
    if not workspace_exists(settings):
        return []
    return [str(p.id) for p in workspace_for(settings).list_plans(100, who=caller.name)
            if str(p.id).startswith(prefix)]


# -- registration: the server-side pieces ---------------------------------------------------------------

def register(wiring: Wiring) -> None:
    from mcp.types import Completion, ResourceTemplateReference

    async def plan_refresh(
        plan_id: PlanId,
        path: Annotated[str | None, Field(
            description="re-run the data results on this file instead (e.g. next quarter's export)")] = None,
        roll_forward: Annotated[bool, Field(
            description="move each period to the latest data, keeping its length")] = False,
    ) -> Annotated[CallToolResult, RefreshReport]:
        """Re-run what a plan cites on its files as they are now (or `path`), results it was computed from
        first (data → impact → ROI), each for the same period unless roll_forward. Reports per section the
        figures that changed, each period held or moved, and the sentences whose numbers no longer match; only
        pasted data is skipped. The plan is not changed. Example: {"plan_id": 3}.
        """
        from retention_mcp.identity import current_caller
        from retention_mcp.runtime.dispatch import to_result
        from retention_mcp.workspace.refresh import refresh_plan

        caller = current_caller()
        wiring.runtime.check_allowed(caller, "plan_refresh")
        state, evidence, notes = await wiring.runtime.run("retention_mcp.endpoints.workspace:refresh_inputs",
                                                          {"plan_id": plan_id, "caller": caller}, caller=caller)
        from retention_mcp.plan_words import plan_words
        from retention_mcp.workspace.appendix import figure_labels

        report: RefreshReport = await refresh_plan(state, evidence, make_rerun(wiring, caller), path=path,
                                                   roll_forward=roll_forward,
                                                   labels=figure_labels(evidence, plan_words(state.language)),
                                                   skip=beyond_reach(caller, wiring.settings,
                                                                     plan_words(state.language)),
                                                   scope_notes=notes)
        return to_result(ToolOutput(result=report, text=refresh_text(report, path, state.language),
                                    language=plan_words(state.language).language))

    plan_refresh.__doc__ = inspect.cleandoc(plan_refresh.__doc__ or "")
    wiring.add_function(plan_refresh, name="plan_refresh", title="Refresh a plan's figures",
                        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                    idempotent_hint=False, open_world_hint=False))

    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if not isinstance(ref, ResourceTemplateReference):
            return None
        if ref.uri == "retention://reports/{name}":
            kind = "report"
        elif ref.uri in (PLAN_URI, PLAN_VERSION_URI) and argument.name == "id":
            kind = "plan"
        else:
            return None
        from retention_mcp.identity import current_caller

        caller = current_caller()
        names = await wiring.runtime.run("retention_mcp.endpoints.workspace:completion_values",
                                         {"kind": kind, "prefix": argument.value or "", "caller": caller},
                                         caller=caller)
        return Completion(values=names[:100], total=len(names), has_more=len(names) > 100)

    wiring.completers.append(complete)
