"""The words of the living plan (refresh, verification, appendix, charts in plans, roadmap, combined initiatives):
the ``plan`` family of the one wording (``tools/wording/plan.yaml``, see :mod:`retention_mcp.wording`), each entry
with both languages side by side::

    appendix:
      title: {en: Evidence appendix, zh: 证据附录}

``w = plan_words("zh")`` then ``w("plan.appendix.title")``; fields fill ``{placeholders}``. Chinese punctuation
comes with the language (``w.comma``, ``w.paren(text)``). The same :class:`~retention_mcp.wording.Words` as every
tool's, so a plan's texts can use any family's entries and a team's ``--catalog-dir/wording/plan.yaml`` overrides
them like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retention_mcp.wording import LANGUAGES, Words, words

if TYPE_CHECKING:
    from retention_mcp.settings import Settings

#: Kept for callers that named the old type.
PlanWords = Words


def plan_words(language: str | None = "en", settings: Settings | None = None) -> Words:
    """The texts in ``language`` ('en' or 'zh'; anything else: English, as a plan's stored language may be)."""
    return words(language if language in LANGUAGES else "en", settings)
