"""The words of result texts in English and Chinese, from ``tools/wording.yaml`` (or a team's copy).

``words(language, settings)`` returns a flat ``{"turnover.col_rate": "rate", ...}`` map; Chinese falls back to
English for any key the Chinese section lacks. Without settings the bundled file is read (tests, notebooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retention_mcp.settings import Settings

WORDING_FILE = "wording.yaml"
LANGUAGES = ("en", "zh")


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not name.endswith(("denominators", "separation_types", "tenure_bands",
                                                              "unit_words", "estimators")):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def words(language: str | None = "en", settings: Settings | None = None) -> dict[str, Any]:
    """Flat wording map for ``language`` ('en' or 'zh'); unknown languages get English."""
    from retention_mcp.catalog import bundled_dir, catalog_file, read_yaml
    from retention_mcp.errors import InputError

    if language not in (None, *LANGUAGES):
        raise InputError(f"language must be 'en' or 'zh', not {language!r}")
    path = catalog_file(settings, WORDING_FILE) if settings is not None else bundled_dir("tools") / WORDING_FILE
    data = read_yaml(path) or {}
    english = _flatten(data.get("en") or {})
    if language == "zh":
        chinese = _flatten(data.get("zh") or {})
        merged = dict(english)
        for key, value in chinese.items():
            if isinstance(value, Mapping) and isinstance(english.get(key), Mapping):
                merged[key] = {**english[key], **value}
            else:
                merged[key] = value
        return merged
    return english


def sensitive_caution(columns: list[str], w: Mapping[str, Any]) -> str:
    """The fair-treatment caution for protected attributes offered as dimensions, drivers or suggestions."""
    if not columns:
        return ""
    shown = ", ".join(repr(c) for c in columns)
    return " ".join(str(w["caution.sensitive"]).format(columns=shown).split())
