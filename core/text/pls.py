"""W3C Pronunciation Lexicon Specification (PLS 1.0) import and export, for untrusted XML.

Read: ``<lexicon alphabet="ipa" xml:lang="en-US">`` holding ``<lexeme>`` elements, each with one or
more ``<grapheme>`` and an ``<alias>`` and/or a ``<phoneme>`` (IPA; a phoneme with another
``alphabet`` is refused).  The XML comes from tenants, so it is parsed with expat directly and
any document type declaration is refused before anything is expanded: no internal entities (no
"billion laughs"), no external DTDs or entities (no file or network reads).  Every error is a 422
that names the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from voxfarm.core.errors import InvalidInput
from voxfarm.core.text.lexicon import Rule, check_rule

PLS_NS = "http://www.w3.org/2005/01/pronunciation-lexicon"


class _Refused(Exception):
    pass


@dataclass
class _Node:
    name: str
    attrs: dict[str, str]
    line: int
    children: list[_Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


@dataclass
class ParsedLexicon:
    language: str | None
    rules: list[Rule]


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _tree(data: str) -> _Node:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    root: list[_Node] = []

    def refuse(*_args) -> None:
        raise _Refused("a document type declaration (DOCTYPE or ENTITY) is not accepted: PLS needs none")

    def start(name: str, attrs: dict[str, str]) -> None:
        node = _Node(_local(name), {_local(k): v for k, v in attrs.items()}, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(node)
        stack.append(node)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda _name: stack.pop()
    parser.CharacterDataHandler = lambda text: stack[-1].text.append(text) if stack else None
    try:
        parser.Parse(data.encode("utf-8"), True)
    except _Refused as exc:
        raise InvalidInput(f"PLS line {parser.CurrentLineNumber}: {exc}", code="invalid_pls",
                           details={"line": parser.CurrentLineNumber}) from None
    except expat.ExpatError as exc:
        raise InvalidInput(f"PLS line {exc.lineno}: {expat.ErrorString(exc.code)}", code="invalid_pls",
                           details={"line": exc.lineno, "column": exc.offset}) from None
    return root[0]


def _text(node: _Node) -> str:
    return " ".join("".join(node.text).split())


def parse_pls(data: str, *, case_sensitive: bool = True, whole_word: bool = True) -> ParsedLexicon:
    root = _tree(data)
    if root.name != "lexicon":
        raise InvalidInput(f"PLS line {root.line}: the root element is <{root.name}>, not <lexicon>",
                           code="invalid_pls", details={"line": root.line})
    alphabet = root.attrs.get("alphabet", "ipa")
    if alphabet.lower() != "ipa":
        raise InvalidInput(f"PLS line {root.line}: alphabet {alphabet!r}; only \"ipa\" is supported",
                           code="invalid_pls", details={"line": root.line})
    rules: list[Rule] = []
    for lexeme in root.children:
        if lexeme.name != "lexeme":
            continue
        where = f"PLS line {lexeme.line}"
        graphemes = [_text(c) for c in lexeme.children if c.name == "grapheme"]
        aliases = [_text(c) for c in lexeme.children if c.name == "alias"]
        phonemes = [c for c in lexeme.children if c.name == "phoneme"]
        for ph in phonemes:
            if ph.attrs.get("alphabet", alphabet).lower() != "ipa":
                raise InvalidInput(f"PLS line {ph.line}: phoneme alphabet {ph.attrs['alphabet']!r}; only \"ipa\"",
                                   code="invalid_pls", details={"line": ph.line})
        if not graphemes:
            raise InvalidInput(f"{where}: a <lexeme> without a <grapheme>", code="invalid_pls",
                               details={"line": lexeme.line})
        phoneme = "".join(phonemes[0].text).strip() if phonemes else None
        for grapheme in graphemes:
            rule = Rule(grapheme, aliases[0] if aliases else None, phoneme, case_sensitive, whole_word)
            try:
                check_rule(rule, where)
            except InvalidInput as exc:
                exc.details = {**(exc.details or {}), "line": lexeme.line}
                raise
            rules.append(rule)
    return ParsedLexicon(root.attrs.get("lang"), rules)


def to_pls(rules: list[Rule], language: str | None) -> str:
    lang = f" xml:lang={quoteattr(language)}" if language else ""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<lexicon version="1.0" xmlns="{PLS_NS}" alphabet="ipa"{lang}>']
    for rule in rules:
        parts = [f"<grapheme>{escape(rule.grapheme)}</grapheme>"]
        if rule.alias is not None:
            parts.append(f"<alias>{escape(rule.alias)}</alias>")
        if rule.phoneme is not None:
            parts.append(f"<phoneme>{escape(rule.phoneme)}</phoneme>")
        lines.append(f"  <lexeme>{''.join(parts)}</lexeme>")
    lines.append("</lexicon>")
    return "\n".join(lines) + "\n"
