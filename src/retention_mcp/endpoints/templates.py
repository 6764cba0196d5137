"""The prompt library over MCP: prompts, the list/render tools, the template-source resource."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from retention_mcp.endpoints._common import READ_ONLY, tool_result
from retention_mcp.settings import Settings
from retention_mcp.templates import Library, Template, TemplateError, load_library, render_template

if TYPE_CHECKING:
    from retention_mcp.server import RetentionServer


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


def register(server: RetentionServer, settings: Settings) -> None:
    def library() -> Library:
        return load_library(settings)

    def list_templates() -> Annotated[CallToolResult, TemplateList]:
        """List the prompt templates of the retention library (bundled plus the team's own).

        Use this when the client does not show MCP prompts, or to see which arguments a template
        takes before calling `render_template`. Templates that failed to load are listed under
        `broken` with the reason.
        """
        current = library()
        listing = TemplateList(
            templates=[describe(current, name, settings.language) for name in current.names()],
            broken=[BrokenTemplateInfo(file=b.path.name, origin=b.origin, error=b.error) for b in current.broken],
        )
        return tool_result(listing, list_templates_text(listing))

    def render_template_tool(
        name: Annotated[str, Field(description="template name, e.g. 'retention_strategy' (see list_templates)")],
        arguments: Annotated[dict[str, str], Field(
            description="template arguments as strings, e.g. {'turnover_rate': '17.8%', 'satisfaction_score': '62'}"
        )] | None = None,
        language: Annotated[Literal["en", "zh"] | None, Field(
            description="'en' or 'zh'; default: the server's default language")] = None,
    ) -> Annotated[CallToolResult, RenderedTemplate]:
        """Render a retention prompt template with arguments and return the finished prompt text.

        The same templates are offered as MCP prompts; this tool is for clients that do not show
        prompts. Follow the returned text as your instructions: it tells you which analysis tools
        to call for each number. Scores are 0-100; rates accept '17.8%' or '0.178'.
        Example: name='retention_strategy', language='zh', arguments={'company_info': '...', ...}.
        """
        current = library()
        try:
            template = current.get(name, language or settings.language)
            text = render_template(template, arguments or {})
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        rendered = RenderedTemplate(name=name, language=template.language, title=template.title, text=text)
        return tool_result(rendered, text)

    server.add_tool(list_templates, title="List prompt templates", annotations=READ_ONLY)
    server.add_tool(render_template_tool, name="render_template", title="Render a prompt template",
                    annotations=READ_ONLY)

    @server.resource("retention://templates/{name}", mime_type="text/markdown",
                     title="Prompt template source",
                     description="A template's unrendered source: YAML front matter and Jinja2 body. "
                                 "Name is '<template>' (default language) or '<template>.<language>'.")
    def template_source(name: str) -> str:
        current = library()
        base, _, language = name.partition(".")
        try:
            template: Template = current.get(base, language or settings.language)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        return template.source
