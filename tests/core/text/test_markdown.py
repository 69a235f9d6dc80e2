"""Markdown intake through CommonMark: headings of every level and style structure the book; code,
HTML and link syntax are never spoken.

The property test builds documents from blocks whose spoken words it knows independently of the
parser: prose words come from the letters a-j only, and every piece of markup that must stay
silent (code, HTML, URLs, images, autolinks, link definitions) carries a word with a 'z', so
"nothing unspoken was spoken" is exact and "everything spoken was spoken, in order" too.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from voxfarm.core.jobs.intake import text_format
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.text.markdown import has_headings, parse_markdown

WORD = st.text(alphabet="abcdefghij", min_size=1, max_size=8)
WORDS = st.lists(WORD, min_size=1, max_size=6)


def _heading(level: int, words: list[str], style: str) -> str:
    text = " ".join(words)
    if style == "setext" and level <= 2:
        return f"{text}\n{'=' * 3 if level == 1 else '-' * 3}"
    closing = f" {'#' * level}" if style == "closed" else ""
    return f"{'#' * level} {text}{closing}"


@st.composite
def inline_piece(draw) -> tuple[str, str]:
    """(markdown, what must be spoken)."""
    words = draw(WORDS)
    text = " ".join(words)
    kind = draw(st.sampled_from(["plain", "link", "ref", "collapsed", "emph", "strong", "code", "html",
                                 "autolink", "image"]))
    return {
        "plain": (text, text),
        "link": (f"[{text}](https://zzurl.example/zz?q=1 \"zztitle\")", text),
        "ref": (f"[{text}][zzref]", text),
        "collapsed": (f"[{text}][]", text),  # undefined label: stays literal text, brackets and all
        "emph": (f"*{text}*", text),
        "strong": (f"__{text}__", text),
        "code": (f"`{text}`", text),
        "html": (f'<span class="zzhtml">{text}</span>', text),
        "autolink": ("<https://zzauto.example/zz>", ""),
        "image": (f"![{text} zzalt](zzimage.png)", ""),
    }[kind]


@st.composite
def paragraph(draw) -> tuple[str, str]:
    lead = " ".join(draw(WORDS))  # something to say, whatever markup follows
    pieces = [(lead, lead), *draw(st.lists(inline_piece(), max_size=5))]
    sep = draw(st.sampled_from([" ", "\n"]))  # a soft line break is spoken as a space
    md = sep.join(p[0] for p in pieces)
    spoken = " ".join(" ".join(p[1] for p in pieces).split())
    if "[]" in md:  # an undefined collapsed reference is no link: CommonMark keeps it verbatim
        spoken = " ".join(" ".join(p[0] if p[0].endswith("[]") else p[1] for p in pieces).split())
    return md, spoken


SILENT_BLOCKS = st.sampled_from([
    "```python\nzzcode = 1\n```",
    "~~~\nzzcode tilde\n~~~",
    "    zzcode indented\n    more zzcode",
    "<div class=\"x\">\nzzhtml block\n</div>",
    "<!-- zzhtml comment -->",
    "[zzref]: https://zzdef.example/zz",
    "***",
])


@st.composite
def book(draw):
    """(markdown, expected chapters as [(title, [spoken paragraphs])]) with chapters at a random
    level and style, sections below it, and silent blocks anywhere."""
    level = draw(st.integers(1, 5))
    blocks: list[str] = ["[zzref]: https://zzdef.example/zz"]  # a definition the 'ref' links resolve to
    md, spoken = draw(paragraph())
    blocks.append(md)
    expected = [("Introduction", [spoken])]
    for _ in range(draw(st.integers(1, 4))):
        words = draw(WORDS)
        style = draw(st.sampled_from(["atx", "closed", "setext"]))
        blocks.append(_heading(level, words, style))
        chapter = (" ".join(words), [])
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                blocks.append(draw(SILENT_BLOCKS))
            if draw(st.booleans()):
                section = draw(WORDS)
                style = draw(st.sampled_from(["atx", "setext"]))
                blocks.append(_heading(draw(st.integers(level + 1, 6)), section, style))
                chapter[1].append(" ".join(section))
            md, spoken = draw(paragraph())
            blocks.append(md)
            chapter[1].append(spoken)
        expected.append(chapter)
    return "\n\n".join(blocks) + "\n", expected


@given(book())
@hsettings(max_examples=150, deadline=None)
def test_headings_structure_the_book_and_markup_is_never_spoken(case):
    md, expected = case
    doc = parse_markdown(md)
    got = [(c.title, c.paragraphs) for c in doc.chapters]
    assert got == expected
    spoken = " ".join(p for c in doc.chapters for p in c.paragraphs) + " ".join(c.title for c in doc.chapters)
    assert "z" not in spoken  # no code, HTML, URL, image or definition leaked
    assert has_headings(md)


def test_every_heading_style_and_level_is_recognised():
    for level in range(1, 7):
        for style in ("atx", "closed", "setext") if level <= 2 else ("atx", "closed"):
            md = f"{_heading(level, ['first'], style)}\n\nOne.\n\n{_heading(level, ['second'], style)}\n\nTwo.\n"
            doc = parse_markdown(md)
            assert [(c.title, c.paragraphs) for c in doc.chapters] == [("first", ["One."]), ("second", ["Two."])]


def test_a_lone_top_heading_is_the_book_title():
    doc = parse_markdown("# The Book\n\n## One\n\nFirst.\n\n## Two\n\nSecond.\n")
    assert doc.title == "The Book" and [c.title for c in doc.chapters] == ["One", "Two"]
    assert parse_markdown("# The Book\n\n## One\n\nFirst.\n", title="Given").title == "Given"


def test_code_html_and_urls_in_a_realistic_page():
    md = """Install it
==========

Run the [installer](https://example.com/install "Installer") or see <https://example.com/docs>.

```sh
pip install something
```

~~~
tilde fenced
~~~

    indented code line

<table><tr><td>html cell</td></tr></table>

Usage
-----

Call `render()` with a [reference link][docs]. ![diagram](d.png)

[docs]: https://example.com/reference
"""
    doc = parse_markdown(md)
    assert [(c.title, c.paragraphs) for c in doc.chapters] == [
        ("Install it", ["Run the installer or see ."]),
        ("Usage", ["Call render() with a reference link."]),
    ]


@given(st.text(alphabet="abcdefghij .,\n", max_size=300))
@hsettings(max_examples=100, deadline=None)
def test_auto_detects_markdown_only_by_its_headings(prose):
    assert text_format(JobCreate(text=prose or "x")) == "plain"  # no heading: read as plain text
    assert text_format(JobCreate(text=f"# Title\n\n{prose}")) == "markdown"
    assert text_format(JobCreate(text=f"Title\n=====\n\n{prose}")) == "markdown"
    assert text_format(JobCreate(text="# Title", text_format="plain")) == "plain"  # explicit wins


def test_tables_are_read_row_by_row_and_struck_out_words_are_not():
    doc = parse_markdown("# T\n\n| Name | Age |\n|---|---:|\n| Ann | 30 |\n\nIt was ~~not~~ fine.\n")
    assert doc.chapters[0].paragraphs == ["Name, Age", "Ann, 30", "It was fine."]


def test_a_text_of_headings_only_is_read_not_refused():
    assert parse_markdown("# Hello there").chapters[0].paragraphs == ["Hello there"]
    assert parse_markdown("# One\n\n# Two\n").chapters[0].paragraphs == ["One", "Two"]


def test_hashtags_and_lone_rules_are_not_headings():
    assert not has_headings("#hashtag is not a heading\n\nNor is this.")
    assert not has_headings("Some text.\n\n---\n\nMore text.")  # a thematic break, not setext
    assert has_headings("Some text.\n---\n")  # setext: the line above is a heading
