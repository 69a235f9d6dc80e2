"""Stream a job's audio while it renders: poll for done chunks in order, encode, yield bytes.

The API process never renders: it reads the chunk rows in order, fetches each finished chunk's
audio from storage as soon as its row says ``done``, trims and fades it as the stitcher would
(core/audio/stitch.py) with the pause its position calls for, and feeds it to one ffmpeg process whose
output goes straight to the client.  One encoder per stream keeps every format one continuous,
valid stream (Ogg/Opus pages, MP3 and ADTS frames, FLAC); WAV and PCM are raw s16le from the
same pipe, WAV behind a streaming header whose sizes say "unknown" (0xFFFFFFFF).

The stream is a view of the job, not its owner: if the API process dies the job still renders
and finalizes, and its stored result can be fetched.  A client that goes away (``client_gone``
is polled while waiting, and a failed write closes the generator) cancels the job's remaining
chunks through ``on_abandon``.
"""

from __future__ import annotations

import base64
import json
import queue
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from voxfarm.core.audio.arrays import decode_bytes
from voxfarm.core.audio.formats import Codec, codec_for, filters, output_rate
from voxfarm.core.audio.stitch import Pauses, ffmpeg_exe, trim_bounds
from voxfarm.core.db import Database
from voxfarm.core.models import Chunk, Job
from voxfarm.core.render.timings import Timeline
from voxfarm.core.state.lifecycle import ChunkStatus, JobStatus
from voxfarm.core.storage import ObjectStore


class StreamEnded(Exception):
    """The job stopped (failed or canceled) before every chunk rendered."""


class ClientGone(Exception):
    """The client closed its connection while the stream waited for a chunk."""


def _fade(audio: np.ndarray, n: int) -> np.ndarray:
    """Short linear fades at both edges, so a trimmed chunk never starts or stops on a click."""
    n = min(n, audio.size // 2)
    if n <= 0:
        return audio
    audio = audio.astype(np.float32, copy=True)
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    audio[:n] *= ramp
    audio[-n:] *= ramp[::-1]
    return audio


def wav_header(rate: int) -> bytes:
    """A 16-bit mono WAV header for a stream of unknown length (RIFF and data sizes 0xFFFFFFFF)."""
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF))


class StreamEncoder:
    """One ffmpeg process: float32 PCM in (per chunk), encoded bytes out (read by a thread, so
    writing a long chunk can never deadlock on a full output pipe)."""

    def __init__(self, codec: Codec, in_rate: int, out_rate: int, *, volume: float, tempo: float) -> None:
        raw = codec.name in ("wav", "pcm")
        args = ("-c:a", "pcm_s16le", "-f", "s16le") if raw else codec.args
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "f32le", "-ar", str(in_rate),
               "-ac", "1", "-i", "pipe:0", *filters(volume, tempo), "-ar", str(out_rate), "-ac", str(codec.channels),
               *args, "-flush_packets", "1", "pipe:1"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.out: queue.Queue[bytes | None] = queue.Queue()
        self.header = wav_header(out_rate) if codec.name == "wav" else b""
        self.finished = False
        self._reader = threading.Thread(target=self._read, daemon=True, name="stream-encoder")
        self._reader.start()

    def _read(self) -> None:
        while True:
            data = self.proc.stdout.read1(65536)
            if not data:
                break
            self.out.put(data)
        self.out.put(None)

    def drain(self, block: bool = False) -> bytes:
        """Encoded output ready so far (all of it, until the end, with ``block``)."""
        parts = [self.header]
        self.header = b""
        while True:
            try:
                item = self.out.get(block=block)
            except queue.Empty:
                break
            if item is None:
                break
            parts.append(item)
        return b"".join(parts)

    def feed(self, audio: np.ndarray) -> bytes:
        """Encode a block; returns whatever encoded output is ready so far."""
        self.proc.stdin.write(np.ascontiguousarray(audio, dtype="<f4").tobytes())
        self.proc.stdin.flush()
        return self.drain()

    def finish(self) -> bytes:
        self.finished = True  # every chunk was fed: a client leaving now abandons nothing
        self.proc.stdin.close()
        self._reader.join(timeout=60)
        rest = self.drain(block=True)
        if self.proc.wait(timeout=60) != 0:
            raise RuntimeError(f"stream encoder exited with {self.proc.returncode}")
        return rest

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class StreamSpec:
    job_id: str
    fmt: str  # a codec name (core/audio/formats.py)
    engine_rate: int
    volume: float = 1.0
    tempo: float = 1.0
    sample_rate: int | None = None


def rendered_chunks(db: Database, store: ObjectStore, job_id: str, *, poll_s: float, timeout_s: float,
                    client_gone: Callable[[], bool] = lambda: False) -> Iterator[tuple[np.ndarray, Any] | None]:
    """Yield (audio, row: its pause_after and what captions need) for each chunk in order, as soon as
    it is done, and None after each poll that found nothing new (the caller flushes its encoder
    then).  Raises ClientGone when ``client_gone`` says so while waiting, StreamEnded if the job stops."""
    idx, waited_since = 0, time.monotonic()
    while True:
        with db.session() as s:
            job = s.get(Job, job_id)
            rows = s.execute(select(Chunk.idx, Chunk.status, Chunk.cache_key, Chunk.sha256, Chunk.pause_after,
                                    Chunk.chapter, Chunk.text, Chunk.spoken_text, Chunk.readback_detail)
                             .where(Chunk.job_id == job_id, Chunk.idx >= idx).order_by(Chunk.idx)).all()
            status, total = job.status, job.progress_total
        for row in rows:
            if row.status != ChunkStatus.done:
                break
            audio, _ = decode_bytes(store.get_bytes(row.cache_key, expect_sha256=row.sha256))
            yield audio, row
            idx, waited_since = row.idx + 1, time.monotonic()
        if idx >= total:
            return
        if status in (JobStatus.failed, JobStatus.canceled):
            raise StreamEnded(f"job {job_id} {status}")
        if client_gone():
            raise ClientGone(job_id)
        if time.monotonic() - waited_since > timeout_s:
            raise StreamEnded(f"no chunk of job {job_id} rendered in {timeout_s:.0f} s")
        yield None
        time.sleep(poll_s)


def stream_audio(db: Database, store: ObjectStore, spec: StreamSpec, pauses: Pauses, *, poll_s: float,
                 timeout_s: float, client_gone: Callable[[], bool] = lambda: False,
                 on_abandon: Callable[[], None] = lambda: None, timeline: Timeline | None = None) -> Iterator[bytes]:
    """Encoded audio of the job, piece by piece, while it renders (see the module docstring).  With a
    ``timeline``, each chunk is placed on it as it is fed (the stream's own time, before the tempo)."""
    codec = codec_for(spec.fmt)
    out_rate = output_rate(codec, spec.sample_rate, spec.engine_rate)
    encoder = StreamEncoder(codec, spec.engine_rate, out_rate, volume=spec.volume, tempo=spec.tempo)
    xf = int(spec.engine_rate * pauses.crossfade_ms / 1000)
    abandoned = False  # only a client that left cancels: an error here (storage, ffmpeg) leaves the job be
    fed = 0  # samples fed so far, at the engine's rate
    try:
        yield b""  # an empty write sends the headers (and X-Job-Id) before any chunk has rendered
        for item in rendered_chunks(db, store, spec.job_id, poll_s=poll_s, timeout_s=timeout_s,
                                    client_gone=client_gone):
            if item is None:  # waiting for the next chunk: pass on what the encoder has made meanwhile
                data = encoder.drain()
            else:
                audio, row = item
                gap = np.zeros(int(spec.engine_rate * pauses.after(row.pause_after) / 1000), dtype=np.float32)
                head, end = trim_bounds(audio, spec.engine_rate)
                piece = _fade(audio[head:end], xf)
                if timeline is not None:
                    timeline.add(row, piece, fed, head)
                fed += piece.size + gap.size
                data = encoder.feed(np.concatenate([piece, gap]))
            if data:
                yield data
        tail = encoder.finish()
        if tail:
            yield tail
    except StreamEnded:
        pass  # the job ended on its own (failed, canceled): the client sees a short stream
    except ClientGone:
        abandoned = True
    except GeneratorExit:  # the server closed us: the client's connection is gone
        abandoned = not encoder.finished
        raise
    finally:
        encoder.close()
        if abandoned:
            on_abandon()


def sse_events(audio: Generator[bytes, None, None], input_chars: int, timeline: Timeline | None = None,
               tempo: float = 1.0) -> Iterator[bytes]:
    """OpenAI's speech SSE: ``speech.audio.delta`` events (base64 audio), then ``speech.audio.done``.
    With a ``timeline`` (the voxfarm ``timestamps`` extension), a ``speech.timestamps.delta`` event
    carries each chunk's sentences (and words, with read-back) before its audio."""
    sent, told = 0, (0, 0)
    try:
        for data in audio:
            if timeline is not None:
                delta, told = timeline.delta(told, tempo)
                if delta:
                    yield _event({"type": "speech.timestamps.delta", **delta})
            if not data:
                yield b""
                continue
            sent += len(data)
            yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
    finally:
        audio.close()  # a client that left closes this generator: close the one feeding it now
    delta = timeline.delta(told, tempo)[0] if timeline is not None else None
    if delta:  # the last chunk's times, when its audio came out with the encoder's tail
        yield _event({"type": "speech.timestamps.delta", **delta})
    # no tokenizer here: input characters and output bytes stand in for OpenAI's token counts
    yield _event({"type": "speech.audio.done",
                  "usage": {"input_tokens": input_chars, "output_tokens": sent, "total_tokens": input_chars + sent}})


def captioned(audio: Generator[bytes, None, None], timeline: Timeline, job_id: str, content_type: str,
              tempo: float = 1.0) -> Iterator[bytes]:
    """The stream as one JSON document with its timings (``timestamps`` without SSE), itself streamed:
    the audio goes out base64 as it renders (whole 3-byte groups), the timings close the document."""
    yield (json.dumps({"job_id": job_id, "content_type": content_type})[:-1] + ', "audio": "').encode()
    rest = b""
    try:
        for data in audio:
            rest += data
            cut = len(rest) - len(rest) % 3
            yield base64.b64encode(rest[:cut])  # b"" while waiting: the server flushes, the client waits
            rest = rest[cut:]
    finally:
        audio.close()  # a client that left closes this generator: close the one feeding it now
    delta = timeline.delta((0, 0), tempo)[0] or {"segments": [], "words": []}
    yield base64.b64encode(rest) + b'", ' + json.dumps(delta)[1:].encode()


def _event(payload: dict) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()
