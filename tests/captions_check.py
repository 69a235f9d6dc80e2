"""Strict readers for the caption files the farm writes: WebVTT (the W3C syntax, what a browser's
<track> accepts) and SubRip.  Written from the formats, not from the farm's writer: every rule
broken raises AssertionError."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TS = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"
_TIMING = re.compile(rf"{_TS}[ \t]+-->[ \t]+{_TS}(?:[ \t]+\S.*)?")
_INLINE = re.compile(r"<(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})>")
_SRT_TIMING = re.compile(r"(\d{2}):([0-5]\d):([0-5]\d),(\d{3}) --> (\d{2}):([0-5]\d):([0-5]\d),(\d{3})")


def _seconds(h, m, s, ms) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


@dataclass
class Cue:
    start: float
    end: float
    text: str  # the payload without tags, lines joined by a space
    inline: list[float] = field(default_factory=list)  # inline timestamps (word times)


def parse_vtt(data: str) -> list[Cue]:
    assert data.startswith("WEBVTT") and (len(data) == 6 or data[6] in " \t\n"), "no WEBVTT signature"
    assert "\r" not in data and "\0" not in data
    blocks = data.split("\n\n")
    assert blocks[0].split("\n")[0].startswith("WEBVTT")
    cues = []
    for block in blocks[1:]:
        if not block.strip("\n"):
            continue
        lines = block.strip("\n").split("\n")
        if "-->" not in lines[0]:
            ident = lines.pop(0)
            assert ident.strip() and not ident.startswith(("NOTE", "STYLE", "REGION")), f"stray block {block!r}"
        assert lines, f"identifier without timing: {block!r}"
        m = _TIMING.fullmatch(lines[0])
        assert m, f"bad timing line {lines[0]!r}"
        start, end = _seconds(*m.group(1, 2, 3, 4)), _seconds(*m.group(5, 6, 7, 8))
        assert end > start, f"cue ends before it starts: {lines[0]}"
        payload = lines[1:]
        assert payload and all(line.strip() for line in payload), f"empty cue {block!r}"
        inline = []
        for line in payload:
            assert "-->" not in line
            for tag in re.findall(r"<[^>]*>", line):
                t = _INLINE.fullmatch(tag)
                assert t, f"unknown tag {tag}"
                inline.append(_seconds(*t.groups()))
            rest = re.sub(r"<[^>]*>", "", line)
            assert "<" not in rest and ">" not in rest
            assert not re.search(r"&(?!amp;|lt;|gt;|nbsp;|lrm;|rlm;)", rest), f"bare & in {line!r}"
        assert all(start < t < end for t in inline), f"inline time outside its cue: {block!r}"
        assert inline == sorted(set(inline)), f"inline times not rising: {block!r}"
        text = " ".join(re.sub(r"<[^>]*>", "", line) for line in payload)
        cues.append(Cue(start, end, text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"), inline))
    return cues


def parse_srt(data: str) -> list[Cue]:
    cues = []
    for n, block in enumerate([b for b in data.strip("\n").split("\n\n") if b.strip()], 1):
        lines = block.split("\n")
        assert lines[0] == str(n), f"cue {n} numbered {lines[0]!r}"
        m = _SRT_TIMING.fullmatch(lines[1])
        assert m, f"bad timing line {lines[1]!r}"
        start, end = _seconds(*m.group(1, 2, 3, 4)), _seconds(*m.group(5, 6, 7, 8))
        assert end > start and len(lines) > 2
        cues.append(Cue(start, end, " ".join(lines[2:])))
    return cues
