"""The take loop: render a chunk, check it, and re-render with a fresh seed until a take passes.

Two gates decide whether a take is kept:

* the quality gate (core/audio/quality.py): truncation, runaway generation, silence, clipping.  A take
  that fails it is never kept; when every take fails, the chunk fails (``QualityFailed``).
* the speaker-consistency gate (core/voices/speaker.py), for a cloned voice when a speaker encoder is
  configured: the take's cosine to the voice must reach the threshold.  Similarity alone never
  fails a chunk: when the retries run out, the most similar take that passed quality is kept and
  the chunk is flagged.
* read-back (core/render/readback.py), when the job asks for it and the worker has a recogniser: the
  take as heard must stay under the WER limit and keep its last words.  Like similarity, it never
  fails a chunk: the best take is kept (most gates passed, then the lowest WER, then the most
  similar) and the chunk is flagged.

Take 0 uses the chunk's planned seed; take n uses ``derive_seed(job_seed, text, n)``, so a
resubmitted job re-renders the same takes.  At most ``1 + retries`` takes are rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voxfarm.core.audio.quality import QualityIssue
from voxfarm.core.jobs.planning import derive_seed
from voxfarm.core.render.readback import Verdict


@dataclass(frozen=True)
class Take:
    """One engine render of the chunk."""

    audio: np.ndarray
    batch_size: int | None = None
    engine_s: float = 0.0


@dataclass(frozen=True)
class Kept:
    """The take the chunk keeps, and how it was chosen."""

    take: Take
    seed: int
    retries: int  # takes rendered beyond the first
    engine_s: float  # all takes' engine time: every take costs, kept or not
    similarity: float | None  # cosine to the voice; None when the speaker gate is off
    flagged: bool  # no take reached the speaker threshold: the most similar one was kept
    heard: Verdict | None = None  # the kept take as the recogniser heard it; None when read-back is off
    readback_flagged: bool = False  # no take passed read-back: the best one was kept


class QualityFailed(Exception):
    """Every take failed the quality gate."""

    def __init__(self, issue: QualityIssue, tries: int) -> None:
        super().__init__(issue.message)
        self.issue, self.tries = issue, tries


@dataclass(frozen=True)
class SpeakerGate:
    similarity: Callable[[np.ndarray], float]  # cosine of a take's audio to the voice
    threshold: float


def take_seed(seed: int, job_seed: int, text: str, n: int) -> int:
    return seed if n == 0 else derive_seed(job_seed, text, n)


def choose_take(render: Callable[[int], Take], *, seed: int, job_seed: int, text: str, retries: int,
                quality: Callable[[np.ndarray], QualityIssue | None] | None,
                speaker: SpeakerGate | None, readback: Callable[[np.ndarray], Verdict] | None = None) -> Kept:
    """Render takes until one passes every gate (see the module docstring)."""
    best: tuple[tuple, int, Take, float | None, Verdict | None] | None = None  # the best quality-passing take
    spent = 0.0
    issue: QualityIssue | None = None
    for n in range(retries + 1):
        s = take_seed(seed, job_seed, text, n)
        take = render(s)
        spent += take.engine_s
        issue = quality(take.audio) if quality is not None else None
        if issue is not None:
            continue
        similarity = speaker.similarity(take.audio) if speaker is not None else None
        heard = readback(take.audio) if readback is not None else None
        voice_ok = similarity is None or similarity >= speaker.threshold
        words_ok = heard is None or heard.passed
        if voice_ok and words_ok:
            return Kept(take, s, n, spent, similarity, False, heard, False)
        rank = (voice_ok + words_ok, -(heard.wer or 0.0) if heard else 0.0, similarity or 0.0)
        if best is None or rank > best[0]:
            best = (rank, n, take, similarity, heard)
    if best is None:
        raise QualityFailed(issue, retries + 1)
    _, n, take, similarity, heard = best
    voice_flagged = similarity is not None and similarity < speaker.threshold
    return Kept(take, take_seed(seed, job_seed, text, n), retries, spent, similarity, voice_flagged, heard,
                heard is not None and not heard.passed)
