"""The MCP side of a tool call: an async function with the tool's signature that sends the call to a worker.

Nothing heavy is imported here; pandas and friends live in the workers.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent, TextContent

from retention_mcp.errors import InputError
from retention_mcp.runtime.pool import Limits, shared_pool
from retention_mcp.runtime.spec import ToolOutput, ToolSpec
from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)

#: Evidence recorder: (spec, arguments, output) -> evidence id, or None when there is no workspace.
EvidenceRecorder = Callable[[ToolSpec, dict[str, Any], ToolOutput], Awaitable[str | None]]


class ToolRuntime:
    """Runs tool calls in the shared worker pool with this server's limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Workers get what they need to read files and apply the policy, not the HTTP token.
        self.worker_settings = settings.with_(token=None)
        self.limits = Limits(timeout_s=settings.call_timeout_s, memory_mb=settings.call_memory_mb)
        self.pool = shared_pool(settings.tool_workers)
        self.record_evidence: EvidenceRecorder | None = None
        #: Who is calling, for the HTTP layer to fill from the caller's token (roles, OAuth scopes): the Access it
        #: returns rides in the call's settings, is applied at the intake of every file the call reads, and can only
        #: make the privacy mode stricter (retention_mcp.access). Called on the event loop, inside the request.
        self.access_of: Callable[[], Any] | None = None

    def warm(self) -> None:
        """Start the fork server and a first worker (from a background thread, after initialize)."""
        try:
            self.pool.warm(self.limits.memory_mb)
        except Exception:  # warming is an optimisation; the first call starts a worker anyway
            logger.warning("could not warm the worker pool", exc_info=True)

    def affinity(self, arguments: dict[str, Any]) -> str | None:
        """Calls on the same file go to the worker that has it parsed (see the pool)."""
        path = arguments.get("path")
        if isinstance(path, str) and path.strip():
            candidate = os.path.expanduser(path.strip())
            if not os.path.isabs(candidate) and self.settings.data_dirs:
                candidate = os.path.join(self.settings.data_dirs[0], candidate)
            return os.path.normpath(candidate)
        text = arguments.get("csv_text")
        if isinstance(text, str) and text:
            return "csv_text:" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        return None

    def _settings_for_call(self) -> Settings:
        """The workers read the workspace this process writes (a tool may take an evidence id as input), whatever
        environment the shared fork server was started with: once the default database exists, its path travels
        with the call. Before that nothing is passed, so a worker never creates the database itself."""
        settings = self.worker_settings
        access = self.access_of() if self.access_of is not None else None
        if access is not None:
            settings = settings.with_(access=access)
        if self.settings.database_url:
            return settings
        from retention_mcp.workspace.engine import default_database_path

        path = default_database_path()
        return settings.with_(database_url=f"sqlite:///{path}") if path.is_file() else settings

    async def run(self, target: str, arguments: dict[str, Any], ctx: Context | None = None,
                  affinity: str | None = None) -> Any:
        """Run ``target`` ("module:function", called with settings, progress and ``arguments``) in a worker."""

        async def progress(fraction: float, message: str) -> None:
            if ctx is None:
                return
            try:
                await ctx.report_progress(round(fraction * 100, 1), 100.0, message)
            except Exception:  # best effort: no progress token, or the stream is gone
                logger.debug("progress notification not sent", exc_info=True)

        value = await self.pool.run(target, arguments, self._settings_for_call(), self.limits, affinity=affinity,
                                    progress=progress)
        await progress(1.0, "done")
        return value

    async def call(self, spec: ToolSpec, arguments: dict[str, Any], ctx: Context | None) -> CallToolResult:
        output: ToolOutput = await self.run("retention_mcp.runtime.job:execute",
                                            {"tool": spec.target, "arguments": arguments}, ctx,
                                            affinity=self.affinity(arguments))
        evidence_id = None
        if spec.evidence and self.record_evidence is not None:
            evidence_id = await self.record_evidence(spec, arguments, output)
        result = to_result(output, evidence_id)
        if output.files:
            # Files reach the user wherever the server runs: each written file is a resource to download.
            from retention_mcp.workspace.files import report_link

            for name in output.files:
                try:
                    result.content.append(report_link(self.settings, name))
                except (InputError, OSError):
                    logger.warning("no resource link for %s", name)
        return result


def to_result(output: ToolOutput, evidence_id: str | None = None) -> CallToolResult:
    """Text first (what most clients show), then images; the structured content carries the same result."""
    result = output.result
    text = output.text
    if evidence_id is not None:
        if "evidence_id" in type(result).model_fields:
            result.evidence_id = evidence_id  # type: ignore[attr-defined]
        text += f"\n\nEvidence id: `{evidence_id}` (cite it beside these figures in a plan)."
    if "key_figures" in type(result).model_fields and output.figures:
        result.key_figures = output.figures  # type: ignore[attr-defined]
    content: list[Any] = [TextContent(type="text", text=text)]
    for data, mime in output.images:
        content.append(ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime))
    structured = result.model_dump(mode="json", by_alias=True)
    return CallToolResult(content=content, structured_content=structured)


def mcp_function(runtime: ToolRuntime, spec: ToolSpec) -> Callable[..., Awaitable[CallToolResult]]:
    """An async function the SDK registers: the spec's parameters (``job`` removed) plus the Context."""
    signature = inspect.signature(spec.fn, eval_str=True)
    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                  for p in signature.parameters.values() if p.name != "job"]
    names = {p.name for p in parameters}

    async def call(ctx: Context, **arguments: Any) -> CallToolResult:
        return await runtime.call(spec, {k: v for k, v in arguments.items() if k in names}, ctx)

    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    returns = Annotated[CallToolResult, spec.result]
    call.__signature__ = signature.replace(parameters=[context, *parameters], return_annotation=returns)  # type: ignore[attr-defined]
    call.__annotations__ = {"ctx": Context, **{p.name: p.annotation for p in parameters}, "return": returns}
    call.__name__ = spec.name
    call.__qualname__ = spec.name
    call.__doc__ = inspect.cleandoc(spec.fn.__doc__ or "")
    return call


def register(server: Any, runtime: ToolRuntime, specs: list[ToolSpec]) -> None:
    for spec in specs:
        server.add_tool(mcp_function(runtime, spec), name=spec.name, title=spec.title, annotations=spec.annotations)
