"""Stitching: trims, pauses, crossfades, loudness to target, chapters in the container."""

from __future__ import annotations

import numpy as np
import pyloudnorm as pyln
import soundfile as sf

from voxfarm.core.audio.stitch import (
    Pauses,
    Piece,
    assemble,
    cue_sheet,
    encode,
    ffmetadata,
    measure_loudness,
    normalize,
    trim_silence,
)

from helpers import ffprobe, tone

SR = 22050


def _fetch(piece: Piece) -> np.ndarray:
    pad = np.zeros(SR // 4, dtype=np.float32)
    return np.concatenate([pad, tone(1.5, SR, 180 + 15 * piece.idx, amp=0.05 + 0.02 * piece.idx), pad])


def test_trim_keeps_the_speech_and_a_margin():
    audio = np.concatenate([np.zeros(SR), tone(1.0, SR), np.zeros(SR)])
    trimmed = trim_silence(audio, SR)
    seconds = trimmed.size / SR
    assert seconds >= 1.0 and seconds <= 1.1


def test_assemble_pauses_and_chapter_offsets(tmp_path):
    pieces = [Piece(0, 0, "sentence"), Piece(1, 0, "paragraph"), Piece(2, 0, "chapter"), Piece(3, 1, "end")]
    out = assemble(pieces, _fetch, SR, Pauses(250, 600, 1500, 10), tmp_path / "raw.flac")
    audio, rate = sf.read(tmp_path / "raw.flac")
    assert rate == SR and audio.size == out.samples
    speech = sum(trim_silence(_fetch(p), SR).size for p in pieces)
    assert out.samples == speech + int(SR * 0.25) + int(SR * 0.6) + int(SR * 1.5)
    last = trim_silence(_fetch(pieces[3]), SR).size
    assert out.chapter_starts[0] == 0 and out.chapter_starts[1] == out.samples - last


def test_zero_pause_joins_with_a_crossfade(tmp_path):
    pieces = [Piece(0, 0, "sentence"), Piece(1, 0, "end")]
    out = assemble(pieces, _fetch, SR, Pauses(0, 0, 0, 10), tmp_path / "raw.flac")
    xf = int(SR * 0.01)
    assert out.samples == sum(trim_silence(_fetch(p), SR).size for p in pieces) - xf


def test_a_crossfade_adds_the_faded_tail_onto_the_next_head(tmp_path):
    """Two steady levels joined without a pause: the join runs from one to the other, the sum of the
    first's fade-out and the second's fade-in, never dipping below the quieter one."""
    levels = {0: 0.5, 1: 0.25}
    pieces = [Piece(0, 0, "sentence"), Piece(1, 0, "end")]
    out = assemble(pieces, lambda p: np.full(SR // 2, levels[p.idx], np.float32), SR, Pauses(0, 0, 0, 10),
                   tmp_path / "raw.flac")
    audio, _ = sf.read(tmp_path / "raw.flac", dtype="float32")
    xf = int(SR * 0.01)
    assert out.samples == audio.size == SR - xf
    ramp = np.linspace(0.0, 1.0, xf, dtype=np.float32)
    assert np.allclose(audio[SR // 2 - xf: SR // 2], 0.5 * ramp[::-1] + 0.25 * ramp, atol=1e-3)
    assert audio[xf:-xf].min() > 0.249


def test_loudness_target_and_m4b_chapters(tmp_path):
    pieces = [Piece(i, i // 3, "chapter" if i % 3 == 2 else "sentence") for i in range(8)] + [Piece(8, 2, "end")]
    raw = assemble(pieces, _fetch, SR, Pauses(), tmp_path / "raw.flac")
    measured = measure_loudness(raw.path, -20, -3)
    normalize(raw.path, tmp_path / "master.flac", measured, target_lufs=-20, true_peak=-3, out_rate=SR)
    audio, rate = sf.read(tmp_path / "master.flac")
    assert abs(pyln.Meter(rate).integrated_loudness(audio) - (-20)) < 1.0
    chapters = [(f"Part {i}", raw.chapter_starts[i] / SR,
                 (raw.chapter_starts[i + 1] if i + 1 < 3 else raw.samples) / SR) for i in range(3)]
    encode(tmp_path / "master.flac", tmp_path / "book.m4b", "m4b",
           metadata=ffmetadata("A; Title = odd", "Someone", chapters))
    info = ffprobe(tmp_path / "book.m4b")
    assert [c["tags"]["title"] for c in info["chapters"]] == ["Part 0", "Part 1", "Part 2"]
    assert [round(float(c["start_time"]), 2) for c in info["chapters"]] == [round(c[1], 2) for c in chapters]
    tags = {k.lower(): v for k, v in info["format"]["tags"].items()}
    assert tags["title"] == "A; Title = odd" and tags["artist"] == "Someone"  # special characters survive escaping
    import mutagen.mp4

    m4b = mutagen.mp4.MP4(str(tmp_path / "book.m4b"))
    assert [c.title for c in m4b.chapters] == ["Part 0", "Part 1", "Part 2"]
    assert abs(m4b.info.length - raw.samples / SR) < 0.2


def test_cue_sheet_times():
    cue = cue_sheet("book.mp3", "mp3", "T", "A", [("One", 0.0, 61.5), ("Two", 61.5, 90.0)])
    assert 'FILE "book.mp3" MP3' in cue and "INDEX 01 01:01:37" in cue
