"""Markdown to chapters: every ``#``/``##`` heading starts a chapter; formatting is stripped.

This is intake clean-up, not sentence segmentation (that is sentencex, in chunking.py).
"""

from __future__ import annotations

import re

from core.text.document import Chapter, Document, clean

_HEADING = re.compile(r"^\s{0,3}(#{1,2})\s+(.+?)\s*#*\s*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_CODE_FENCE = re.compile(r"^\s*```")


def _inline(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    for _ in range(3):
        text = _EMPHASIS.sub(r"\2", text)
    return text


def parse_markdown(text: str, title: str | None = None) -> Document:
    chapters: list[Chapter] = []
    current: Chapter | None = None
    para: list[str] = []
    in_code = False

    def flush() -> None:
        nonlocal para
        joined = clean(" ".join(para))
        if joined:
            nonlocal current
            if current is None:
                current = Chapter(title or "Introduction")
                chapters.append(current)
            current.paragraphs.append(joined)
        para = []

    for line in text.replace("\r\n", "\n").split("\n"):
        if _CODE_FENCE.match(line):
            in_code = not in_code
            flush()
            continue
        if in_code:
            continue  # code is not read aloud
        heading = _HEADING.match(line)
        if heading:
            flush()
            current = Chapter(clean(_inline(heading.group(2))) or f"Chapter {len(chapters) + 1}")
            chapters.append(current)
            continue
        if not line.strip() or _RULE.match(line):
            flush()
            continue
        line = _QUOTE.sub("", _LIST.sub("", line))
        para.append(_inline(line))
    flush()
    chapters = [c for c in chapters if c.paragraphs]
    if not chapters:
        chapters = [Chapter(title or "Chapter 1", [])]
    return Document(chapters, title=title)
