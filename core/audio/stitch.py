"""Stitch rendered chunks into one finished file, with flat memory whatever the book's length.

Pipeline (every stage streams; at most one chunk is in Python memory at a time):

1. assemble: fetch each chunk, trim edge silence, fade its edges (``crossfade_ms``), and append it
   to a FLAC master on disk followed by the pause its position calls for (sentence, paragraph or
   chapter); chapter start offsets are recorded in samples.
2. measure: ffmpeg ``loudnorm`` first pass (EBU R128) over the master.
3. normalize: second ``loudnorm`` pass in linear mode to the audiobook target (default -20 LUFS
   integrated, true peak <= -3 dBFS), resampled to the output rate, into a normalized master.
4. encode: the requested container with chapters (ffmetadata), title/author tags and cover art;
   optional per-chapter files cut sample-exactly from the normalized master.

ffmpeg is the static build shipped in the ``imageio-ffmpeg`` wheel; inputs are our own files, and
we still force demuxers and restrict protocols to ``file``/``pipe``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from voxfarm.core.audio.arrays import SAMPLE_RATES

_CODECS = {
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "2", "-id3v2_version", "3", "-f", "mp3"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "5", "-f", "ogg"],
    "m4b": ["-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "ipod"],
}
COVER_FORMATS = {"mp3", "m4b", "flac"}  # containers that carry attached pictures


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str]) -> subprocess.CompletedProcess:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-protocol_whitelist", "file,pipe", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=6 * 3600)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-800:]}")
    return proc


@dataclass(frozen=True)
class Piece:
    """One chunk as the stitcher needs it."""

    idx: int
    chapter: int
    pause_after: str  # sentence | paragraph | title | chapter | end


@dataclass
class Pauses:
    sentence_ms: int = 250
    paragraph_ms: int = 600
    chapter_ms: int = 1500
    crossfade_ms: int = 10
    title_ms: int = 1000  # after a chapter's title read aloud

    def after(self, kind: str) -> int:
        return {"sentence": self.sentence_ms, "paragraph": self.paragraph_ms,
                "chapter": self.chapter_ms, "title": self.title_ms}.get(kind, 0)


@dataclass
class Assembled:
    path: Path
    sample_rate: int
    samples: int
    chapter_starts: list[int] = field(default_factory=list)  # sample offset of each chapter


def trim_bounds(audio: np.ndarray, sr: int, threshold_db: float = -45.0, margin_ms: int = 30) -> tuple[int, int]:
    """Where the sound starts and ends (samples), measured on 10 ms windows, with a short margin."""
    win = max(1, sr // 100)
    n = audio.size // win
    if n == 0:
        return 0, audio.size
    frames = audio[: n * win].reshape(n, win)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    loud = np.nonzero(rms > 10 ** (threshold_db / 20))[0]
    if loud.size == 0:
        return 0, 0
    margin = int(sr * margin_ms / 1000)
    return max(0, loud[0] * win - margin), min(audio.size, (loud[-1] + 1) * win + margin)


def trim_silence(audio: np.ndarray, sr: int, threshold_db: float = -45.0, margin_ms: int = 30) -> np.ndarray:
    """Cut leading/trailing silence, keeping a short margin (``trim_bounds``)."""
    start, end = trim_bounds(audio, sr, threshold_db, margin_ms)
    return audio[start:end]


def _fade(audio: np.ndarray, n: int) -> np.ndarray:
    n = min(n, audio.size // 2)
    if n <= 0:
        return audio
    audio = audio.copy()
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    audio[:n] *= ramp
    audio[-n:] *= ramp[::-1]
    return audio


def assemble(pieces: Iterable[Piece], fetch: Callable[[Piece], np.ndarray], sample_rate: int,
             pauses: Pauses, dest: Path, on_piece: Callable[[Piece, np.ndarray, int, int], None] | None = None
             ) -> Assembled:
    """Write trimmed, faded chunks with pauses into a FLAC master, one chunk in memory at a time.

    Where no pause separates two chunks, the faded tail of the first is held back and added onto
    the faded head of the next: a crossfade of ``crossfade_ms``.  ``on_piece(piece, audio, start,
    head)`` hears where each chunk landed: its trimmed audio, its first sample in the master, and
    how many samples were trimmed off its head (the captions' timeline, core/render/timings.py).
    """
    xf = int(sample_rate * pauses.crossfade_ms / 1000)
    out = Assembled(dest, sample_rate, 0)
    chapter = None
    carry = np.zeros(0, dtype=np.float32)
    with sf.SoundFile(dest, "w", sample_rate, 1, "PCM_16", format="FLAC") as fh:

        def write(block: np.ndarray) -> None:
            if block.size:
                fh.write(block)
                out.samples += block.size

        for piece in pieces:
            raw = fetch(piece).astype(np.float32)
            head, end = trim_bounds(raw, sample_rate)
            audio = _fade(raw[head:end], xf)
            if piece.chapter != chapter:
                chapter = piece.chapter
                out.chapter_starts.append(out.samples)
            if audio.size == 0:
                if on_piece is not None:
                    on_piece(piece, audio, out.samples + carry.size, head)
                continue
            if carry.size and carry.size <= audio.size:
                audio[: carry.size] += carry
            else:
                write(carry)
            if on_piece is not None:
                on_piece(piece, audio, out.samples, head)
            carry = np.zeros(0, dtype=np.float32)
            gap = int(sample_rate * pauses.after(piece.pause_after) / 1000)
            if gap or piece.pause_after == "end" or audio.size <= 2 * xf or xf == 0:
                write(audio)
                write(np.zeros(gap, dtype=np.float32))
            else:
                write(audio[:-xf])
                carry = audio[-xf:].copy()
        write(carry)
    return out


def measure_loudness(path: Path, target_lufs: float, true_peak: float) -> dict[str, float]:
    """First loudnorm pass: integrated loudness, true peak, LRA and threshold of ``path``."""
    proc = run_ffmpeg(["-f", "flac", "-i", str(path), "-af",
                       f"loudnorm=I={target_lufs}:TP={true_peak}:LRA=11:print_format=json",
                       "-f", "null", "-"])
    text = proc.stderr.decode(errors="replace")
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", text, re.S)
    if not match:
        raise RuntimeError("loudnorm printed no measurement")
    return {k: float(v) for k, v in json.loads(match.group(0)).items() if k != "normalization_type"}


def normalize(src: Path, dest: Path, measured: dict[str, float], *, target_lufs: float,
              true_peak: float, out_rate: int) -> None:
    """Second loudnorm pass (linear when the peak budget allows) into a FLAC master."""
    if measured["input_i"] < -69:  # silence: nothing to normalize, keep it silent
        run_ffmpeg(["-f", "flac", "-i", str(src), "-ar", str(out_rate), "-c:a", "flac", "-f", "flac", str(dest)])
        return
    af = (f"loudnorm=I={target_lufs}:TP={true_peak}:LRA=11:measured_I={measured['input_i']}:"
          f"measured_TP={measured['input_tp']}:measured_LRA={measured['input_lra']}:"
          f"measured_thresh={measured['input_thresh']}:offset={measured['target_offset']}:linear=true,"
          f"aresample={out_rate}")
    run_ffmpeg(["-f", "flac", "-i", str(src), "-af", af, "-ar", str(out_rate), "-sample_fmt", "s16",
                "-c:a", "flac", "-f", "flac", str(dest)])


def output_rate(fmt: str, requested: int | None, engine_rate: int) -> int:
    """The rate to write: requests were checked at submit; a configured or engine rate that the
    format's encoder lacks snaps to the nearest one it has."""
    rate = requested or engine_rate
    allowed = SAMPLE_RATES.get(fmt)
    if allowed and rate not in allowed:
        rate = min(allowed, key=lambda r: abs(r - rate))
    return rate


def _meta_escape(value: str) -> str:
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def ffmetadata(title: str | None, author: str | None, chapters: list[tuple[str, float, float]], *,
               album: str | None = None, track: tuple[int, int] | None = None) -> str:
    """Tags and chapter marks in ffmpeg's metadata format.  A whole book is its own album; a
    per-chapter file passes the chapter as ``title``, the book as ``album`` and ``track`` (n, N)."""
    lines = [";FFMETADATA1"]
    album = album if track else album or title
    if title:
        lines.append(f"title={_meta_escape(title)}")
    if album:
        lines.append(f"album={_meta_escape(album)}")
    if author:
        lines += [f"artist={_meta_escape(author)}", f"album_artist={_meta_escape(author)}"]
    if track:
        lines.append(f"track={track[0]}/{track[1]}")
    lines.append("genre=Audiobook")
    for name, start, end in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={int(start * 1000)}", f"END={int(end * 1000)}",
                  f"title={_meta_escape(name)}"]
    return "\n".join(lines) + "\n"


def encode(master: Path, dest: Path, fmt: str, *, metadata: str, cover: Path | None = None,
           start_sample: int | None = None, end_sample: int | None = None, gain_db: float = 0.0) -> None:
    meta_path = dest.with_suffix(".ffmeta")
    meta_path.write_text(metadata, encoding="utf-8")
    args = ["-f", "flac", "-i", str(master), "-f", "ffmetadata", "-i", str(meta_path)]
    maps = ["-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]
    filters = []
    if start_sample is not None:
        filters.append(f"atrim=start_sample={start_sample}:end_sample={end_sample},asetpts=PTS-STARTPTS")
    if gain_db:
        filters.append(f"volume={gain_db:.3f}dB")
    if filters:
        maps += ["-af", ",".join(filters)]
    if cover is not None and fmt in COVER_FORMATS:
        try:
            run_ffmpeg([*args, "-i", str(cover), *maps, "-map", "2:v", "-c:v", "copy", "-disposition:v:0",
                        "attached_pic", *_CODECS[fmt], str(dest)])
            meta_path.unlink(missing_ok=True)
            return
        except RuntimeError:  # a cover ffmpeg cannot take never costs the book: deliver it without one
            dest.unlink(missing_ok=True)
    run_ffmpeg([*args, *maps, *_CODECS[fmt], str(dest)])
    meta_path.unlink(missing_ok=True)


def cue_sheet(audio_name: str, fmt: str, title: str | None, author: str | None,
              chapters: list[tuple[str, float, float]]) -> str:
    kind = "MP3" if fmt == "mp3" else "WAVE"
    lines = []
    if author:
        lines.append(f'PERFORMER "{author.replace(chr(34), chr(39))}"')
    if title:
        lines.append(f'TITLE "{title.replace(chr(34), chr(39))}"')
    lines.append(f'FILE "{audio_name}" {kind}')
    for i, (name, start, _end) in enumerate(chapters, 1):
        frames = int(round(start * 75))  # CUE time is mm:ss:ff at 75 frames per second
        mm, rest = divmod(frames, 75 * 60)
        ss, ff = divmod(rest, 75)
        lines += [f"  TRACK {i:02d} AUDIO", f'    TITLE "{name.replace(chr(34), chr(39))}"',
                  f"    INDEX 01 {mm:02d}:{ss:02d}:{ff:02d}"]
    return "\n".join(lines) + "\n"
