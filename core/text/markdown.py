"""Markdown to chapters through a CommonMark parser (markdown-it-py, MIT).

What is spoken is the text a reader sees, never the markup:

* headings of every level and both styles (ATX ``#``..``######`` and setext ``===``/``---``)
  structure the book.  The shallowest level in the text starts chapters (their titles become
  chapter marks, not speech); a deeper heading is a section: its title is spoken as a paragraph
  of its own, so the listener still hears it.  When the shallowest level occurs exactly once, as
  the first block, and deeper headings follow, it is the book's title and the next level starts
  chapters (``# Book`` then ``## Chapter``s);
* code is never spoken: fenced (backticks or tildes) and indented blocks are dropped; inline code
  spans keep their words (``the `print` function`` reads "the print function");
* HTML is never spoken: blocks are dropped, inline tags removed (the words between them stay);
* GFM tables are read row by row (cells joined by commas); ``~~struck out~~`` words are not read;
* links speak their text, never their URL: inline, reference and collapsed links; autolinks
  (``<https://...>``) and images are dropped; link reference definitions are consumed by the
  parser and never reach the text.

``has_headings`` is what ``text_format: auto`` asks: is this Markdown with headings?
Sentence segmentation is not done here (that is sentencex, in chunking.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

from voxfarm.core.text.document import Chapter, Document, clean

# CommonMark plus GFM tables and strikethrough (so their pipes and tildes are markup, not words);
# no linkify: a bare URL in prose stays prose
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# block structure only (headings, code, HTML blocks): a 1.9 MB text in 0.08 s, a full parse 1.0 s
_BLOCKS_ONLY = MarkdownIt("commonmark").disable("inline")


@dataclass
class _Block:
    kind: str  # "heading" | "paragraph"
    text: str
    level: int = 0


def _inline_text(token: Token) -> str:
    """The spoken words of an inline token: text, emphasis content, link text, code span words;
    never URLs, images, HTML tags or struck-out text."""
    out: list[str] = []
    in_autolink = struck = False
    for child in token.children or []:
        kind = child.type
        if kind == "link_open":
            in_autolink = child.markup == "autolink"
        elif kind == "link_close":
            in_autolink = False
        elif kind in ("s_open", "s_close"):
            struck = kind == "s_open"  # ~~struck out~~ words were taken back by their author
        elif kind in ("text", "code_inline") and not (in_autolink or struck):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append(" ")
        # image, html_inline and emphasis markers: nothing spoken
    return clean("".join(out))


def _blocks(text: str) -> list[_Block]:
    tokens = _MD.parse(text)
    blocks: list[_Block] = []
    row: list[str] = []  # a table row is read as one paragraph, its cells separated by commas
    for i, tok in enumerate(tokens):
        if tok.type == "tr_close" and row:
            blocks.append(_Block("paragraph", ", ".join(row)))
            row = []
        if tok.type != "inline":  # code, HTML blocks and rules carry no inline token: never spoken
            continue
        opener = tokens[i - 1]
        spoken = _inline_text(tok)
        if opener.type == "heading_open":
            blocks.append(_Block("heading", spoken, int(opener.tag[1])))
        elif opener.type in ("th_open", "td_open"):
            row += [spoken] if spoken else []
        elif spoken:
            blocks.append(_Block("paragraph", spoken))
    return blocks


def has_headings(text: str) -> bool:
    """True when a CommonMark parser finds at least one heading (ATX or setext) in ``text``."""
    return any(tok.type == "heading_open" for tok in _BLOCKS_ONLY.parse(text))


def _chapter_level(blocks: list[_Block]) -> tuple[int | None, str | None]:
    """(level that starts chapters, book title taken from a lone top heading)."""
    levels = [b.level for b in blocks if b.kind == "heading"]
    if not levels:
        return None, None
    top = min(levels)
    deeper = sorted({lv for lv in levels if lv > top})
    if levels.count(top) == 1 and deeper and blocks[0].kind == "heading" and blocks[0].level == top:
        return deeper[0], blocks[0].text or None
    return top, None


def parse_markdown(text: str, title: str | None = None) -> Document:
    blocks = _blocks(text.replace("\r\n", "\n"))
    level, book_title = _chapter_level(blocks)
    if book_title is not None:
        blocks = blocks[1:]
    title = title or book_title
    chapters: list[Chapter] = []
    current: Chapter | None = None
    for block in blocks:
        if block.kind == "heading" and block.level == level:
            current = Chapter(block.text or f"Chapter {len(chapters) + 1}", announce=bool(block.text))
            chapters.append(current)
            continue
        if not block.text:
            continue
        if current is None:  # prose before the first chapter heading
            current = Chapter(title or "Introduction", announce=False)
            chapters.append(current)
        current.paragraphs.append(block.text)  # a section heading is spoken as its own paragraph
    chapters = [c for c in chapters if c.paragraphs]
    if not chapters:  # nothing but headings ("# Hello there"): they are the text, read them
        spoken = ([book_title] if book_title else []) + [b.text for b in blocks if b.text]
        chapters = [Chapter(title or "Chapter 1", spoken, announce=False)]
    return Document(chapters, title=title)
