"""The words of the living plan (refresh, verification, appendix, charts in plans, roadmap, combined initiatives) in
English and Chinese: data in ``tools/wording/plan.yaml``, one entry per text with both languages side by side::

    appendix:
      title: {en: Evidence appendix, zh: 证据附录}

``w = plan_words("zh")`` then ``w("plan.appendix.title")``; fields fill ``{placeholders}``. Chinese punctuation
comes with the language (``w.comma``, ``w.paren(text)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

WORDING_FILE = "plan.yaml"
LANGUAGES = ("en", "zh")
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_FOLDED_CJK_SPACE = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


@dataclass(frozen=True)
class PlanWords:
    language: str
    entries: Mapping[str, str] = field(repr=False)

    def __call__(self, key: str, /, **fields: Any) -> str:
        text = self.entries[key]
        return text.format(**fields) if fields else text

    def get(self, key: str, default: str | None = None) -> str | None:
        return self(key) if key in self.entries else default

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    @property
    def zh(self) -> bool:
        return self.language == "zh"

    @property
    def comma(self) -> str:
        return "，" if self.zh else ", "

    @property
    def semicolon(self) -> str:
        return "；" if self.zh else "; "

    @property
    def colon(self) -> str:
        return "：" if self.zh else ": "

    @property
    def stop(self) -> str:
        return "。" if self.zh else "."

    @property
    def enumeration(self) -> str:
        return "、" if self.zh else ", "

    def paren(self, text: str) -> str:
        return f"（{text}）" if self.zh else f" ({text})"


def _flatten(data: Mapping[str, Any], prefix: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in (data or {}).items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value and set(value) <= set(LANGUAGES):
            out[name] = {lang: _FOLDED_CJK_SPACE.sub("", " ".join(str(text).split())) if lang == "zh"
                         else " ".join(str(text).split()) for lang, text in value.items() if text is not None}
        elif isinstance(value, Mapping):
            out.update(_flatten(value, name))
    return out


def plan_words(language: str | None = "en") -> PlanWords:
    """The living plan's texts in ``language`` ('en' or 'zh'; anything else: English)."""
    from retention_mcp.catalog import bundled_dir, read_yaml

    language = language if language in LANGUAGES else "en"
    path = bundled_dir("tools") / "wording" / WORDING_FILE
    entries = _flatten(read_yaml(path) or {}, "plan")
    return PlanWords(language, {k: v.get(language) or v.get("en") or "" for k, v in entries.items()})
