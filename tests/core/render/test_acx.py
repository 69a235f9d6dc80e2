"""Issue #29 (ACX, partial): room tone and the farm's own ACX measurement of a delivered MP3."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf

from voxfarm.core.audio.roomtone import bed, with_room_tone
from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.render.acx import book_consistent, measure

RATE = 44100


def speechish(seconds: float = 8.0, amp: float = 0.14) -> np.ndarray:
    """Tone bursts (0.4 s on, 0.1 s off): speech-like levels without an engine."""
    t = np.arange(int(seconds * RATE)) / RATE
    gate = (t % 0.5) < 0.4
    return (amp * np.sin(2 * np.pi * 220 * t) * gate).astype(np.float32)


def mp3(tmp_path, audio, name="a.mp3", *args) -> object:
    wav = tmp_path / (name + ".wav")
    sf.write(wav, audio, RATE, subtype="FLOAT")
    out = tmp_path / name
    codec = list(args) or ["-b:a", "192k"]
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", *codec, "-ar",
                    str(RATE), str(out)], check=True)
    return out


def test_bed_is_seeded_quiet_and_never_zero():
    a, b = bed(RATE, seed=7), bed(RATE, seed=7)
    assert np.array_equal(a, b) and not np.array_equal(a, bed(RATE, seed=8))
    rms_db = 20 * np.log10(np.sqrt(np.mean(a.astype(np.float64) ** 2)))
    assert -70 <= rms_db <= -60 and np.count_nonzero(a == 0) == 0


def test_a_compliant_file_passes_every_check(tmp_path):
    audio = with_room_tone(speechish(), RATE, seed=1)
    report = measure(mp3(tmp_path, audio))
    failed = {k: v for k, v in report["checks"].items() if not v["pass"]}
    assert not failed, (failed, report["measured"])
    m = report["measured"]
    assert m["bitrate_kbps"] == [192] and m["sample_rate"] == 44100 and m["channels"] == 1
    assert 0.5 <= m["head_room_tone_s"] <= 1.0 and 1.0 <= m["tail_room_tone_s"] <= 5.0


def test_each_failure_is_named(tmp_path):
    # digital silence at the ends, too loud, VBR at 22.05 kHz input resampled: each check says so
    loud = np.concatenate([np.zeros(RATE // 4, np.float32), speechish(amp=0.9), np.zeros(RATE // 4, np.float32)])
    report = measure(mp3(tmp_path, loud, "bad.mp3", "-q:a", "2"))
    checks = report["checks"]
    for name in ("head_room_tone", "tail_room_tone", "no_digital_silence", "rms", "peak", "mp3_cbr"):
        assert not checks[name]["pass"], (name, report["measured"])
    assert checks["duration"]["pass"] and checks["sample_rate"]["pass"]


@pytest.mark.parametrize("chans,ok", [([1, 1], True), ([1, 2], False)])
def test_book_channels_agree(chans, ok):
    reports = {f"f{i}": {"measured": {"channels": c}} for i, c in enumerate(chans)}
    assert book_consistent(reports)["pass"] is ok
