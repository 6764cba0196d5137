"""The strategy workspace over MCP: plan tools, template_save, evidence_get, plan and report resources.

Registration only; the work is in ``retention_mcp.workspace`` (SQLAlchemy and Alembic load on the first
workspace call, not at start). Tools are async: the author is read on the event loop (the bearer token
lives in a context variable) and database work runs in a worker thread.

Seams for the tool runtime (see README "Workspace"):

- evidence: ``workspace_for(settings).record_evidence(tool, arguments, sources, definition, figures, author)``;
- re-running for ``plan_refresh``: :func:`make_rerun` (``server.call_tool`` + ``key_figures``);
- files: ``retention_mcp.workspace.files.report_link(settings, filename)``.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from retention_mcp.endpoints.turnover import LanguageArg
from retention_mcp.errors import InputError
from retention_mcp.runtime.dispatch import to_result
from retention_mcp.runtime.spec import READ_ONLY, ToolOutput
from retention_mcp.settings import Settings
from retention_mcp.wording import Words, words
from retention_mcp.workspace.refresh import RefreshReport

if TYPE_CHECKING:
    from retention_mcp.server import RetentionServer
    from retention_mcp.workspace.refresh import Rerun
    from retention_mcp.workspace.store import PlanState, Workspace

logger = logging.getLogger(__name__)

#: Writes a new version; never overwrites or deletes.
WRITES_WORKSPACE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                   open_world_hint=False)
PLAN_URI = "retention://plans/{id}"
PLAN_VERSION_URI = "retention://plans/{id}/v/{version}"

#: Largest id or version a client may send (SQL integers; beyond it nothing exists anyway).
MAX_ID = 2**31 - 1
PlanId = Annotated[int, Field(ge=1, le=MAX_ID, description="the plan's id (plan_create / plan_list return it), e.g. 3")]


def tool_result(structured: BaseModel, text: str) -> CallToolResult:
    """A workspace result: the text a person reads and the same content structured."""
    return to_result(ToolOutput(result=structured, text=text))


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


class EvidenceView(BaseModel):
    id: str
    tool: str
    arguments: dict[str, Any]
    sources: list[dict[str, Any]]
    definition: str
    figures: dict[str, Any]
    author: str
    created_at: str


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


async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import anyio

    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


def make_rerun(server: Any, settings: Settings, store: Workspace, author: str) -> Rerun:
    """The ``rerun`` seam for plan_refresh, built on the server's own tools.

    Calls the tool again through ``server.call_tool``. When the runtime has put ``evidence_id`` and
    ``key_figures`` into the structured content, those are used as they are; until then the figures
    come from :func:`~retention_mcp.workspace.evidence.key_figures` and the evidence is recorded here.
    """
    from mcp.server.mcpserver.exceptions import ToolError

    from retention_mcp.workspace.evidence import definition_text, describe_sources, key_figures

    async def rerun(tool_name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            result = await server.call_tool(tool_name, arguments)
        except ToolError as exc:
            raise InputError(str(exc)) from None
        if getattr(result, "is_error", False):
            text = " ".join(getattr(c, "text", "") for c in result.content)
            raise InputError(text or f"{tool_name} failed")
        structured = getattr(result, "structured_content", None) or {}
        figures = key_figures(tool_name, structured)
        sources = structured.get("sources") or await _in_thread(describe_sources, settings, arguments)
        evidence_id = structured.get("evidence_id")
        if not evidence_id:
            evidence_id = await _in_thread(store.record_evidence, tool_name, arguments, sources,
                                           definition_text(structured), figures, author)
        return {"figures": figures, "sources": sources, "evidence_id": evidence_id}

    return rerun


def _write_text(result: WriteResult, w: Words | None = None) -> str:
    w = w or words("en")
    text = w("workspace.saved", section=result.section, version=result.version, plan=result.plan_id,
             base=result.base_version)
    if result.cited:
        text += w("workspace.cites", ids=w.enumeration.join(result.cited))
    if result.merged_changes:
        text += w("workspace.merged", sections=w.enumeration.join(result.merged_changes), base=result.base_version)
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


def _resource_error(exc: Exception) -> Exception:
    from mcp.shared.exceptions import MCPError
    from mcp.types import INVALID_PARAMS

    return MCPError(code=INVALID_PARAMS, message=str(exc))


# -- registration --------------------------------------------------------------------------------------

def register(server: RetentionServer, settings: Settings) -> None:
    from retention_mcp.identity import current_author

    def store() -> Workspace:
        from retention_mcp.workspace.store import workspace_for

        return workspace_for(settings)

    async def record_evidence(spec: Any, arguments: dict[str, Any], output: Any) -> str | None:
        """Every data and calculator result gets an evidence id: tool, arguments, data source identity,
        definition and key figures, in the workspace database. A workspace that cannot be reached costs the
        citation, not the result."""
        from retention_mcp.workspace.evidence import describe_sources

        author = current_author()  # read on the event loop: the bearer token lives in a context variable
        try:
            sources = [s for s in output.sources if s.get("sha256")] or await _in_thread(
                describe_sources, settings, arguments)
            return await _in_thread(store().record_evidence, spec.name, arguments, sources, output.definition,
                                    output.figures, author)
        except InputError as exc:
            logger.warning("evidence not recorded for %s: %s", spec.name, exc)
            return None

    if getattr(server, "runtime", None) is not None:
        server.runtime.record_evidence = record_evidence

    def open_workspace() -> None:
        """Connect (and migrate) before the first result needs an evidence id — only a workspace that is
        configured or already exists: a session that never calls a tool creates no database."""
        from retention_mcp.workspace.engine import database_url, get_engine, workspace_exists

        if workspace_exists(settings):
            get_engine(database_url(settings))

    server.warmers.append(open_workspace)

    async def plan_create(
        title: Annotated[str, Field(description="the plan's title, e.g. '客服中心夜班保留方案 2026'")],
        group: Annotated[str, Field(description="the employee group it is about, e.g. '夜班客服专员'")] = "",
        template: Annotated[str, Field(description="template whose output headings become the sections "
                                                   "(list_templates shows them)")] = "retention_strategy",
        language: Annotated[Literal["en", "zh"] | None, Field(
            description="'zh' or 'en' (section headings in that language); default: the server's")] = None,
    ) -> Annotated[CallToolResult, PlanView]:
        """Start a retention plan that the team composes section by section, across turns and clients.

        The sections are the template's output headings (retention_strategy: 现状分析, 根本原因分析,
        战略建议, 实施路线图, 预期成果 in zh; Current-state analysis ... Expected outcomes in en). Returns
        the plan id and version 1; write each section with plan_write_section(base_version=1).
        Example: {"title": "夜班客服保留方案", "group": "夜班客服专员", "language": "zh"}.
        """
        from retention_mcp.templates import TemplateError, load_library
        from retention_mcp.workspace.templates import template_sections

        author = current_author()
        lang = language or settings.language
        library = await _in_thread(load_library, settings)
        try:
            chosen = library.get(template, lang)
        except TemplateError as exc:
            raise InputError(str(exc)) from None
        sections = template_sections(chosen)
        if not sections:
            raise InputError(f"template {template!r} declares no sections (front matter 'sections:' or '###' "
                             "headings); choose another template")
        state = await _in_thread(store().create_plan, title=title, template=chosen.name, language=chosen.language,
                                 group=group, sections=sections, author=author)
        view = plan_view(state)
        w = words(chosen.language)
        text = w("workspace.created", id=state.id, title=state.title, template=chosen.name, language=chosen.language,
                 sections=w.semicolon.join(f"{s.number}. {s.heading}" for s in view.sections))
        return tool_result(view, text)

    async def plan_write_section(
        plan_id: PlanId,
        section: Annotated[str, Field(description="the section's heading (e.g. '现状分析') or its number ('1')")],
        markdown: Annotated[str, Field(description="the section's whole new text in markdown (no heading line); "
                                                   "cite evidence ids next to numbers: '离职率 17.8% [ev-3f9a2c]'")],
        base_version: Annotated[int, Field(ge=1, le=MAX_ID, description="the plan version your text revises: the "
                                           "version plan_get / plan_create / your last write returned")],
    ) -> Annotated[CallToolResult, WriteResult]:
        """Write one section of a plan as a new version (who and when are recorded).

        Refused, with the current version and a diff of what changed, when someone else changed the
        same section after base_version: merge and write again with the new version. Every cited
        evidence id must exist; numbers citing none are listed as a warning. Example: {"plan_id": 3,
        "section": "现状分析", "base_version": 1, "markdown": "夜班离职率 24.1% [ev-3f9a2c]，高于 ..."}.
        """
        author = current_author()
        outcome = await _in_thread(store().write_section, plan_id, section, markdown, base_version=base_version,
                                   author=author)
        result = WriteResult(plan_id=outcome.plan_id, version=outcome.version, section=outcome.section,
                             base_version=outcome.base_version, cited=list(outcome.cited),
                             uncited_numbers=[{"number": u.number, "context": u.context} for u in outcome.uncited],
                             merged_changes=list(outcome.merged_changes))
        plan = await _in_thread(store().get_plan, plan_id)
        return tool_result(result, _write_text(result, words(plan.language)))

    async def plan_get(
        plan_id: PlanId,
        version: Annotated[int | None, Field(ge=1, le=MAX_ID,
                                             description="a past version; default: the current one")] = None,
    ) -> Annotated[CallToolResult, PlanView]:
        """Read a plan — all sections as markdown, with who last changed each — now or at a past version.

        Use it before revising a section (its `version` is your base_version). Example: {"plan_id": 3}.
        """
        from retention_mcp.workspace.render import plan_markdown

        state = await _in_thread(store().get_plan, plan_id, version)
        return tool_result(plan_view(state), plan_markdown(state))

    async def plan_list(
        limit: Annotated[int, Field(ge=1, le=1000, description="most plans listed, newest change first")] = 50,
        language: LanguageArg = None,
    ) -> Annotated[CallToolResult, PlanList]:
        """List the team's plans: id, title, group, current version, last change and by whom.

        Use it to find a plan id before plan_get or plan_write_section. Example: {"limit": 20}.
        """
        w = words(language or settings.language)
        summaries = await _in_thread(store().list_plans, limit)
        # The store's summary as it is, with the time as ISO text.
        items = [PlanListItem(**{**dataclasses.asdict(p), "updated_at": _iso(p.updated_at) or ""}) for p in summaries]
        if not items:
            return tool_result(PlanList(plans=[]), w("workspace.no_plans"))
        text = _table([w(f"workspace.list_columns.{c}") for c in ("id", "title", "group", "version", "last_change")],
                      [[p.id, p.title, p.group, p.current_version, f"{p.updated_by}, {p.updated_at[:16]}"]
                       for p in items])
        return tool_result(PlanList(plans=items), text)

    async def plan_history(plan_id: PlanId) -> Annotated[CallToolResult, History]:
        """Every version of a plan: which section it changed, who wrote it, when, and what it revised.

        Use plan_diff to see what changed between two versions. Example: {"plan_id": 3}.
        """
        workspace = store()
        state = await _in_thread(workspace.get_plan, plan_id)
        versions = await _in_thread(workspace.history, plan_id)
        items = [HistoryItem(version=v.version, section=v.section, base_version=v.base_version, author=v.author,
                             created_at=_iso(v.created_at) or "", chars=v.chars) for v in versions]
        w = words(state.language)
        text = w("workspace.history", id=plan_id, title=state.title, count=len(items)) + "\n\n" + _table(
            [w(f"workspace.history_columns.{c}") for c in ("version", "section", "revised", "author", "time")],
            [[i.version, i.section or w("workspace.created_row"), i.base_version or "", i.author,
              i.created_at[:19].replace("T", " ")] for i in items])
        return tool_result(History(plan_id=plan_id, title=state.title, current_version=state.current_version,
                                   versions=items), text)

    async def plan_diff(
        plan_id: PlanId,
        from_version: Annotated[int, Field(ge=1, le=MAX_ID, description="the older version")],
        to_version: Annotated[int | None, Field(ge=1, le=MAX_ID,
                                                description="the newer version; default: current")] = None,
    ) -> Annotated[CallToolResult, PlanDiff]:
        """Unified diff of a plan's markdown between two versions (lines starting - were removed, + added).

        Example: {"plan_id": 3, "from_version": 2, "to_version": 5}.
        """
        workspace = store()
        diff = await _in_thread(workspace.diff, plan_id, from_version, to_version)
        new = await _in_thread(workspace.get_plan, plan_id, to_version)
        old = await _in_thread(workspace.get_plan, plan_id, from_version)
        changed = [s.heading for s, o in zip(new.sections, old.sections, strict=True) if s.markdown != o.markdown]
        result = PlanDiff(plan_id=plan_id, from_version=old.version, to_version=new.version,
                          changed_sections=changed, diff=diff)
        w = words(new.language)
        text = (w("workspace.diff", id=plan_id, old=old.version, new=new.version)
                + (w("workspace.diff_changed", sections=w.enumeration.join(changed)) + f"\n\n```diff\n{diff}```"
                   if diff else w("workspace.diff_none")))
        return tool_result(result, text)

    async def plan_refresh(
        plan_id: PlanId,
        path: Annotated[str | None, Field(
            description="re-run every cited data result on this file instead (e.g. next quarter's export with "
                        "the same columns); default: the files each result read, as they are now")] = None,
    ) -> Annotated[CallToolResult, RefreshReport]:
        """Re-run the evidence a plan cites on current data and report which figures changed.

        For each cited evidence id: the tool is called again with the same arguments (on `path` if
        given); figures that differ are listed with old, new and change (rates as fractions: 0.021 =
        2.1 pp), and the sections citing them. Nothing in the plan changes: revise those sections
        citing the new evidence ids. Example: {"plan_id": 3, "path": "hr_2026Q4.csv"}.
        """
        from retention_mcp.workspace.refresh import cited_evidence_ids, refresh_plan

        author = current_author()
        workspace = store()
        state = await _in_thread(workspace.get_plan, plan_id)
        evidence = await _in_thread(workspace.get_evidence_many, cited_evidence_ids(state))
        report: RefreshReport = await refresh_plan(state, evidence, make_rerun(server, settings, workspace, author),
                                                   path=path)
        w = words(state.language)
        lines = [w("workspace.refresh", id=plan_id, version=report.version, count=len(report.evidence),
                   on=w("workspace.refresh_on", path=path) if path else "", changed=report.changed_figures)]
        for item in report.evidence:
            if item.status == "changed":
                lines.append("\n" + w("workspace.refresh_changed", id=item.evidence_id, tool=item.tool,
                                       sections=w.enumeration.join(item.sections), new=item.new_evidence_id))
                for c in item.changes[:15]:
                    delta = "" if c.change is None else f" ({c.change:+.4g}" + (
                        f", {c.relative_change:+.1%}" if c.relative_change is not None else "") + ")"
                    lines.append(f"- {c.figure}: {c.old} → {c.new}{delta}")
            elif item.status == "unchanged":
                lines.append(w("workspace.refresh_unchanged", id=item.evidence_id, tool=item.tool,
                               new=item.new_evidence_id))
            else:
                lines.append(w("workspace.refresh_other", id=item.evidence_id, tool=item.tool,
                               status=w.option("workspace.refresh_status", item.status), reason=item.reason))
        if report.affected_sections:
            lines.append("\n" + w("workspace.refresh_revise", sections=w.enumeration.join(report.affected_sections)))
        return tool_result(report, "\n".join(lines))

    async def plan_export(
        plan_id: PlanId,
        format: Annotated[Literal["docx", "html", "md", "xlsx"], Field(
            description="docx = Word; html = one self-contained file; md = Markdown; xlsx = tables only")] = "docx",
        version: Annotated[int | None, Field(ge=1, le=MAX_ID, description="a past version; default: current")] = None,
        filename: Annotated[str | None, Field(description="plain file name; default from the title")] = None,
        overwrite: Annotated[bool, Field(description="replace an existing file of that name")] = False,
    ) -> Annotated[CallToolResult, PlanExportResult]:
        """Export a plan as Word, HTML or Markdown, ending with its evidence appendix.

        The appendix lists, per cited evidence id: the tool, its arguments, the data source with its
        SHA-256 hash, the definition used, the figures, and who recorded it. The file goes into the
        output folder; the result links to it as a resource (retention://reports/<file>) so any client
        can download it. Example: {"plan_id": 3, "format": "docx"}.
        """
        from retention_mcp.report.export import export_report
        from retention_mcp.workspace.files import report_link
        from retention_mcp.workspace.refresh import cited_evidence_ids
        from retention_mcp.workspace.render import evidence_appendix, plan_markdown

        workspace = store()
        state = await _in_thread(workspace.get_plan, plan_id, version)
        evidence = await _in_thread(workspace.get_evidence_many, cited_evidence_ids(state))
        body = plan_markdown(state).split("\n", 2)[2]  # export_report writes the title itself
        appendix = evidence_appendix(state, evidence)
        markdown = body + ("\n" + appendix if appendix else "")
        try:
            written = await _in_thread(export_report, settings, state.title, markdown=markdown, fmt=format,
                                       filename=filename, overwrite=overwrite, language=state.language)
        except PermissionError:
            raise InputError(f"cannot write into the output folder {settings.output_dir}: permission denied; "
                             "start the server with --output-dir pointing at a writable folder") from None
        link = report_link(settings, written.filename)
        result = PlanExportResult(plan_id=plan_id, version=state.version, filename=written.filename,
                                  format=written.format, size_bytes=written.size_bytes, uri=str(link.uri),
                                  evidence_cited=len(cited_evidence_ids(state)))
        text = words(state.language)("workspace.exported", id=plan_id, version=state.version, file=written.filename,
                                     format=written.format, size=f"{written.size_bytes:,}",
                                     cited=result.evidence_cited, uri=result.uri)
        structured = result.model_dump(mode="json")
        return CallToolResult(content=[TextContent(type="text", text=text), link], structured_content=structured)

    async def template_save(
        source: Annotated[str, Field(description="the whole template file: YAML front matter between '---' lines "
                                                 "(name, language, title, description, arguments, optional "
                                                 "sections) then the Jinja2 body, as in retention://templates/...")],
    ) -> Annotated[CallToolResult, SavedTemplateResult]:
        """Save a team template in the workspace: every client of this server uses it from the next request.

        Validated like a file template (front matter, argument types, Jinja2 rendered once in the
        sandbox with sample arguments); refused with the error otherwise. Each save is a new version;
        a saved template overrides the prompts folder's and the bundled one of the same name and
        language. Tip: read retention://templates/retention_strategy.zh, edit it, save it.
        """
        from retention_mcp.workspace.templates import template_layers, template_sections, validate_template

        author = current_author()
        template = await _in_thread(validate_template, source)
        workspace = store()
        saved = await _in_thread(workspace.save_template, template.name, template.language,
                                 source.replace("\r\n", "\n"), author)
        layers = (await _in_thread(template_layers, settings)).get((saved.name, saved.language), [])
        below = [origin for origin in layers if not origin.startswith("workspace")]
        shadows = f"workspace v{saved.version - 1}" if saved.version > 1 else (below[0] if below else None)
        result = SavedTemplateResult(name=saved.name, language=saved.language, version=saved.version,
                                     shadows=shadows, layers=layers, sections=template_sections(template),
                                     arguments=[a.name for a in template.arguments])
        w = words(saved.language)
        text = w("workspace.template_saved", name=saved.name, language=saved.language, version=saved.version,
                 replacing=w("workspace.replacing", shadows=shadows) if shadows else "",
                 overrides=w("workspace.overrides", layers=w.enumeration.join(below)) if below else "")
        return tool_result(result, text)

    async def evidence_get(
        evidence_id: Annotated[str, Field(description="an evidence id from a tool result, e.g. 'ev-3f9a2c'")],
        language: LanguageArg = None,
    ) -> Annotated[CallToolResult, EvidenceView]:
        """Show what an evidence id stands for: the tool, its arguments, the data file (size, SHA-256),
        the definition and the figures it produced. Example: {"evidence_id": "ev-3f9a2c"}."""
        item = await _in_thread(store().get_evidence, evidence_id)
        if item is None:
            raise InputError(f"there is no evidence {evidence_id!r}; evidence ids come from tool results "
                             "(evidence_id) and look like ev-3f9a2c")
        view = EvidenceView(id=item.id, tool=item.tool, arguments=item.arguments, sources=item.sources,
                            definition=item.definition, figures=item.figures, author=item.author,
                            created_at=_iso(item.created_at) or "")
        w = words(language or settings.language)
        figures = w.semicolon.join(f"{k} = {v}" for k, v in list(item.figures.items())[:20])
        files = w.enumeration.join(f"{s.get('name')}{w.paren('sha256 ' + str(s.get('sha256', ''))[:12] + '…')}"
                                   for s in item.sources)
        text = w("workspace.evidence", id=item.id, tool=item.tool, author=item.author, when=view.created_at,
                 files=files or w("workspace.none"), definition=item.definition or "—",
                 figures=figures or w("workspace.none"))
        return tool_result(view, text)

    server.add_tool(plan_create, title="Create a plan", annotations=WRITES_WORKSPACE)
    server.add_tool(plan_write_section, title="Write a plan section", annotations=WRITES_WORKSPACE)
    server.add_tool(plan_get, title="Read a plan", annotations=READ_ONLY)
    server.add_tool(plan_list, title="List plans", annotations=READ_ONLY)
    server.add_tool(plan_history, title="Plan history", annotations=READ_ONLY)
    server.add_tool(plan_diff, title="Diff plan versions", annotations=READ_ONLY)
    server.add_tool(plan_refresh, title="Refresh a plan's figures", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False))
    server.add_tool(plan_export, title="Export a plan", annotations=WRITES_WORKSPACE)
    server.add_tool(template_save, title="Save a team template", annotations=WRITES_WORKSPACE)
    server.add_tool(evidence_get, title="Show evidence", annotations=READ_ONLY)

    _register_resources(server, settings, store)


def _register_resources(server: RetentionServer, settings: Settings, store: Any) -> None:
    from mcp.types import Completion, ResourceTemplateReference

    def plan_text(id: str, version: str | None = None) -> str:
        from retention_mcp.workspace.render import plan_markdown

        try:
            plan_id = int(id)
            number = None if version is None else int(version)
            return plan_markdown(store().get_plan(plan_id, number))
        except (ValueError, InputError) as exc:
            raise _resource_error(exc if isinstance(exc, InputError) else InputError(
                f"plan ids and versions are whole numbers, e.g. retention://plans/3/v/2 (got {id!r}, {version!r})"
            )) from None

    @server.resource(PLAN_URI, mime_type="text/markdown", title="Retention plan (current version)",
                     description="A workspace plan as markdown, at its current version. {id} from plan_list.")
    def plan_resource(id: str) -> str:
        return plan_text(id)

    @server.resource(PLAN_VERSION_URI, mime_type="text/markdown", title="Retention plan (one version)",
                     description="A workspace plan exactly as it was at version {version}.")
    def plan_version_resource(id: str, version: str) -> str:
        return plan_text(id, version)

    @server.resource("retention://plans", mime_type="text/markdown", title="Retention plans",
                     description="The workspace's plans: id, title, group, version, last change.")
    def plans_resource() -> str:
        plans = store().list_plans(200)
        if not plans:
            return "No plans yet.\n"
        return _table(["id", "title", "group", "version", "last change"],
                      [[f"[{p.id}](retention://plans/{p.id})", p.title, p.group, p.current_version,
                        f"{p.updated_by}, {_iso(p.updated_at)}"] for p in plans]) + "\n"

    _register_reports(server, settings)

    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if not isinstance(ref, ResourceTemplateReference):
            return None
        prefix = argument.value or ""
        if ref.uri == "retention://reports/{name}":
            from retention_mcp.workspace.files import list_reports

            names = [n for n in await _in_thread(list_reports, settings) if n.startswith(prefix)]
        elif ref.uri in (PLAN_URI, PLAN_VERSION_URI) and argument.name == "id":
            from retention_mcp.workspace.engine import workspace_exists

            if not workspace_exists(settings):
                return Completion(values=[])
            names = [str(p.id) for p in await _in_thread(store().list_plans, 100) if str(p.id).startswith(prefix)]
        else:
            return None
        return Completion(values=names[:100], total=len(names), has_more=len(names) > 100)

    server.completers.append(complete)


def _register_reports(server: RetentionServer, settings: Settings) -> None:
    """``retention://reports/{name}``, whose mime type is the file's own (a template has only one, so a
    small subclass sets it per read)."""
    from mcp.server.mcpserver.resources.templates import ResourceTemplate

    from retention_mcp.workspace.files import URI_TEMPLATE, mime_type, read_report

    class ReportTemplate(ResourceTemplate):
        async def create_resource(self, uri: str, params: dict[str, Any], context: Any) -> Any:
            resource = await super().create_resource(uri, params, context)
            if hasattr(resource, "mime_type"):
                resource.mime_type = mime_type(str(params.get("name", "")))
            return resource

    def report(name: str) -> str | bytes:
        try:
            return read_report(settings, name)
        except InputError as exc:
            raise _resource_error(exc) from None

    title = "Exported report or chart"
    description = ("A file in the server's output folder (DOCX, XLSX, HTML, Markdown, PNG...), by file name: "
                   "binary files as a blob with their mime type. Tool results that write a file link to it.")
    templates = getattr(getattr(server, "_resource_manager", None), "_templates", None)
    if not isinstance(templates, dict):  # the SDK changed its internals: serve every file as octet-stream
        logger.warning("report resources fall back to one mime type (application/octet-stream)")
        server.resource(URI_TEMPLATE, name="report", title=title, description=description,
                        mime_type="application/octet-stream")(report)
        return
    template = ReportTemplate.from_function(report, uri_template=URI_TEMPLATE, name="report", title=title,
                                            description=description, mime_type="application/octet-stream")
    # MCPServer has no public way to add a template object; the resource manager keeps them by URI template.
    templates[template.uri_template] = template
