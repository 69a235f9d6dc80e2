"""Output sample rates: every rate a format accepts at submit is the rate its file really has."""

from __future__ import annotations

import io

import pytest
import soundfile as sf

from voxfarm.core.audio.arrays import SAMPLE_RATES, check_output_rate, encode
from voxfarm.core.audio.stitch import encode as encode_container
from voxfarm.core.audio.stitch import ffmetadata
from voxfarm.core.errors import InvalidInput

from helpers import ffprobe, tone

ANY_RATE_SAMPLES = (8000, 9000, 11000, 37000, 48000)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_every_accepted_rate_is_the_rate_written(fmt):
    for rate in SAMPLE_RATES[fmt] or ANY_RATE_SAMPLES:
        check_output_rate(fmt, rate)  # accepted at submit ...
        data, _ = encode(tone(0.3, 22050), 22050, fmt, rate)
        assert sf.info(io.BytesIO(data)).samplerate == rate, (fmt, rate)  # ... and really written


def test_m4b_rates_are_the_rates_written(tmp_path):
    master = tmp_path / "m.flac"
    for rate in SAMPLE_RATES["m4b"]:
        check_output_rate("m4b", rate)
        master.write_bytes(encode(tone(0.3, 22050), 22050, "flac", rate)[0])
        encode_container(master, tmp_path / "o.m4b", "m4b", metadata=ffmetadata("t", None, []))
        assert int(ffprobe(tmp_path / "o.m4b", streams=True)["streams"][0]["sample_rate"]) == rate


@pytest.mark.parametrize("fmt,rate", [("mp3", 9000), ("mp3", 44000), ("m4b", 9000), ("m4b", 23000)])
def test_rates_the_encoder_would_change_are_refused(fmt, rate):
    with pytest.raises(InvalidInput) as err:
        check_output_rate(fmt, rate)
    assert err.value.code == "unsupported_sample_rate" and err.value.status == 422
    assert err.value.details["allowed_sample_rates"][fmt] == list(SAMPLE_RATES[fmt])
