"""The CJK font shipped with the package, cut down to the characters a report uses, for files that must render
anywhere: an HTML report embeds it (``@font-face``), so Chinese shows on a machine without a Chinese font.

The whole collection is 19 MB; the Simplified Chinese face subset to a report's few hundred characters is ~60 KB.
Loading the face takes ~2 s, so subsets are cached by character set within the process.
"""

from __future__ import annotations

import functools
import io
import logging
import re

logger = logging.getLogger(__name__)

#: Han, kana, hangul, CJK punctuation and full-width forms: what a Latin font cannot draw.
CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
#: Face 2 of the Noto Sans CJK collection is the Simplified Chinese one (JP, KR, SC, TC, HK).
SIMPLIFIED_CHINESE_FACE = 2
#: The family name the embedded subset goes by in a report's CSS.
EMBEDDED_FAMILY = "Retention CJK"


def cjk_characters(text: str) -> str:
    """The distinct CJK characters of ``text``, sorted (the cache key of a subset)."""
    return "".join(sorted(set(CJK.findall(text))))


@functools.lru_cache(maxsize=16)
def cjk_subset(characters: str) -> bytes | None:
    """An OpenType font with just ``characters`` (and the basics) from the packaged Noto Sans CJK SC; None when
    there is nothing to draw or the packaged font is missing."""
    if not characters:
        return None
    from retention_mcp.report.charts import packaged_cjk_font

    path = packaged_cjk_font()
    if path is None:
        return None
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont

        options = subset.Options()
        options.layout_features = ["*"]
        options.notdef_outline = True
        options.name_IDs = ["*"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters + "0123456789%.,:;()（）：；，。")
        font = TTFont(str(path), fontNumber=SIMPLIFIED_CHINESE_FACE)
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.save(buffer)
        return buffer.getvalue()
    except Exception:  # a report without the embedded font still opens; the reader's own fonts take over
        logger.warning("could not subset the packaged CJK font; the report relies on the reader's fonts",
                       exc_info=True)
        return None
