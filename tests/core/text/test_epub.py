"""EPUB intake: chapters from the TOC, title/author/cover from the metadata."""

from __future__ import annotations

import io

import pytest

from voxfarm.core.errors import InvalidInput
from voxfarm.core.text.epub import parse_epub


def make_epub(chapters: list[tuple[str, str]], title="The Test Book", author="Ada Author",
              cover: bool | bytes = True) -> bytes:
    """An EPUB; ``cover`` is True (a tiny PNG), False, or the cover image's bytes."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("vf-test")
    book.set_title(title)
    book.set_language("en")
    book.add_author(author)
    if isinstance(cover, bytes):
        book.set_cover("cover.png", cover)
    elif cover:
        import numpy as np
        import soundfile  # noqa: F401 - keeps imports symmetrical; PNG made below
        png = _png(np.zeros((8, 8), dtype=np.uint8))
        book.set_cover("cover.png", png)
    items = []
    for i, (name, body) in enumerate(chapters, 1):
        item = epub.EpubHtml(title=name, file_name=f"chap_{i}.xhtml", lang="en")
        paras = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        item.content = f"<html><body><h1>{name}</h1>{paras}<script>alert('no')</script></body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    buf = io.BytesIO()
    epub.write_epub(buf, book)
    return buf.getvalue()


def noise_png(side: int, seed: int = 0) -> bytes:
    """A grey PNG of random pixels: incompressible, so it weighs about side*side bytes."""
    import numpy as np

    return _png(np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8))


def _png(pixels) -> bytes:
    import struct
    import zlib

    h, w = pixels.shape
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_epub_chapters_titles_and_metadata():
    data = make_epub([("Arrival", "They came by sea.\n\nThe harbour was quiet."), ("Departure", "They left at dawn.")])
    doc = parse_epub(data)
    assert [c.title for c in doc.chapters] == ["Arrival", "Departure"]
    assert doc.chapters[0].paragraphs == ["They came by sea.", "The harbour was quiet."]
    assert doc.title == "The Test Book" and doc.author == "Ada Author"
    assert doc.cover and doc.cover.startswith(b"\x89PNG")
    assert all("alert" not in p for c in doc.chapters for p in c.paragraphs)


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04broken zip"])
def test_bad_epubs_are_422(data):
    with pytest.raises(InvalidInput):
        parse_epub(data)
