"""Helpers shared by the tool registrations: results with a readable text block, annotations."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel

#: Analyses read files and compute; they change nothing.
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
#: Tools that write a new file into the output folder.
WRITES_OUTPUT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                open_world_hint=False)


def tool_result(structured: BaseModel | dict[str, Any], text: str,
                images: list[tuple[bytes, str]] | None = None) -> CallToolResult:
    """A tool result: ``text`` (short markdown a person reads) plus ``structured`` content.

    Declare the tool's return type as ``Annotated[CallToolResult, YourModel]`` so the model's
    JSON schema is published as the tool's ``outputSchema`` and the content is validated.
    ``images`` are ``(png_bytes, mime_type)`` pairs added as image blocks.
    """
    import base64

    if isinstance(structured, BaseModel):
        structured = structured.model_dump(mode="json", by_alias=True)
    content: list[Any] = [TextContent(type="text", text=text)]
    for data, mime in images or ():
        content.append(ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime))
    return CallToolResult(content=content, structured_content=structured)


def result_with_chart(structured: BaseModel, text: str, png: bytes | None, *, asked: bool,
                      no_chart: str = "") -> CallToolResult:
    """``tool_result`` for a tool that can draw a chart: names the PNG file and attaches it as an image.

    ``structured.chart_path`` is where the PNG was saved; when a chart was asked for but none could be
    drawn, ``no_chart`` says why.
    """
    path = getattr(structured, "chart_path", None)
    if path:
        text += f"\n\nChart written to {path}"
    elif asked and no_chart:
        text += f"\n\nNo chart: {no_chart}"
    return tool_result(structured, text, images=[(png, "image/png")] if png else None)
