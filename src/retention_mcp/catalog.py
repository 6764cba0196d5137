"""Where the editable data lives: the bundled ``prompts/`` and ``tools/`` folders, and team overrides.

In a wheel both folders are shipped inside the package (``retention_mcp/_bundled``); in a source
checkout they sit at the repository root. A team catalog folder (``--catalog-dir``) overrides a
bundled YAML file of the same name. Files are re-read when their size or mtime changes, so an edit
shows up on the next request without a restart.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

from retention_mcp.settings import Settings


@cache
def bundled_dir(kind: str) -> Path:
    """The bundled ``prompts`` or ``tools`` folder, in a wheel or a source checkout."""
    if kind not in ("prompts", "tools"):
        raise ValueError(f"unknown bundled folder {kind!r}")
    package_root = Path(__file__).resolve().parent
    inside_wheel = package_root / "_bundled" / kind
    if inside_wheel.is_dir():
        return inside_wheel
    return package_root.parent.parent / kind


_yaml_cache: dict[Path, tuple[tuple[int, int], Any]] = {}
_yaml_lock = threading.Lock()


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, cached by (size, mtime) so repeated requests cost a ``stat``."""
    import yaml

    stat = path.stat()
    key = (stat.st_size, stat.st_mtime_ns)
    with _yaml_lock:
        cached = _yaml_cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster, same result
    with path.open(encoding="utf-8") as handle:
        value = yaml.load(handle, Loader=loader)  # a safe loader (plain data, no Python objects)
    with _yaml_lock:
        _yaml_cache[path] = (key, value)
    return value


#: A caller's YAML text (template front matter) may expand to at most this many nodes, aliases counted where
#: they are used (a front matter of a few hundred characters with nested aliases would otherwise expand to
#: millions: the "billion laughs").
MAX_YAML_NODES = 10_000
#: ... and may be at most this long.
MAX_YAML_CHARS = 64 * 1024
#: Most aliases in a caller's YAML text.
MAX_YAML_ALIASES = 100


def parse_yaml_text(text: str, what: str = "YAML") -> Any:
    """Parse YAML text a caller sent, with size and alias limits; ValueError saying which limit.

    The text is composed into a node graph first (aliases point at their anchor's node, so the graph is no
    larger than the text), then its expanded size is counted (each alias as the size of what it repeats) and
    refused past :data:`MAX_YAML_NODES`, before any Python object is built. Recursive aliases are refused."""
    import yaml

    if len(text) > MAX_YAML_CHARS:
        raise ValueError(f"{what} is {len(text):,} characters; the limit is {MAX_YAML_CHARS:,}")
    aliases = text.count("*")
    if aliases > MAX_YAML_ALIASES and _alias_count(text) > MAX_YAML_ALIASES:
        raise ValueError(f"{what} uses more than {MAX_YAML_ALIASES} aliases (*name); write the values out")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"{what} is not valid YAML: {_short_yaml_error(exc)}") from None
    if node is None:
        return None
    _expanded_size(node, what)
    loader = yaml.SafeLoader(text)
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ValueError(f"{what} is not valid YAML: {_short_yaml_error(exc)}") from None
    finally:
        loader.dispose()


def _alias_count(text: str) -> int:
    import yaml

    return sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))


def _expanded_size(root: Any, what: str) -> int:
    """Nodes ``root`` stands for once every alias is expanded (memoised per node, so linear in the graph)."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ValueError(f"{what} has an alias inside the value it names (a recursive alias)")
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        if total > MAX_YAML_NODES:
            raise ValueError(f"{what} expands to more than {MAX_YAML_NODES:,} values once its aliases (*name) are "
                             "repeated; write the values out instead of nesting aliases")
        sizes[key] = total
        return total

    return size(root)


def _short_yaml_error(exc: Exception) -> str:
    """A YAML error's first lines, capped: its context quotes the text, which may be long."""
    from retention_mcp.errors import capped

    lines = [line for line in str(exc).splitlines() if line.strip()][:4]
    return capped(" ".join(line.strip() for line in lines), 300)


def catalog_file(settings: Settings, filename: str) -> Path:
    """The team's copy of a catalog file when it has one, else the bundled one."""
    if settings.catalog_dir is not None:
        team_copy = settings.catalog_dir / filename
        if team_copy.is_file():
            return team_copy
    return bundled_dir("tools") / filename


def load_catalog(settings: Settings, filename: str) -> Any:
    """Load ``tools/<filename>`` (or the team override), e.g. ``load_catalog(s, "kpi_catalog.yaml")``."""
    path = catalog_file(settings, filename)
    if not path.is_file():
        raise FileNotFoundError(f"catalog file {filename} is missing (looked in {path.parent})")
    return read_yaml(path)
