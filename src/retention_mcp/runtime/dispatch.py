"""The MCP side of the runtime: one bounded path from a request to a worker process and back.

:class:`ToolRuntime` sends work to the shared worker pool with this server's time and memory bounds. Tools,
resource reads, prompt renderings and completions all go through :meth:`ToolRuntime.run`; what differs is only
how the answer is shaped for MCP (:func:`tool_function`, :func:`resource_function`). The caller's identity is
read here, in the server process, where the bearer token's context lives, and handed to the worker.

Nothing heavy is imported here; pandas and friends live in the workers.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import logging
import os
import secrets
import traceback
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, ImageContent, TextContent

from retention_mcp.errors import InputError, capped
from retention_mcp.identity import Caller, current_caller
from retention_mcp.runtime.pool import InternalError, Limits, shared_pool
from retention_mcp.runtime.spec import ResourceSpec, ToolOutput, ToolSpec
from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)

#: The worker function that runs one tool call (see :func:`retention_mcp.runtime.job.execute`).
EXECUTE = "retention_mcp.runtime.job:execute"


class ToolRuntime:
    """Runs work in the shared worker pool with this server's limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Workers get what they need to read files and apply the policy, not the HTTP token.
        self.worker_settings = settings.with_(token=None)
        self.limits = Limits(timeout_s=settings.call_timeout_s, memory_mb=settings.call_memory_mb)
        self.pool = shared_pool(settings.tool_workers)

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
        """The workers use the workspace this process would (a tool may take an evidence id as input, and every
        data result's evidence is written there), whatever environment the shared fork server was started with:
        once the default database exists, its path travels with the call. Before that nothing is passed, so only a
        call that records evidence creates it (at the per-user default, the same file for the same user), and
        listing templates creates nothing. The caller's access rides along (:meth:`run`)."""
        settings = self.worker_settings
        if self.settings.database_url:
            return settings
        from retention_mcp.workspace.engine import default_database_path

        path = default_database_path()
        return settings.with_(database_url=f"sqlite:///{path}") if path.is_file() else settings

    async def run(self, target: str, arguments: dict[str, Any], ctx: Context | None = None,
                  affinity: str | None = None, caller: Caller | None = None) -> Any:
        """Run ``target`` ("module:function", called with settings, progress and ``arguments``) in a worker.

        The worker's settings carry the caller's access (``Settings.access``: their rows, hidden columns and
        mode), read here from the verified token — never from the arguments — so every file the work reads
        through the intake is cut to what this caller may see."""
        caller = caller or current_caller()

        async def progress(fraction: float, message: str) -> None:
            if ctx is None:
                return
            try:
                await ctx.report_progress(round(fraction * 100, 1), 100.0, message)
            except Exception:  # best effort: no progress token, or the stream is gone
                logger.debug("progress notification not sent", exc_info=True)

        settings = self._settings_for_call().with_(access=caller.access)
        value = await self.pool.run(target, arguments, settings, self.limits, affinity=affinity,
                                    progress=progress)
        await progress(1.0, "done")
        return value

    async def call(self, spec: ToolSpec, arguments: dict[str, Any], ctx: Context | None = None,
                   caller: Caller | None = None) -> CallToolResult:
        """One tool call in a worker, as an MCP result (its evidence recorded there, files linked). A tool the
        caller's role may not call is refused here, before any work starts."""
        caller = caller or current_caller()
        self.check_allowed(caller, spec.name)
        output: ToolOutput = await self.run(EXECUTE, {
            "tool": spec.target, "tool_name": spec.name, "arguments": arguments, "caller": caller,
            "evidence": spec.name if spec.evidence else None}, ctx, affinity=self.affinity(arguments), caller=caller)
        result = to_result(output, output.evidence_id)
        if output.view and ctx is not None and _renders_views(ctx):
            from retention_mcp.views import VIEW_META_KEY

            result.meta = {**(result.meta or {}), VIEW_META_KEY: output.view}
        if output.files:
            # Files reach the user wherever the server runs: each written file is a resource to download.
            from retention_mcp.workspace.files import report_link

            for name in output.files:
                try:
                    result.content.append(report_link(self.settings, name))
                except (InputError, OSError):
                    logger.warning("no resource link for %s", capped(name, 200))
        return result

    def check_allowed(self, caller: Caller, tool: str) -> None:
        """InputError when ``caller``'s role may not call ``tool`` (the sentence says what they can do)."""
        from retention_mcp.permissions import refusal

        if (why := refusal(caller, tool, self.settings)) is not None:
            raise InputError(why)

    def allowed(self, caller: Caller, tool: str) -> bool:
        from retention_mcp.permissions import may_call

        return may_call(caller, tool, self.settings)


def _renders_views(ctx: Context) -> bool:
    """Whether the client negotiated MCP Apps (so view-only data is worth sending)."""
    from mcp.server.apps import client_supports_apps

    try:
        return client_supports_apps(ctx)
    except Exception:  # no session (a direct call): no client to render anything
        return False


def to_result(output: ToolOutput, evidence_id: str | None = None) -> CallToolResult:
    """Text first (what most clients show), then images; the structured content carries the same result."""
    result = output.result
    text = output.text
    if evidence_id is not None:
        if "evidence_id" in type(result).model_fields:
            result.evidence_id = evidence_id  # type: ignore[attr-defined]
        from retention_mcp.wording import words

        text += "\n\n" + words(output.language)("runtime.evidence_id", evidence_id=evidence_id)
    if "key_figures" in type(result).model_fields and output.figures:
        result.key_figures = output.figures  # type: ignore[attr-defined]
    content: list[Any] = [TextContent(type="text", text=text)]
    for data, mime in output.images:
        content.append(ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime))
    structured = result.model_dump(mode="json", by_alias=True)
    return CallToolResult(content=content, structured_content=structured)


# -- the one error rule -------------------------------------------------------------------------------------

def error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def report_bug(where: str, exc: BaseException) -> str:
    """Log a bug at ERROR with its traceback (the exception's own text capped: it may quote the caller) and
    return the reference the client is given to find it."""
    reference = secrets.token_hex(4)
    if isinstance(exc, InternalError):
        logger.error("%s: internal error %s: %s\n%s", where, reference, exc, exc.detail)
    else:
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.error("%s: internal error %s\n%s%s: %s", where, reference, frames, type(exc).__name__,
                     capped(str(exc)))
    return reference


async def guarded_call(name: str, call: Callable[[], Awaitable[CallToolResult]]) -> CallToolResult:
    """``call()``, with the error rule: an :class:`InputError` is a tool error with its message (what to fix);
    anything else is a bug, logged with a reference, and the client is told it is not its fault.

    Errors are returned as results rather than raised, so the SDK never logs a message that quotes the caller
    (plan prose, template text); our own log line is capped."""
    try:
        return await call()
    except InputError as exc:
        logger.info("tool %s: %s", name, capped(str(exc)))
        return error_result(f"{name}: {exc}")
    except MCPError:
        raise
    except Exception as exc:
        reference = report_bug(f"tool {name}", exc)
        return error_result(f"{name}: internal error in retention-mcp (a bug, not a problem with your input; "
                            f"reference {reference} in the server log). The server is still running.")


def tool_function(runtime: ToolRuntime, spec: ToolSpec) -> Callable[..., Awaitable[CallToolResult]]:
    """The async function the SDK registers for ``spec``: the spec's parameters (``job`` removed) plus the
    Context; its body sends the call to a worker."""
    parameters = [p for p in _parameters(spec.fn) if p.name != "job"]
    names = {p.name for p in parameters}

    async def call(ctx: Context, **arguments: Any) -> CallToolResult:
        given = {k: v for k, v in arguments.items() if k in names}
        return await guarded_call(spec.name, lambda: runtime.call(spec, given, ctx))

    return _with_signature(call, spec.name, spec.fn.__doc__, parameters, Annotated[CallToolResult, spec.result])


def resource_function(runtime: ToolRuntime, spec: ResourceSpec) -> Callable[..., Awaitable[str | bytes]]:
    """The async function the SDK registers for a resource: reads it in a worker; bad input is an
    invalid-params error saying what to fix, anything else a bug with a reference."""
    parameters = [p for p in _parameters(spec.fn) if p.name not in ("settings", "progress")]

    takes_caller = "caller" in inspect.signature(spec.fn).parameters
    parameters = [p for p in parameters if p.name != "caller"]

    async def read(**params: Any) -> str | bytes:
        caller = current_caller()
        try:
            return await runtime.run(spec.target, {**params, "caller": caller} if takes_caller else params,
                                     caller=caller)
        except InputError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        except MCPError:
            raise
        except Exception as exc:
            reference = report_bug(f"resource {spec.uri}", exc)
            raise MCPError(code=INVALID_PARAMS, message=f"internal error in retention-mcp reading {spec.uri} "
                                                        f"(reference {reference} in the server log)") from None

    return _with_signature(read, spec.name, spec.description, parameters, str | bytes)


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    return [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(fn, eval_str=True).parameters.values()]


def _with_signature(fn: Any, name: str, doc: str | None, parameters: list[inspect.Parameter], returns: Any) -> Any:
    context = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)] \
        if "ctx" in inspect.signature(fn).parameters else []
    fn.__signature__ = inspect.Signature([*context, *parameters], return_annotation=returns)
    fn.__annotations__ = {**({"ctx": Context} if context else {}), **{p.name: p.annotation for p in parameters},
                          "return": returns}
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = inspect.cleandoc(doc or "")
    return fn
