"""The normaliser's readings of addresses, times, money, percentages and dates (core/text/normalize.py
runs them, in its rule order)."""

from __future__ import annotations

import re

from voxfarm.core.text import abbreviations as ab
from voxfarm.core.text import numbers as num

NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = r"thousand|million|billion|trillion"
_MONTH = "|".join(ab.MONTHS + [m.capitalize() + r"\." for m in ab.MONTH_ABBREVIATIONS])
_STOP_AHEAD = re.compile(r"\s*(?:$|[\"'\u201d\u2019)]*\s+[A-Z\"\u201c])")


def stop(text: str, end: int) -> str:
    """A period that ended an abbreviation also ended the sentence when the text ends there or a
    capital follows: keep one then."""
    return "." if _STOP_AHEAD.match(text, end) else ""


def spell_number(text: str) -> str:
    if len(text) > 1 and text[0] == "0" and "." not in text:
        return num.digits(text)  # "007", a code: digit by digit
    return num.number(text)


# -- URLs, emails, times, money, percentages, dates ----------------------------------------------
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]']", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL_SIGNS = {".": " dot ", "/": " slash ", "-": " dash ", "_": " underscore ", "@": " at ", ":": " colon ",
              "?": " question mark ", "=": " equals ", "&": " and ", "#": " hash ", "~": " tilde ", "+": " plus ",
              "%": " percent "}


def _address(m: re.Match) -> str:
    text = re.sub(r"^(?:https?://)", "", m.group(0), flags=re.I).rstrip("/")
    spoken = "".join(_URL_SIGNS.get(c, c) for c in text)
    return re.sub(r"\d+", lambda d: f" {num.digits(d.group(0))} ", spoken)


_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?:\s?([AaPp])\.?\s?[Mm]\b(\.?))?")
_HOUR = re.compile(r"\b(1[0-2]|0?[1-9])\s?([AaPp])\.?\s?[Mm]\b(\.?)")


def _time(m: re.Match, text: str) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    words = num.cardinal(hour)
    if minute:
        words += " " + (f"oh {num.cardinal(minute)}" if minute < 10 else num.cardinal(minute))
    elif not m.group(4):
        words += " o'clock"
    if m.group(3):
        words += f" and {num.cardinal(int(m.group(3)))} seconds"
    if m.group(4):
        words += f" {m.group(4).upper()}M" + (stop(text, m.end()) if m.group(5) else "")
    return words


def _hour(m: re.Match, text: str) -> str:
    return f"{num.cardinal(int(m.group(1)))} {m.group(2).upper()}M" + (stop(text, m.end()) if m.group(3) else "")


_MONEY = re.compile(rf"([$£€¥₹])\s?({NUM})(?:\s?({_SCALE})\b|\s?([MmBbKk])n?\b)?")
_CENTS = re.compile(r"\b(\d+)\s?¢")


def _money(m: re.Match) -> str:
    unit, plural, cent, cents = ab.CURRENCIES[m.group(1)]
    scale = m.group(3) or {"m": "million", "b": "billion", "k": "thousand"}.get((m.group(4) or "").lower())
    if scale:
        return f"{num.number(m.group(2))} {scale} {plural}"
    return num.money(m.group(2), unit, cent, plural, cents)


_PERCENT = re.compile(rf"(?<![\w.])(-?)({NUM})\s?%")
_DEGREES = re.compile(rf"(?<![\w.])(-?)({NUM})\s?°\s?([CF])\b")
_DATE_MDY = re.compile(rf"\b({_MONTH})\s(\d{{1,2}})(?:st|nd|rd|th)?\b(?!:)(?:(,?\s)(\d{{4}})\b)?")
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s({_MONTH})(?:(,?\s)(\d{{4}})\b)?")
_DATE_NUM = re.compile(r"\b(1[0-2]|0?[1-9])/([12]\d|3[01]|0?[1-9])/(\d{4})\b")


def _month(name: str) -> str:
    return ab.MONTH_ABBREVIATIONS.get(name.rstrip(".").lower(), name)


def _date_mdy(m: re.Match) -> str:
    if not 1 <= int(m.group(2)) <= 31:
        return m.group(0)
    year = f", {num.year(int(m.group(4)))}" if m.group(4) else ""
    return f"{_month(m.group(1))} {num.ordinal(int(m.group(2)))}{year}"


def _date_dmy(m: re.Match) -> str:
    if not 1 <= int(m.group(1)) <= 31:
        return m.group(0)
    year = f" {num.year(int(m.group(4)))}" if m.group(4) else ""
    return f"the {num.ordinal(int(m.group(1)))} of {_month(m.group(2))}{year}"


def _date_num(m: re.Match) -> str:
    return f"{ab.MONTHS[int(m.group(1)) - 1]} {num.ordinal(int(m.group(2)))}, {num.year(int(m.group(3)))}"


# (pattern, replacement, whether the replacement wants the whole text), in the order they run
RULES = [
    (_URL, _address, False), (_EMAIL, _address, False), (_TIME, _time, True), (_HOUR, _hour, True),
    (_MONEY, _money, False), (_CENTS, lambda m: f"{spell_number(m.group(1))} cents", False),
    (_DEGREES, lambda m: f"{'minus ' if m.group(1) else ''}{spell_number(m.group(2))} degrees "
                         f"{'Celsius' if m.group(3) == 'C' else 'Fahrenheit'}", False),
    (_PERCENT, lambda m: f"{'minus ' if m.group(1) else ''}{spell_number(m.group(2))} percent", False),
    (_DATE_NUM, _date_num, False), (_DATE_MDY, _date_mdy, False), (_DATE_DMY, _date_dmy, False),
]
