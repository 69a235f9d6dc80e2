"""Audio helpers on numpy arrays: encode, resample, measure.  Mono float32 in [-1, 1] throughout."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from voxfarm.core.errors import InvalidInput

# soundfile (libsndfile >= 1.1) writes all four; bit depth 16 keeps files small and universal
_SF_FORMATS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "ogg": ("OGG", "VORBIS"),
}
CONTENT_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "m4b": "audio/mp4",
    "opus": "audio/ogg",  # core/audio/formats.py: opus in Ogg, ADTS aac, m4a, raw s16le pcm
    "aac": "audio/aac",
    "m4a": "audio/mp4",
    "pcm": "audio/pcm",
    "json": "application/json",
    "cue": "application/x-cue",
    "vtt": "text/vtt",  # captions (core/render/captions.py)
    "srt": "application/x-subrip",
}
# libsndfile's MP3 encoder accepts only MPEG rates
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# rates each output format's encoder writes as asked (None: any rate in 8-48 kHz).  MPEG audio and
# AAC (m4b) have only the MPEG rates: another rate would silently become a different one
SAMPLE_RATES: dict[str, tuple[int, ...] | None] = {
    "wav": None, "flac": None, "ogg": None, "mp3": MP3_RATES, "m4b": MP3_RATES,
}


def check_output_rate(fmt: str, rate: int | None) -> None:
    """Refuse a requested ``rate`` that the ``fmt`` encoder cannot write (422, allowed rates listed)."""
    allowed = SAMPLE_RATES.get(fmt)
    if rate is None or allowed is None or rate in allowed:
        return
    table = {f: list(r) if r else "8000-48000" for f, r in SAMPLE_RATES.items()}
    raise InvalidInput(f"{fmt} output cannot be written at {rate} Hz; {fmt} allows "
                       f"{', '.join(map(str, allowed))} Hz", code="unsupported_sample_rate",
                       details={"allowed_sample_rates": table})


def resample(audio: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(audio.astype(np.float32, copy=False), src, dst, quality="HQ").astype(np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    if audio.ndim == 1:
        return audio.astype(np.float32, copy=False)
    return audio.mean(axis=1, dtype=np.float32)


def encode(audio: np.ndarray, sample_rate: int, fmt: str, target_rate: int | None = None) -> tuple[bytes, int]:
    """Encode mono float audio; returns (bytes, sample rate actually written)."""
    if fmt not in _SF_FORMATS:
        raise ValueError(f"cannot encode {fmt!r} with soundfile")
    rate = target_rate or sample_rate
    if fmt == "mp3" and rate not in MP3_RATES:
        rate = min(MP3_RATES, key=lambda r: abs(r - rate))
    data = resample(audio, sample_rate, rate)
    data = np.clip(data, -1.0, 1.0)
    container, subtype = _SF_FORMATS[fmt]
    buf = io.BytesIO()
    sf.write(buf, data, rate, format=container, subtype=subtype)
    return buf.getvalue(), rate


def decode_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Decode audio we produced ourselves (trusted): mono float32 and its rate."""
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return to_mono(audio), int(rate)


@dataclass(frozen=True)
class Levels:
    peak: float
    rms_dbfs: float
    clipped_fraction: float


def levels(audio: np.ndarray) -> Levels:
    if audio.size == 0:
        return Levels(0.0, -120.0, 0.0)
    x = np.abs(audio.astype(np.float32, copy=False))
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return Levels(float(x.max()), 20 * np.log10(max(rms, 1e-6)), float(np.mean(x >= 0.999)))


def peak_normalize(audio: np.ndarray, target_peak: float = 0.89) -> np.ndarray:
    """Scale so the peak sits at -1 dBFS (0.89); silence is returned unchanged."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-6:
        return audio
    return (audio * (target_peak / peak)).astype(np.float32)
