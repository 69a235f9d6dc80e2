"""Decode untrusted audio in a child process with resource limits.

libsndfile has a long CVE history (ADPCM, MAT4, WAV headers, Ogg) and headers can lie about their
frame count, so uploads are never decoded inside the API process: this module runs as
``python -m core.audio.probe`` under RLIMIT_AS / RLIMIT_CPU and a wall-clock timeout.  A crash or
a runaway decode costs one short-lived child, not an API worker.

Protocol: bytes on stdin; stdout gets one JSON line, then (on success) raw float32 samples,
interleaved, ``frames * channels`` of them.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from voxfarm.core.errors import InvalidInput, TooLarge, UnsupportedMedia

# (libsndfile format, subtype) pairs we accept; everything else is refused before decoding
ALLOWED = {
    "WAV": {"PCM_16", "PCM_24", "PCM_32", "PCM_U8", "FLOAT", "DOUBLE"},
    "FLAC": {"PCM_16", "PCM_24", "PCM_S8"},
    "OGG": {"VORBIS", "OPUS"},
    "MP3": {"MPEG_LAYER_III"},
}
SNIFFED_TO_SF = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}
MEMORY_LIMIT = 1536 * 1024 * 1024  # numpy + libsndfile need ~300 MB of address space
CPU_LIMIT_S = 20
WALL_TIMEOUT_S = 30


def sniff(data: bytes) -> str | None:
    """The container format from magic bytes; extensions and Content-Type are not trusted."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or (len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0):
        return "mp3"
    return None


@dataclass
class Decoded:
    audio: np.ndarray  # float32, shape (frames, channels)
    sample_rate: int
    channels: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate


def wav_data_shortfall(data: bytes) -> int:
    """Bytes the WAV 'data' chunk declares beyond the end of the file (0 when consistent).

    Streaming writers mark unknown sizes as 0 or 0xFFFFFFFF; those are not lies."""
    pos = 12
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if tag == b"data":
            if size in (0, 0xFFFFFFFF):
                return 0
            return max(0, size - (len(data) - pos - 8))
        pos += 8 + size + (size & 1)
    return 0


def _child_main() -> None:
    import soundfile as sf

    max_samples = int(sys.argv[1])
    expected = sys.argv[2]
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer

    def fail(code: str, message: str) -> None:
        out.write(json.dumps({"ok": False, "code": code, "message": message}).encode() + b"\n")
        out.flush()
        sys.exit(0)

    try:
        info = sf.info(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's bad file
        fail("invalid_audio", f"could not read the audio header: {str(exc)[:200]}")
    if info.format != expected:
        fail("unsupported_audio_format", f"content is {info.format}, not {expected}")
    if info.subtype not in ALLOWED.get(info.format, set()):
        fail("unsupported_audio_format", f"{info.format}/{info.subtype} is not an accepted encoding")
    if info.channels < 1 or info.channels > 8 or not 4000 <= info.samplerate <= 192_000:
        fail("invalid_audio", f"implausible stream: {info.channels} channels at {info.samplerate} Hz")
    if info.format == "WAV" and wav_data_shortfall(data) > 1:
        fail("invalid_audio", "the WAV file is truncated: its header promises more audio than it holds")
    if info.frames * info.channels > max_samples:
        fail("audio_too_long", f"the file declares {info.frames} frames, over the limit")
    try:
        # read at most max_samples/channels frames even if the header lied
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True,
                              frames=max(1, max_samples // info.channels))
    except Exception as exc:  # noqa: BLE001
        fail("invalid_audio", f"could not decode the audio: {str(exc)[:200]}")
    if audio.shape[0] == 0:
        fail("invalid_audio", "the file holds no audio frames")
    if not np.isfinite(audio).all():
        fail("invalid_audio", "the audio holds NaN or infinite samples")
    header = {"ok": True, "rate": int(rate), "channels": int(audio.shape[1]),
              "frames": int(audio.shape[0]), "format": info.format, "subtype": info.subtype}
    out.write(json.dumps(header).encode() + b"\n")
    out.write(np.ascontiguousarray(audio, dtype="<f4").tobytes())
    out.flush()


def _limits() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def decode_untrusted(data: bytes, max_bytes: int, max_samples: int) -> Decoded:
    """Sniff, then decode in a sandboxed child.  Raises 413/415/422 domain errors."""
    if len(data) == 0:
        raise InvalidInput("the audio file is empty", code="invalid_audio")
    if len(data) > max_bytes:
        raise TooLarge(f"the audio file is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff(data)
    if kind is None:
        raise UnsupportedMedia("not a WAV, FLAC, Ogg or MP3 file (checked by content, not name)",
                               code="unsupported_audio_format")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME", "LANG")}
    env["OMP_NUM_THREADS"] = "1"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "voxfarm.core.audio.probe", str(max_samples), SNIFFED_TO_SF[kind]],
            input=data, capture_output=True, timeout=WALL_TIMEOUT_S, preexec_fn=_limits, env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    except subprocess.TimeoutExpired:
        raise InvalidInput("decoding the audio took too long", code="invalid_audio") from None
    head, _, body = proc.stdout.partition(b"\n")
    try:
        meta = json.loads(head)
    except ValueError:
        raise InvalidInput("the audio could not be decoded safely (decoder died)",
                           code="invalid_audio") from None
    if not meta.get("ok"):
        code = meta.get("code", "invalid_audio")
        exc_type = UnsupportedMedia if code == "unsupported_audio_format" else InvalidInput
        raise exc_type(meta.get("message", "invalid audio"), code=code)
    frames, channels = meta["frames"], meta["channels"]
    audio = np.frombuffer(body, dtype="<f4")
    if audio.size != frames * channels:
        raise InvalidInput("the audio could not be decoded completely", code="invalid_audio")
    return Decoded(audio.reshape(frames, channels).copy(), meta["rate"], channels, kind,
                   meta["subtype"])


if __name__ == "__main__":
    _child_main()
