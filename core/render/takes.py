"""The take loop: render a chunk, check it, and re-render with a fresh seed until a take passes.

Two gates decide whether a take is kept:

* the quality gate (core/audio/quality.py): truncation, runaway generation, silence, clipping.  A take
  that fails it is never kept; when every take fails, the chunk fails (``QualityFailed``).
* the speaker-consistency gate (core/voices/speaker.py), for a cloned voice when a speaker encoder is
  configured: the take's cosine to the voice must reach the threshold.  Similarity alone never
  fails a chunk: when the retries run out, the most similar take that passed quality is kept and
  the chunk is flagged.

Take 0 uses the chunk's planned seed; take n uses ``derive_seed(job_seed, text, n)``, so a
resubmitted job re-renders the same takes.  At most ``1 + retries`` takes are rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voxfarm.core.audio.quality import QualityIssue
from voxfarm.core.jobs.planning import derive_seed


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
                speaker: SpeakerGate | None) -> Kept:
    """Render takes until one passes both gates (see the module docstring)."""
    best: tuple[float, int, Take] | None = None  # (similarity, n, take) of the best quality-passing take
    spent = 0.0
    issue: QualityIssue | None = None
    for n in range(retries + 1):
        s = take_seed(seed, job_seed, text, n)
        take = render(s)
        spent += take.engine_s
        issue = quality(take.audio) if quality is not None else None
        if issue is not None:
            continue
        if speaker is None:
            return Kept(take, s, n, spent, None, False)
        similarity = speaker.similarity(take.audio)
        if similarity >= speaker.threshold:
            return Kept(take, s, n, spent, similarity, False)
        if best is None or similarity > best[0]:
            best = (similarity, n, take)
    if best is None:
        raise QualityFailed(issue, retries + 1)
    similarity, n, take = best
    return Kept(take, take_seed(seed, job_seed, text, n), retries, spent, similarity, True)
