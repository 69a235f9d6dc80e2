"""What a file that is not text is, said the same way by the CLI (``voxfarm book``, ``submit @file``)
and the API (an upload that should have been an EPUB): one sentence, with what to do instead."""

from __future__ import annotations

_MAGIC = {b"%PDF-": "a PDF", b"PK\x03\x04": "a ZIP archive (a .docx, .odt or an EPUB without its .epub name?)",
          b"{\\rtf": "an RTF document", b"\xd0\xcf\x11\xe0": "an old Word/Office document"}
ACCEPTED = "voxfarm reads plain text, Markdown and EPUB"


def file_kind(data: bytes) -> str | None:
    """``"a PDF"``, ``"an RTF document"``... for a known non-text file, else None."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            return what
    return None


def not_readable(name: str, data: bytes) -> str | None:
    """The one-line refusal for ``data`` (named ``name``) when it is a known non-text file."""
    what = file_kind(data)
    if what is None:
        return None
    return f"{name} is {what}; {ACCEPTED}: convert it first (e.g. pdftotext for a PDF)"
