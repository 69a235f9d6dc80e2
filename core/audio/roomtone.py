"""Room tone for ACX delivery: a quiet, seeded noise bed in place of digital silence.

ACX rejects files of pure digital zeros and wants 0.5-1 s of room tone at the head and 1-5 s at the
tail, with a noise floor at or below -60 dB.  The bed here is low-passed Gaussian noise at a fixed RMS
(default -65 dBFS, inside the -70..-60 window), drawn from a seeded generator so a render is
reproducible byte for byte."""

from __future__ import annotations

import numpy as np

BED_DB = -65.0
HEAD_S = 0.75
TAIL_S = 2.5


def bed(n: int, seed: int, level_db: float = BED_DB) -> np.ndarray:
    """``n`` float32 samples of noise at ``level_db`` dBFS RMS, the same for the same seed."""
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    noise = np.random.default_rng(seed).standard_normal(n + 1)
    noise = (noise[1:] + noise[:-1]) / 2  # a gentle low-pass: room tone, not hiss
    rms = float(np.sqrt(np.mean(noise ** 2))) or 1.0
    return (noise * (10 ** (level_db / 20) / rms)).astype(np.float32)


def with_room_tone(audio: np.ndarray, rate: int, seed: int, *, head_s: float = HEAD_S, tail_s: float = TAIL_S,
                   level_db: float = BED_DB) -> np.ndarray:
    """``audio`` (mono float) with room tone before and after it, and the bed under all of it, so no
    stretch of the file is digital zeros."""
    head, tail = int(round(head_s * rate)), int(round(tail_s * rate))
    body = np.concatenate([np.zeros(head, np.float32), np.asarray(audio, np.float32), np.zeros(tail, np.float32)])
    return body + bed(len(body), seed, level_db)
