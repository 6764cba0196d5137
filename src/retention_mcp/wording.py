"""The words people read, in English and Chinese: data in ``tools/wording/*.yaml``, not literals in code.

Each file holds one family of texts (``turnover.yaml`` → keys ``turnover.*``), each entry with both languages side
by side, so a translator sees them together and a test checks that every entry has both and the same
``{placeholders}``::

    overall:
      en: "Overall: **{rate}** ({leavers} leavers / {headcount} headcount)"
      zh: "整体：**{rate}**（离职 {leavers} 人 / 人数 {headcount}）"
    separation_types:            # a group of entries: keys turnover.separation_types.voluntary ...
      voluntary: {en: voluntary, zh: 主动离职}

A tool gets its words with ``w = words(language, settings)`` (``job.words(language)`` in a tool) and writes
``w("turnover.overall", rate=..., ...)``; ``w.comma``, ``w.semicolon``, ``w.colon``, ``w.stop`` and
``w.paren(text)`` give the punctuation of the language (Chinese text takes full-width ``，；：。（）``). A team
copy of a file in ``--catalog-dir/wording/`` overrides the entries it names (house terms), re-read when it changes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

if TYPE_CHECKING:
    from retention_mcp.settings import Settings

WORDING_DIR = "wording"
LANGUAGES = ("en", "zh")
#: A result's ``language`` field: the language of its texts, so ``*_markdown(result)`` in a notebook renders them
#: in that language. An echo of the call's own ``language``, so it is left out of the output schemas that every
#: client pays for in tools/list (structured content still carries it).
ResultLanguage = Annotated[SkipJsonSchema[str], Field(description="the language of the texts: en or zh")]
#: A space YAML's line folding leaves between two Chinese characters or full-width marks (never meant in Chinese).
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_FOLDED_CJK_SPACE = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


@dataclass(frozen=True)
class Words:
    """The texts of one language, by flat key (``"turnover.col_rate"``)."""

    language: str
    entries: Mapping[str, str] = field(repr=False)

    def __call__(self, key: str, /, **fields: Any) -> str:
        """The entry ``key`` with ``fields`` filled in, on one line (YAML folding leaves no stray spaces)."""
        text = self.entries[key]
        if fields:
            text = text.format(**fields)
        return " ".join(text.split()) if "\n" in text else text

    def __getitem__(self, key: str) -> str:
        return self(key)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def get(self, key: str, default: str | None = None) -> str | None:
        return self(key) if key in self.entries else default

    def option(self, group: str, value: str | None) -> str:
        """The word for a code (``w.option("turnover.separation_types", "voluntary")`` → "主动离职"); the code
        itself when the group has no entry for it."""
        if value is None:
            return ""
        return self.get(f"{group}.{value}", value) or value

    @property
    def zh(self) -> bool:
        return self.language == "zh"

    # punctuation of the language
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
        """Between the items of a short list: 、 in Chinese."""
        return "、" if self.zh else ", "

    def paren(self, text: str) -> str:
        """`` (text)`` in English, ``（text）`` in Chinese."""
        return f"（{text}）" if self.zh else f" ({text})"

    def sentence(self, text: str) -> str:
        """``text`` ending with the language's full stop (unless it ends with a stop already)."""
        text = text.rstrip()
        if not text or text[-1] in ".。!！?？:：":
            return text
        return text + self.stop


def _leaf(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and set(value) <= set(LANGUAGES)


def flatten(data: Mapping[str, Any], prefix: str) -> dict[str, dict[str, str]]:
    """``{"turnover.overall": {"en": ..., "zh": ...}}`` from one file's nested entries."""
    out: dict[str, dict[str, str]] = {}
    for key, value in (data or {}).items():
        name = f"{prefix}.{key}"
        if _leaf(value):
            out[name] = {lang: _FOLDED_CJK_SPACE.sub("", " ".join(str(text).split())) if lang == "zh" else str(text)
                         for lang, text in value.items() if text is not None}
        elif isinstance(value, Mapping):
            out.update(flatten(value, name))
        elif value is not None:
            out[name] = {lang: str(value) for lang in LANGUAGES}  # a symbol or name, the same in both
    return out


def wording_files(settings: Settings | None) -> list[Path]:
    """The bundled files, then the team's copies (``--catalog-dir/wording/``), which win entry by entry."""
    from retention_mcp.catalog import bundled_dir

    files = sorted((bundled_dir("tools") / WORDING_DIR).glob("*.yaml"))
    if settings is not None and settings.catalog_dir is not None:
        team = settings.catalog_dir / WORDING_DIR
        if team.is_dir():
            files += sorted(team.glob("*.yaml"))
    return files


_cache: dict[tuple, dict[str, dict[str, str]]] = {}
_lock = threading.Lock()


def all_entries(settings: Settings | None = None) -> dict[str, dict[str, str]]:
    """Every entry in both languages, by flat key (bundled, then the team's overrides)."""
    from retention_mcp.catalog import read_yaml

    files = wording_files(settings)
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    with _lock:
        if stamp in _cache:
            return _cache[stamp]
    merged: dict[str, dict[str, str]] = {}
    for path in files:
        for key, texts in flatten(read_yaml(path) or {}, path.stem).items():
            merged.setdefault(key, {}).update(texts)
    with _lock:
        _cache.clear()
        _cache[stamp] = merged
    return merged


def words(language: str | None = "en", settings: Settings | None = None) -> Words:
    """The texts of ``language`` ('en' or 'zh'; None means 'en'). An entry missing in Chinese falls back to
    English (tests keep that from happening in the bundled files)."""
    from retention_mcp.errors import InputError

    language = language or "en"
    if language not in LANGUAGES:
        raise InputError(f"language must be 'en' or 'zh', not {language!r}")
    entries = {key: texts.get(language) or texts.get("en") or "" for key, texts in all_entries(settings).items()}
    return Words(language, entries)


def sensitive_caution(columns: Iterable[str], w: Words) -> str:
    """The fair-treatment caution for protected attributes offered as dimensions, drivers or suggestions."""
    columns = list(columns)
    if not columns:
        return ""
    quote = "“{}”" if w.zh else "'{}'"
    return w("caution.sensitive", columns=w.enumeration.join(quote.format(c) for c in columns))
