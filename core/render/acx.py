"""The farm's own ACX check of one delivered MP3: every audio requirement measured, pass/fail each.

Checks (help.acx.com): duration <= 120 min; head room tone 0.5-1 s and tail 1-5 s, not digital
silence; RMS -23..-18 dB; peak <= -3 dB; noise floor <= -60 dB; MP3, constant bit rate >= 192 kbps,
44.1 kHz; channels reported (all files of a book must agree: see ``book_consistent``).

Levels are measured on the decoded samples: RMS over the whole file, peak as the largest sample,
noise floor as the RMS of the quietest 500 ms window, room tone as the run of 50 ms windows under
-50 dB at each end (speech starts where a window first rises above it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from voxfarm.core.audio.stitch import ffmpeg_exe

ANALYSIS_RATE = 44100
SPEECH_DB = -50.0
WINDOW_S = 0.05
_BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]  # MPEG-1 layer III kbps
_RATES = [44100, 48000, 32000]


def db(x: float) -> float:
    return 20 * float(np.log10(x)) if x > 0 else float("-inf")


def decode(path: Path) -> tuple[np.ndarray, int, int]:
    """(mono float64 samples at the file's rate, sample rate, channels) by ffmpeg."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True)
    head = proc.stderr.decode(errors="replace")
    m = re.search(r"Audio: [^,]+, (\d+) Hz, (mono|stereo)", head)
    rate, channels = (int(m.group(1)), 1 if m.group(2) == "mono" else 2) if m else (ANALYSIS_RATE, 1)
    raw = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le",
                          "-ac", "1", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).astype(np.float64), rate, channels


def mp3_frames(data: bytes) -> tuple[list[int], bool]:
    """The bit rate (kbps) of every MPEG-1 layer III frame, and whether a Xing (VBR) header is present."""
    i = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        i = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
    rates: list[int] = []
    vbr, first = False, True
    while i + 4 <= len(data):
        b1, b2, b3 = data[i + 1], data[i + 2], data[i + 3]
        if data[i] != 0xFF or (b1 & 0xFE) != 0xFA or (b2 >> 4) in (0, 15) or (b2 >> 2) & 3 == 3:
            if rates:
                break  # trailing tags (ID3v1, APE)
            i += 1
            continue
        kbps, rate, pad = _BITRATES[b2 >> 4], _RATES[(b2 >> 2) & 3], (b2 >> 1) & 1
        side = 4 + (17 if (b3 >> 6) == 3 else 32)
        tag = data[i + side:i + side + 4]
        if first and tag in (b"Xing", b"Info"):  # LAME's info frame: Xing marks VBR, Info CBR
            vbr = tag == b"Xing"
        else:
            rates.append(kbps)
        first = False
        i += 144000 * kbps // rate + pad
    return rates, vbr


def _windows(x: np.ndarray, n: int) -> np.ndarray:
    k = len(x) // n
    return np.sqrt(np.mean(x[:k * n].reshape(k, n) ** 2, axis=1)) if k else np.zeros(0)


def measure(path: Path) -> dict[str, Any]:
    """Every ACX check on ``path``: {"measured": {...}, "checks": {name: {"pass": bool, "why": str}}}."""
    x, rate, channels = decode(path)
    data = path.read_bytes()
    rates, vbr = mp3_frames(data)
    duration = len(x) / rate
    win = _windows(x, int(WINDOW_S * rate))
    loud = np.flatnonzero(win > 10 ** (SPEECH_DB / 20))
    head_s = float(loud[0] * WINDOW_S) if len(loud) else duration
    tail_s = float((len(win) - 1 - loud[-1]) * WINDOW_S) if len(loud) else duration
    head = x[:int(head_s * rate)]
    tail = x[len(x) - int(tail_s * rate):] if tail_s else x[:0]
    floor = _windows(x, int(0.5 * rate))
    m = {"duration_s": round(duration, 3), "rms_db": round(db(float(np.sqrt(np.mean(x ** 2)))) if len(x) else -999, 2),
         "peak_db": round(db(float(np.max(np.abs(x)))) if len(x) else -999, 2),
         "noise_floor_db": round(db(float(floor.min())) if len(floor) else -999, 2),
         "head_room_tone_s": round(head_s, 3), "tail_room_tone_s": round(tail_s, 3),
         "head_room_tone_db": round(db(float(np.sqrt(np.mean(head ** 2)))) if len(head) else -999, 2),
         "tail_room_tone_db": round(db(float(np.sqrt(np.mean(tail ** 2)))) if len(tail) else -999, 2),
         "digital_zero_s": round(_zero_run(x) / rate, 3),
         "bitrate_kbps": sorted(set(rates)), "constant_bitrate": bool(rates) and not vbr and len(set(rates)) == 1,
         "sample_rate": rate, "channels": channels}
    checks = {
        "duration": (duration <= 120 * 60, f"{duration / 60:.1f} min; at most 120"),
        "head_room_tone": (0.5 <= head_s <= 1.0 and m["head_room_tone_db"] > -90,
                           f"{head_s:.2f} s at {m['head_room_tone_db']} dB; 0.5-1 s of room tone"),
        "tail_room_tone": (1.0 <= tail_s <= 5.0 and m["tail_room_tone_db"] > -90,
                           f"{tail_s:.2f} s at {m['tail_room_tone_db']} dB; 1-5 s of room tone"),
        "no_digital_silence": (m["digital_zero_s"] < 0.05, f"longest run of zeros {m['digital_zero_s']} s"),
        "rms": (-23 <= m["rms_db"] <= -18, f"{m['rms_db']} dB; -23 to -18"),
        "peak": (m["peak_db"] <= -3, f"{m['peak_db']} dB; at most -3"),
        "noise_floor": (m["noise_floor_db"] <= -60, f"{m['noise_floor_db']} dB; at most -60"),
        "mp3_cbr": (m["constant_bitrate"], f"bit rates {m['bitrate_kbps']}, VBR header: {vbr}"),
        "bitrate": (bool(rates) and min(rates) >= 192, f"{m['bitrate_kbps']} kbps; at least 192"),
        "sample_rate": (rate == 44100, f"{rate} Hz; 44100"),
    }
    return {"measured": m, "checks": {k: {"pass": bool(ok), "why": why} for k, (ok, why) in checks.items()}}


def _zero_run(x: np.ndarray) -> int:
    """The longest run of exact zero samples."""
    z = np.concatenate([[0], (x == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(z))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def book_consistent(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The book-wide check: all files mono, or all stereo."""
    chans = {r["measured"]["channels"] for r in reports.values()}
    return {"pass": len(chans) == 1, "why": f"channels per file: {sorted(chans)}"}
