"""Linked datasets over MCP: dataset_link (define and save), reconcile_datasets, and the name as ``path``.

Registration only; the joining is in :mod:`retention_mcp.data.linked`, the report in
:mod:`retention_mcp.analysis.reconcile`. Definitions live in the workspace (``retention_datasets``): the server
looks a name up when a call's ``path`` is one (no dot, no slash) and sends the definition to the worker with the
call, so every worker joins exactly the version the server saw, whatever workspace its environment points at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from retention_mcp.analysis.reconcile import (
    DEFAULT_TOLERANCE_DAYS,
    DEFAULT_WINDOW_DAYS,
    FileCheck,
    ReconcileResult,
)
from retention_mcp.endpoints.turnover import LanguageArg
from retention_mcp.errors import InputError
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    from retention_mcp.runtime.spec import ToolSpec

#: Tools that list every linked dataset (their calls get all definitions).
LISTS_DATASETS = frozenset({"list_datasets"})

DatasetPathArg = Annotated[str, Field(description="The linked dataset's name (dataset_link saved it), e.g. '2024Q4'")]


class LinkedColumn(BaseModel):
    column: str = Field(description="the column in the linked table (use it in by, where, drivers, outcome)")
    source: str = Field(description="the file it comes from")
    rule: str = Field(description="how it is made from the person's rows, e.g. sum(时长), latest(绩效等级)")


class DatasetLinkResult(BaseModel):
    name: str
    version: int = Field(description="the version just saved (1 for a new name)")
    population: str = Field(description="the file whose rows are the linked table's rows")
    rows: int
    files: list[FileCheck]
    columns: list[LinkedColumn] = Field(description="columns the joined files add")
    definition: dict[str, Any] = Field(description="what was saved: files, keys, rules")


def link_dataset(*, settings: Settings, progress: Any, name: str, files: Any,
                 language: str | None = None) -> tuple[dict[str, Any], DatasetLinkResult, list[str]]:
    """Worker entry point of dataset_link: check the request against the files, build the linked table once
    (so the report has real counts), and return (definition, result, text lines) for the server to save."""
    from retention_mcp.analysis.reconcile import file_checks
    from retention_mcp.analysis.wording import words
    from retention_mcp.data.linked import define

    job = Job(settings, progress)
    definition = define(settings, name, files, progress)
    job.linked = {definition.name: {"version": 0, "definition": definition.to_json()}}
    ds, _ = job.dataset(path=definition.name)
    checks = file_checks(ds, job.policy)
    columns = [LinkedColumn(column=output, source=link.spec.path, rule="copied" if aggregate.rule == "last" and
                            link.spec.rows == "one" else aggregate.describe())
               for link in ds.linked.files[1:] for output, aggregate in link.added.items()]
    result = DatasetLinkResult(name=definition.name, version=0, population=definition.population.path, rows=ds.rows,
                               files=checks, columns=columns, definition=definition.to_json())
    w = words(language or settings.language, settings)
    lines = ["", str(w["linked.use"]).format(name=definition.name), "",
             f"| {w['reconcile.col_file']} | {w['reconcile.col_key']} | "
             + " | ".join(str(w[f"reconcile.kind.{kind}"]) for kind in (
                 "rows", "people", "people_with_several_rows", "rows_matched", "rows_outside_population",
                 "rows_ambiguous_name")) + " |", "|---|---|" + "---:|" * 6]
    hidden = str(w["reconcile.hidden"]).format(k=job.policy.floor)
    for check in checks:
        counts = {c.kind: c.count for c in check.counts}
        cells = ["—" if kind not in counts else hidden if counts[kind] is None else f"{counts[kind]:,}"
                 for kind in ("rows", "people", "people_with_several_rows", "rows_matched", "rows_outside_population",
                              "rows_ambiguous_name")]
        lines.append(f"| {check.file} | {' + '.join(check.key)} | " + " | ".join(cells) + " |")
    lines += ["", f"| {w['linked.col_column']} | {w['linked.col_from']} | {w['linked.col_rule']} |", "|---|---|---|"]
    lines += [f"| {c.column} | {c.source} | {c.rule} |" for c in columns]
    job.check(ToolOutput(result=result, text="\n".join(lines)))
    return definition.to_json(), result, lines


@tool(title="Reconcile linked files", result=ReconcileResult)
def reconcile_datasets(
    job: Job,
    path: DatasetPathArg,
    on: Annotated[str | None, Field(description="Date to compare headcounts on, e.g. '2024-12-31'. Default: the "
                                    "latest date in the population file")] = None,
    tolerance_days: Annotated[int, Field(ge=0, le=3660, description="Termination dates this many days apart or "
                                         "closer agree")] = DEFAULT_TOLERANCE_DAYS,
    window_days: Annotated[int, Field(ge=1, le=366, description="A file of records (attendance days, payroll "
                                      "months) counts a person on `on` with a record in this many days ending "
                                      "then")] = DEFAULT_WINDOW_DAYS,
    language: LanguageArg = None,
) -> ToolOutput:
    """Where the systems disagree, for a linked dataset: per pair of files, people in both or one only, status
    (leaver in one, active in the other), termination dates more than tolerance_days apart, department differs,
    headcount on a date; per file: duplicates, rehires, people not in the population, ambiguous names; and the
    rule every tool uses (status and dates from the population file). Counts only, never people; small counts
    hidden. Example: {"path": "2024Q4", "on": "2024-12-31"}.
    """
    from retention_mcp.analysis.reconcile import reconcile, reconcile_markdown
    from retention_mcp.analysis.wording import words

    ds, _ = job.dataset(path=path)
    language = language or job.settings.language
    result = reconcile(ds, job.policy, on=on, window_days=window_days, tolerance_days=tolerance_days,
                       language=language, settings=job.settings)
    figures: dict[str, Any] = {}
    for pair in result.pairs:
        for count in pair.counts:
            figures[f"{pair.fact}[{pair.file_a}|{pair.file_b}].{count.kind}"] = count.count
    return job.output(result, reconcile_markdown(result, words(language, job.settings)), figures=figures,
                      definition=" ".join(result.rules))


def register(server: Any, settings: Settings) -> None:
    """The name-as-path resolver for every data tool, and dataset_link (it writes the workspace)."""
    from retention_mcp.data.linked import is_dataset_name
    from retention_mcp.endpoints.workspace import _in_thread, tool_result
    from retention_mcp.identity import current_author

    def store() -> Any:
        from retention_mcp.workspace.store import workspace_for

        return workspace_for(settings)

    async def resolve(spec: ToolSpec, arguments: dict[str, Any]) -> dict[str, Any] | None:
        """The definitions a call reads: the one its path names, or every one for list_datasets."""
        from retention_mcp.workspace.engine import workspace_exists

        path = arguments.get("path")
        if spec.name in LISTS_DATASETS:
            if not workspace_exists(settings):
                return None
            saved = await _in_thread(store().list_datasets)
            return {s.name: {"version": s.version, "definition": s.definition, "author": s.author,
                             "created_at": s.created_at.isoformat()} for s in saved} or None
        if not is_dataset_name(path):
            return None
        name = str(path).strip()
        found = await _in_thread(store().get_dataset, name) if workspace_exists(settings) else None
        if found is None:
            names = [s.name for s in await _in_thread(store().list_datasets)] if workspace_exists(settings) else []
            listed = f" Saved: {', '.join(names[:20])}." if names else " None is saved yet."
            raise InputError(f"{name!r} is neither a file (a file needs its extension, e.g. 'hr_export.csv') nor a "
                             f"saved linked dataset.{listed} dataset_link links files under a name")
        return {name: {"version": found.version, "definition": found.definition}}

    if getattr(server, "runtime", None) is not None:
        server.runtime.resolve_linked = resolve

    async def dataset_link(
        name: Annotated[str, Field(description="Name to save it under (letters, digits, -, _; no dot or slash), "
                                               "e.g. '2024Q4'; saving a name again makes a new version")],
        files: Annotated[list[dict[str, Any]], Field(
            description="The exports, the population (HR roster) first. Each {path, key?, columns?, order_by?, rows?, "
                        "sheet?, header_row?, column_map?}. key: the person's column(s), default the ID, else the "
                        "name column (namesakes need more, e.g. [\"姓名\", \"部门\"]). columns, needed when people "
                        "have several rows: {new column: rule}, rules sum mean min max count count_distinct first "
                        "last earliest latest (by order_by)")],
        language: LanguageArg = None,
    ) -> Annotated[CallToolResult, DatasetLinkResult]:
        """Link several HR exports (roster, attendance, payroll, ratings, training...) into one dataset joined on
        the employee key, saved by name; then pass the name as `path` to any data tool, with `by`, `where`, drivers
        and outcomes from every file. The key is never shown. Returns per file rows, people, matches, people outside
        the roster, and the columns added. Example: {"name": "2024Q4", "files": [{"path": "花名册.csv"},
        {"path": "绩效.csv", "columns": {"末次绩效": "latest(绩效等级)"}, "order_by": "考核周期"},
        {"path": "培训.csv", "key": ["姓名", "部门"], "columns": {"培训时长": "sum(时长)"}}]}.
        """
        from retention_mcp.analysis.wording import words
        from retention_mcp.data.linked import check_name

        author = current_author()
        check_name(name)
        assert server.runtime is not None
        definition, result, lines = await server.runtime.run(
            "retention_mcp.endpoints.datasets:link_dataset", {"name": name, "files": files, "language": language})
        saved = await _in_thread(store().save_dataset, result.name, definition, author)
        result.version = saved.version
        w = words(language or settings.language, settings)
        head = str(w["linked.saved"]).format(name=saved.name, version=saved.version,
                                             files=len(result.files), population=result.population,
                                             rows=f"{result.rows:,}")
        return tool_result(result, "\n".join([head, *lines]))

    server.add_tool(dataset_link, title="Link exports into one dataset", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False))
