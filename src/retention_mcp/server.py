"""``build_server(settings)``: the MCP server, registration only. No analysis happens here.

Two rules every call follows, whatever the tool or prompt:

- **Strict arguments**: an argument the tool or prompt does not have is refused by name, with the
  closest valid one ("unknown argument 'horizon'; did you mean 'horizon_months'?").
- **One error rule**: only :class:`~retention_mcp.errors.InputError` messages (written for the user)
  reach the client as tool errors; anything else is a bug, logged at ERROR with its traceback and
  reported to the client as an internal error with a reference to find it in the log.
"""

from __future__ import annotations

import difflib
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.prompts.base import PromptArgument
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, Completion, PromptReference, ResourceTemplateReference

from retention_mcp import __version__
from retention_mcp.errors import InputError
from retention_mcp.runtime.dispatch import ToolRuntime
from retention_mcp.runtime.pool import InternalError
from retention_mcp.settings import LANGUAGES, Settings
from retention_mcp.templates import Library, Template, TemplateError, load_library

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
Retention-strategy workbench for HR, call-center operations and leadership. Prompts (also via \
list_templates / render_template) structure a retention plan; tools put numbers under it from the \
company's own data: list_datasets, inspect_dataset and turnover_breakdown first, then retention_curve, \
driver_analysis, describe_groups, estimate_impact, build_kpis / score_kpis, calculate_roi, erlang_staffing. \
Every number you state should come from a tool; quote the definition each tool returns and cite its \
evidence id. Rates are fractions in structured output and percentages in text. Outputs are aggregates only."""

#: A completer returns values for an argument, or None when it does not know the argument.
Completer = Callable[[Any, Any, Any], Awaitable[Completion | None]]


def unknown_argument_message(given: list[str], allowed: list[str]) -> str:
    """"unknown argument 'horizon'; did you mean 'horizon_months'?" for each name not in ``allowed``."""
    parts = []
    for name in given:
        close = sorted(a for a in allowed if a.startswith(name) or (len(a) >= 3 and name.startswith(a)))
        close += [a for a in difflib.get_close_matches(name, allowed, n=2, cutoff=0.6) if a not in close]
        hint = f"; did you mean {' or '.join(repr(c) for c in close[:2])}?" if close else "."
        parts.append(f"unknown argument {name!r}{hint}")
    return " ".join(parts) + f" Valid arguments: {', '.join(sorted(allowed))}."


class RetentionServer(MCPServer):
    """An MCPServer whose tools run in worker processes and whose prompts come from the template library."""

    prompt_library: Callable[[], Library] | None = None
    prompt_default_language: str = "en"
    prompt_languages: tuple[str, ...] = ("en", "zh")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.completers: list[Completer] = []
        self.runtime: ToolRuntime | None = None
        self._template_prompt_names: set[str] = set()
        self._pending_registrations: list[Callable[[], None]] = []
        self._registration_lock = threading.Lock()
        self._warmed = False
        #: Called in the background after the handshake, beside the worker warm-up (e.g. opening the workspace).
        self.warmers: list[Callable[[], None]] = []
        self._listed: list[Any] | None = None

    # -- tools, registered on first use (building their schemas costs ~100 ms; initialize need not wait)

    def defer_registration(self, register: Callable[[], None]) -> None:
        """Run ``register`` (which adds tools, resources, completers) the first time any of them is needed."""
        self._pending_registrations.append(register)

    def ensure_registered(self) -> None:
        if not self._pending_registrations:  # (a registration under way still holds the lock)
            with self._registration_lock:
                return
        with self._registration_lock:
            while self._pending_registrations:
                self._pending_registrations[0]()
                self._pending_registrations.pop(0)
            for tool in self._tool_manager.list_tools():
                # Tell clients up front that only the listed arguments exist (call_tool enforces it).
                tool.parameters["additionalProperties"] = False

    def warm_up(self) -> None:
        """Register tools and start a worker, in the background, once the client has said hello."""
        if self._warmed:
            return
        self._warmed = True

        def work() -> None:
            try:
                self.ensure_registered()
            except Exception:
                logger.exception("registering tools failed")
            for warmer in self.warmers:
                threading.Thread(target=_quietly, args=(warmer,), name="retention-mcp-warm-up", daemon=True).start()
            if self.runtime is not None:
                self.runtime.warm()

        threading.Thread(target=work, name="retention-mcp-warm-up", daemon=True).start()

    async def list_tools(self):  # type: ignore[override]
        """The tools with compact schemas: every client pays for ``tools/list`` in its context window.

        Titles that repeat the property name go, ``X | None`` is written ``"type": [X, "null"]``, and output
        schemas keep their structure and types but not their prose or required lists (the description and the
        text block of each result explain the fields). Validation still uses the full models."""
        self.ensure_registered()
        if self._listed is None:
            self._listed = [tool.model_copy(update={
                "input_schema": compact_schema(tool.input_schema, drop=("title",)),
                "output_schema": compact_schema(tool.output_schema,
                                                drop=("title", "description", "default", "required"))
                if tool.output_schema else None}) for tool in await super().list_tools()]
        return list(self._listed)

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        self.ensure_registered()
        return super()._tool_input_schema(name)

    async def list_resources(self):  # type: ignore[override]
        self.ensure_registered()
        return await super().list_resources()

    async def list_resource_templates(self):  # type: ignore[override]
        self.ensure_registered()
        return await super().list_resource_templates()

    async def read_resource(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        self.ensure_registered()
        try:
            return await super().read_resource(*args, **kwargs)
        except MCPError:
            raise
        except Exception as exc:
            cause = exc.__cause__
            if isinstance(cause, InputError):
                raise MCPError(code=INVALID_PARAMS, message=str(cause)) from None
            raise

    # -- tool calls: strict arguments, one error rule

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None):  # type: ignore[override]
        self.ensure_registered()
        schema = super()._tool_input_schema(name)
        if schema is not None and isinstance(arguments, dict):
            allowed = list(schema.get("properties", {}))
            unknown = [key for key in arguments if key not in allowed]
            if unknown:
                raise ToolError(f"{name}: {unknown_argument_message(unknown, allowed)}")
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, InputError):
                raise ToolError(f"{name}: {cause}") from None
            reference = secrets.token_hex(4)
            if isinstance(cause, InternalError):
                logger.error("tool %s: internal error %s: %s\n%s", name, reference, cause, cause.detail)
            else:
                logger.error("tool %s: internal error %s", name, reference, exc_info=cause)
            raise ToolError(f"{name}: internal error in retention-mcp (a bug, not a problem with your input; "
                            f"reference {reference} in the server log). The server is still running.") from None

    # -- prompts from the library

    def _template_prompt(self, template: Template) -> Prompt:
        name = template.name

        async def render(**arguments: str) -> str:
            language = (arguments.pop("language", None) or self.prompt_default_language).strip()
            assert self.runtime is not None
            try:
                return await self.runtime.run("retention_mcp.endpoints.templates:render_prompt",
                                              {"name": name, "language": language, "arguments": arguments})
            except InputError as exc:
                # An MCPError passes through the SDK unchanged: the client reads what to fix.
                raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None

        from retention_mcp.templates import argument_description
        from retention_mcp.wording import words

        w = words(template.language)
        arguments = [
            PromptArgument(name=a.name, description=argument_description(a, template.language), required=a.required)
            for a in template.arguments
        ]
        arguments.append(PromptArgument(
            name="language",
            description=w("templates.language_argument", languages=" | ".join(self.prompt_languages),
                          default=self.prompt_default_language),
            required=False,
        ))
        return Prompt(name=name, title=template.title, description=template.description,
                      arguments=arguments, fn=render)

    def sync_prompts(self) -> Library | None:
        """Make the registered prompts match the library as it is on disk now."""
        if self.prompt_library is None:
            return None
        library = self.prompt_library()
        wanted = {name: library.primary(name, self.prompt_default_language) for name in library.names()}
        for stale in self._template_prompt_names - set(wanted):
            self.remove_prompt(stale)
        for name, template in wanted.items():
            if name in self._template_prompt_names:
                self.remove_prompt(name)
            self.add_prompt(self._template_prompt(template))
        self._template_prompt_names = set(wanted)
        return library

    async def list_prompts(self):  # type: ignore[override]
        self.sync_prompts()
        return await super().list_prompts()

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None):  # type: ignore[override]
        library = self.sync_prompts()
        if library is not None and name in library.templates:
            language = str((arguments or {}).get("language") or self.prompt_default_language)
            try:
                template = library.get(name, language)
            except TemplateError as exc:
                raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
            allowed = [a.name for a in template.arguments] + ["language"]
            given = dict(arguments or {})
            unknown = [key for key in given if key not in allowed]
            if unknown:
                raise MCPError(code=INVALID_PARAMS,
                               message=f"prompt {name}: {unknown_argument_message(unknown, allowed)}")
            missing = [a for a in template.arguments if a.required and not str(given.get(a.name) or "").strip()]
            if missing:
                wanted = "; ".join(f"{a.name} ({a.description or a.type}, e.g. {a.example()})" for a in missing)
                raise MCPError(code=INVALID_PARAMS,
                               message=f"prompt {name}: missing required argument(s): {wanted}")
            result = await super().get_prompt(name, arguments, context)
            if hasattr(result, "description"):
                result.description = template.description  # the language asked for, not the server's
            return result
        elif library is not None:
            close = difflib.get_close_matches(name, library.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise MCPError(code=INVALID_PARAMS, message=f"unknown prompt {name!r}{hint} Prompts: "
                                                         f"{', '.join(library.names())}")
        return await super().get_prompt(name, arguments, context)

    # -- completions

    async def complete_argument(self, ref: Any, argument: Any, context: Any) -> Completion | None:
        prefix = (argument.value or "").lower()

        def matching(values: list[str]) -> Completion:
            hits = [v for v in values if v.lower().startswith(prefix)]
            return Completion(values=hits[:100], total=len(hits), has_more=len(hits) > 100)

        if isinstance(ref, PromptReference) and self.prompt_library is not None:
            if argument.name == "language":
                return matching(list(self.prompt_languages))
            library = self.prompt_library()
            if ref.name in library.templates:
                template = library.primary(ref.name, self.prompt_default_language)
                for arg in template.arguments:
                    if arg.name == argument.name and arg.choices:
                        return matching(list(arg.choices))
        if (isinstance(ref, ResourceTemplateReference) and ref.uri == "retention://templates/{name}"
                and self.prompt_library is not None):
            library = self.prompt_library()
            names = [f"{n}.{lang}" for n in library.names() for lang in sorted(library.templates[n])]
            return matching(library.names() + names)
        self.ensure_registered()
        for completer in self.completers:
            result = await completer(ref, argument, context)
            if result is not None:
                return result
        return None


def compact_schema(schema: Any, drop: tuple[str, ...]) -> Any:
    """A JSON schema without the keys in ``drop`` (as annotations, never as property names), with two-way
    ``anyOf`` of a simple type and null written as a type list."""
    if isinstance(schema, list):
        return [compact_schema(item, drop) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            out[key] = {name: compact_schema(item, drop) for name, item in value.items()}
        elif key not in drop or (isinstance(value, dict) and key not in ("default",)):
            out[key] = compact_schema(value, drop)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(option for option in options if option != {"type": "null"})
        if isinstance(other.get("type"), str) and "anyOf" not in other and "$ref" not in other:
            del out["anyOf"]
            out.update({**other, "type": [other["type"], "null"]})
            if "enum" in other:
                out["enum"] = [*other["enum"], None]
    return out


def _quietly(warmer: Callable[[], None]) -> None:
    try:
        warmer()
    except Exception:  # warming is an optimisation; the first request does the work and reports any error
        logger.debug("warm-up step failed", exc_info=True)


class _WarmUpAfterHello:
    """Server middleware: warm the server up in the background once the handshake is over — on the message
    after ``initialize`` (its ``notifications/initialized``, or the first request of a client that skips the
    handshake), so the initialize answer never waits for the warm-up thread."""

    def __init__(self, server: RetentionServer) -> None:
        self.server = server

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        try:
            return await call_next(ctx)
        finally:
            if getattr(ctx, "method", None) != "initialize":
                self.server.warm_up()


def build_server(settings: Settings | None = None) -> RetentionServer:
    """Create the server with every prompt, tool and resource. Cheap: nothing heavy is imported.

    Tools are registered on first use (the first ``tools/list`` or ``tools/call``), or in the background
    right after the client's first message.
    """
    settings = settings or Settings.from_env()
    server = RetentionServer(
        "retention-mcp",
        title="Retention MCP",
        description="Employee-retention strategy: prompt templates and HR analytics tools",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,  # type: ignore[arg-type]
    )
    server.prompt_library = partial(load_library, settings)
    server.prompt_default_language = settings.language
    server.prompt_languages = LANGUAGES
    server.runtime = ToolRuntime(settings)
    server.middleware.append(_WarmUpAfterHello(server))

    def register_tools() -> None:
        import importlib

        from retention_mcp.endpoints import MODULES
        from retention_mcp.runtime import dispatch, tools_in

        assert server.runtime is not None
        for name in MODULES:
            module = importlib.import_module(f"retention_mcp.endpoints.{name}")
            dispatch.register(server, server.runtime, tools_in(module))
            if hasattr(module, "register"):
                module.register(server, settings)

    server.defer_registration(register_tools)

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        return await server.complete_argument(ref, argument, context)

    # Prompts are read from the library on the first prompts/list or prompts/get, not here: parsing
    # templates needs yaml and jinja2, which would cost every cold start.
    return server
