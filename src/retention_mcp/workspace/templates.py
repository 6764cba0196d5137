"""Team templates saved from chat (``template_save``): validated like a file template, versioned in the
workspace database, and merged into the prompt library on every request.

Precedence, per name and language: **workspace > prompts folder (--prompts-dir) > bundled**. A template
saved from chat is the team's newest deliberate choice, made through the server everyone uses; the
folder is the slower git route; the bundled one is the default. ``template_save`` says what a save
shadows, and ``list_templates`` shows each template's origin.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from retention_mcp.errors import InputError, capped
from retention_mcp.settings import LANGUAGES, Settings
from retention_mcp.templates import BrokenTemplate, Template, TemplateError, parse_template, render_template

logger = logging.getLogger(__name__)

ORIGIN = "workspace"
MAX_TEMPLATE_CHARS = 100_000
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_HEADING = re.compile(r"^###\s+(.+?)\s*$", re.MULTILINE)
_NUMBERING = re.compile(r"^(?:\d+[.)、]|[一二三四五六七八九十]+、)\s*")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")

#: One sample value per argument type, to render a template once before it is saved.
SAMPLES = {"text": "示例 sample", "data": "示例反馈 sample feedback", "score": "72", "rate": "17.8%",
           "number": "12.5", "integer": "200"}


def _front_matter(source: str, strict: bool = False) -> dict[str, Any]:
    """The front matter as a mapping ({} when there is none); a YAML error or limit is an InputError when
    ``strict``, else {} (parse_template reports it in its own words)."""
    from retention_mcp.catalog import parse_yaml_text

    parts = re.split(r"^---[ \t]*$", source, maxsplit=2, flags=re.MULTILINE)
    if len(parts) < 3:
        return {}
    try:
        meta = parse_yaml_text(parts[1], "the front matter") or {}
    except ValueError as exc:
        if strict:
            raise InputError(f"template not saved: {exc}") from None
        return {}
    return meta if isinstance(meta, dict) else {}


def template_sections(template: Template) -> list[str]:
    """The headings a plan made from ``template`` has: front matter ``sections:``, else the body's
    ``###`` headings without their numbering (``### 一、现状分析`` -> ``现状分析``)."""
    declared = _front_matter(template.source).get("sections")
    if isinstance(declared, list) and declared:
        return [str(s).strip() for s in declared if str(s).strip()]
    headings = []
    for match in _HEADING.finditer(template.body):
        heading = _JINJA.sub("", _NUMBERING.sub("", match.group(1)))
        heading = re.sub(r"[(（]\s*[)）]", "", heading).strip()
        if heading and heading not in headings:
            headings.append(heading)
    return headings


def sample_arguments(template: Template) -> dict[str, str]:
    return {a.name: a.choices[0] if a.type == "choice" else SAMPLES.get(a.type, SAMPLES["text"])
            for a in template.arguments}


def validate_template(source: str) -> Template:
    """Parse ``source`` (YAML front matter + Jinja2 body, as in ``prompts/*.md``) and render it once with
    sample arguments in the sandbox; raise InputError with what is wrong."""
    if not source or not source.strip():
        raise InputError("the template is empty; send the whole file: YAML front matter between '---' lines, "
                         "then the Jinja2 body (see retention://templates/retention_strategy)")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise InputError(f"the template is {len(source):,} characters; the limit is {MAX_TEMPLATE_CHARS:,}")
    source = source.replace("\r\n", "\n")
    meta = _front_matter(source, strict=True)
    name, language = str(meta.get("name", "")), str(meta.get("language", ""))
    if not _NAME.match(name):
        raise InputError(f"front matter 'name' must be lower case letters, digits and _ (starting with a letter), "
                         f"e.g. retention_strategy; got {capped(name, 80)!r}")
    if language not in LANGUAGES:
        raise InputError(f"front matter 'language' must be one of {', '.join(LANGUAGES)}; got {capped(language, 80)!r}")
    sections = meta.get("sections")
    if sections is not None and (not isinstance(sections, list) or not all(isinstance(s, str) for s in sections)):
        raise InputError("front matter 'sections' must be a list of headings, e.g. [现状分析, 根本原因分析]")
    try:
        template = parse_template(source, Path(f"{name}.{language}.md"), ORIGIN)
        render_template(template, sample_arguments(template))
    except TemplateError as exc:
        raise InputError(f"template not saved: {exc}") from None
    return template


# -- the workspace layer of the library (retention_mcp.library.load_library reads it) ---------------------

_parsed: dict[tuple[str, str, str, int], Template | BrokenTemplate] = {}
_parsed_lock = threading.Lock()


def workspace_templates(settings: Settings) -> tuple[list[Template], list[BrokenTemplate]]:
    """The newest saved version of every workspace template (parsed once per version).

    Reads nothing, and creates no database, when no workspace exists yet."""
    from retention_mcp.workspace.engine import workspace_exists
    from retention_mcp.workspace.store import workspace_for

    if not workspace_exists(settings):
        return [], []
    store = workspace_for(settings)
    good: list[Template] = []
    broken: list[BrokenTemplate] = []
    for name, language, version in store.latest_template_versions():
        key = (store.url, name, language, version)
        with _parsed_lock:
            item = _parsed.get(key)
        if item is None:
            saved = store.get_template(name, language, version)
            path = Path(f"{name}.{language}.md")
            if saved is None:
                continue
            try:
                item = parse_template(saved.source, path, ORIGIN)
            except TemplateError as exc:  # saved by an older server whose rules were looser
                item = BrokenTemplate(path, ORIGIN, f"workspace v{version}: {exc}")
            with _parsed_lock:
                _parsed[key] = item
        (good if isinstance(item, Template) else broken).append(item)  # type: ignore[arg-type]
    return good, broken


_FILE_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.(?P<language>[a-z]{2})\.md$")


def template_layers(settings: Settings) -> dict[tuple[str, str], list[str]]:
    """Every (name, language) with the origins that define it, the one that wins first: e.g.
    ``["workspace v3", "team", "bundled"]``. For a listing that shows what each template overrides."""
    from retention_mcp.catalog import bundled_dir
    from retention_mcp.workspace.engine import workspace_exists
    from retention_mcp.workspace.store import workspace_for

    layers: dict[tuple[str, str], list[str]] = {}
    for folder, origin in ((bundled_dir("prompts"), "bundled"), (settings.prompts_dir, "team")):
        if folder is not None and folder.is_dir():
            for path in folder.glob("*.md"):
                if match := _FILE_NAME.match(path.name):
                    layers.setdefault((match["name"], match["language"]), []).insert(0, origin)
    if workspace_exists(settings):
        for name, language, version in workspace_for(settings).latest_template_versions():
            layers.setdefault((name, language), []).insert(0, f"{ORIGIN} v{version}")
    return layers
