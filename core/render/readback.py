"""Read-back: compare what a recogniser heard in a take with the text the engine was sent.

Pure logic, no recogniser (worker/readback.py runs faster-whisper and calls ``judge``).  The text is
the one the engine was sent (core/text/lexicon.py's spoken form); a pronunciation mark
``⟪grapheme|ipa⟫`` in it is heard as its grapheme and stays one word.


* both sides go through the same normaliser (the worker passes Whisper's English one: case,
  punctuation, spelling, numbers written as digits), then are aligned word by word (Levenshtein);
  WER is (substitutions + deletions + insertions) / reference words, the measure jiwer computes;
* deleted reference words are "missing": at the ``start`` (before the first word heard), at the
  ``end`` (after the last word heard: a truncated take) or in the ``middle``;
* a take fails when its WER is over ``max_wer`` (with at least two words wrong: a chapter title
  "Two." heard as "to" is one homophone, not a bad take) or more than ``max_missing_end`` of its
  last words are missing; a take heard as empty fails (WER 1), it is never an error;
* word timings: every whitespace-separated word of the text sent gets a time in the take, from the
  recogniser's word timestamps aligned word by word (each side normalised per word); words the
  recogniser missed are placed between their neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxfarm.core.text.lexicon import readable

Normalize = Callable[[str], str]
_WORD = re.compile(r"(?:\u27ea[^\u27eb]*\u27eb|\S)+")  # a run of non-space characters or whole marks


def basic_normalize(text: str) -> str:
    """Lower case, letters and digits only: the fallback when no language normaliser is given."""
    return " ".join(re.sub(r"[^\w\s']|_", " ", text.lower()).replace("'", "").split())


@dataclass(frozen=True)
class HeardWord:
    word: str
    start: float  # seconds into the take
    end: float


@dataclass(frozen=True)
class Verdict:
    """One take as heard: ``status`` passed | failed | skipped (nothing to compare)."""

    status: str
    wer: float | None = None
    errors: int = 0
    ref_words: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)
    heard: str = ""
    timings: list[list[float]] = field(default_factory=list)  # [char_start, char_end, start_s, end_s, heard]
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.status != "failed"

    def detail(self) -> dict[str, Any]:
        """What a chunk stores beside its WER (``readback_detail``): counts for the job's total,
        the word timings, and why it was skipped."""
        return {"ref_words": self.ref_words, "errors": self.errors, "timings": self.timings,
                "reason": self.reason}


def skipped(reason: str) -> Verdict:
    return Verdict("skipped", reason=reason)


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[str, int | None, int | None]]:
    """A minimal edit script from ``ref`` to ``hyp``: (op, ref index, hyp index) with op
    ``ok`` | ``sub`` | ``del`` (a reference word not heard) | ``ins`` (a word heard in excess)."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        row, prev, r = cost[i], cost[i - 1], ref[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + (r != hyp[j - 1]), prev[j] + 1, row[j - 1] + 1)
    ops: list[tuple[str, int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("ok" if ref[i - 1] == hyp[j - 1] else "sub", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(("del", i - 1, None))
            i -= 1
        else:
            ops.append(("ins", None, j - 1))
            j -= 1
    return ops[::-1]


def missing_words(ref: Sequence[str], ops: list[tuple[str, int | None, int | None]]) -> dict[str, list[str]]:
    """Deleted reference words by place: before the first word heard, after the last, or between."""
    heard = [i for op, i, _ in ops if op in ("ok", "sub")]
    first, last = (heard[0], heard[-1]) if heard else (len(ref), -1)
    out: dict[str, list[str]] = {"start": [], "middle": [], "end": []}
    for op, i, _ in ops:
        if op == "del":
            out["end" if i > last else "start" if i < first else "middle"].append(ref[i])
    return out


def judge(text: str, heard: Sequence[HeardWord], normalize: Normalize = basic_normalize, *,
          max_wer: float, max_missing_end: int = 0) -> Verdict:
    """The verdict on one take of ``text`` (the text the engine was sent) heard as ``heard``."""
    ref = normalize(readable(text)).split()
    heard_text = " ".join(w.word.strip() for w in heard).strip()
    if not ref:
        return skipped("the text has no words to hear")
    hyp = normalize(heard_text).split()
    ops = align(ref, hyp)
    errors = sum(op != "ok" for op, _, _ in ops)
    wer = errors / len(ref)
    missing = missing_words(ref, ops)
    ok = (wer <= max_wer or errors < 2) and len(missing["end"]) <= max_missing_end
    return Verdict("passed" if ok else "failed", round(wer, 4), errors, len(ref), missing, heard_text,
                   word_timings(text, heard, normalize))


def source_words(text: str) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated words of ``text``."""
    return [m.span() for m in _WORD.finditer(text)]


def word_timings(text: str, heard: Sequence[HeardWord], normalize: Normalize = basic_normalize) -> list[list[float]]:
    """[char_start, char_end, start_s, end_s, heard (1/0)] for every word of ``text``; empty when
    nothing was heard.  Each side is normalised word by word and aligned; a source word takes the
    times of the heard words aligned to it, and a word nobody heard sits between its neighbours."""
    spans = source_words(text)
    if not spans or not heard:
        return []
    ref = [(tok, k) for k, (a, b) in enumerate(spans) for tok in normalize(readable(text[a:b])).split()]
    hyp: list[tuple[str, float, float]] = []
    for w in heard:
        toks = normalize(w.word).split()
        step = (w.end - w.start) / max(1, len(toks))
        hyp += [(tok, w.start + i * step, w.start + (i + 1) * step) for i, tok in enumerate(toks)]
    times: list[list[float] | None] = [None] * len(spans)
    for op, i, j in align([t for t, _ in ref], [t for t, _, _ in hyp]):
        if op in ("ok", "sub"):
            k, (_, start, end) = ref[i][1], hyp[j]
            got = times[k]
            times[k] = [min(got[0], start), max(got[1], end)] if got else [start, end]
    known = [k for k, t in enumerate(times) if t is not None]
    if not known:
        return []
    out = []
    for k, (a, b) in enumerate(spans):
        if times[k] is not None:
            start, end, was = times[k][0], times[k][1], 1
        else:  # between the last heard word before it and the first after it
            before = [times[p][1] for p in known if p < k]
            after = [times[p][0] for p in known if p > k]
            start = before[-1] if before else after[0]
            end = after[0] if after else before[-1]
            start, end, was = min(start, end), max(start, end), 0
        out.append([a, b, round(start, 3), round(end, 3), was])
    for prev, cur in zip(out, out[1:], strict=False):  # monotonic: a word never starts before the last
        cur[2] = max(cur[2], prev[2])
        cur[3] = max(cur[3], cur[2])
    return out


def summarize(chunks: Sequence[Any]) -> dict[str, Any] | None:
    """The job's read-back: words compared, WER over them all, flagged and skipped chunks.  None
    when no chunk was read back (``chunks`` carry ``idx``, ``readback`` and ``readback_detail``)."""
    seen = [c for c in chunks if c.readback]
    if not seen:
        return None
    checked = [c for c in seen if c.readback in ("passed", "flagged")]
    words = sum((c.readback_detail or {}).get("ref_words", 0) for c in checked)
    errors = sum((c.readback_detail or {}).get("errors", 0) for c in checked)
    return {"chunks": len(checked), "words": words, "wer": round(errors / words, 4) if words else None,
            "flagged_chunks": [c.idx for c in seen if c.readback == "flagged"],
            "skipped_chunks": len(seen) - len(checked)}


def result_fields(heard: Verdict | None, flagged: bool) -> dict[str, Any]:
    """The chunk's read-back columns for the kept take (ChunkResult's ``readback*`` fields)."""
    if heard is None:
        return {}
    status = "skipped" if heard.status == "skipped" else "flagged" if flagged else "passed"
    return {"readback": status, "readback_wer": heard.wer, "readback_missing": heard.missing or None,
            "readback_text": heard.heard if status != "skipped" else None, "readback_detail": heard.detail()}
