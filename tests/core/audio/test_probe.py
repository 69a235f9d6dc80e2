"""Untrusted audio: sniffed by content, decoded in a sandboxed child, hostile files refused."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from voxfarm.core.audio.arrays import encode
from voxfarm.core.audio.probe import decode_untrusted, sniff
from voxfarm.core.errors import InvalidInput, TooLarge, UnsupportedMedia

from helpers import tone, wav_bytes

MAX = 48_000 * 120


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3"])
def test_accepted_formats_decode(fmt):
    data, _ = encode(tone(1.5), 44100, fmt)
    decoded = decode_untrusted(data, 20 << 20, MAX)
    assert decoded.format == fmt and decoded.sample_rate == 44100
    assert decoded.duration_s > 1.3 and decoded.duration_s < 1.7


def test_format_comes_from_content_not_name():
    assert sniff(b"just some text named voice.wav") is None
    with pytest.raises(UnsupportedMedia):
        decode_untrusted(b"just some text named voice.wav", 20 << 20, MAX)


def test_truncated_and_empty_files():
    with pytest.raises(InvalidInput):
        decode_untrusted(b"", 20 << 20, MAX)
    with pytest.raises(InvalidInput):
        decode_untrusted(wav_bytes(tone(1.0))[:30], 20 << 20, MAX)


def test_header_lying_about_2_31_frames_is_refused():
    data = bytearray(wav_bytes(tone(1.0)))
    i = data.find(b"data")
    data[i + 4:i + 8] = struct.pack("<I", 2**31 - 2)
    with pytest.raises(InvalidInput) as err:
        decode_untrusted(bytes(data), 20 << 20, MAX)
    assert "truncated" in err.value.message


def test_cut_short_wav_is_refused_but_streamed_sizes_are_fine():
    full = wav_bytes(tone(2.0))
    with pytest.raises(InvalidInput):
        decode_untrusted(full[: len(full) // 2], 20 << 20, MAX)
    streamed = bytearray(full)
    i = streamed.find(b"data")
    streamed[i + 4:i + 8] = struct.pack("<I", 0xFFFFFFFF)
    assert decode_untrusted(bytes(streamed), 20 << 20, MAX).audio.shape[0] == 88200


def test_declared_length_over_the_cap_is_refused_before_decoding():
    with pytest.raises(InvalidInput) as err:
        decode_untrusted(wav_bytes(tone(3.0)), 20 << 20, max_samples=44100)
    assert err.value.code == "audio_too_long"


def test_unaccepted_codecs_are_refused():
    adpcm = wav_bytes(tone(1.0), subtype="IMA_ADPCM")
    with pytest.raises(UnsupportedMedia):
        decode_untrusted(adpcm, 20 << 20, MAX)


def test_size_cap():
    with pytest.raises(TooLarge):
        decode_untrusted(wav_bytes(tone(1.0)), 1000, MAX)


def test_nan_samples_are_refused():
    with pytest.raises(InvalidInput):
        decode_untrusted(wav_bytes(np.full(44100, np.nan, dtype=np.float32), subtype="FLOAT"), 20 << 20, MAX)
