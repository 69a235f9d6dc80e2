"""Captions: WebVTT and SubRip (SRT) text from timed cues.

A cue is a sentence, or a piece of one: a sentence over ``MAX_CUE_CHARS`` is cut at word gaps
into pieces that fit two lines of ``LINE_CHARS``.  Where the words have times (read-back), the
WebVTT cue carries them as inline timestamps (``<00:00:01.234>word``: word-level captions that
players highlight as they go); SRT has no such tags and keeps the sentence times.  Times are
written to the millisecond; every cue ends after it starts and none starts before the one before.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

MAX_CUE_CHARS = 84
LINE_CHARS = 42


@dataclass
class Cue:
    start: float
    end: float
    text: str
    words: list[tuple[float, str]] = field(default_factory=list)  # (start, word): word-level times


def _ms(t: float) -> int:
    return max(0, int(round(t * 1000)))


def timestamp(t: float, sep: str = ".") -> str:
    h, rest = divmod(_ms(t), 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def split_cue(start: float, end: float, text: str, words: list[tuple[float, float, str]]) -> list[Cue]:
    """One sentence as cues that fit: pieces of at most ``MAX_CUE_CHARS``, timed by their words'
    times where known (``words``: (start, end, word) in order), else by their share of the characters."""
    tokens = text.split()
    if not tokens:
        return []
    pieces: list[list[int]] = [[]]
    for i, tok in enumerate(tokens):
        if pieces[-1] and len(" ".join(tokens[j] for j in pieces[-1])) + 1 + len(tok) > MAX_CUE_CHARS:
            pieces.append([])
        pieces[-1].append(i)
    timed = len(words) == len(tokens)
    total = sum(len(t) + 1 for t in tokens)
    cues, done = [], 0
    for k, piece in enumerate(pieces):
        chars = sum(len(tokens[i]) + 1 for i in piece)
        a = start + (end - start) * done / total
        b = start + (end - start) * (done + chars) / total
        if timed:
            a = start if k == 0 else words[piece[0]][0]
            b = end if k == len(pieces) - 1 else words[pieces[k + 1][0]][0]
        done += chars
        inline = [(words[i][0], tokens[i]) for i in piece] if timed else []
        cues.append(Cue(a, b, " ".join(tokens[i] for i in piece), inline))
    return cues


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ordered(cues: list[Cue]) -> list[tuple[int, int, Cue]]:
    """Cue times in ms: starts never go back, and every cue lasts at least 1 ms."""
    out, last = [], 0
    for cue in cues:
        a = max(_ms(cue.start), last)
        b = max(_ms(cue.end), a + 1)
        out.append((a, b, cue))
        last = a
    return out


def _vtt_text(cue: Cue, a: int, b: int) -> str:
    if not cue.words:
        return "\n".join(_escape(line) for line in textwrap.wrap(cue.text, LINE_CHARS))
    parts, line, lines, last = [], 0, [], a
    for i, (t, word) in enumerate(cue.words):
        ms = _ms(t)
        tag = ""
        if i and last < ms < b:  # inline times rise strictly inside the cue (WebVTT)
            tag, last = f"<{timestamp(ms / 1000)}>", ms
        if line and line + 1 + len(word) > LINE_CHARS:
            lines.append(" ".join(parts))
            parts, line = [], 0
        parts.append(tag + _escape(word))
        line += len(word) + (1 if line else 0)
    lines.append(" ".join(parts))
    return "\n".join(lines)


def webvtt(cues: list[Cue]) -> str:
    out = ["WEBVTT", ""]
    for n, (a, b, cue) in enumerate(_ordered(cues), 1):
        out += [str(n), f"{timestamp(a / 1000)} --> {timestamp(b / 1000)}", _vtt_text(cue, a, b), ""]
    return "\n".join(out)


def subrip(cues: list[Cue]) -> str:
    out = []
    for n, (a, b, cue) in enumerate(_ordered(cues), 1):
        out += [str(n), f"{timestamp(a / 1000, ',')} --> {timestamp(b / 1000, ',')}",
                "\n".join(textwrap.wrap(cue.text, LINE_CHARS)), ""]
    return "\n".join(out)
