"""A parsed document: what every input format (plain, Markdown, EPUB) is turned into."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WS = re.compile(r"[ \t\r\f\v]+")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Chapter:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    announce: bool = True  # the title came from the document (False: made up, e.g. "Chapter 1"): read it aloud


@dataclass
class Document:
    chapters: list[Chapter]
    title: str | None = None
    author: str | None = None
    cover: bytes | None = None
    cover_type: str | None = None

    @property
    def chars(self) -> int:
        return sum(len(p) for c in self.chapters for p in c.paragraphs)


def clean(text: str) -> str:
    """Collapse whitespace and drop control characters (they reach engines and ffmpeg tags)."""
    return _WS.sub(" ", _CTRL.sub("", text)).strip()


def split_paragraphs(text: str) -> list[str]:
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        para = clean(block.replace("\n", " "))
        if para:
            paragraphs.append(para)
    return paragraphs


def from_plain(text: str, title: str | None = None) -> Document:
    return Document([Chapter(title or "Chapter 1", split_paragraphs(text), announce=False)], title=title)
