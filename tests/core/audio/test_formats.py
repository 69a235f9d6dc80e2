"""Issue 15: every output format and preset, read back by ffmpeg (an independent decoder), and the
output filters (volume, time-stretch) measured on the decoded audio."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from voxfarm.core.audio import formats
from voxfarm.core.audio.arrays import encode
from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.errors import InvalidInput
from voxfarm.core.render.finalize import FinalChunk, FinalizeWork, build_single, build_stitched
from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store

RATE = 22_050
DEMUX = {"wav": "wav", "flac": "flac", "mp3": "mp3", "ogg": "ogg", "opus": "ogg", "aac": "aac", "m4a": "mov",
         "m4b": "mov"}


def tone(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 330 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def decode(data: bytes, fmt: str, pcm_rate: int = formats.PCM_RATE) -> np.ndarray:
    demux = ["-f", "s16le", "-ar", str(pcm_rate), "-ac", "1"] if fmt == "pcm" else ["-f", DEMUX[fmt]]
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", *demux, "-i", "pipe:0", "-f", "f32le", "-ac", "1",
                          "-ar", "16000", "pipe:1"], input=data, capture_output=True, check=True)
    return np.frombuffer(out.stdout, "<f4")


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg", "opus", "aac", "m4a", "m4b", "pcm"])
def test_every_format_decodes_back_to_the_same_length(fmt):
    data, rate = formats.encode_array(tone(), RATE, {"format": fmt}, RATE)
    audio = decode(data, fmt, rate)
    # codec padding only: ADTS carries no edit list, so AAC's 2048 priming samples stay (0.093 s)
    assert abs(audio.size / 16000 - 2.0) < 0.1, (fmt, audio.size / 16000)
    assert abs(rms(audio) - rms(tone())) < 0.02


def test_rates_follow_each_codec():
    assert formats.encode_array(tone(0.5), RATE, {"format": "pcm"}, RATE)[1] == 24_000  # OpenAI's pcm
    assert formats.encode_array(tone(0.5), RATE, {"format": "opus"}, RATE)[1] == 48_000
    assert formats.encode_array(tone(0.5), RATE, {"format": "opus", "sample_rate": 22050}, RATE)[1] == 24_000


@pytest.mark.parametrize("preset,kbps", [("mp3_320k", 320), ("mp3_128k", 128)])
def test_mp3_presets_set_the_bitrate(preset, kbps):
    data, _ = formats.encode_array(tone(4.0), RATE, {"format": "mp3", "preset": preset}, RATE)
    assert abs(len(data) * 8 / 4.0 / 1000 - kbps) < kbps * 0.1  # constant bitrate: size says it
    assert formats.encode_array(tone(0.5), RATE, {"format": "mp3", "preset": preset}, RATE)[1] == 44_100
    v0, _ = formats.encode_array(tone(4.0), RATE, {"format": "mp3", "preset": "mp3_v0"}, RATE)
    assert decode(v0, "mp3").size > 0


def test_he_aac_without_libfdk_is_a_clear_422(monkeypatch):
    if "libfdk_aac" in formats.encoders():
        pytest.skip("this ffmpeg has libfdk_aac: the preset works here")
    with pytest.raises(InvalidInput) as exc:
        formats.codec_for("m4a", "m4a_aac_he_v2_32k")
    assert exc.value.status == 422 and exc.value.code == "format_unavailable"
    assert "mp3_v0" in exc.value.details["available"] and "m4a_aac_he_v2_32k" not in exc.value.details["available"]
    listed = {c["name"]: c["available"] for c in formats.catalogue()}
    assert listed["m4a_aac_he_v2_64k"] is False and listed["opus"] is True


def test_volume_and_tempo_are_applied():
    base = decode(formats.encode_array(tone(), RATE, {"format": "wav"}, RATE)[0], "wav")
    quiet = decode(formats.encode_array(tone(), RATE, {"format": "wav", "volume": 0.5}, RATE)[0], "wav")
    assert abs(rms(quiet) / rms(base) - 0.5) < 0.02
    for tempo in (0.3, 1.5, 3.0):
        fast = decode(formats.encode_array(tone(), RATE, {"format": "flac", "tempo": tempo}, RATE)[0], "flac")
        assert abs(fast.size / base.size - 1 / tempo) < 0.03, tempo


def test_speed_goes_through_the_engine_where_it_can():
    espeak = ENGINES["espeak"]
    params = dict(espeak.defaults)
    assert formats.engine_speed(espeak, params, {}, 1.5) == ({**params, "speed": 262}, pytest.approx(1.0, abs=0.01))
    p, tempo = formats.engine_speed(espeak, params, {}, 4.0)  # 700 wpm is beyond espeak: 450 + a stretch
    assert p["speed"] == 450 and tempo == pytest.approx(700 / 450, abs=1e-4)
    assert formats.engine_speed(espeak, params, {"speed": 200}, 2.0) == (params, 2.0)  # caller's own rate kept
    assert formats.engine_speed(ENGINES["dia"], {}, {}, 0.5) == ({}, 0.5)  # no rate param: time-stretch


def test_finalize_writes_new_formats_with_the_time_stretch(tmp_path):
    """One chunk (encoded inline) and three chunks (stitched, loudness-normalized) in opus with a
    2x time-stretch: the stored files decode to half the speech."""
    settings = Settings(data_dir=tmp_path / "var")
    store = open_store(settings)
    output = {"format": "opus", "volume": 1.0, "tempo": 2.0}
    chunks = []
    for i in range(3):
        key = f"t/chunks/{i}.flac"
        info = store.put_bytes(key, encode(tone(2.0), RATE, "flac")[0], "audio/flac")
        chunks.append(FinalChunk(i, 0, "end" if i == 2 else "sentence", key, info.sha256, seed=0, duration_s=2.0))
    work = FinalizeWork("job_1", "ten_1", "espeak", "espeak-ng", "opus", None, False, None, None, {}, {},
                        chunks[:1], output)
    single = build_single(work, store, None)
    assert abs(decode(store.get_bytes(single.key), "opus").size / 16000 - 1.0) < 0.05
    assert single.duration_s == pytest.approx(1.0, abs=0.01)
    work.chunks = chunks
    stitched = build_stitched(work, store, settings, tmp_path)
    heard = decode(store.get_bytes(stitched.key), "opus").size / 16000
    assert heard == pytest.approx(stitched.duration_s, abs=0.1) and 2.8 < heard < 3.6  # 6 s + pauses, halved
