"""The CJK font shipped with the package, cut down to the characters a report uses, for files that must render
anywhere: an HTML report embeds it (``@font-face``) and a DOCX report embeds it (an obfuscated font part, ECMA-376
§17.8.1), so Chinese shows on a machine without a Chinese font.

The whole collection is 19 MB; the Simplified Chinese face subset to a report's few hundred characters is ~40-100 KB.
Its outlines are converted from CFF to TrueType (quadratic) curves, since Word embeds and renders TrueType outlines
only. Loading the face takes ~2 s, so subsets are cached by character set within the process.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import uuid
from typing import Any

logger = logging.getLogger(__name__)

#: Han, kana, hangul, CJK punctuation and full-width forms: what a Latin font cannot draw.
CJK_RANGES = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
CJK = re.compile(f"[{CJK_RANGES}]")
#: Face 2 of the Noto Sans CJK collection is the Simplified Chinese one (JP, KR, SC, TC, HK).
SIMPLIFIED_CHINESE_FACE = 2
#: The face's own family name: a DOCX names its embedded font by it (a reader with the full font installed uses that).
FAMILY = "Noto Sans CJK SC"
#: Printable ASCII and the symbols reports print, kept in every subset: where the reader has none of the CSS's Latin
#: fonts, Latin falls through to the embedded face too, so a sentence is set in one typeface, not two.
LATIN = "".join(chr(code) for code in range(0x20, 0x7F)) + "–—−±×÷≤≥≈→²·…“”‘’%（）：；，。、"
#: The family name the embedded subset goes by in a report's CSS.
EMBEDDED_FAMILY = "Retention CJK"
#: Largest distance (font units of a 1000-unit em) a quadratic curve may stray from the cubic it replaces.
CURVE_TOLERANCE = 1.0


def cjk_characters(text: str) -> str:
    """The distinct CJK characters of ``text``, sorted (the cache key of a subset)."""
    return "".join(sorted(set(CJK.findall(text))))


@functools.lru_cache(maxsize=16)
def cjk_subset(characters: str) -> bytes | None:
    """A TrueType font with just ``characters`` (and :data:`LATIN`) from the packaged Noto Sans CJK SC; None when
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
        # fontTools' default layout features (kerning, ligatures, locl, ...): "*" would also keep the vertical,
        # proportional and traditional alternates, 2.4 times the glyphs for horizontal Simplified Chinese text.
        options.notdef_outline = True
        options.name_IDs = ["*"]  # keeps the copyright and the OFL licence with the font, as the licence asks
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters + LATIN)
        font = TTFont(str(path), fontNumber=SIMPLIFIED_CHINESE_FACE)
        subsetter.subset(font)
        _cff_to_truetype(font)
        buffer = io.BytesIO()
        font.save(buffer)
        return buffer.getvalue()
    except Exception:  # a report without the embedded font still opens; the reader's own fonts take over
        logger.warning("could not subset the packaged CJK font; the report relies on the reader's fonts",
                       exc_info=True)
        return None


def _cff_to_truetype(font: Any) -> None:
    """Replace ``font``'s CFF (cubic) outlines with TrueType (quadratic) ones, in place."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        # CFF contours run counter-clockwise, TrueType ones clockwise.
        glyph_set[name].draw(Cu2QuPen(pen, CURVE_TOLERANCE, reverse_direction=True))
        glyphs[name] = pen.glyph()
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, glyphs
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones, maxp.maxTwilightPoints, maxp.maxStorage = 1, 0, 0
    maxp.maxFunctionDefs = maxp.maxInstructionDefs = maxp.maxStackElements = maxp.maxSizeOfInstructions = 0
    maxp.maxComponentElements = 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    post.glyphOrder = order
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def obfuscated(font: bytes, key: uuid.UUID) -> bytes:
    """``font`` as Office embeds it (ECMA-376 Part 1 §17.8.1): its first 32 bytes XOR-ed with the 16 bytes of the
    font key taken in reverse order; a reader undoes it with the ``w:fontKey`` written beside the part."""
    mask = key.bytes[::-1]
    head = bytes(byte ^ mask[i % 16] for i, byte in enumerate(font[:32]))
    return head + font[32:]
