"""English numbers in words: cardinals, ordinals, years, decimals, money and Roman numerals.

Written here (a few dozen lines) rather than taken from num2words, which is LGPL.  Everything is
exact integer arithmetic on the digits as written: "0.50" keeps its two decimals ("zero point five
zero"), and a number too long to be a quantity (more than 36 digits) is read digit by digit.
"""

from __future__ import annotations

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ["", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion",
           "septillion", "octillion", "nonillion", "decillion"]
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def _under_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest or not hundreds:
        words.append(_ONES[rest])
    return " ".join(words)


def digits(text: str) -> str:
    """Digit by digit: "007" -> "zero zero seven"."""
    return " ".join(_ONES[int(d)] for d in text if d.isdigit())


def cardinal(n: int) -> str:
    """1234 -> "one thousand two hundred thirty-four" (American style, no "and")."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= 1000 ** len(_SCALES):
        return digits(str(n))
    if n < 1000:
        return _under_thousand(n)
    groups = []
    scale = 0
    while n:
        n, part = divmod(n, 1000)
        if part:
            groups.append(_under_thousand(part) + (f" {_SCALES[scale]}" if scale else ""))
        scale += 1
    return " ".join(reversed(groups))


def ordinal(n: int) -> str:
    """21 -> "twenty-first"."""
    words = cardinal(n)
    head, sep, last = words.rpartition("-") if "-" in words.split(" ")[-1] else words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year(n: int) -> str:
    """How a year is said: 1847 "eighteen forty-seven", 1900 "nineteen hundred", 2000 "two
    thousand", 2009 "two thousand nine", 2015 "twenty fifteen", 1805 "eighteen oh five"."""
    if not 1000 <= n <= 9999 or (n % 1000 < 100 and n // 1000 in (2, 3) and n < 2010):
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred" if n % 1000 else cardinal(n)
    return f"{cardinal(high)} {'oh ' + _ONES[low] if low < 10 else cardinal(low)}"


def number(text: str) -> str:
    """A number as written, with thousands separators and decimals: "1,234.50" -> "one thousand two
    hundred thirty-four point five zero"."""
    whole, _, frac = text.replace(",", "").partition(".")
    words = cardinal(int(whole)) if whole else "zero"
    if len(whole) > 36:
        words = digits(whole)
    return f"{words} point {digits(frac)}" if frac else words


def roman_value(text: str) -> int | None:
    """The value of a well-formed Roman numeral in capitals ("XIV" -> 14), else None ("IIII", "IC")."""
    if not text or any(c not in _ROMAN for c in text):
        return None
    total = 0
    for i, c in enumerate(text):
        value = _ROMAN[c]
        total += -value if i + 1 < len(text) and _ROMAN[text[i + 1]] > value else value
    return total if 0 < total < 4000 and to_roman(total) == text else None


def to_roman(n: int) -> str:
    out = []
    for value, numeral in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                           (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)


def money(amount: str, unit: str, cents_unit: str, plural: str | None = None, cents_plural: str | None = None
          ) -> str:
    """"12.50", "dollar", "cent" -> "twelve dollars and fifty cents"; "1" -> "one dollar"."""
    whole, _, frac = amount.replace(",", "").partition(".")
    n = int(whole or 0)
    parts = []
    if n or not frac:
        parts.append(f"{cardinal(n)} {unit if n == 1 else plural or unit + 's'}")
    if frac:
        cents = int((frac + "0")[:2]) if len(frac) <= 2 else None
        if cents is None:  # "$1.255": not cents, read the decimal
            return f"{number(amount)} {plural or unit + 's'}"
        if cents:
            parts.append(f"{cardinal(cents)} {cents_unit if cents == 1 else cents_plural or cents_unit + 's'}")
    return " and ".join(parts) or f"zero {plural or unit + 's'}"
