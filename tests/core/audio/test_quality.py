from __future__ import annotations

import numpy as np

from voxfarm.core.audio.quality import check_chunk, check_duration, check_levels

from helpers import tone


def test_plausible_speech_passes():
    assert check_chunk(tone(3.0, 22050), 22050, expected_s=3.0) is None


def test_truncation_and_runaway_are_caught():
    assert check_duration(0.5, expected_s=8.0).code == "truncated"
    assert check_duration(40.0, expected_s=8.0).code == "runaway"
    assert check_duration(2.0, expected_s=0.4) is None  # short exclamations get slack


def test_silence_and_clipping_are_caught():
    assert check_levels(np.zeros(22050, dtype=np.float32)).code == "silent"
    assert check_levels(np.full(22050, 1.0, dtype=np.float32)).code == "clipped"
