"""Issue 31: what a streamed response saved to a file looks like to soundfile (libsndfile).

WAV: the streaming header's sizes say 0xFFFFFFFF (unknown); libsndfile takes the data to the end of
the file, so a saved stream opens with its exact length.  FLAC: the stream's STREAMINFO says 0 total
samples (unknown, valid FLAC, what any streaming encoder writes); libsndfile then reports 2**63-1
frames and ``soundfile.read`` fails ("array is too big").  The fix is on the reader's side: re-mux
once, losslessly (``ffmpeg -i saved.flac -c:a flac fixed.flac`` writes the real count; ``-c:a copy`` does
not), fetch the finished job's stored audio, or ask for WAV/PCM."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import soundfile as sf

from voxfarm.core.audio import formats
from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.speech.stream import StreamEncoder

RATE = 24_000


def _streamed(fmt: str) -> bytes:
    t = np.arange(RATE) / RATE
    second = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    enc = StreamEncoder(formats.codec_for(fmt), RATE, RATE, volume=1.0, tempo=1.0)
    try:
        return b"".join([enc.feed(second), enc.feed(second), enc.finish()])
    finally:
        enc.close()


def test_a_saved_streamed_wav_opens_in_soundfile_with_its_length(tmp_path):
    data = _streamed("wav")
    path = tmp_path / "speech.wav"
    path.write_bytes(data)
    for source in (path, io.BytesIO(data)):
        audio, rate = sf.read(source)
        assert rate == RATE and audio.size == 2 * RATE


def test_a_saved_streamed_flac_says_unknown_length_and_opens_after_a_lossless_reencode(tmp_path):
    data = _streamed("flac")
    assert data[:4] == b"fLaC"
    total = int.from_bytes(data[18:26], "big") & ((1 << 36) - 1)  # STREAMINFO's total samples
    assert total == 0  # unknown: what libsndfile cannot size (see the module docstring)
    saved, fixed = tmp_path / "speech.flac", tmp_path / "fixed.flac"
    saved.write_bytes(data)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(saved), "-c:a", "flac", str(fixed)],
                   check=True)
    audio, rate = sf.read(fixed)
    assert rate == RATE and audio.size == 2 * RATE
