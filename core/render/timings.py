"""A job's timeline: where each sentence (and, with read-back, each word) sits in the output audio.

No recogniser runs here.  The stitcher reports where every chunk landed (core/audio/stitch.py
``assemble(on_piece=...)``: its first sample after trims, crossfades and pauses, and how much was
trimmed off its head), so chunk boundaries are exact.  Inside a chunk:

* with read-back, each word of the text sent carries the recogniser's time within the take
  (core/render/readback.py), shifted here into the stitched timeline;
* without it, the chunk's sentences share its length by their characters, and each boundary
  moves to the quietest 50 ms near it (the pause between two sentences).

The outputs are ``captions.vtt`` and ``captions.srt`` (sentence cues; word times inline in the
WebVTT where known), ``words.json`` (with read-back) and, for per-chapter files, each chapter's
captions in that file's own time (``captions-chapter-NNN.vtt``/``.srt``).  Times are divided by the output's tempo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxfarm.core.render.captions import Cue, split_cue, subrip, webvtt
from voxfarm.core.text.chunking import sentences
from voxfarm.core.text.lexicon import readable

QUIET_WINDOW_S = 0.6  # how far a sentence boundary may move to find the pause


@dataclass
class Word:
    word: str
    start: float
    end: float
    chunk: int
    source: tuple[int, int]  # character offsets into the chunk's text sent to the engine
    heard: bool  # False: the recogniser missed it; placed between its neighbours


@dataclass
class Sentence:
    start: float
    end: float
    text: str
    chunk: int
    chapter: int
    words: list[Word] = field(default_factory=list)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.splitlines() or [text]:
        for sent in sentences(line) if line.strip() else []:
            at = text.find(sent, pos)
            if at < 0:
                continue
            spans.append((at, at + len(sent)))
            pos = at + len(sent)
    return spans or ([(0, len(text))] if text.strip() else [])


def quiet_boundaries(audio: np.ndarray, rate: int, estimates: list[float]) -> list[float]:
    """Each estimated boundary (seconds) moved to the quietest 50 ms within QUIET_WINDOW_S of it."""
    win = max(1, rate // 100)
    n = audio.size // win
    if n < 5:
        return estimates
    rms = np.sqrt(np.mean(audio[: n * win].astype(np.float64).reshape(n, win) ** 2, axis=1))
    smooth = np.convolve(rms, np.ones(5) / 5, mode="same")
    out, last = [], 0.0
    for t in estimates:
        lo, hi = max(0, int((t - QUIET_WINDOW_S) * 100)), min(n, int((t + QUIET_WINDOW_S) * 100) + 1)
        best = t
        if hi > lo:  # the middle of the quietest run: a cue changes halfway through the pause
            i = j = lo + int(np.argmin(smooth[lo:hi]))
            floor = smooth[i] * 1.05 + 1e-9
            while i > lo and smooth[i - 1] <= floor:
                i -= 1
            while j + 1 < hi and smooth[j + 1] <= floor:
                j += 1
            best = (i + j) / 2 / 100
        out.append(max(best, last))
        last = out[-1]
    return out


class Timeline:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.sentences: list[Sentence] = []
        self.words: list[Word] = []

    def add(self, chunk: Any, audio: np.ndarray, start_sample: int, head_samples: int) -> None:
        """Place one chunk (a FinalChunk: idx, chapter, text, spoken_text, readback_detail)."""
        text = getattr(chunk, "spoken_text", None) or chunk.text
        base, length = start_sample / self.rate, audio.size / self.rate
        head = head_samples / self.rate
        def at(t: float) -> float:
            return round(min(max(base + t - head, base), base + length), 3)
        timings = (getattr(chunk, "readback_detail", None) or {}).get("timings") or []
        words = [Word(text[a:b], at(t0), at(t1), chunk.idx, (a, b), bool(h)) for a, b, t0, t1, h in timings]
        self.words += words
        spans = sentence_spans(text)
        if not spans or length <= 0:
            return
        if words:
            bounds = []
            for a, _ in spans[1:]:
                after = [w.start for w in words if w.source[0] >= a]
                bounds.append(after[0] - base if after else length)
        else:
            sizes = np.cumsum([len(readable(text[a:b])) for a, b in spans], dtype=np.float64)
            bounds = quiet_boundaries(audio, self.rate, list(sizes[:-1] / sizes[-1] * length))
        edges = [0.0, *bounds, length]
        for k, (a, b) in enumerate(spans):
            inside = [w for w in words if a <= w.source[0] < b]
            end = base + edges[k + 1] if not inside or k == len(spans) - 1 else max(w.end for w in inside)
            self.sentences.append(Sentence(round(base + edges[k], 3), round(end, 3), readable(text[a:b]),
                                           chunk.idx, chunk.chapter, inside))

    def cues(self, tempo: float = 1.0, offset: float = 0.0, chapter: int | None = None) -> list[Cue]:
        out = []
        for s in self.sentences:
            if chapter is not None and s.chapter != chapter:
                continue
            words = [((w.start - offset) / tempo, (w.end - offset) / tempo, readable(w.word)) for w in s.words]
            text = " ".join(w for _, _, w in words) if words else s.text
            out += split_cue((s.start - offset) / tempo, (s.end - offset) / tempo, text, words)
        return [c for c in out if c.end > c.start]

    def words_json(self, tempo: float = 1.0) -> str:
        return json.dumps(self.word_dicts(tempo), indent=1)

    def delta(self, told: tuple[int, int], tempo: float = 1.0) -> tuple[dict[str, Any] | None, tuple[int, int]]:
        """Sentences and words placed since ``told`` (counts), as the speech route sends them."""
        s, w = told
        if s == len(self.sentences) and w == len(self.words):
            return None, told
        return {"segments": [{"text": x.text, "start": round(x.start / tempo, 3), "end": round(x.end / tempo, 3),
                              "chunk": x.chunk} for x in self.sentences[s:]],
                "words": self.word_dicts(tempo, w)}, (len(self.sentences), len(self.words))

    def word_dicts(self, tempo: float = 1.0, since: int = 0) -> list[dict[str, Any]]:
        return [{"word": w.word, "start": round(w.start / tempo, 3), "end": round(w.end / tempo, 3),
                 "chunk": w.chunk, "source": list(w.source), "heard": w.heard} for w in self.words[since:]]

    def files(self, tempo: float = 1.0, chapters: list[tuple[float, float]] | None = None) -> dict[str, str]:
        """The timing sidecars by file name; ``chapters``: each per-chapter file's (start, end) in
        the master's time, in chapter order (none: no per-chapter files)."""
        cues = self.cues(tempo)
        out = {"captions.vtt": webvtt(cues), "captions.srt": subrip(cues)}
        if self.words:
            out["words.json"] = self.words_json(tempo)
        order = list(dict.fromkeys(s.chapter for s in self.sentences))
        for i, (start, _end) in enumerate(chapters or [], 1):
            if i <= len(order):
                part = self.cues(tempo, start, order[i - 1])
                name = f"captions-chapter-{i:03d}"  # beside chapter-NNN.<format>, apart from its prefix
                out[f"{name}.vtt"], out[f"{name}.srt"] = webvtt(part), subrip(part)
        return out
