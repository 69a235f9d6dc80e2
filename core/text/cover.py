"""Cover images from untrusted books: read just enough of the header to know it is a PNG or JPEG
with real dimensions.  A cover that fails this is dropped at intake (the job says so) rather than
failing the book at finalisation, where ffmpeg would stop on it ("dimensions not set")."""

from __future__ import annotations

import struct

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 65535
# JPEG start-of-frame markers (baseline, progressive, lossless...); not DHT (C4), JPG (C8), DAC (CC)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_info(data: bytes | None) -> tuple[str, int, int] | None:
    """``(kind, width, height)`` for a PNG or JPEG whose header holds sane dimensions, else None."""
    if not data:
        return None
    try:
        found = _png(data) if data.startswith(PNG_MAGIC) else _jpeg(data) if data[:3] == b"\xff\xd8\xff" else None
    except (struct.error, IndexError, ValueError):
        return None
    if found is None:
        return None
    kind, w, h = found
    return found if 0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE else None


def cover_problem(data: bytes | None) -> str | None:
    """Why this cover cannot be used (a sentence for the job's warnings), or None when it can."""
    if image_info(data) is not None:
        return None
    return "the book's cover image is not a readable PNG or JPEG; the audio is delivered without cover art"


def _png(data: bytes) -> tuple[str, int, int] | None:
    # the first chunk must be IHDR: length 13, then width and height as big-endian uint32
    length, tag = struct.unpack(">I4s", data[8:16])
    if tag != b"IHDR" or length != 13 or len(data) < 33:
        return None
    w, h = struct.unpack(">II", data[16:24])
    return "png", w, h


def _jpeg(data: bytes) -> tuple[str, int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        (seg,) = struct.unpack(">H", data[i + 2:i + 4])
        if seg < 2:
            return None
        if marker in _SOF:
            if seg < 7 or i + 9 > len(data):
                return None
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return "jpeg", w, h
        i += 2 + seg
    return None


def cover_ext(data: bytes | None, source: dict) -> str | None:
    """The file extension to store a usable cover under ("png"/"jpg"); None when there is no cover
    or it is unusable, in which case ``source["warnings"]`` says so."""
    if not data:
        return None
    info = image_info(data)
    if info is None:
        source.setdefault("warnings", []).append(cover_problem(data))
        return None
    return "png" if info[0] == "png" else "jpg"
