"""The text front end: what a narrator would say for numbers, numerals, abbreviations and symbols.

``normalize(text, language)`` rewrites written forms into the words an engine should speak, before
phonemisation (piper, kokoro, zipvoice and espeak read the result through espeak-ng; Dia reads it
as text).  English is implemented; other languages pass through unchanged.  Rules run in order,
each on what the previous left, and each rewrites only what it recognises in context: a token no
rule understands passes through unchanged, so normalisation never loses text.

* URLs and emails: "example dot com slash bye", "ada at example dot org";
* times "10:30 a.m." -> "ten thirty A M"; money "$12.50" -> "twelve dollars and fifty cents";
  percentages, degrees, dates ("March 5, 1847" -> "March fifth, eighteen forty-seven");
* labels and their numbers, Roman or Arabic: "Chapter IV" -> "Chapter Four", "vol. II" -> "volume
  two", "pp. 45-47" -> "pages forty-five to forty-seven"; regnal numbers "Henry VIII" -> "Henry the
  Eighth" (a lone "I" only after a known regnal name, so the pronoun stays);
* ranges, ordinals, decades, years ("1847" -> "eighteen forty-seven"), units, fractions, numbers;
* abbreviations by context: "St. Louis" is Saint, "Baker St." is Street, "St. Louis, Mo." Missouri;
  "Dr." Doctor before a name, Drive after one; etc., e.g., vs.;
* symbols: & + = ° § and the like.

Spans that are not text are held out of every rule: lexicon phoneme marks (core/text/lexicon.py)
and Dia's speaker tags.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from voxfarm.core.text import abbreviations as ab
from voxfarm.core.text import numbers as num
from voxfarm.core.text.readings import NUM, RULES, spell_number, stop

_HELD = 0xF0000  # supplementary private use area: one placeholder character per held span
_PROTECT = re.compile(r"\u27ea[^\u27eb]*\u27eb|\[S[12]\]|[\U000F0000-\U000FFFFD]")
_PLACEHOLDER = re.compile(r"[\U000F0000-\U000FFFFD]")
CAP = r"(?:[A-Z\U000F0000-\U000FFFFD])"  # a capitalised word starts here (a held mark counts as a name)
_ROMAN = r"[IVXLCDM]+"


def _title(words: str) -> str:
    return "-".join(w.capitalize() for w in words.split("-")) if " " not in words else \
        " ".join(_title(w) for w in words.split(" "))


def _plural(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


# -- labels and their numbers, regnal numbers -----------------------------------------------------
_LABEL = re.compile(rf"(?<![\w.])(#|[A-Za-z]+)(\.?)[ \t]?(?<=[\s.#])({_ROMAN}|\d+)\b(?![.,]\d)"
                    rf"(?:\s?[-\u2013\u2014]\s?({_ROMAN}|\d+)\b(?![.,]\d))?")


def _label_number(token: str, *, allow_i: bool) -> str | None:
    if token.isdigit():
        return num.cardinal(int(token))
    value = num.roman_value(token)
    return num.cardinal(value) if value and (token != "I" or allow_i) else None


def _label(m: re.Match, text: str) -> str:
    word, dot, first, second = m.groups()
    lower = word.lower()
    if dot and lower in ab.BEFORE_NUMBER or word == "#":
        name = ab.BEFORE_NUMBER[lower]
        name = name.capitalize() if word[:1].isupper() else name
    elif not dot and lower in ab.LABELS:
        name = word
    else:
        return m.group(0)
    ahead = text[m.end():m.end() + 2]
    titled = word[:1].isupper() and word != "#"
    spoken = _label_number(first, allow_i=titled or not ahead.strip()[:1].isalpha())
    if spoken is None:
        return m.group(0)
    if second is not None:
        other = _label_number(second, allow_i=True)
        if other is None:
            return m.group(0)
        spoken = f"{spoken} to {other}"
    return f"{name} {_title(spoken) if titled else spoken}"


_REGNAL = re.compile(rf"\b([A-Z][a-z]+)\s({_ROMAN})\b(?!\.\w)")


def _regnal(m: re.Match) -> str:
    name, numeral = m.groups()
    value = num.roman_value(numeral)
    known = name in ab.REGNAL
    if value is None or value > (40 if known else 30) or name.lower() in ab.LABELS or \
            not known and (len(numeral) < 2 or set(numeral) - set("IVX")):
        return m.group(0)  # "Size XL", "Vitamin CD", "When I": not regnal numbers
    return f"{name} the {_title(num.ordinal(value))}"


# -- ranges, ordinals, decades, years, units, fractions, numbers ----------------------------------
_RANGE = re.compile(r"(?<![\w.,\-])(\d{1,4})\s?[-\u2013\u2014]\s?(\d{1,4})(?![\w\-]|[.,]\d)")


def _range(m: re.Match) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    if a > b and not (len(m.group(2)) == 2 and len(m.group(1)) == 4):  # "1914-18": a year range
        return m.group(0)
    if len(m.group(1)) == 3 and len(m.group(2)) == 4:  # "555-1234": a telephone number
        return f"{num.digits(m.group(1))}, {num.digits(m.group(2))}"
    if len(m.group(1)) == 4 and 1000 <= a <= 2099:
        end = b if b > 99 else a // 100 * 100 + b
        return f"{num.year(a)} to {num.year(end)}"
    return f"{num.cardinal(a)} to {num.cardinal(b)}"


_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_DECADE = re.compile(r"\b(1[0-9]|20)(\d)0s\b")
_SHORT_DECADE = re.compile(r"(?<!\w)['\u2019]([2-9])0s\b")
_YEAR = re.compile(r"(?<![\w.,\-])(1[1-9]\d\d|20\d\d)(?![\w\-]|[.,]\d)")
_UNIT = re.compile(rf"(?<![\w.])({NUM})\s?({'|'.join(re.escape(u) for u in sorted(ab.UNITS, key=len, reverse=True))})"
                   r"(?![\w/])", re.I)
_FRACTION = re.compile(r"(?<![\w./])(?:(\d+)\s)?(\d)/(\d{1,2})(?![\w/])")
NUMBER = re.compile(rf"(?<![\w.])(?:(?<=\s)-|^-)?(?:{NUM})(?![\w])|(?<![\w\d])\.(\d+)\b")


def _fraction(m: re.Match) -> str:
    whole, a, b = m.group(1), int(m.group(2)), int(m.group(3))
    if b == 0:
        return m.group(0)
    words = ab.FRACTIONS.get((a, b)) or f"{num.cardinal(a)} {num.ordinal(b)}{'s' if a > 1 else ''}"
    return f"{num.cardinal(int(whole))} and {words}" if whole else words


def _number(m: re.Match) -> str:
    if m.group(1):
        return f"point {num.digits(m.group(1))}"
    text = m.group(0)
    return "minus " + spell_number(text[1:]) if text.startswith("-") else spell_number(text)


def _unit(m: re.Match) -> str:
    one, many = ab.UNITS[m.group(2).lower()]
    return f"{spell_number(m.group(1))} {one if m.group(1) == '1' else many}"


# -- abbreviations and symbols ---------------------------------------------------------------------
def _alternation(keys) -> str:
    return "|".join(re.escape(".".join(p.capitalize() for p in k.split("."))) for k in sorted(keys, key=len,
                                                                                             reverse=True))


_TITLE = re.compile(rf"(?<![\w.])({_alternation(ab.TITLES)})\b\.?(?=\s+{CAP})")
_SUFFIX = re.compile(rf"(?<=[\w,] )({_alternation(ab.SUFFIXES)})\.(?!\w)")
_STATE = re.compile(rf"(?<=[a-z], )({_alternation(ab.STATES)})\.(?!\w)")
_ANYWHERE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(ab.ANYWHERE, key=len, reverse=True))
                       + r")(?:\.|(?<=vs)\b|(?<=mph)\b)", re.I)
_SYMBOL = re.compile("|".join(re.escape(s) for s in ab.SYMBOLS))
_SLASH = re.compile(r"(?<=[A-Za-z])/(?=[A-Za-z])")
_SPACES = re.compile(r"[ \t]{2,}")
_BEFORE_PUNCT = re.compile(r" +([,.;:!?)])")


_NAME_BEFORE = re.compile(r"(?:\b[A-Z][\w']*|\d\w*|\b\w+(?:st|nd|rd|th))$")


def _title_word(m: re.Match, text: str) -> str:
    key = m.group(1).lower()
    if key in ab.SUFFIXES and _NAME_BEFORE.search(text[:m.start()].rstrip()) and stop(text, m.end()):
        return m.group(0)  # "Baker St. Then ...": the street ends a sentence (the suffix rule reads it)
    return ab.TITLES[key]


def _abbrev(table: dict[str, str]) -> Callable[[re.Match, str], str]:
    def expand(m: re.Match, text: str) -> str:
        word = table[m.group(1).lower()]
        return word + (stop(text, m.end()) if m.group(0).endswith(".") else "")
    return expand


def _anywhere(m: re.Match, text: str) -> str:
    return ab.ANYWHERE[m.group(1).lower()] + (stop(text, m.end()) if m.group(0).endswith(".") else "")


_RULES: list[tuple[re.Pattern, Callable[..., str], bool]] = [*RULES,  # (pattern, replacement, wants the text)
    (_LABEL, _label, True), (_REGNAL, _regnal, False), (_UNIT, _unit, False), (_RANGE, _range, False),
    (_ORDINAL, lambda m: num.ordinal(int(m.group(1))), False),
    (_DECADE, lambda m: _plural(num.year(int(m.group(1) + m.group(2) + "0"))), False),
    (_SHORT_DECADE, lambda m: _plural(num.cardinal(int(m.group(1)) * 10)), False),
    (_FRACTION, _fraction, False), (_YEAR, lambda m: num.year(int(m.group(1))), False),
    (NUMBER, _number, False), (_TITLE, _title_word, True),
    (_STATE, _abbrev(ab.STATES), True), (_SUFFIX, _abbrev(ab.SUFFIXES), True), (_ANYWHERE, _anywhere, True),
    (_SYMBOL, lambda m: ab.SYMBOLS[m.group(0)], False), (_SLASH, lambda m: " ", False),
]


def _english(text: str) -> str:
    for pattern, replace, wants_text in _RULES:
        if wants_text:
            text = pattern.sub(lambda m, t=text, r=replace: r(m, t), text)
        else:
            text = pattern.sub(replace, text)
    return _BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()


def normalize(text: str, language: str = "en") -> str:
    """What a narrator would say for ``text`` in ``language`` (a code such as ``en`` or ``en-gb``);
    languages without rules come back unchanged."""
    if not language.lower().startswith("en") or not text:
        return text
    held: list[str] = []

    def hold(m: re.Match) -> str:
        held.append(m.group(0))
        return chr(_HELD + len(held) - 1)

    spoken = _english(_PROTECT.sub(hold, text))
    return _PLACEHOLDER.sub(lambda m: held[ord(m.group(0)) - _HELD], spoken)
