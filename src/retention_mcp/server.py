"""``build_server(settings)``: the MCP server, wired on the SDK's public API. No analysis happens here.

How a request runs, in one paragraph. :func:`build_server` makes a plain ``MCPServer`` and a :class:`Wiring`
that registers on it, through ``add_tool`` / ``add_prompt`` / ``resource`` / ``completion``, one small async
function per tool, resource and prompt. Each of those functions only forwards its arguments to the
:class:`~retention_mcp.runtime.dispatch.ToolRuntime`, which runs the work in a worker process of the shared
pool, with the same time and memory bound for every kind of request (a tool call, a workspace write, a
template save, a prompt rendering, a resource read, a completion from the data) and kills the worker when
the request is cancelled or its client goes away. Two hooks sit around the SDK's handlers: a server
middleware (registers the tools on first need, keeps the prompts in step with the template library, makes
``tools/list`` portable and answers it from its cache while registration runs, gives report files their mime
type, starts the workers after the handshake) and a ``tools/call`` interceptor (refuses unknown arguments with
the closest valid name, before the SDK validates the rest).

Two rules every call follows, whatever the tool or prompt:

- **Strict arguments**: an argument the tool or prompt does not have is refused by name, with the
  closest valid one ("unknown argument 'group_by'; did you mean 'by'?"; common synonyms are data in
  ``tools/arguments.yaml``).
- **One error rule**: only :class:`~retention_mcp.errors.InputError` messages (written for the user)
  reach the client as tool errors; anything else is a bug, logged at ERROR with its traceback and
  reported to the client as an internal error with a reference to find it in the log. Log lines carry
  at most 300 characters of anything the caller sent, and say how much was cut.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from mcp.server import MCPServer
from mcp.server.extension import Extension
from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.prompts.base import PromptArgument
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    Completion,
    PromptReference,
    ResourceTemplateReference,
    ToolAnnotations,
)

from retention_mcp import __version__
from retention_mcp.errors import InputError, capped
from retention_mcp.runtime.dispatch import ToolRuntime, error_result, guarded_call, resource_function, tool_function
from retention_mcp.runtime.spec import ResourceSpec, ToolSpec
from retention_mcp.settings import LANGUAGES, Settings
from retention_mcp.views import apps_extension

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
#: Requests that need the tools, resources and completers registered first.
NEEDS_REGISTRATION = frozenset({"tools/list", "tools/call", "resources/list", "resources/templates/list",
                                "resources/read", "completion/complete"})
RENDER_PROMPT = "retention_mcp.endpoints.templates:render_prompt"


def unknown_argument_message(given: list[str], allowed: list[str], synonyms: Mapping[str, str] | None = None) -> str:
    """"unknown argument 'horizon'; did you mean 'horizon_months'?" for each name not in ``allowed``.

    A close spelling (a prefix, or difflib's ratio ≥ 0.6) or a known synonym (``group_by`` → ``by``, from
    ``tools/arguments.yaml``) is offered when it is one of ``allowed``."""
    parts = []
    for name in given:
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        close = [synonym for synonym in [(synonyms or {}).get(key)] if synonym in allowed]
        close += sorted(a for a in allowed if a not in close and (a.startswith(name) or (len(a) >= 3 and
                                                                                       name.startswith(a))))
        close += [a for a in difflib.get_close_matches(key, allowed, n=2, cutoff=0.6) if a not in close]
        hint = f"; did you mean {' or '.join(repr(c) for c in close[:2])}?" if close else "."
        parts.append(f"unknown argument {capped(name, 80)!r}{hint}")
    return " ".join(parts) + f" Valid arguments: {', '.join(sorted(allowed))}."


def argument_synonyms(settings: Settings) -> dict[str, str]:
    """``{"group_by": "by", ...}``: names people and models use for an argument, from ``tools/arguments.yaml``."""
    from retention_mcp.catalog import load_catalog

    try:
        table = load_catalog(settings, "arguments.yaml").get("synonyms") or {}
    except (OSError, ValueError):
        logger.warning("argument synonyms not loaded", exc_info=True)
        return {}
    return {str(k).lower(): str(v) for k, v in table.items()}


class Wiring:
    """What retention-mcp adds to an ``MCPServer``: the runtime, registration of tools, resources, prompts and
    completers (the one place each registration is built), and the hooks around the SDK's handlers."""

    def __init__(self, settings: Settings, **server_options: Any) -> None:
        from retention_mcp.library import load_library

        self.settings = settings
        self.runtime = ToolRuntime(settings)
        self.prompt_library = partial(load_library, settings)
        self.completers: list[Completer] = []
        #: Called in the background after the handshake, beside the worker warm-up (e.g. opening the workspace).
        self.warmers: list[Callable[[], None]] = []
        #: Every registered tool's argument names (the strict-arguments check reads them).
        self.tool_arguments: dict[str, list[str]] = {}
        self.synonyms: dict[str, str] | None = None
        self._pending: list[Callable[[Wiring], None]] = []
        self._registration_lock = threading.Lock()
        self._warmed = False
        self._prompts: dict[str, Any] = {}  # name -> the Template registered as that prompt
        self._listed: dict[str, dict[str, Any]] = {}  # tool name -> its tools/list entry as listed
        self.server = MCPServer(
            "retention-mcp", title="Retention MCP",
            description="Employee-retention strategy: prompt templates and HR analytics tools",
            version=__version__, instructions=INSTRUCTIONS, log_level=settings.log_level,  # type: ignore[arg-type]
            extensions=[StrictArguments(self), apps_extension(settings)], middleware=[RequestHooks(self)],
            **server_options)

        @self.server.completion()
        async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
            return await self.complete_argument(ref, argument, context)

    # -- registration (tools are registered on first use: their schemas cost ~100 ms that initialize need not wait)

    def defer(self, register: Callable[[Wiring], None]) -> None:
        """Run ``register(self)`` the first time any tool, resource or completer is needed."""
        self._pending.append(register)

    @property
    def registered(self) -> bool:
        return not self._pending

    def ensure_registered(self) -> None:
        if not self._pending:
            return
        with self._registration_lock:
            while self._pending:
                self._pending[0](self)
                self._pending.pop(0)

    def add_tool(self, spec: ToolSpec) -> None:
        """Register a worker tool: every tool's registration is built here (title, annotations, schema)."""
        self._register(tool_function(self.runtime, spec), spec.name, spec.title, spec.annotations, spec.meta)

    def add_function(self, fn: Callable[..., Awaitable[CallToolResult]], *, name: str, title: str,
                     annotations: ToolAnnotations) -> None:
        """Register an async tool function of the server process (a tool made of other bounded calls, e.g.
        plan_refresh); the error rule applies to it as to every tool."""
        self._register(_guarded(fn, name, self.runtime), name, title, annotations)

    def _register(self, fn: Callable[..., Awaitable[CallToolResult]], name: str, title: str,
                  annotations: ToolAnnotations, meta: dict[str, Any] | None = None) -> None:
        self.tool_arguments[name] = [p for p in inspect.signature(fn).parameters if p != "ctx"]
        self.server.add_tool(fn, name=name, title=title, annotations=annotations, meta=meta)
        self._listed.clear()

    def add_resource(self, spec: ResourceSpec) -> None:
        """Register a resource read in a worker."""
        self.server.resource(spec.uri, name=spec.name, title=spec.title, description=spec.description,
                             mime_type=spec.mime_type)(resource_function(self.runtime, spec))

    def register_module(self, module_name: str) -> None:
        """The tools and resources an ``endpoints`` module declares, and its own ``register(wiring)`` hook."""
        from retention_mcp.runtime.spec import resources_in, tools_in

        module = importlib.import_module(f"retention_mcp.endpoints.{module_name}")
        for spec in tools_in(module):
            self.add_tool(spec)
        for resource in resources_in(module):
            self.add_resource(resource)
        if hasattr(module, "register"):
            module.register(self)

    # -- warm-up after the handshake

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
            self.runtime.warm()

        threading.Thread(target=work, name="retention-mcp-warm-up", daemon=True).start()

    # -- tools/list: portable schemas, cached with the package

    def listed_tools(self, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The tools as listed: schemas every client accepts (:mod:`retention_mcp.schemas`), kept for the next
        cold start (:mod:`retention_mcp.tool_cache`). Validation still uses the full models."""
        from retention_mcp import tool_cache
        from retention_mcp.schemas import listed_tool

        fresh = [name for name in (t.get("name", "") for t in tools) if name not in self._listed]
        for tool in tools:
            name = tool.get("name", "")
            if name not in self._listed:
                self._listed[name] = listed_tool(tool)
        out = [self._listed[t.get("name", "")] for t in tools]
        if fresh:
            tool_cache.save(out)
        return self.budgeted(out)

    def cached_tools(self) -> list[dict[str, Any]] | None:
        """The listed tools from the cache when it holds exactly this code's, so a ``tools/list`` that arrives
        before registration is over need not wait for it."""
        from retention_mcp import tool_cache

        cached = tool_cache.load()
        return self.budgeted(cached) if cached is not None else None

    def budgeted(self, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Without output schemas when the operator asked for a small list (``--no-output-schemas``)."""
        if self.settings.list_output_schemas:
            return tools
        return [{k: v for k, v in tool.items() if k != "outputSchema"} for tool in tools]

    def tools_for_caller(self, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Only the tools the caller's role may call (a viewer is not offered data tools it would be refused)."""
        from retention_mcp.identity import current_caller

        caller = current_caller()
        return [tool for tool in tools if self.runtime.allowed(caller, str(tool.get("name", "")))]

    # -- prompts from the library

    def sync_prompts(self, library: Any) -> None:
        """Make the registered prompts match ``library`` (read just now). Runs on the event loop, so no request
        sees a prompt half replaced; only templates that changed are registered again."""
        default = self.settings.language
        wanted = {name: library.primary(name, default) for name in library.names()}
        for stale in set(self._prompts) - set(wanted):
            self.server.remove_prompt(stale)
            del self._prompts[stale]
        for name, template in wanted.items():
            if self._prompts.get(name) is template:
                continue
            if name in self._prompts:
                self.server.remove_prompt(name)
            self.server.add_prompt(self._template_prompt(template))
            self._prompts[name] = template

    def _template_prompt(self, template: Any) -> Prompt:
        name = template.name

        async def render(**arguments: str) -> str:
            language = (arguments.pop("language", None) or self.settings.language).strip()
            try:
                return await self.runtime.run(RENDER_PROMPT, {"name": name, "language": language,
                                                              "arguments": arguments})
            except InputError as exc:
                # An MCPError passes through the SDK unchanged: the client reads what to fix.
                raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None

        from retention_mcp.templates import argument_description
        from retention_mcp.wording import words

        # in the template's own language: prompts/list lists each template in the server's language
        arguments = [PromptArgument(name=a.name, description=argument_description(a, template.language),
                                    required=a.required) for a in template.arguments]
        arguments.append(PromptArgument(
            name="language", required=False,
            description=words(template.language)("templates.language_argument", languages=" | ".join(LANGUAGES),
                                                 default=self.settings.language)))
        return Prompt(name=name, title=template.title, description=template.description, arguments=arguments,
                      fn=render)

    def check_prompt_request(self, library: Any, name: str, arguments: Mapping[str, Any] | None) -> Any:
        """Refuse (invalid params, saying what to send) an unknown prompt, an unknown argument or a missing one;
        the template of the language asked for, when all is well."""
        from retention_mcp.templates import TemplateError

        if name not in library.templates:
            close = difflib.get_close_matches(name, library.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise MCPError(code=INVALID_PARAMS, message=f"unknown prompt {capped(name, 80)!r}{hint} Prompts: "
                                                         f"{', '.join(library.names())}")
        given = dict(arguments or {})
        try:
            template = library.get(name, str(given.get("language") or self.settings.language))
        except TemplateError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        allowed = [a.name for a in template.arguments] + ["language"]
        unknown = [key for key in given if key not in allowed]
        if unknown:
            raise MCPError(code=INVALID_PARAMS, message=f"prompt {name}: {unknown_argument_message(unknown, allowed)}")
        missing = [a for a in template.arguments if a.required and not str(given.get(a.name) or "").strip()]
        if missing:
            wanted = "; ".join(f"{a.name} ({a.description or a.type}, e.g. {a.example()})" for a in missing)
            raise MCPError(code=INVALID_PARAMS, message=f"prompt {name}: missing required argument(s): {wanted}")
        return template

    # -- completions

    async def complete_argument(self, ref: Any, argument: Any, context: Any) -> Completion | None:
        import anyio

        prefix = (argument.value or "").lower()

        def matching(values: list[str]) -> Completion:
            hits = [v for v in values if v.lower().startswith(prefix)]
            return Completion(values=hits[:100], total=len(hits), has_more=len(hits) > 100)

        if isinstance(ref, PromptReference):
            if argument.name == "language":
                return matching(list(LANGUAGES))
            library = await anyio.to_thread.run_sync(self.prompt_library)
            if ref.name in library.templates:
                template = library.primary(ref.name, self.settings.language)
                for arg in template.arguments:
                    if arg.name == argument.name and arg.choices:
                        return matching(list(arg.choices))
        if isinstance(ref, ResourceTemplateReference) and ref.uri == "retention://templates/{name}":
            library = await anyio.to_thread.run_sync(self.prompt_library)
            names = [f"{n}.{lang}" for n in library.names() for lang in sorted(library.templates[n])]
            return matching(library.names() + names)
        for completer in self.completers:
            result = await completer(ref, argument, context)
            if result is not None:
                return result
        return None

    def refusal(self, name: str, arguments: Any) -> CallToolResult | None:
        """The tool error for arguments the tool does not have, or None when every argument is known."""
        allowed = self.tool_arguments.get(name)
        if allowed is None or not isinstance(arguments, Mapping):
            return None
        unknown = [str(key) for key in arguments if key not in allowed]
        if not unknown:
            return None
        if self.synonyms is None:
            self.synonyms = argument_synonyms(self.settings)
        message = f"{name}: {unknown_argument_message(unknown, allowed, self.synonyms)}"
        logger.info("tool %s: unknown argument(s) %s", name, capped(", ".join(unknown), 200))
        return error_result(message)


class StrictArguments(Extension):
    """The ``tools/call`` interceptor (the SDK's public seam for refusing a call before the tool runs): an
    argument the tool does not have is refused by name with the closest valid one — before the SDK validates the
    others, so a misspelt required argument gets the hint rather than "field required"."""

    identifier = "io.github.retention-mcp/strict-arguments"

    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring

    def settings(self) -> dict[str, Any]:
        return {"unknownArguments": "refused with the closest valid name"}

    async def intercept_tool_call(self, params: Any, ctx: Any, call_next: Any) -> Any:
        refusal = self.wiring.refusal(params.name, params.arguments or {})
        return refusal if refusal is not None else await call_next(ctx)


class RequestHooks:
    """Server middleware around the SDK's handlers (the SDK's public middleware chain)."""

    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        import anyio

        wiring = self.wiring
        method = getattr(ctx, "method", None)
        try:
            if method == "tools/list" and not wiring.registered and not (ctx.params or {}).get("cursor"):
                cached = wiring.cached_tools()
                if cached is not None:
                    # The SDK's answer gives the envelope (cache hints, result type) for this client's protocol
                    # era; its tools are whatever is registered so far, replaced by the cached list.
                    result = await call_next(ctx)
                    if isinstance(result, dict) and isinstance(result.get("tools"), list):
                        return {**result, "tools": wiring.tools_for_caller(cached)}
                    return result
            if method in NEEDS_REGISTRATION and not wiring.registered:
                await anyio.to_thread.run_sync(wiring.ensure_registered)
            template = None
            if method in ("prompts/list", "prompts/get"):
                library = await anyio.to_thread.run_sync(wiring.prompt_library)
                wiring.sync_prompts(library)
                if method == "prompts/get":
                    params = ctx.params or {}
                    template = wiring.check_prompt_request(library, str(params.get("name", "")),
                                                           params.get("arguments"))
            result = await call_next(ctx)
            if template is not None and isinstance(result, dict):
                result = {**result, "description": template.description}  # the language asked for
            if method == "tools/list" and isinstance(result, dict) and isinstance(result.get("tools"), list):
                result = {**result, "tools": wiring.tools_for_caller(wiring.listed_tools(result["tools"]))}
            elif method == "resources/read" and isinstance(result, dict):
                result = _report_mime_types(result)
            return result
        finally:
            if method is not None and method != "initialize":
                # Warm up once the handshake is over: on the message after initialize (its
                # notifications/initialized, or the first request of a client that skips the handshake).
                wiring.warm_up()


def _report_mime_types(result: dict[str, Any]) -> dict[str, Any]:
    """A report file's contents carry the file's own mime type (one URI template serves every type)."""
    from retention_mcp.workspace.files import URI_PREFIX, mime_type

    contents = result.get("contents")
    if not isinstance(contents, list):
        return result
    fixed = []
    for item in contents:
        uri = str(item.get("uri", "")) if isinstance(item, dict) else ""
        if uri.startswith(URI_PREFIX):
            from urllib.parse import unquote

            item = {**item, "mimeType": mime_type(unquote(uri[len(URI_PREFIX):]))}
        fixed.append(item)
    return {**result, "contents": fixed}


def _guarded(fn: Callable[..., Awaitable[CallToolResult]], name: str,
             runtime: ToolRuntime) -> Callable[..., Awaitable[CallToolResult]]:
    async def call(**arguments: Any) -> CallToolResult:
        async def checked() -> CallToolResult:
            from retention_mcp.identity import current_caller

            runtime.check_allowed(current_caller(), name)  # the role check every worker tool gets in runtime.call
            return await fn(**arguments)

        return await guarded_call(name, checked)

    signature = inspect.signature(fn, eval_str=True)  # annotations resolved: they may be strings in fn's module
    call.__signature__ = signature  # type: ignore[attr-defined]
    call.__annotations__ = {**{p.name: p.annotation for p in signature.parameters.values()},
                            "return": signature.return_annotation}
    call.__name__ = call.__qualname__ = name
    call.__doc__ = fn.__doc__
    return call


def _quietly(warmer: Callable[[], None]) -> None:
    try:
        warmer()
    except Exception:  # warming is an optimisation; the first request does the work and reports any error
        logger.debug("warm-up step failed", exc_info=True)


def build_wiring(settings: Settings | None = None, **server_options: Any) -> Wiring:
    """The server and its wiring. Cheap: nothing heavy is imported; tools are registered on first use (the first
    ``tools/list`` or ``tools/call``), or in the background right after the client's first message.

    ``server_options`` go to ``MCPServer`` (the HTTP app passes ``token_verifier`` and ``auth``)."""
    from retention_mcp.endpoints import MODULES

    wiring = Wiring(settings or Settings.from_env(), **server_options)

    def register_endpoints(w: Wiring) -> None:
        for name in MODULES:
            w.register_module(name)

    wiring.defer(register_endpoints)
    # Prompts are read from the library on the first prompts/list or prompts/get, not here: parsing
    # templates needs yaml and jinja2, which would cost every cold start.
    return wiring


def build_server(settings: Settings | None = None, **server_options: Any) -> MCPServer:
    """Create the server with every prompt, tool and resource (see :func:`build_wiring`)."""
    return build_wiring(settings, **server_options).server
