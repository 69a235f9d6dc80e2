"""The speaker gate's arithmetic (core/voices/speaker.py): cosine, the split-half self-similarity and
the per-voice threshold (self-similarity minus the margin, or a fixed threshold for every voice)."""

from __future__ import annotations

import numpy as np
import pytest

from voxfarm.core.settings import Settings
from voxfarm.core.voices.speaker import FALLBACK_SELF_SIMILARITY, cosine, split_half_similarity, threshold


def test_cosine():
    assert cosine([1, 0], [0, 1]) == 0.0 and cosine([2, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine([1, 1], [-1, -1]) == pytest.approx(-1.0) and cosine([0, 0], [1, 0]) == 0.0


def test_threshold_is_the_voices_self_similarity_less_the_margin(tmp_path):
    settings = Settings(data_dir=tmp_path, speaker_margin=0.15)
    assert threshold(0.8, settings) == pytest.approx(0.65)
    assert threshold(None, settings) == pytest.approx(FALLBACK_SELF_SIMILARITY - 0.15)  # not embedded yet
    fixed = settings.model_copy(update={"speaker_threshold": 0.5})
    assert threshold(0.8, fixed) == 0.5 and threshold(None, fixed) == 0.5


class HalfEmbedder:
    """Embeds audio as (mean, rms): halves that sound alike embed alike."""

    model_id = "test"

    def __init__(self) -> None:
        self.calls = []

    def embed(self, audio, rate):
        self.calls.append(audio.size)
        return np.array([audio.mean(), np.sqrt(np.mean(audio ** 2))], np.float32)


def test_split_half_similarity_compares_the_two_halves():
    rate = 1000
    emb = HalfEmbedder()
    steady = np.full(4 * rate, 0.5, np.float32)
    assert split_half_similarity(emb, steady, rate) == pytest.approx(1.0) and emb.calls == [2000, 2000]
    flipped = np.concatenate([np.full(2 * rate, 0.5), np.full(2 * rate, -0.5)]).astype(np.float32)
    assert split_half_similarity(emb, flipped, rate) == pytest.approx(0.0, abs=1e-6)
    assert split_half_similarity(HalfEmbedder(), steady[: rate], rate) == FALLBACK_SELF_SIMILARITY  # too short
