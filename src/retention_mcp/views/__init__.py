"""Interactive views (MCP Apps): self-contained HTML pages a client renders beside a tool's result.

A tool that has a view carries ``_meta.ui.resourceUri`` pointing at one of these ``ui://`` resources
(MIME type ``text/html;profile=mcp-app``). A client that supports MCP Apps renders the page in a sandboxed
frame and sends it the tool's arguments and result over ``postMessage``; the page draws inline SVG from the
structured content and may call tools back through the client (the ROI sliders call ``calculate_roi``).
Clients without MCP Apps get the same text and structured content as before: a view adds, never replaces.

Each page is assembled from the files beside this module (one runtime, one stylesheet, one script per view)
and the wording in ``tools/views.yaml``; it loads nothing from the network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from retention_mcp import __version__

#: MIME type of an MCP Apps page (the SDK's ``mcp.server.apps.APP_MIME_TYPE``).
APP_MIME_TYPE = "text/html;profile=mcp-app"
#: Key of the view-only data a tool result may carry in ``_meta`` (e.g. retention curve points).
VIEW_META_KEY = "retention-mcp/view"


@dataclass(frozen=True)
class View:
    name: str
    title: str
    description: str
    tools: tuple[str, ...]

    @property
    def uri(self) -> str:
        return f"ui://retention-mcp/{self.name}.html"


VIEWS: dict[str, View] = {view.name: view for view in (
    View("turnover", "Turnover by group", "Bars with 95% intervals and the overall line; a group × group heatmap "
         "with suppressed cells shown hidden", ("turnover_breakdown",)),
    View("retention", "Retention curves", "Kaplan–Meier curves by group with the people at risk",
         ("retention_curve",)),
    View("roi", "Retention programme ROI", "Scenarios, sensitivity tornado, and sliders that recalculate with "
         "calculate_roi", ("calculate_roi",)),
    View("plan", "Retention plan", "The plan's sections, the figures each cites and their refresh state",
         ("plan_get",)),
)}

#: tool name -> the view that draws its result
VIEW_OF_TOOL: dict[str, View] = {tool: view for view in VIEWS.values() for tool in view.tools}


def _part(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=32)
def _page(name: str, language: str, words_json: str) -> str:
    view = VIEWS[name]
    config = json.dumps({"view": name, "version": __version__, "language": language,
                         "words": json.loads(words_json)}, ensure_ascii=False)
    replacements = {
        "{lang}": "zh-CN" if language == "zh" else "en",
        "{title}": view.title,
        "{style}": _part("style.css"),
        # JSON inside a <script> element: "</" would end the element early.
        "{config}": config.replace("</", "<\\/"),
        "{runtime}": _part("app.js"),
        "{view}": _part(f"{name}.js"),
    }
    # One pass, so text inserted for one placeholder is never read as another.
    return re.sub(r"\{(lang|title|style|config|runtime|view)\}", lambda m: replacements[m.group(0)],
                  _part("shell.html"))


def view_html(name: str, language: str = "en", words: dict | None = None) -> str:
    """The complete HTML of view ``name``: markup, style, scripts and the words of both languages inline.

    ``language`` is the default when neither the call (its ``language`` argument) nor the host's locale says."""
    if words is None:
        from retention_mcp.catalog import bundled_dir, read_yaml

        words = read_yaml(bundled_dir("tools") / "views.yaml")
    return _page(name, language, json.dumps(words, ensure_ascii=False, sort_keys=True))


def tool_meta(tool_name: str) -> dict | None:
    """``_meta`` of a tool that has a view: ``{"ui": {"resourceUri": "ui://retention-mcp/<view>.html"}}``."""
    view = VIEW_OF_TOOL.get(tool_name)
    return {"ui": {"resourceUri": view.uri}} if view else None


def apps_extension(settings):  # -> mcp.server.apps.Apps
    """The SDK's MCP Apps extension with every view as a ``ui://`` resource (read lazily: a page is assembled on
    the first ``resources/read``, never at start), advertising the extension to clients that negotiate it."""
    from mcp.server.apps import Apps
    from mcp.server.mcpserver.resources import FunctionResource

    from retention_mcp.catalog import load_catalog

    def page(name: str) -> str:
        return view_html(name, settings.language, load_catalog(settings, "views.yaml"))

    apps = Apps()
    for view in VIEWS.values():
        # No csp: the host applies the spec's restrictive default (no network at all), which is what a view needs.
        apps.add_resource(FunctionResource(uri=view.uri, name=f"view-{view.name}", title=view.title,
                                           description=view.description, mime_type=APP_MIME_TYPE,
                                           meta={"ui": {"prefersBorder": True}},
                                           fn=lambda name=view.name: page(name)))
    return apps
