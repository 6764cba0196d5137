"""Declaring what runs in a worker: the :func:`tool` and :func:`resource` decorators, and what a tool returns
(:class:`ToolOutput`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

# mcp_types, not mcp.types: worker processes import this module and need the wire types, not the SDK's
# client and server stacks (the SDK's own advice; `import mcp` costs them ~0.7 s more to start).
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

#: Analyses read files and compute; they change nothing.
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
#: Tools that write a new file into the output folder.
WRITES_OUTPUT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                open_world_hint=False)


class Evidenced(BaseModel):
    """Fields every data and calculator result carries, filled by the runtime after the call."""

    evidence_id: str | None = Field(None, description="id of this result in the workspace: cite it beside "
                                    "the figures in a plan (plan_write_section checks it)")
    key_figures: dict[str, float | int | str | None] | None = Field(
        None, description="the headline figures of this result by name, as recorded with the evidence id")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    fn: Callable[..., ToolOutput]
    result: type[BaseModel]
    annotations: ToolAnnotations
    evidence: bool  # record an evidence id for the result (data and calculator tools)
    meta: dict[str, Any] | None = None  # the tool's _meta in tools/list (e.g. an MCP Apps view)

    @property
    def target(self) -> str:
        return f"{self.fn.__module__}:{self.fn.__name__}"


@dataclass
class ToolOutput:
    """What a tool function returns: the structured result, the text a person reads, and for evidence the
    key figures, the definition and the data sources used."""

    result: BaseModel
    text: str
    figures: dict[str, float | int | str | None] = field(default_factory=dict)
    definition: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    images: list[tuple[bytes, str]] = field(default_factory=list)  # (png bytes, mime type)
    files: list[str] = field(default_factory=list)  # names of files written into the output folder
    language: str = "en"  # the language of the texts, for what the runtime adds (the evidence id line)
    evidence_id: str | None = None  # recorded in the worker, committed before the result leaves it
    #: the period the result was computed for, resolved (see retention_mcp.workspace.periods); None: the runtime
    #: works it out from the files read (their latest date) or from the results it was computed from
    period: dict[str, Any] | None = None
    units: dict[str, str] = field(default_factory=dict)  # figure -> unit (fraction, count, money, ratio ...)
    #: chart specs {"kind", "data", "context"}: what plan_export draws where the result is cited; images[i], when
    #: drawn (chart=true), is charts[i] and is written to the output folder beside the evidence
    charts: list[dict[str, Any]] = field(default_factory=list)
    parents: list[tuple[str, str]] = field(default_factory=list)  # (evidence id, argument) it was computed from
    #: what only an MCP Apps view draws (e.g. whole retention curves): sent in the result's ``_meta`` to clients
    #: that render views, never in the text or the structured content
    view: dict[str, Any] | None = None


def tool(*, title: str, result: type[BaseModel], annotations: ToolAnnotations = READ_ONLY,
         evidence: bool = True, name: str | None = None, meta: dict[str, Any] | None = None
         ) -> Callable[[Callable[..., ToolOutput]], Callable[..., ToolOutput]]:
    """Mark ``fn(job, **arguments) -> ToolOutput`` as a tool. The function itself is returned unchanged, so it
    stays a plain function a test or a notebook can call with a Job."""

    def decorate(fn: Callable[..., ToolOutput]) -> Callable[..., ToolOutput]:
        fn.__tool_spec__ = ToolSpec(name=name or fn.__name__, title=title, fn=fn, result=result,  # type: ignore[attr-defined]
                                    annotations=annotations, evidence=evidence, meta=meta)
        return fn

    return decorate


@dataclass(frozen=True)
class ResourceSpec:
    """A resource read in a worker: ``fn(*, settings, progress, **uri_parameters) -> str | bytes``."""

    uri: str
    name: str
    title: str
    description: str
    mime_type: str
    fn: Callable[..., str | bytes]

    @property
    def target(self) -> str:
        return f"{self.fn.__module__}:{self.fn.__name__}"


def resource(uri: str, *, title: str, description: str, mime_type: str = "text/markdown",
             name: str | None = None) -> Callable[[Callable[..., str | bytes]], Callable[..., str | bytes]]:
    """Mark ``fn(*, settings, progress, **uri_parameters)`` as the reader of ``uri`` (an RFC 6570 template or a
    fixed URI). The read runs in a worker like a tool call; an InputError becomes an invalid-params error."""

    def decorate(fn: Callable[..., str | bytes]) -> Callable[..., str | bytes]:
        fn.__resource_spec__ = ResourceSpec(uri=uri, name=name or fn.__name__, title=title,  # type: ignore[attr-defined]
                                            description=description, mime_type=mime_type, fn=fn)
        return fn

    return decorate


def _declared(module: ModuleType, attribute: str) -> list[Any]:
    return [getattr(value, attribute) for value in vars(module).values()
            if callable(value) and getattr(value, "__module__", None) == module.__name__
            and hasattr(value, attribute)]


def tools_in(module: ModuleType) -> list[ToolSpec]:
    """The tools a module declares, in source order."""
    return _declared(module, "__tool_spec__")


def resources_in(module: ModuleType) -> list[ResourceSpec]:
    """The resources a module declares, in source order."""
    return _declared(module, "__resource_spec__")
