"""Per-chunk quality gate: plain functions on audio, testable without any model.

Generative TTS fails in recognisable ways: it stops early (truncation), never stops (runaway
generation until max tokens), emits near-silence, or saturates.  A chunk failing any check is
re-rendered with a fresh seed (core/planning.derive_seed with a retry number) up to
``quality_retries`` times before its job fails naming the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxfarm.core.audio.arrays import levels

# Speech runs 8-25 chars/s; allow 0.35x-3x of the engine's typical rate plus 1 s of slack, so
# short exclamations and slow dramatic reads pass while a 3 s render of a paragraph does not.
MIN_RATIO = 0.35
MAX_RATIO = 3.0
SLACK_S = 1.0
SILENCE_DBFS = -55.0
CLIPPED_MAX_FRACTION = 0.01


@dataclass(frozen=True)
class QualityIssue:
    code: str
    message: str


def check_duration(duration_s: float, expected_s: float) -> QualityIssue | None:
    low = expected_s * MIN_RATIO - SLACK_S
    high = expected_s * MAX_RATIO + SLACK_S
    if duration_s < low:
        return QualityIssue("truncated", f"{duration_s:.1f}s of audio for text expected to take "
                                         f"{expected_s:.1f}s (minimum {low:.1f}s)")
    if duration_s > high:
        return QualityIssue("runaway", f"{duration_s:.1f}s of audio for text expected to take "
                                       f"{expected_s:.1f}s (maximum {high:.1f}s)")
    return None


def check_levels(audio: np.ndarray) -> QualityIssue | None:
    lv = levels(audio)
    if lv.rms_dbfs < SILENCE_DBFS:
        return QualityIssue("silent", f"the audio is near-silent ({lv.rms_dbfs:.0f} dBFS RMS)")
    if lv.clipped_fraction > CLIPPED_MAX_FRACTION:
        return QualityIssue("clipped", f"{lv.clipped_fraction:.1%} of samples are at full scale")
    return None


def check_chunk(audio: np.ndarray, sample_rate: int, expected_s: float) -> QualityIssue | None:
    """The first problem found, or None when the chunk is plausible speech."""
    return check_duration(audio.size / sample_rate, expected_s) or check_levels(audio)
