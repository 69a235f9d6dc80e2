"""The English text front end: what a narrator would say (core/text/normalize.py, numbers.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxfarm.core.text import numbers as num
from voxfarm.core.text.normalize import normalize

CASES = [
    # the sentences, as Whisper heard them before: "Chapter Roman 4 ... Inc. Louis. Mo."
    ("Chapter IV begins at 10:30 a.m. in St. Louis, Mo.",
     "Chapter Four begins at ten thirty AM in Saint Louis, Missouri."),
    ("She read pages 12-19 of vol. II", "She read pages twelve to nineteen of volume two"),
    ("Henry VIII had six wives.", "Henry the Eighth had six wives."),
    ("Elizabeth I was crowned in 1559.", "Elizabeth the First was crowned in fifteen fifty-nine."),
    ("It cost $12.50.", "It cost twelve dollars and fifty cents."),
    ("See pp. 45-47.", "See pages forty-five to forty-seven."),
    ("In 1847 it rained.", "In eighteen forty-seven it rained."),
    ("Part II, Book XII", "Part Two, Book Twelve"),
    ("Louis XIV met Pope John Paul II.", "Louis the Fourteenth met Pope John Paul the Second."),
    ("World War II ended in 1945.", "World War Two ended in nineteen forty-five."),
    ("He lived at 12 Baker St. Then he moved.", "He lived at twelve Baker Street. Then he moved."),
    ("Dr. Watson and Mrs. Hudson", "Doctor Watson and Missus Hudson"),
    ("25% of 3.5 km is 0.875 km", "twenty-five percent of three point five kilometers is zero point eight seven "
                                  "five kilometers"),
    ("It was 20°C at 5 pm.", "It was twenty degrees Celsius at five PM."),
    ("He paid £3.20 & $5 million.", "He paid three pounds and twenty pence and five million dollars."),
    ("The 1840s and the '60s", "The eighteen forties and the sixties"),
    ("On March 5, 1847 and 4 July 1776", "On March fifth, eighteen forty-seven and the fourth of July "
                                          "seventeen seventy-six"),
    ("the 21st and 3rd time", "the twenty-first and third time"),
    ("the years 1914-18", "the years nineteen fourteen to nineteen eighteen"),
    ("Visit https://example.com/bye or ada@example.org.",
     "Visit example dot com slash bye or ada at example dot org."),
    ("apples, pears, etc. Then e.g. more", "apples, pears, et cetera. Then for example more"),
    ("No. 5 and 1,000,000 and -3", "Number Five and one million and minus three"),
    ("about 1/2 mile", "about one half mile"),
    ("Smith, Jr. of Springfield, Ill. came.", "Smith, Junior of Springfield, Illinois came."),
]


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_a_narrator_would_say(written, spoken):
    assert normalize(written) == spoken


@pytest.mark.parametrize("untouched", [
    "When I was young, I read.",  # the pronoun is not a Roman numeral
    "in this chapter I explain",  # nor after a lowercase label
    "Size XL and vitamin C",  # not regnal numbers
    "221B and MP3 and 4K",  # codes pass through
    "Bonjour, ça va?",
])
def test_what_no_rule_understands_passes_through(untouched):
    assert normalize(untouched) == untouched


def test_held_spans_are_never_rewritten():
    text = "[S1] I have 2 cats. [S2] \u27eaHermione 2|h\u025c\u02d0m\u02c8a\u026a\u0259ni\u27eb has 3."
    assert normalize(text) == ("[S1] I have two cats. [S2] \u27eaHermione 2|h\u025c\u02d0m\u02c8a\u026a\u0259ni"
                               "\u27eb has three.")


def test_other_languages_pass_through():
    assert normalize("Le 12 mai 1847", "fr") == "Le 12 mai 1847"
    assert normalize("On 12 May 1847", "en-gb") == "On the twelfth of May eighteen forty-seven"


def test_number_words():
    assert num.cardinal(0) == "zero" and num.cardinal(115) == "one hundred fifteen"
    assert num.cardinal(1_002_003) == "one million two thousand three"
    assert [num.ordinal(n) for n in (1, 2, 3, 12, 20, 21, 100)] == [
        "first", "second", "third", "twelfth", "twentieth", "twenty-first", "one hundredth"]
    assert [num.year(y) for y in (1847, 1900, 2000, 2009, 2015, 1805, 1066)] == [
        "eighteen forty-seven", "nineteen hundred", "two thousand", "two thousand nine", "twenty fifteen",
        "eighteen oh five", "ten sixty-six"]
    assert num.roman_value("XIV") == 14 and num.roman_value("IIII") is None and num.roman_value("IC") is None
    assert num.money("0.05", "dollar", "cent") == "five cents"
    assert num.money("1", "dollar", "cent") == "one dollar"


_WORD = re.compile(r"[A-Za-z]{3,}")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789 .,:;-/%$&@#'\"()[]IVXLCDM\u00b0\u00a3\u20ac")),
               max_size=80))
def test_normalisation_never_loses_a_word(text):
    """Every word of three or more letters that no rule expands is still there (abbreviations a
    rule reads, like "etc", become their words)."""
    out = normalize(text)
    assert isinstance(out, str)
    expandable = {"etc", "viz", "ibid", "approx", "dept", "est", "govt", "misc", "mph", "www", "http", "https"}
    for word in _WORD.findall(text):
        if word.lower() not in expandable and not re.search(rf"\b{word}\.", text):
            assert word in out or word.lower() in out.lower(), (text, out, word)
