"""Issue 15: the live encoder behind /v1/audio/speech: one continuous stream per request."""

from __future__ import annotations

from tests.core.audio.test_formats import RATE, decode, tone
from voxfarm.core.audio import formats
from voxfarm.core.speech.stream import StreamEncoder, wav_header


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
