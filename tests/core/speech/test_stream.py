"""Issue 15: the live encoder behind /v1/audio/speech: one continuous stream per request, carrying every
chunk, those that render while it waits too."""

from __future__ import annotations

from tests.core.audio.test_formats import RATE, decode, tone
from voxfarm.core.audio import formats
from voxfarm.core.audio.arrays import encode
from voxfarm.core.audio.stitch import Pauses
from voxfarm.core.models import Chunk
from voxfarm.core.speech.stream import StreamEncoder, StreamSpec, rendered_chunks, stream_audio, wav_header

from helpers import submit_job_direct


def test_stream_encoder_makes_one_continuous_ogg_opus_stream():
    enc = formats.codec_for("opus")
    stream = StreamEncoder(enc, RATE, 48_000, volume=1.0, tempo=1.0)
    try:
        data = b"".join([stream.feed(tone(1.0)), stream.feed(tone(1.0)), stream.feed(tone(0.5)), stream.finish()])
    finally:
        stream.close()
    assert data.count(b"OpusHead") == 1  # one stream header: not three files glued together
    assert abs(decode(data, "opus").size / 16000 - 2.5) < 0.08


def test_streaming_wav_header_says_unknown_length():
    header = wav_header(24_000)
    assert len(header) == 44 and header[4:8] == b"\xff\xff\xff\xff" and header[40:44] == b"\xff\xff\xff\xff"
    pcm = (tone(1.0) * 32767).astype("<i2").tobytes()
    assert abs(decode(header + pcm, "wav").size / 16000 - 1.0 * RATE / 24_000) < 0.01


def _render(db, chunk_id: str, seconds: float) -> None:
    """What a worker leaves behind: the chunk's audio under its cache key, and the row ``done``."""
    with db.session() as s:
        chunk = s.get(Chunk, chunk_id)
        info = db.test_store.put_bytes(chunk.cache_key, encode(tone(seconds), RATE, "flac")[0], "audio/flac")
        chunk.status, chunk.sha256, chunk.duration_s = "done", info.sha256, seconds


def test_the_stream_carries_chunks_that_finish_after_the_first(db):
    """Chunk 0 is done when the stream starts; the others finish while it runs (here: once it has
    delivered chunk 0).  Every chunk reaches the client, and the whole book's duration arrives."""
    text = "# A\nThe first part.\n\n# B\nThe second part.\n\n# C\nThe third part."
    job_id, chunks = submit_job_direct(db, text, text_format="markdown", webhook=None)
    assert len(chunks) >= 3
    _render(db, chunks[0], 1.0)
    got = []
    for item in rendered_chunks(db, db.test_store, job_id, poll_s=0.01, timeout_s=30):
        if item is not None:
            got.append(item[0].size)
            if len(got) == 1:  # the rest render now, while the stream is open
                for chunk_id in chunks[1:]:
                    _render(db, chunk_id, 1.0)
    assert len(got) == len(chunks)

    job_id, chunks = submit_job_direct(db, text + " Again.", text_format="markdown", webhook=None)
    _render(db, chunks[0], 1.0)
    waits = []

    def waiting() -> bool:  # polled while the stream waits for its next chunk: the rest render now
        if not waits:
            for chunk_id in chunks[1:]:
                _render(db, chunk_id, 1.0)
        waits.append(1)
        return False  # the client is still there

    no_pauses = Pauses(0, 0, 0, 10, 0)
    data = list(stream_audio(db, db.test_store, StreamSpec(job_id, "wav", RATE), no_pauses, poll_s=0.01,
                             timeout_s=30, client_gone=waiting))
    assert waits  # the stream did wait for chunks still rendering
    seconds = decode(b"".join(data), "wav").size / 16000
    assert abs(seconds - len(chunks)) < 0.15, seconds  # every 1 s chunk, not the first one alone
