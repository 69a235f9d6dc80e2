"""EPUB intake through ebooklib: chapters from the TOC (falling back to the spine), and the
book's title, author and cover from its metadata.  Scripts, styles and markup never reach the
engine.  Parsing runs on uploads, so every failure becomes a 422, never a 500."""

from __future__ import annotations

import io
import posixpath
import zipfile
from html.parser import HTMLParser

from voxfarm.core.errors import InvalidInput
from voxfarm.core.text.document import Chapter, Document, clean
from voxfarm.core.text.sniff import not_readable

_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "br", "tr", "section"}
_SKIP = {"script", "style", "head", "nav", "svg", "math"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.headings: list[str] = []
        self._buf: list[str] = []
        self._skip = 0
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCKS:
            self._flush()
            self._in_heading = tag in ("h1", "h2", "h3")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data):
        if not self._skip:
            self._buf.append(data)

    def _flush(self):
        text = clean(" ".join(self._buf))
        self._buf = []
        if text:
            (self.headings if self._in_heading else self.paragraphs).append(text)
        self._in_heading = False

    def close(self):
        super().close()
        self._flush()


def _extract(html: bytes) -> _TextExtractor:
    parser = _TextExtractor()
    parser.feed(html.decode("utf-8", errors="replace"))
    parser.close()
    return parser


def _toc_titles(toc, out: dict[str, str]) -> None:
    for entry in toc:
        if isinstance(entry, tuple):  # (Section, [children])
            section, children = entry
            href = getattr(section, "href", None)
            if href:
                out.setdefault(href.split("#")[0], section.title)
            _toc_titles(children, out)
        else:
            href = getattr(entry, "href", "") or ""
            out.setdefault(href.split("#")[0], entry.title)


def parse_epub(data: bytes) -> Document:
    import ebooklib
    from ebooklib import epub

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise InvalidInput(not_readable("the document", data) or "the document is not an EPUB (not a zip container)",
                           code="invalid_document")
    try:
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": False})
    except Exception as exc:  # noqa: BLE001 - ebooklib raises many types on bad input
        raise InvalidInput(f"could not read the EPUB: {str(exc)[:200]}", code="invalid_document") from None

    titles: dict[str, str] = {}
    _toc_titles(book.toc, titles)
    chapters: list[Chapter] = []
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        parsed = _extract(item.get_content())
        name = item.get_name()
        title = titles.get(name) or titles.get(posixpath.basename(name))
        paragraphs = parsed.paragraphs
        if not title and parsed.headings:
            title = parsed.headings[0]
        if not paragraphs:
            continue  # cover pages, title pages without prose
        chapters.append(Chapter(clean(title or f"Chapter {len(chapters) + 1}"), paragraphs, announce=bool(title)))
    if not chapters:
        raise InvalidInput("the EPUB contains no readable text", code="invalid_document")

    def meta(name: str) -> str | None:
        values = book.get_metadata("DC", name)
        return clean(values[0][0]) if values and values[0][0] else None

    cover, cover_type = None, None
    for item in book.get_items():
        if item.get_type() == ebooklib.ITEM_COVER or (
                item.get_type() == ebooklib.ITEM_IMAGE and "cover" in (item.get_name() or "").lower()):
            cover, cover_type = item.get_content(), item.media_type
            break
    return Document(chapters, title=meta("title"), author=meta("creator"), cover=cover,
                    cover_type=cover_type)
