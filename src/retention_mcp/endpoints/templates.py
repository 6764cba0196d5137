"""The prompt library over MCP: the list/render tools, the template-source resource, the worker side of prompts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from retention_mcp.library import load_library
from retention_mcp.runtime import ToolOutput, resource, tool
from retention_mcp.runtime.job import Job
from retention_mcp.settings import Settings
from retention_mcp.templates import Library, Template, render_template


class ArgumentInfo(BaseModel):
    name: str
    description: str
    required: bool
    type: str
    default: str | None = None
    choices: list[str] = []


class TemplateInfo(BaseModel):
    name: str
    title: str
    description: str
    version: str
    tags: list[str]
    languages: list[str]
    origin: str = Field(description="'bundled' (shipped with the server) or 'team' (from the team prompts folder)")
    arguments: list[ArgumentInfo]


class BrokenTemplateInfo(BaseModel):
    file: str
    origin: str
    error: str


class TemplateList(BaseModel):
    templates: list[TemplateInfo]
    broken: list[BrokenTemplateInfo] = Field(description="template files that could not be loaded, with why")


class RenderedTemplate(BaseModel):
    name: str
    language: str
    title: str
    text: str = Field(description="the rendered prompt; use it as the instruction for the next turn")


def describe(library: Library, name: str, preferred_language: str) -> TemplateInfo:
    template = library.primary(name, preferred_language)
    return TemplateInfo(
        name=name,
        title=template.title,
        description=template.description,
        version=template.version,
        tags=list(template.tags),
        languages=sorted(library.templates[name]),
        origin=template.origin,
        arguments=[ArgumentInfo(name=a.name, description=a.description, required=a.required, type=a.type,
                                default=a.default, choices=list(a.choices)) for a in template.arguments],
    )


def list_templates_text(listing: TemplateList) -> str:
    lines = ["| template | title | languages | arguments (* required) |", "|---|---|---|---|"]
    for info in listing.templates:
        args = ", ".join(a.name + ("*" if a.required else "") for a in info.arguments)
        lines.append(f"| `{info.name}` | {info.title} | {', '.join(info.languages)} | {args} |")
    for broken in listing.broken:
        lines.append(f"\n**Not loaded** ({broken.origin}) {broken.file}: {broken.error}")
    return "\n".join(lines)


def render_prompt(*, settings: Settings, progress: Callable[[float, str], None], name: str, language: str,
                  arguments: dict[str, Any]) -> str:
    """Worker entry point for ``prompts/get``: render in a worker, so a runaway team template can be stopped."""
    return render_template(load_library(settings).get(name, language), arguments)


@tool(title="List prompt templates", result=TemplateList, evidence=False)
def list_templates(job: Job) -> ToolOutput:
    """List the prompt templates of the retention library (bundled plus the team's own).

    Use this when the client does not show MCP prompts, or to see which arguments a template
    takes before calling `render_template`. Templates that failed to load are listed under
    `broken` with the reason.
    """
    settings = job.settings
    current = load_library(settings)
    listing = TemplateList(
        templates=[describe(current, name, settings.language) for name in current.names()],
        broken=[BrokenTemplateInfo(file=b.path.name, origin=b.origin, error=b.error) for b in current.broken],
    )
    return job.output(listing, list_templates_text(listing))


@tool(title="Render a prompt template", result=RenderedTemplate, evidence=False, name="render_template")
def render_template_tool(
    job: Job,
    name: Annotated[str, Field(description="template name, e.g. 'retention_strategy' (see list_templates)")],
    arguments: Annotated[dict[str, str] | None, Field(
        description="template arguments as strings, e.g. {'turnover_rate': '17.8%', 'satisfaction_score': '62'}"
    )] = None,
    language: Annotated[Literal["en", "zh"] | None, Field(
        description="'en' or 'zh'; default: the server's default language")] = None,
) -> ToolOutput:
    """Render a retention prompt template with arguments and return the finished prompt text.

    The same templates are offered as MCP prompts; this tool is for clients that do not show
    prompts. Follow the returned text as your instructions: it tells you which analysis tools
    to call for each number. Scores are 0-100; rates accept '17.8%' or '0.178'.
    Example: name='retention_strategy', language='zh', arguments={'company_info': '...', ...}.
    """
    settings = job.settings
    template = load_library(settings).get(name, language or settings.language)
    text = render_template(template, arguments or {})
    rendered = RenderedTemplate(name=name, language=template.language, title=template.title, text=text)
    return job.output(rendered, text)


@resource("retention://templates/{name}", name="template_source", title="Prompt template source",
          description="A template's unrendered source: YAML front matter and Jinja2 body. "
                      "Name is '<template>' (default language) or '<template>.<language>'.")
def template_source(*, settings: Settings, progress: Callable[[float, str], None], name: str) -> str:
    base, _, language = name.partition(".")
    template: Template = load_library(settings).get(base, language or settings.language)
    return template.source
