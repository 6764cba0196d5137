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
