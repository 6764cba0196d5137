"""Linked datasets over MCP: dataset_link (define and save) and reconcile_datasets.

Worker tools like the data tools; the joining is in :mod:`retention_mcp.data.linked`, the report in
:mod:`retention_mcp.analysis.reconcile`. Definitions live in the workspace (``retention_datasets``); a call whose
``path`` names one (no dot, no slash) reads it through :meth:`retention_mcp.runtime.job.Job.linked_dataset`.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from retention_mcp.analysis.reconcile import (
    DEFAULT_TOLERANCE_DAYS,
    DEFAULT_WINDOW_DAYS,
    FileCheck,
    ReconcileResult,
)
from retention_mcp.endpoints.turnover import LanguageArg
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job

#: Writes a new version of a definition; never overwrites or deletes.
WRITES_WORKSPACE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                   open_world_hint=False)

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


@tool(title="Link exports into one dataset", result=DatasetLinkResult, annotations=WRITES_WORKSPACE, evidence=False)
def dataset_link(
    job: Job,
    name: Annotated[str, Field(description="Name to save it under (letters, digits, -, _; no dot or slash), e.g. "
                                           "'2024Q4'; saving a name again makes a new version")],
    files: Annotated[list[dict[str, Any]], Field(
        description="The exports, the population (HR roster) first. Each {path, key?, columns?, order_by?, rows?, "
                    "sheet?, header_row?, column_map?}. key: the person's column(s), default the ID, else the "
                    "name column (namesakes need more, e.g. [\"姓名\", \"部门\"]). columns, needed when people "
                    "have several rows: {new column: rule}, rules sum mean min max count count_distinct first "
                    "last earliest latest (by order_by)")],
    language: LanguageArg = None,
) -> ToolOutput:
    """Link several HR exports (roster, attendance, payroll, ratings, training...) into one dataset joined on
    the employee key, saved by name; then pass the name as `path` to any data tool, with `by`, `where`, drivers
    and outcomes from every file. The key is never shown. Returns per file rows, people, matches, people outside
    the roster, and the columns added. Example: {"name": "2024Q4", "files": [{"path": "花名册.csv"},
    {"path": "绩效.csv", "columns": {"末次绩效": "latest(绩效等级)"}, "order_by": "考核周期"},
    {"path": "培训.csv", "key": ["姓名", "部门"], "columns": {"培训时长": "sum(培训时长)"}}]}.
    """
    from retention_mcp.analysis.reconcile import file_checks
    from retention_mcp.data.linked import define, load_linked
    from retention_mcp.wording import words

    definition = define(job.settings, name, files, job.progress)
    # Joined once before it is saved: a definition the files cannot honour is refused, and the counts are real.
    ds = load_linked(job.settings, definition, progress=job.progress, memory_mb=job.settings.call_memory_mb)
    job.datasets.append(ds)
    checks = file_checks(ds, job.policy)
    saved = job.workspace().save_dataset(definition.name, definition.to_json(), job.author)
    columns = [LinkedColumn(column=output, source=link.spec.path, rule="copied" if aggregate.rule == "last" and
                            link.spec.rows == "one" else aggregate.describe())
               for link in ds.linked.files[1:] for output, aggregate in link.added.items()]
    result = DatasetLinkResult(name=saved.name, version=saved.version, population=definition.population.path,
                               rows=ds.rows, files=checks, columns=columns, definition=definition.to_json())
    w = words(language or job.settings.language, job.settings)
    kinds = ("rows", "people", "people_with_several_rows", "rows_matched", "rows_outside_population",
             "rows_ambiguous_name")
    hidden = str(w["reconcile.hidden"]).format(k=job.policy.floor)
    lines = [str(w["linked.saved"]).format(name=saved.name, version=saved.version, files=len(checks),
                                           population=result.population, rows=f"{result.rows:,}"), "",
             str(w["linked.use"]).format(name=saved.name), "",
             f"| {w['reconcile.col_file']} | {w['reconcile.col_key']} | "
             + " | ".join(str(w[f"reconcile.kind.{kind}"]) for kind in kinds) + " |", "|---|---|" + "---:|" * 6]
    for check in checks:
        counts = {c.kind: c.count for c in check.counts}
        cells = ["—" if kind not in counts else hidden if counts[kind] is None else f"{counts[kind]:,}"
                 for kind in kinds]
        lines.append(f"| {check.file} | {' + '.join(check.key)} | " + " | ".join(cells) + " |")
    lines += ["", f"| {w['linked.col_column']} | {w['linked.col_from']} | {w['linked.col_rule']} |", "|---|---|---|"]
    lines += [f"| {c.column} | {c.source} | {c.rule} |" for c in columns]
    return job.output(result, "\n".join(lines))


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
    from retention_mcp.wording import words

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
