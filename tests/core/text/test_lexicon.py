"""Pronunciation rules, the spoken form of a chunk, and PLS read as untrusted XML."""

from __future__ import annotations

import pytest

from voxfarm.core.errors import InvalidInput
from voxfarm.core.text.lexicon import CompiledLexicon, Rule, phoneme_segments, readable, spoken_form
from voxfarm.core.text.pls import parse_pls, to_pls

PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>Hermione</grapheme><phoneme>h\u025a\u02c8ma\u026a.\u0259ni</phoneme></lexeme>
  <lexeme><grapheme>W3C</grapheme><grapheme>w3c</grapheme><alias>World Wide Web Consortium</alias></lexeme>
</lexicon>"""
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>
<lexicon alphabet="ipa"><lexeme><grapheme>&lol2;</grapheme><alias>x</alias></lexeme></lexicon>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE lexicon [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<lexicon alphabet="ipa"><lexeme><grapheme>&xxe;</grapheme><alias>x</alias></lexeme></lexicon>"""


def _lexicon(mode: str = "ipa") -> CompiledLexicon:
    return CompiledLexicon("lex_1", parse_pls(PLS).rules, mode)


def test_pls_reads_graphemes_aliases_and_ipa():
    parsed = parse_pls(PLS)
    assert parsed.language == "en-US"
    assert [(r.grapheme, r.alias, r.phoneme) for r in parsed.rules] == [
        ("Hermione", None, "h\u025a\u02c8ma\u026a.\u0259ni"), ("W3C", "World Wide Web Consortium", None),
        ("w3c", "World Wide Web Consortium", None)]
    again = parse_pls(to_pls(parsed.rules, parsed.language))
    assert again.rules == parsed.rules and again.language == "en-US"


def test_a_phoneme_rule_reaches_ipa_engines_exactly_and_text_engines_never():
    ipa = spoken_form("Hermione met the W3C in 1847.", language="en", normalization=True, lexicons=[_lexicon()])
    assert ipa.text == ("\u27eaHermione|h\u025a\u02c8ma\u026a\u0259ni\u27eb met the World Wide Web Consortium in "
                        "eighteen forty-seven.")
    assert phoneme_segments(ipa.text)[0] == ("ipa", "h\u025a\u02c8ma\u026a\u0259ni")
    assert readable(ipa.text).startswith("Hermione met")
    assert ipa.matched == (("lex_1", "Hermione", 1), ("lex_1", "W3C", 1))
    text = spoken_form("Hermione met the W3C.", language="en", normalization=True, lexicons=[_lexicon("text")])
    assert text.text == "Hermione met the World Wide Web Consortium." and text.matched == (("lex_1", "W3C", 1),)


def test_case_word_boundaries_and_order():
    loose = CompiledLexicon("a", [Rule("sql", alias="sequel", case_sensitive=False, whole_word=True)], "ipa")
    assert spoken_form("SQL and mysql", language="en", normalization=False, lexicons=[loose]).text == \
        "sequel and mysql"
    inner = CompiledLexicon("b", [Rule("sql", alias="sequel", whole_word=False)], "ipa")
    assert spoken_form("SQL and mysql", language="en", normalization=False, lexicons=[inner]).text == \
        "SQL and mysequel"
    first = CompiledLexicon("c", [Rule("Anne", alias="Ann")], "ipa")
    second = CompiledLexicon("d", [Rule("Anne", alias="Annie"), Rule("Ann", alias="Anna")], "ipa")
    out = spoken_form("Anne", language="en", normalization=False, lexicons=[first, second])
    assert out.text == "Ann" and out.matched == (("c", "Anne", 1),)  # the first lexicon wins; its output stays


@pytest.mark.parametrize(("document", "line", "code"), [
    (BILLION_LAUGHS, 2, "invalid_pls"),
    (EXTERNAL_ENTITY, 2, "invalid_pls"),
    ("<lexicon>\n<lexeme><grapheme>x</grapheme>\n<alias>y</lexeme></lexicon>", 3, "invalid_pls"),
    ("<lexicon alphabet='x-sampa'><lexeme><grapheme>x</grapheme><phoneme>x</phoneme></lexeme></lexicon>", 1,
     "invalid_pls"),
    ("<lexicon>\n<lexeme><grapheme>x</grapheme><phoneme>AB1</phoneme></lexeme></lexicon>", 2, "invalid_phoneme"),
    ("<lexicon><lexeme><grapheme>x</grapheme></lexeme></lexicon>", 1, "invalid_lexicon"),
])
def test_hostile_or_malformed_pls_is_refused_with_its_line(document, line, code):
    with pytest.raises(InvalidInput) as err:
        parse_pls(document)
    assert err.value.code == code and err.value.details["line"] == line, err.value.message
    assert f"line {line}" in err.value.message
