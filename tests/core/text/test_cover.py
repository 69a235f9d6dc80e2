"""Issue #29 item 3: an unreadable cover never fails a book.  Intake keeps only covers whose
header decodes (PNG/JPEG with real dimensions); ffmpeg-side, an embed that fails falls back to no cover."""

from __future__ import annotations

import struct
import subprocess
import zlib

import numpy as np
import pytest
import soundfile as sf

from voxfarm.core.audio.stitch import encode, ffmpeg_exe
from voxfarm.core.text.cover import cover_ext, image_info


def png(w: int = 4, h: int = 3) -> bytes:
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    rows = b"".join(b"\x00" + b"\x80" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg(tmp_path) -> bytes:
    out = tmp_path / "c.jpg"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=16x8", "-frames:v", "1",
                    str(out)], check=True)
    return out.read_bytes()


def test_good_covers_are_kept(tmp_path):
    assert image_info(png(4, 3)) == ("png", 4, 3)
    assert image_info(jpeg(tmp_path)) == ("jpeg", 16, 8)
    source: dict = {}
    assert cover_ext(png(), source) == "png" and "warnings" not in source
    assert cover_ext(jpeg(tmp_path), source) == "jpg" and "warnings" not in source


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,            # PNG magic, no IHDR
    png(0, 3),                                      # zero width: ffmpeg's "dimensions not set"
    png()[:20],                                     # truncated header
    b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 4,  # JPEG magic, no frame header
    b"GIF89a....",                                  # not a format we embed
    b"not an image at all",
])
def test_unreadable_covers_are_dropped_with_a_warning(data):
    assert image_info(data) is None
    source: dict = {}
    assert cover_ext(data, source) is None
    assert source["warnings"] and "cover" in source["warnings"][0]


def test_encode_falls_back_to_no_cover_when_ffmpeg_rejects_it(tmp_path):
    master = tmp_path / "m.flac"
    sf.write(master, (0.1 * np.sin(np.arange(22050) / 10)).astype(np.float32), 22050)
    bad = tmp_path / "cover.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    dest = tmp_path / "out.m4b"
    encode(master, dest, "m4b", metadata=";FFMETADATA1\ntitle=x\n", cover=bad)
    info = sf.info(master)
    assert dest.stat().st_size > 1000 and info.frames == 22050
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(dest)], capture_output=True, text=True)
    assert "Audio:" in probe.stderr and "Video:" not in probe.stderr
