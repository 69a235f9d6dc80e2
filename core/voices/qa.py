"""Voice prompt QA: how much of a recording is speech, how clean it is, and whether it clipped.

Pure numpy, run at registration on the decoded mono prompt (before resampling or normalizing,
so clipping is judged on the bytes the user sent).

Voice activity is energy based.  The prompt is cut into 20 ms frames (the usual 20-30 ms speech
analysis window) and each frame's power is taken in dBFS.  The noise floor is the 10th percentile
of frame power and the loud level the 95th.  When the two are within 6 dB the recording is
stationary (all speech or all noise) and every frame above the absolute floor counts as speech;
otherwise frames more than a third of the way from floor to loud level are speech.  Gaps up to
200 ms between speech frames are closed (syllable dips and stops are speech too; 200 ms is the
usual VAD hangover), without extending the edges of a speech run.

SNR is the mean power of the frames above the threshold minus the noise frames' mean power (frames
outside speech even after closing), over that noise power, in dB; it is None when there are no
noise frames to measure (a prompt that is speech end to end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_S = 0.020
CLOSE_GAP_S = 0.200
ABS_FLOOR_DBFS = -60.0  # quieter frames are never speech, whatever the floor
STATIONARY_DB = 6.0
SPEECH_POSITION = 1 / 3  # threshold position between noise floor and loud level
CLIP_LEVEL = 0.999
NOISE_FLOOR_POWER = 1e-10  # -100 dBFS: digital silence would otherwise give an infinite SNR


@dataclass(frozen=True)
class PromptQA:
    duration_s: float
    speech_s: float
    speech_fraction: float
    clipped_fraction: float
    snr_db: float | None


def _frame_power(audio: np.ndarray, rate: int) -> np.ndarray:
    n = max(1, round(FRAME_S * rate))
    usable = (audio.size // n) * n
    if usable == 0:
        return np.zeros(0)
    frames = audio[:usable].astype(np.float64).reshape(-1, n)
    return np.mean(frames * frames, axis=1)


def _close(mask: np.ndarray, k: int) -> np.ndarray:
    """Morphological closing with a window of 2k+1 frames: fills gaps of up to 2k frames."""
    if k <= 0 or not mask.any():
        return mask
    win = np.ones(2 * k + 1)
    dilated = np.convolve(mask.astype(float), win, mode="same") > 0
    # erode with True beyond the edges, so closing never trims a run touching the ends
    padded = np.concatenate([np.ones(k, bool), dilated, np.ones(k, bool)])
    return np.convolve((~padded).astype(float), win, mode="valid") == 0


def speech_mask(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-frame power, frames above the threshold, speech frames after closing the gaps)."""
    power = _frame_power(audio, rate)
    if power.size == 0:
        return power, np.zeros(0, bool), np.zeros(0, bool)
    db = 10 * np.log10(np.maximum(power, NOISE_FLOOR_POWER))
    floor, loud = np.percentile(db, 10), np.percentile(db, 95)
    if loud - floor < STATIONARY_DB:
        threshold = ABS_FLOOR_DBFS
    else:
        threshold = max(ABS_FLOOR_DBFS, floor + SPEECH_POSITION * (loud - floor))
    loud_frames = db > threshold
    return power, loud_frames, _close(loud_frames, round(CLOSE_GAP_S / FRAME_S / 2))


def analyze(audio: np.ndarray, rate: int) -> PromptQA:
    """Measure a mono float32 prompt in [-1, 1]."""
    duration = audio.size / rate if rate else 0.0
    power, loud, mask = speech_mask(audio, rate)
    clipped = float(np.mean(np.abs(audio) >= CLIP_LEVEL)) if audio.size else 0.0
    if power.size == 0:
        return PromptQA(duration, 0.0, 0.0, clipped, None)
    speech_s = float(mask.sum()) * FRAME_S
    snr = None
    if loud.any() and (~mask).any():
        noise = max(float(power[~mask].mean()), NOISE_FLOOR_POWER)
        signal = max(float(power[loud].mean()) - noise, NOISE_FLOOR_POWER)
        snr = round(float(10 * np.log10(signal / noise)), 1)
    return PromptQA(duration, speech_s, float(mask.mean()), clipped, snr)
