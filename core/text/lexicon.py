"""Pronunciation rules and the spoken form of a chunk: lexicons first, then normalisation.

A rule maps a grapheme (a word or phrase as written) to an alias (replacement text) and/or a
phoneme string in IPA.  Where a rule applies depends on the engine's front end:

* ``ipa`` engines (piper, kokoro, zipvoice, espeak) read espeak-ng IPA: a phoneme rule is written
  into the spoken text as a mark ``⟪grapheme|ipa⟫`` that the worker passes to the model as is (the
  text around it still goes through espeak-ng); an alias-only rule replaces the words;
* ``text`` engines (Dia) read words: the alias replaces the grapheme; a phoneme-only rule does not
  apply (there is nothing a text model could read from IPA).

Lexicons apply in the order given, rules longest grapheme first; what one rule wrote is never
rewritten by another.  Each rule carries the lexicon version at which it last changed, and the
rules that matched a chunk (lexicon id, grapheme, that version) join its cache key: editing one
name re-renders only the chunks that contain it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from voxfarm.core.errors import InvalidInput
from voxfarm.core.text.normalize import normalize

MARK = re.compile(r"\u27ea([^|\u27ea\u27eb]*)\|([^\u27ea\u27eb]*)\u27eb")
_HELD = 0x100000  # plane 16 private use: placeholders for what a rule wrote (normalize uses plane 15)
_HELD_RE = re.compile(r"[\U00100000-\U0010FFFD]")
_RESERVED = set("\u27ea\u27eb|")
_IPA_MARKS = set(" .\u02d0\u02d1\u203f\u035c\u0361\u02c8\u02cc")  # space, syllable dot, length, ties, stress


@dataclass(frozen=True)
class Rule:
    grapheme: str
    alias: str | None = None
    phoneme: str | None = None  # IPA
    case_sensitive: bool = True
    whole_word: bool = True
    version: int = 1  # the lexicon version at which this rule last changed

    def as_dict(self) -> dict:
        return {"grapheme": self.grapheme, "alias": self.alias, "phoneme": self.phoneme,
                "case_sensitive": self.case_sensitive, "whole_word": self.whole_word, "version": self.version}

    def same_as(self, other: Rule) -> bool:
        return (self.grapheme, self.alias, self.phoneme, self.case_sensitive, self.whole_word) == \
            (other.grapheme, other.alias, other.phoneme, other.case_sensitive, other.whole_word)


def ipa_problems(phoneme: str) -> list[str]:
    """Characters that are not IPA (letters, modifier letters, combining marks, stress, length and
    tie marks): digits, ASCII punctuation, capitals, controls."""
    bad = []
    for ch in phoneme:
        cat = unicodedata.category(ch)
        ok = ch in _IPA_MARKS or (cat[0] in "LM" and not ("A" <= ch <= "Z")) or cat == "Sk"
        if not ok and ch not in bad:
            bad.append(ch)
    return bad


def check_rule(rule: Rule, where: str) -> None:
    """422 for an empty grapheme, a rule with neither alias nor phoneme, reserved characters, or a
    phoneme that is not IPA."""
    if not rule.grapheme.strip():
        raise InvalidInput(f"{where}: the grapheme is empty", code="invalid_lexicon")
    if rule.alias is None and rule.phoneme is None:
        raise InvalidInput(f"{where}: {rule.grapheme!r} has neither an alias nor a phoneme", code="invalid_lexicon")
    for text in (rule.grapheme, rule.alias or "", rule.phoneme or ""):
        if set(text) & _RESERVED or _HELD_RE.search(text):
            raise InvalidInput(f"{where}: {rule.grapheme!r} holds a reserved character (⟪, ⟫ or |)",
                               code="invalid_lexicon")
    if rule.phoneme is not None:
        if not rule.phoneme.strip():
            raise InvalidInput(f"{where}: {rule.grapheme!r} has an empty phoneme", code="invalid_lexicon")
        bad = ipa_problems(rule.phoneme)
        if bad:
            raise InvalidInput(f"{where}: the phoneme of {rule.grapheme!r} holds symbols that are not IPA: "
                               f"{' '.join(repr(c) for c in bad)}", code="invalid_phoneme",
                               details={"grapheme": rule.grapheme, "symbols": bad})


@dataclass
class CompiledLexicon:
    """A lexicon ready to apply: its id, and its rules indexed for one engine front end."""

    id: str
    rules: list[Rule]
    mode: str  # "ipa" | "text"
    name: str = ""
    version: int = 0
    _exact: dict[str, Rule] = field(default_factory=dict)
    _folded: dict[str, Rule] = field(default_factory=dict)
    _pattern: re.Pattern | None = None

    def __post_init__(self) -> None:
        usable = [r for r in self.rules if r.alias is not None or (self.mode == "ipa" and r.phoneme is not None)]
        parts = []
        for rule in sorted(usable, key=lambda r: -len(r.grapheme)):
            table, key = (self._exact, rule.grapheme) if rule.case_sensitive else (self._folded,
                                                                                  rule.grapheme.casefold())
            if key in table:
                continue  # the first rule for a grapheme wins
            table[key] = rule
            body = re.escape(rule.grapheme) if rule.case_sensitive else f"(?i:{re.escape(rule.grapheme)})"
            parts.append(rf"(?<!\w){body}(?!\w)" if rule.whole_word else body)
        self._pattern = re.compile("|".join(parts)) if parts else None

    def rule_for(self, matched: str) -> Rule | None:
        return self._exact.get(matched) or self._folded.get(matched.casefold())

    def replacement(self, rule: Rule, matched: str) -> str:
        if self.mode == "ipa" and rule.phoneme is not None:
            shown = rule.alias or matched
            return f"\u27ea{shown}|{rule.phoneme.replace('.', '').strip()}\u27eb"
        return rule.alias or matched


@dataclass(frozen=True)
class Spoken:
    text: str
    matched: tuple[tuple[str, str, int], ...] = ()  # (lexicon id, grapheme, rule version), sorted


def apply_lexicons(text: str, lexicons: list[CompiledLexicon]) -> Spoken:
    held: list[str] = []
    matched: set[tuple[str, str, int]] = set()

    def hold(value: str) -> str:
        held.append(value)
        return chr(_HELD + len(held) - 1)

    for lexicon in lexicons:
        if lexicon._pattern is None:
            continue

        def swap(m: re.Match, lexicon: CompiledLexicon = lexicon) -> str:
            rule = lexicon.rule_for(m.group(0))
            if rule is None:
                return m.group(0)
            matched.add((lexicon.id, rule.grapheme, rule.version))
            return hold(lexicon.replacement(rule, m.group(0)))

        # held placeholders are single characters no grapheme contains: a rule never rewrites another's output
        text = lexicon._pattern.sub(swap, text)
    text = _HELD_RE.sub(lambda m: held[ord(m.group(0)) - _HELD], text)
    return Spoken(text, tuple(sorted(matched)))


def spoken_form(text: str, *, language: str, normalization: bool, lexicons: list[CompiledLexicon]) -> Spoken:
    """The text an engine renders: the tenant's rules first, then (``auto``) the normaliser."""
    result = apply_lexicons(text, lexicons) if lexicons else Spoken(text)
    return Spoken(normalize(result.text, language) if normalization else result.text, result.matched)


def readable(spoken: str) -> str:
    """The spoken text with phoneme marks shown as their words (what a read-back compares against)."""
    return MARK.sub(lambda m: m.group(1), spoken)


def phoneme_segments(spoken: str) -> list[tuple[str, str]]:
    """``[("text", ...), ("ipa", ...), ...]``: the spoken text cut at phoneme marks (workers)."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in MARK.finditer(spoken):
        if m.start() > pos:
            out.append(("text", spoken[pos:m.start()]))
        out.append(("ipa", m.group(2)))
        pos = m.end()
    if pos < len(spoken):
        out.append(("text", spoken[pos:]))
    return out
