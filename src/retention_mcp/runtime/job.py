"""One tool call inside a worker: the intake for files, the disclosure policy, and the checks on the way out."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from retention_mcp.access import EVERYTHING
from retention_mcp.data.disclosure import DisclosureError, Policy, normalise_value, output_strings
from retention_mcp.errors import InputError, capped
from retention_mcp.identity import Caller, os_user
from retention_mcp.runtime.result_size import bound_result
from retention_mcp.runtime.spec import ToolOutput
from retention_mcp.settings import Settings

if TYPE_CHECKING:
    from retention_mcp.data.dataset import Dataset
    from retention_mcp.data.dimensions import Scope
    from retention_mcp.wording import Words
    from retention_mcp.workspace.store import Evidence, Workspace

logger = logging.getLogger(__name__)


class Job:
    """What a tool function gets besides its arguments.

    - :meth:`dataset` reads a file through the one intake (guard, reader, roles, identifying columns, parsed
      dates and flags) — or a linked dataset saved in the workspace, several files joined on the employee key,
      when ``path`` names one — and applies a ``where`` filter;
    - ``policy`` is the disclosure policy (minimum group size, suppression, pseudonyms);
    - :meth:`progress` reports progress to the client;
    - ``caller`` is who called — their name (``author``), role and access — read in the server process, where
      the bearer token's context lives; the intake cuts every file to their access (``settings.access``), and
      :meth:`workspace` is the workspace store, opened by this worker process with its own engine;
    - :meth:`evidence_input` reads a result the call is computed from (``calculate_roi`` from an
      ``estimate_impact``) — only one within the caller's reach — and records it as a parent of this call's
      evidence (lineage).
    """

    def __init__(self, settings: Settings, progress: Callable[[float, str], None] | None = None,
                 caller: Caller | None = None) -> None:
        self.settings = settings
        self.caller = caller or Caller(name=os_user(), access=settings.access or EVERYTHING)
        self.author = self.caller.name
        #: the plan the files this call writes were exported from (readable by whoever may read the plan)
        self.files_plan_id: int | None = None
        self.policy = Policy.from_settings(settings)  # the mode of this call: Settings.mode_for_call
        self._progress = progress
        self.datasets: list[Dataset] = []
        self.w: Words | None = None  # the caller's language, once the tool asked for it (words())
        self.notes: list[str] = []  # said under the result (a filter that selects everyone ...)
        self.parents: list[tuple[str, str]] = []  # (evidence id, argument that named it)
        self.parent_periods: list[dict[str, Any]] = []

    def words(self, language: str | None = None) -> Words:
        """The texts of the caller's ``language`` argument, or of the server's ``--language``; used from then on
        for everything this call writes (filters, definitions, notes)."""
        from retention_mcp.wording import words

        self.w = words(language or self.settings.language, self.settings)
        return self.w

    def workspace(self) -> Workspace:
        from retention_mcp.workspace.store import workspace_for

        return workspace_for(self.settings)

    def progress(self, fraction: float, message: str) -> None:
        if self._progress is not None:
            self._progress(fraction, message)

    def dataset(self, *, path: str | None = None, csv_text: str | None = None, sheet: str | None = None,
                header_row: int | None = None, column_map: Mapping[str, str] | None = None,
                shape: str | None = None, kind: str = "hr",
                where: Mapping[str, Any] | None = None) -> tuple[Dataset, Scope]:
        """The prepared table and the ``where`` scope on it. Raises InputError with what to fix."""
        from retention_mcp.data.dataset import load_dataset
        from retention_mcp.data.dimensions import check_complements, parse_where
        from retention_mcp.data.linked import is_dataset_name

        if is_dataset_name(path):
            ds = self.linked_dataset(str(path), csv_text=csv_text, sheet=sheet, header_row=header_row,
                                     column_map=column_map, shape=shape, kind=kind)
            path = ds.linked.definition.population.path
        else:
            ds = load_dataset(self.settings, path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                              column_map=column_map, shape=shape, kind=kind, progress=self.progress)
        self.datasets.append(ds)
        if path and kind == "hr":
            from retention_mcp.data.recent import remember

            remember(self.settings, path)  # for completions from the data (employee_group ...)
        scope = parse_where(ds, where, self.policy, self.w)
        self.notes += scope.notes
        if scope.active:
            kept = int(scope.rows.sum())
            if kept < self.policy.floor:
                raise InputError(f"the filter {scope.text} leaves {self.policy.count_text(kept)}, fewer than the "
                                 f"minimum group size of {self.policy.floor}; widen the filter")
            check_complements(ds, scope, self.policy.floor)
        return ds, scope

    def linked_dataset(self, name: str, *, csv_text: str | None = None, sheet: str | None = None,
                       header_row: int | None = None, column_map: Mapping[str, str] | None = None,
                       shape: str | None = None, kind: str = "hr") -> Dataset:
        """The linked dataset saved as ``name`` (its newest version), joined on its current files."""
        from retention_mcp.data.linked import LinkedDefinition, load_linked
        from retention_mcp.workspace.engine import workspace_exists

        if csv_text or sheet or header_row:
            raise InputError(f"{name!r} is a linked dataset: give only its name as path (sheets and header rows are "
                             "set per file when it is linked, with dataset_link), not csv_text, sheet or header_row")
        saved = self.workspace().get_dataset(name.strip()) if workspace_exists(self.settings) else None
        if saved is None:
            names = [d.name for d in self.workspace().list_datasets()] if workspace_exists(self.settings) else []
            listed = f" Saved: {', '.join(names[:20])}." if names else " None is saved yet."
            raise InputError(f"{name!r} is neither a file (a file needs its extension, e.g. 'hr_export.csv') nor a "
                             f"saved linked dataset.{listed} dataset_link links files under a name")
        definition = LinkedDefinition.from_json(saved.definition, version=saved.version)
        return load_linked(self.settings, definition, column_map=column_map, shape=shape, kind=kind,
                           progress=self.progress, memory_mb=self.settings.call_memory_mb)

    def dataset_in_scope(self, **arguments: Any) -> tuple[Dataset, str | None]:
        """:meth:`dataset` restricted to the ``where`` rows, for analyses that take no scope, and the line that
        states the filter (None without one)."""
        ds, scope = self.dataset(**arguments)
        if not scope.active:
            return ds, None
        cells = self.policy.cells(ds)  # record keys from the whole file: a person's key never depends on a filter
        kept = ds.subset(scope.rows)
        self.datasets[self.datasets.index(ds)] = kept
        return kept, scope.describe(cells)

    def evidence_input(self, evidence_id: str, *, argument: str, tools: tuple[str, ...]) -> Evidence:
        """The evidence record ``evidence_id`` (a result of one of ``tools``), recorded as a parent of this call's
        result. InputError naming what to pass when it is not in the workspace or comes from another tool."""
        wanted = str(evidence_id or "").strip().lower()
        workspace = self.workspace()
        record = workspace.get_evidence(wanted) if wanted else None
        if record is not None:
            from retention_mcp.workspace.sharing import readable_evidence

            if not readable_evidence(workspace, self.caller, [record.id], self.settings):
                record = None  # beyond the caller's reach: as if it were not there (its existence says nothing)
        needs = " or ".join(tools)
        if record is None:
            raise InputError(f"{argument}: there is no evidence {capped(str(evidence_id), 40)!r} in the workspace "
                             f"(or not one you can read); run {needs} and pass the evidence_id it returns")
        if record.tool not in tools:
            raise InputError(f"{argument}: evidence {record.id} is a {record.tool} result; this takes one from {needs}")
        self.parents.append((record.id, argument))
        if record.period:
            self.parent_periods.append(dict(record.period))
        return record

    def sources(self) -> list[dict[str, Any]]:
        """What the call read, to record as evidence: each file's identity and SHA-256 (for a linked dataset, the
        definition's and then every file's)."""
        out = []
        for ds in self.datasets:
            for source in [ds.source, *(ds.linked.sources if ds.linked is not None else ())]:
                if hasattr(source, "__dataclass_fields__"):
                    from dataclasses import asdict

                    source = asdict(source)
                if source and source not in out:
                    out.append(dict(source))
        return out

    def output(self, result: Any, text: str, *, figures: Mapping[str, Any] | None = None, definition: str = "",
               images: list[tuple[bytes, str]] | None = None, files: list[str] | None = None,
               language: str | None = None, units: Mapping[str, str] | None = None,
               period: Mapping[str, Any] | None = None, charts: list[dict[str, Any]] | None = None) -> ToolOutput:
        """What the tool returns; a result about people's data states the privacy mode its figures were made in, in
        its text and among its key figures (so the evidence records it too), in the language of its texts.
        ``period`` is the period the result was computed for, resolved; without it the period is read from what the
        call used: the results it was computed from, else the files' latest date."""
        from retention_mcp.workspace.periods import inferred_period

        language = language or (self.w.language if self.w is not None else self.settings.language)
        figures = dict(figures or {})
        units = dict(units or {})
        if self.notes:
            from retention_mcp.wording import words

            w = self.w if self.w is not None and self.w.language == language else words(language, self.settings)
            for note in self.notes:
                text += f"\n\n{w('common.note')}{w.colon}{w.sentence(note)}"
        if self.datasets:
            from retention_mcp.data.cellkey import mode_statement

            text += "\n\n" + mode_statement(self.policy.mode, self.policy.floor, language, self.settings)
            figures["privacy_mode"] = self.policy.mode
            units.setdefault("privacy_mode", "text")
        if self.datasets and self.caller.access.scoped:
            # a manager's department figures must never pass for the company's: said in the text and definition
            from retention_mcp.permissions import scope_statement

            statement = scope_statement(self.caller.access, language, self.settings)
            text += f"\n\n{statement}"
            definition = f"{definition}; {statement}" if definition else statement
        resolved = dict(period) if period else inferred_period(self.datasets, self.parent_periods)
        return ToolOutput(result=result, text=text, figures=figures, definition=definition,
                          sources=self.sources(), images=list(images or ()), files=list(files or ()),
                          language=language, units=units, period=resolved, charts=list(charts or ()),
                          parents=list(dict.fromkeys(self.parents)))

    def scope_record(self) -> dict[str, Any] | None:
        """The scope this call's figures were computed under, as evidence records it: None for a calculator called
        by someone who sees the whole data (anyone may read it), else the caller's access with its mode resolved — a
        manager's calculator inputs are their department's figures too."""
        if not self.datasets and not self.caller.access.scoped:
            return None
        from retention_mcp.access import server_mode

        return self.caller.access.record(server_mode(self.settings))

    # -- the checks every output passes

    def check(self, output: ToolOutput) -> None:
        """Stop the call (as a bug) when an identifying value or a non-finite number reached the output."""
        structured = output.result.model_dump(mode="python")
        bad = _non_finite(structured)
        if bad is not None:
            raise ArithmeticError(f"non-finite number in the result at {bad}")
        if not self.datasets:
            return
        from retention_mcp.data.dataset import identifying_values_in
        from retention_mcp.data.disclosure import fixed_vocabulary

        candidates = {normalise_value(piece).strip(" .:*`_()[]") for piece in output_strings(structured, output.text)}
        candidates -= fixed_vocabulary(self.settings)
        for ds in self.datasets:
            if identifying_values_in(ds, candidates):
                raise DisclosureError("a value of an identifying column reached the output; the result was withheld")


def _non_finite(value: Any, path: str = "") -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(top)"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if (found := _non_finite(item, f"{path}.{key}" if path else str(key))) is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (found := _non_finite(item, f"{path}[{index}]")) is not None:
                return found
    return None


def execute(*, settings: Settings, progress: Callable[[float, str], None], tool: str,
            arguments: dict[str, Any], caller: Caller, tool_name: str | None = None,
            evidence: str | None = None) -> ToolOutput:
    """Worker entry point: run one tool function with a fresh Job, check its output and, for a data or
    calculator tool (``evidence`` = its name), record the evidence with the scope it was computed under.

    The caller's role is checked again here (the server process checked it before sending the call). The
    evidence row is committed before the result leaves the worker, so the id a client holds can be read by every
    server process at once (the next ``plan_write_section`` may reach another HTTP worker)."""
    from retention_mcp.permissions import refusal
    from retention_mcp.runtime.worker import resolve

    if tool_name is not None and (why := refusal(caller, tool_name, settings)) is not None:
        raise InputError(why)
    job = Job(settings, progress, caller=caller)
    output = resolve(tool)(job, **arguments)
    job.check(output)
    output = bound_result(output, arguments)
    if evidence is not None:
        from retention_mcp.workspace.evidence import record_result

        output.evidence_id = record_result(settings, evidence, arguments, output, job.author,
                                           scope=job.scope_record())
    if output.images:
        from retention_mcp.workspace.evidence import save_charts

        output.files += save_charts(settings, evidence or tool.rsplit(":", 1)[-1], output)
    if output.files:
        from retention_mcp.workspace.files import record_files

        record_files(settings, output.files, job.caller, scope=job.scope_record(), plan_id=job.files_plan_id)
    return output
