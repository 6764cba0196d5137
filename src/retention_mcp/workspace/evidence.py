"""Turning a tool result into an evidence record: its key figures, its definition, its data sources.

The tool runtime records evidence for every data and calculator result (``Workspace.record_evidence``)
and puts ``evidence_id`` and ``key_figures`` into the structured content. Until a tool publishes
``key_figures`` itself, :func:`key_figures` derives them from the structured content; the same helpers
describe the files a call read (name, size, modified time, SHA-256, format).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from retention_mcp.errors import InputError
from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)

#: Most per-group figures taken from one breakdown.
MAX_GROUP_FIGURES = 25


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def key_figures(tool: str, structured: dict[str, Any]) -> dict[str, float | int | str | None]:
    """The figures a plan may cite from a result: ``structured["key_figures"]`` when the tool gives them;
    for ``turnover_breakdown`` the overall rate, leavers and headcount and each shown group's rate; for
    other tools their top-level numbers (e.g. ``roi``, ``benefit_cost_ratio``, ``npv``)."""
    given = structured.get("key_figures")
    if isinstance(given, dict) and given:
        return dict(given)
    figures: dict[str, float | int | str | None] = {}
    overall = structured.get("overall")
    if tool == "turnover_breakdown" and isinstance(overall, dict):
        for key in ("rate", "annualised_rate", "leavers", "headcount"):
            if key in overall:
                figures[f"overall_{key}"] = overall[key]
        for row in (structured.get("rows") or [])[:MAX_GROUP_FIGURES]:
            if isinstance(row, dict) and not row.get("suppressed") and row.get("rate") is not None:
                figures[f"rate[{row.get('label')}]"] = row["rate"]
        return figures
    for key, value in structured.items():
        if _number(value) or (value is None and key in ("roi", "benefit_cost_ratio")):
            figures[key] = value
    if isinstance(overall, dict):
        for key, value in overall.items():
            if _number(value):
                figures[f"overall_{key}"] = value
    return figures


def definition_text(structured: dict[str, Any]) -> str:
    """The definition a result states: its ``definition`` (formula, denominator, period) or ``formula``."""
    definition = structured.get("definition")
    if isinstance(definition, str):
        return definition
    if isinstance(definition, dict):
        parts = [str(definition[k]) for k in ("formula", "denominator_definition", "leaver_definition")
                 if definition.get(k)]
        if definition.get("period_start") or definition.get("period_end"):
            parts.append(f"period {definition.get('period_start')} to {definition.get('period_end')}")
        return "; ".join(parts) or json.dumps(definition, ensure_ascii=False)[:1000]
    formula = structured.get("formula")
    return str(formula) if formula else ""


def file_source(path: Path, name: str | None = None) -> dict[str, Any]:
    """``{"name", "size", "modified", "sha256", "format"}`` of a file (hashed in 1 MB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    stat = path.stat()
    modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"name": name or path.name, "size": stat.st_size, "modified": modified, "sha256": digest.hexdigest(),
            "format": path.suffix.lstrip(".").lower() or "unknown"}


def resolve_data_path(settings: Settings, path: str) -> Path | None:
    """A data file inside an allowed folder (relative paths from the first), or None when it is not one."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = settings.data_dirs[0] / candidate
    resolved = candidate.resolve()
    for folder in settings.data_dirs:
        if resolved.is_relative_to(folder) and resolved.is_file():
            return resolved
    return None


def describe_sources(settings: Settings, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """The data a call read: the file named by ``path`` or the inline ``csv_text`` (fingerprinted)."""
    sources: list[dict[str, Any]] = []
    if isinstance(arguments.get("path"), str):
        resolved = resolve_data_path(settings, arguments["path"])
        if resolved is not None:
            sources.append(file_source(resolved, name=arguments["path"]))
    if isinstance(arguments.get("csv_text"), str):
        data = arguments["csv_text"].encode("utf-8")
        sources.append({"name": "csv_text (pasted)", "size": len(data), "modified": None,
                        "sha256": hashlib.sha256(data).hexdigest(), "format": "csv"})
    return sources


def record_result(settings: Settings, tool: str, arguments: dict[str, Any], output: Any, author: str,
                  scope: dict[str, Any] | None = None) -> str | None:
    """Record a tool result as evidence (tool, arguments, data source identity, definition, key figures, and the
    scope it was computed under) and return its id. A workspace that cannot be reached costs the citation, not
    the result (None)."""
    from retention_mcp.workspace.store import workspace_for

    try:
        sources = [s for s in output.sources if s.get("sha256")] or describe_sources(settings, arguments)
        return workspace_for(settings).record_evidence(
            tool, arguments, sources, output.definition, output.figures, author, period=output.period,
            units=output.units, charts=output.charts, parents=output.parents, scope=scope)
    except (InputError, OSError) as exc:
        logger.warning("evidence not recorded for %s: %s", tool, exc)
        return None


def save_charts(settings: Settings, tool: str, output: Any) -> list[str]:
    """Write each chart a result drew into the output folder, named after its evidence id
    (``turnover_breakdown-ev-3f9a2c.png``; never over an existing file), and record the file with the evidence.
    Returns the file names; a folder that cannot be written costs the file, not the result."""
    from retention_mcp.report.charts import save_chart

    stem = f"{tool}-{output.evidence_id}" if output.evidence_id else f"{tool}-chart"
    names: list[str] = []
    for index, (data, _mime) in enumerate(output.images):
        try:
            path = save_chart(settings, data, stem if index == 0 else f"{stem}-{index + 1}")
        except (InputError, OSError) as exc:
            logger.warning("chart of %s not written: %s", tool, exc)
            continue
        names.append(path.name)
        if output.evidence_id and index < len(output.charts):
            from retention_mcp.workspace.store import workspace_for

            try:
                workspace_for(settings).attach_chart_file(output.evidence_id, index, path.name)
            except (InputError, OSError) as exc:
                logger.warning("chart file of %s not recorded: %s", output.evidence_id, exc)
    return names


def cited_figures(settings: Settings, evidence_id: str, tools: tuple[str, ...],
                  caller: Any = None) -> tuple[dict[str, Any], Any]:
    """The key figures and the record of an evidence id that one of ``tools`` produced, for a tool that takes a
    result as its input (hiring_forecast takes forecast_leavers', compare_benchmarks turnover_breakdown's) — only
    evidence ``caller`` may read (a manager never takes company-wide figures in through an id). Raises InputError
    naming what to pass instead."""
    from retention_mcp.errors import InputError, capped
    from retention_mcp.workspace.store import workspace_for

    wanted = str(evidence_id or "").strip().lower()
    workspace = workspace_for(settings)
    record = workspace.get_evidence(wanted) if wanted else None
    if record is not None and caller is not None:
        from retention_mcp.workspace.sharing import readable_evidence

        if not readable_evidence(workspace, caller, [record.id], settings):
            record = None
    if record is None:
        raise InputError(f"evidence id {capped(str(evidence_id), 40)!r} is not in the workspace (or not one you can "
                         "read); run "
                         f"{' or '.join(tools)} and pass the evidence_id it returns")
    if record.tool not in tools:
        raise InputError(f"evidence {record.id} is a {record.tool} result; this needs one from {' or '.join(tools)}")
    return dict(record.figures or {}), record


def scope_warning(record: Any, language: str, settings: Settings) -> str | None:
    """'These figures were computed within Department = Sales, not company-wide' for a scoped evidence record taken
    as a tool's input (None for a result over the whole data)."""
    from retention_mcp.permissions import scope_label

    label = scope_label(getattr(record, "scope", None), language, settings)
    return f"{record.id}: {label}" if label else None
