"""The wording files (tools/wording/*.yaml): every entry in both languages, with the same placeholders, and
Chinese text with Chinese punctuation."""

from __future__ import annotations

import re
import string

from retention_mcp.wording import LANGUAGES, all_entries, words

ENTRIES = all_entries()


def placeholders(text: str) -> set[str]:
    return {name.split("!")[0].split(":")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_entry_has_both_languages_and_one_shape():
    broken = {key: sorted(texts) for key, texts in ENTRIES.items() if set(texts) != set(LANGUAGES)}
    assert not broken, broken  # an unquoted ', ' inside a {en: ..., zh: ...} splits the entry
    odd = [key for key in ENTRIES if not re.fullmatch(r"[\w.\- <>=()]+", key) or key.rsplit(".", 1)[-1] in LANGUAGES]
    assert not odd, odd


def test_placeholders_agree():
    mismatched = {key: (texts["en"], texts["zh"]) for key, texts in ENTRIES.items()
                  if placeholders(texts["en"]) != placeholders(texts["zh"])}
    assert not mismatched, mismatched


def test_chinese_text_uses_chinese_punctuation():
    """A Chinese sentence does not use ASCII ',' ':' ';' '(' ')' between Chinese words (code, placeholders and
    English names aside)."""
    han = "[\u4e00-\u9fff]"
    ascii_between_chinese = re.compile(rf"{han}[,:;()]{han}|{han} ?[(:;,]\s?{han}")
    bad = {}
    for key, texts in ENTRIES.items():
        text = re.sub(r"`[^`]*`|\{[^}]*\}", " ", texts["zh"])
        if ascii_between_chinese.search(text):
            bad[key] = texts["zh"]
    assert not bad, bad


def test_words_fall_back_to_english_and_fill_fields():
    zh = words("zh")
    assert zh("turnover.overall_label") == "整体" and words("en")("turnover.overall_label") == "Overall"
    assert zh.paren("x") == "（x）" and words("en").paren("x") == " (x)"
    scope = zh("dimensions.scope", filter="部门 = 研发", kept="10", total="20")
    assert scope == "筛选：部门 = 研发（共 20 行，范围内 10 行）"
