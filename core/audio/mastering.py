"""Mastered outputs keep their true-peak ceiling *after* encoding.

Loudness normalization (core/audio/stitch.py ``normalize``) limits the true peak of the lossless master,
but lossy encoders overshoot: on espeak speech normalized to exactly -3 dBTP we measured -2.93
(mp3), -2.95 (m4b/AAC 96k) and -2.49 dBTP (Vorbis q5) after decoding.  So the master aims
``HEADROOM_DB`` under the ceiling, and every encoded file is decoded and measured again (4x
oversampled peak, streamed through ffmpeg: memory stays flat for a book of any length); a file
still over the ceiling is re-encoded with its gain lowered by the excess plus ``MARGIN_DB``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from voxfarm.core.audio.stitch import run_ffmpeg

HEADROOM_DB = 1.0  # twice the largest codec overshoot measured above (Vorbis, 0.51 dB)
MARGIN_DB = 0.2  # a re-encode aims this far under the ceiling
OVERSAMPLED_RATE = 192_000  # >= 4x every output rate we write (at most 48 kHz): ITU-R BS.1770 true peak
_PEAK = re.compile(r"Peak level dB:\s*(-?inf|-?[0-9.]+)")


def true_peak_dbfs(path: Path, rate: int | None = None) -> float:
    """The true peak of an encoded file as a player decodes it: decoded by ffmpeg, oversampled 4x
    (its ``rate`` known) or to 192 kHz, peak of the result in dBFS (``-inf`` for digital silence).
    One hour of 22.05 kHz speech measures in about 12 s at 192 kHz on this 2-core box; 4x halves it."""
    target = 4 * rate if rate else OVERSAMPLED_RATE
    proc = run_ffmpeg(["-i", str(path), "-map", "0:a:0",
                       "-af", f"aresample={target},astats=measure_perchannel=none:measure_overall=Peak_level",
                       "-f", "null", "-"])
    found = _PEAK.findall(proc.stderr.decode(errors="replace"))
    if not found:
        raise RuntimeError(f"ffmpeg reported no peak level for {path.name}")
    return -math.inf if found[-1].endswith("inf") else float(found[-1])


def encode_under_ceiling(encode: Callable[[float], None], dest: Path, ceiling_db: float, *,
                         rate: int | None = None, tries: int = 3) -> float:
    """Run ``encode(gain_db)`` until the file at ``dest`` (written at ``rate``) measures at or under
    ``ceiling_db``; returns the measured true peak.  Raises if it never does (the finalize attempt
    fails and is retried under the attempt cap)."""
    gain = 0.0
    for _ in range(tries):
        encode(gain)
        peak = true_peak_dbfs(dest, rate)
        if peak <= ceiling_db:
            return peak
        gain -= peak - ceiling_db + MARGIN_DB
    raise RuntimeError(f"{dest.name} peaks at {peak:.2f} dBTP after {tries} encodes; ceiling {ceiling_db}")
