"""The take loop (core/render/takes.py) without an engine: takes are numbers, the gates are lookups,
so which take is kept, with which seed, is checked exactly."""

from __future__ import annotations

import numpy as np
import pytest

from voxfarm.core.audio.quality import QualityIssue
from voxfarm.core.jobs.planning import derive_seed
from voxfarm.core.render.takes import QualityFailed, SpeakerGate, Take, choose_take

SEED, JOB_SEED, TEXT = 11, 99, "A line in a cloned voice."
SEEDS = [SEED, *(derive_seed(JOB_SEED, TEXT, n) for n in (1, 2, 3))]


def _loop(similarities=None, bad=(), retries=2, threshold=0.9):
    """Take n renders an array holding n; ``similarities[n]`` is its cosine to the voice, takes in
    ``bad`` fail the quality gate."""
    rendered = []

    def render(seed):
        rendered.append(seed)
        return Take(np.full(4, SEEDS.index(seed), np.float32), batch_size=1, engine_s=0.5)

    def quality(audio):
        return QualityIssue("silent", "no signal") if int(audio[0]) in bad else None

    gate = None if similarities is None else SpeakerGate(lambda a: similarities[int(a[0])], threshold)
    kept = choose_take(render, seed=SEED, job_seed=JOB_SEED, text=TEXT, retries=retries, quality=quality,
                       speaker=gate)
    return kept, rendered


def test_the_first_passing_take_is_kept():
    kept, rendered = _loop([0.95, 0.2, 0.2])
    assert (kept.seed, kept.retries, kept.flagged, kept.similarity) == (SEED, 0, False, 0.95)
    assert rendered == SEEDS[:1] and kept.engine_s == 0.5


def test_a_take_below_the_threshold_is_rendered_again_with_the_next_seed():
    kept, rendered = _loop([0.3, 0.92, 0.1])
    assert rendered == SEEDS[:2] and kept.seed == SEEDS[1] and int(kept.take.audio[0]) == 1
    assert (kept.retries, kept.flagged, kept.engine_s) == (1, False, 1.0)


@pytest.mark.parametrize("sims", [[0.5, 0.7, 0.6], [0.7, 0.5, 0.6], [0.5, 0.6, 0.7]])
def test_out_of_retries_the_most_similar_take_is_kept_flagged_with_its_seed(sims):
    kept, rendered = _loop(sims)
    best = int(np.argmax(sims))
    assert rendered == SEEDS[:3] and int(kept.take.audio[0]) == best
    assert (kept.seed, kept.similarity, kept.flagged, kept.retries) == (SEEDS[best], sims[best], True, 2)
    assert kept.engine_s == 1.5  # every take costs, kept or not


def test_a_take_that_fails_quality_is_never_kept_however_similar():
    kept, _ = _loop([0.99, 0.5, 0.4], bad={0})
    assert int(kept.take.audio[0]) == 1 and kept.seed == SEEDS[1] and kept.flagged


def test_every_take_failing_quality_fails_the_chunk():
    with pytest.raises(QualityFailed) as err:
        _loop([0.99, 0.99, 0.99], bad={0, 1, 2})
    assert err.value.tries == 3 and err.value.issue.code == "silent"


def test_without_a_speaker_gate_quality_alone_decides():
    kept, rendered = _loop(None, bad={0})
    assert rendered == SEEDS[:2] and kept.seed == SEEDS[1] and kept.similarity is None and not kept.flagged
