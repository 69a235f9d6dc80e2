"""Output formats and quality presets encoded with ffmpeg: one table for files and live streams.

The four formats soundfile writes (wav, flac, mp3, ogg) keep their original path in
core/audio/arrays.py and core/audio/stitch.py; this module adds opus (in Ogg), aac (ADTS), m4a, pcm (raw s16le)
and the quality presets, plus the output filters every format may ask for (``volume``, and
``tempo``: the time-stretch left over when the engine cannot change its own speed).

ffmpeg is the static build of the ``imageio-ffmpeg`` wheel.  Which encoders it holds is read once
from ``ffmpeg -encoders``: HE-AAC needs libfdk_aac, which that build (and most distributions'
builds, for licence reasons) lacks, so those presets are refused with a 422 that names what is
available rather than failing in a worker.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.engines.registry import EngineSpec
from voxfarm.core.errors import InvalidInput

MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
PCM_RATE = 24_000  # OpenAI's pcm is 24 kHz s16le mono; ours too unless sample_rate says otherwise


@dataclass(frozen=True)
class Codec:
    """How to write one format (or preset): ffmpeg codec and muxer arguments."""

    name: str
    fmt: str  # the file format it produces (a preset names its container format)
    content_type: str
    args: tuple[str, ...]
    encoder: str  # the ffmpeg encoder it needs
    rates: tuple[int, ...] | None = None  # accepted output rates (nearest is taken)
    default_rate: int | None = None  # used when no sample_rate is asked for
    seekable: bool = False  # the muxer rewrites its header at the end: file output only
    channels: int = 1


CODECS: dict[str, Codec] = {c.name: c for c in (
    Codec("wav", "wav", "audio/wav", ("-c:a", "pcm_s16le", "-f", "wav"), "pcm_s16le"),
    Codec("flac", "flac", "audio/flac", ("-c:a", "flac", "-f", "flac"), "flac"),
    Codec("mp3", "mp3", "audio/mpeg", ("-c:a", "libmp3lame", "-q:a", "2", "-f", "mp3"), "libmp3lame", MP3_RATES),
    Codec("ogg", "ogg", "audio/ogg", ("-c:a", "libvorbis", "-q:a", "5", "-f", "ogg"), "libvorbis"),
    # 20 ms Ogg pages: the muxer's 1 s default would hold a live stream's first audio back
    Codec("opus", "opus", "audio/ogg", ("-c:a", "libopus", "-b:a", "64k", "-f", "ogg", "-page_duration", "20000"),
          "libopus", OPUS_RATES, 48_000),
    Codec("aac", "aac", "audio/aac", ("-c:a", "aac", "-b:a", "96k", "-f", "adts"), "aac"),
    Codec("m4a", "m4a", "audio/mp4", ("-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-f", "ipod"),
          "aac", seekable=True),
    Codec("m4b", "m4b", "audio/mp4", ("-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "ipod"),
          "aac", seekable=True),
    Codec("pcm", "pcm", "audio/pcm", ("-c:a", "pcm_s16le", "-f", "s16le"), "pcm_s16le", None, PCM_RATE),
)}

# quality presets (the names clients send as ``output.preset``)
PRESETS: dict[str, Codec] = {c.name: c for c in (
    # 44.1 kHz unless asked otherwise: below 32 kHz MPEG-2 layer III tops out at 160 kbps
    *(Codec(name, "mp3", "audio/mpeg", ("-c:a", "libmp3lame", *quality, "-f", "mp3"), "libmp3lame", MP3_RATES,
            44_100)
      for name, quality in (("mp3_v0", ("-q:a", "0")), ("mp3_320k", ("-b:a", "320k")),
                            ("mp3_128k", ("-b:a", "128k")))),
    # HE-AAC v2 is parametric stereo: it needs two channels in
    *(Codec(f"m4a_aac_he_v2_{kbps}k", "m4a", "audio/mp4",
            ("-c:a", "libfdk_aac", "-profile:a", "aac_he_v2", "-b:a", f"{kbps}k", "-movflags", "+faststart",
             "-f", "ipod"), "libfdk_aac", (32000, 44100, 48000), 44_100, seekable=True, channels=2)
      for kbps in (32, 64)),
)}

SOUNDFILE_FORMATS = frozenset({"wav", "flac", "mp3", "ogg"})  # the original encode path


@functools.lru_cache(maxsize=1)
def encoders() -> frozenset[str]:
    """Names of the audio encoders compiled into the ffmpeg at hand (read once per process)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30,
                          check=True)
    names, listing = set(), False
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("---"):
            listing = True  # the legend above this line explains the flag columns
        elif listing and len(parts) >= 2 and parts[0].startswith("A"):
            names.add(parts[1])
    return frozenset(names)


def catalogue() -> list[dict[str, Any]]:
    """Every format and preset with whether this farm's ffmpeg can write it (GET /v1/formats)."""
    have = encoders()
    return [{"name": c.name, "kind": kind, "format": c.fmt, "content_type": c.content_type,
             "encoder": c.encoder, "available": c.encoder in have}
            for kind, table in (("format", CODECS), ("preset", PRESETS)) for c in table.values()]


def codec_for(fmt: str, preset: str | None = None) -> Codec:
    """The codec for a format or preset; 422 ``format_unavailable`` when ffmpeg cannot write it."""
    codec = PRESETS[preset] if preset else CODECS[fmt]
    if codec.encoder not in encoders():
        usable = [c["name"] for c in catalogue() if c["available"]]
        raise InvalidInput(f"{codec.name} needs the ffmpeg encoder {codec.encoder}, which this server's ffmpeg "
                           f"lacks; available: {', '.join(usable)} (GET /v1/formats)",
                           code="format_unavailable", details={"available": usable})
    return codec


def output_rate(codec: Codec, requested: int | None, engine_rate: int) -> int:
    rate = requested or codec.default_rate or engine_rate
    if codec.rates and rate not in codec.rates:
        rate = min(codec.rates, key=lambda r: abs(r - rate))
    return rate


def needs_ffmpeg(output: dict[str, Any]) -> bool:
    """Whether a job's output goes through this module rather than the soundfile/stitch path."""
    return (output.get("format", "wav") not in SOUNDFILE_FORMATS or bool(output.get("preset"))
            or float(output.get("volume") or 1.0) != 1.0 or float(output.get("tempo") or 1.0) != 1.0)


def filters(volume: float = 1.0, tempo: float = 1.0) -> list[str]:
    """``-af`` arguments for gain and time-stretch (pitch kept)."""
    chain = []
    if volume != 1.0:
        chain.append(f"volume={volume:.4f}")
    # atempo takes 0.5-100 per instance: slower than 0.5x is a chain of 0.5x stages
    while tempo < 0.5:
        chain.append("atempo=0.5")
        tempo /= 0.5
    if abs(tempo - 1.0) > 1e-6:
        chain.append(f"atempo={tempo:.5f}")
    return ["-af", ",".join(chain)] if chain else []


def _ffmpeg(args: list[str], data: bytes | None = None) -> bytes:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-protocol_whitelist", "file,pipe", *args]
    proc = subprocess.run(cmd, input=data, capture_output=True, timeout=6 * 3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-800:]}")
    return proc.stdout


def encode_array(audio: np.ndarray, rate: int, output: dict[str, Any], engine_rate: int) -> tuple[bytes, int]:
    """Encode mono float audio as ``output`` asks (format, preset, sample_rate, volume, tempo)."""
    codec = codec_for(output.get("format", "wav"), output.get("preset"))
    out_rate = output_rate(codec, output.get("sample_rate"), engine_rate)
    with tempfile.TemporaryDirectory(prefix="vf-enc-") as tmp:
        dest = Path(tmp) / f"out.{codec.fmt}"
        _ffmpeg(["-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
                 *filters(float(output.get("volume") or 1.0), float(output.get("tempo") or 1.0)),
                 "-ar", str(out_rate), "-ac", str(codec.channels), *codec.args, str(dest)],
                np.ascontiguousarray(audio, dtype="<f4").tobytes())
        return dest.read_bytes(), out_rate


def transcode(master: Path, dest: Path, output: dict[str, Any], engine_rate: int, *, metadata: str | None = None,
              start_sample: int | None = None, end_sample: int | None = None) -> int:
    """Encode a FLAC master file as ``output`` asks; tags and chapters from ``metadata`` where the
    container carries them.  Returns the rate written."""
    codec = codec_for(output.get("format", "wav"), output.get("preset"))
    out_rate = output_rate(codec, output.get("sample_rate"), engine_rate)
    args = ["-f", "flac", "-i", str(master)]
    maps = ["-map", "0:a"]
    if metadata and codec.fmt not in ("pcm", "aac"):
        meta = dest.with_suffix(".ffmeta")
        meta.write_text(metadata, encoding="utf-8")
        args += ["-f", "ffmetadata", "-i", str(meta)]
        maps += ["-map_metadata", "1", "-map_chapters", "1"]
    chain = filters(float(output.get("volume") or 1.0), float(output.get("tempo") or 1.0))
    if start_sample is not None:
        trim = f"atrim=start_sample={start_sample}:end_sample={end_sample},asetpts=PTS-STARTPTS"
        chain = ["-af", trim + ("," + chain[1] if chain else "")]
    _ffmpeg([*args, *maps, *chain, "-ar", str(out_rate), "-ac", str(codec.channels), *codec.args, str(dest)])
    dest.with_suffix(".ffmeta").unlink(missing_ok=True)
    return out_rate


def engine_speed(spec: EngineSpec, params: dict[str, Any], given: dict[str, Any], speed: float) -> tuple[dict, float]:
    """Apply output ``speed`` through the engine's own rate parameter where it has one (and the
    caller did not set it), within its bounds; returns the params and the time-stretch left over."""
    if abs(speed - 1.0) < 1e-9:
        return params, 1.0
    if spec.speed_param is None or spec.speed_param[0] in given:
        return params, speed
    name, base, low, high = spec.speed_param
    wanted = base * speed
    value = min(high, max(low, wanted))
    if isinstance(spec.defaults.get(name, base), int):
        value = round(value)
    return {**params, name: value}, round(wanted / value, 5)
