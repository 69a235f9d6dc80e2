"""A batch's engine time is split between its items in proportion to their audio."""

from __future__ import annotations

import numpy as np

from voxfarm.worker.engines.base import RenderResult
from voxfarm.worker.producing import attribute_batch_time


def test_shares_follow_audio_and_add_up_to_the_batch():
    results = [RenderResult(np.zeros(1000, np.float32)), RenderResult(error="bad input"),
               RenderResult(np.zeros(3000, np.float32))]
    attribute_batch_time(results, 2.0, 1000, "espeak", "w")
    assert [r.engine_s for r in results] == [0.5, 0.0, 1.5]


def test_a_batch_without_audio_splits_evenly():
    results = [RenderResult(error="x"), RenderResult(error="y")]
    attribute_batch_time(results, 1.0, 1000, "espeak", "w")
    assert [r.engine_s for r in results] == [0.5, 0.5]
