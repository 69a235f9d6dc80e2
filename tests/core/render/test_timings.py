"""The captions' timeline (core/render/timings.py) through the real stitcher: every "sentence" is a tone
between silences, so where each one really is in the stitched master can be measured from the file
(the independent reference), and the cues and word times are checked against that."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soundfile as sf

from tests.captions_check import parse_srt, parse_vtt
from voxfarm.core.audio.stitch import Pauses, Piece, assemble
from voxfarm.core.render.timings import Timeline

RATE = 16_000


@dataclass
class Row:
    idx: int
    chapter: int
    text: str
    spoken_text: str | None = None
    readback_detail: dict | None = None


def tone(seconds: float, freq: float = 300.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def onsets(path) -> list[float]:
    """Where sound starts after at least 150 ms of silence, read back from the file."""
    audio, rate = sf.read(path, dtype="float32")
    win = rate // 100
    loud = np.sqrt(np.mean(audio[: audio.size // win * win].reshape(-1, win) ** 2, axis=1)) > 0.01
    out, silent = [], 99
    for i, on in enumerate(loud):
        if on and silent >= 15:
            out.append(i / 100)
        silent = 0 if on else silent + 1
    return out


# chunk -> (its sentences' tone lengths); each chunk has 0.4 s of silence at its head (trimmed by the stitcher)
CHUNKS = [Row(0, 0, "The first sentence is short. The second one is a good deal longer than that."),
          Row(1, 0, "A chunk of one sentence."),
          Row(2, 1, "Chapter two begins here. And it goes on.")]
# chunk 0: its first sentence is the shorter text but the longer sound, so sharing the chunk by characters
# alone would put the second cue 0.6 s early: the boundary must move to the pause
TONES = {0: [1.5, 1.6], 1: [1.2], 2: [1.1, 0.9]}


def chunk_audio(idx: int) -> np.ndarray:
    parts = [quiet(0.4)]
    for k, seconds in enumerate(TONES[idx]):
        parts += [tone(seconds, 200 + 100 * k), quiet(0.35)]
    return np.concatenate(parts)


def stitched(tmp_path, chunks=CHUNKS):
    timeline = Timeline(RATE)
    by_idx = {c.idx: c for c in chunks}
    raw = assemble([Piece(c.idx, c.chapter, "chapter" if c.idx == 1 else "sentence") for c in chunks],
                   lambda p: chunk_audio(p.idx), RATE, Pauses(250, 600, 1500, 10), tmp_path / "raw.flac",
                   on_piece=lambda p, a, start, head: timeline.add(by_idx[p.idx], a, start, head))
    return timeline, raw


def test_sentence_cues_start_where_the_sentences_sound(tmp_path):
    timeline, raw = stitched(tmp_path)
    cues = parse_vtt(timeline.files()["captions.vtt"])
    assert [c.text for c in cues] == ["The first sentence is short.", "The second one is a good deal longer than that.",
                                      "A chunk of one sentence.", "Chapter two begins here.", "And it goes on."]
    heard = onsets(tmp_path / "raw.flac")
    assert len(heard) == 5
    for cue, onset in zip(cues, heard, strict=True):
        # a chunk's first cue starts at its first sample (30 ms of kept margin before the sound);
        # a sentence inside a chunk at the middle of the pause before it (175 ms of 350)
        assert abs(cue.start - onset) <= 0.2, (cue, onset)
    assert abs(cues[3].start - raw.chapter_starts[1] / RATE) < 0.05  # the chapter's first cue at its mark
    starts = [c.start for c in cues]
    assert starts == sorted(starts) and cues[-1].end <= raw.samples / RATE + 1e-3
    assert [(c.start, c.end, c.text) for c in parse_srt(timeline.files()["captions.srt"])] == \
        [(c.start, c.end, c.text) for c in cues]


def test_word_times_follow_the_chunk_into_the_stitched_file(tmp_path):
    """Chunk 1's words as a recogniser heard them in the take (from its raw start, head silence
    included) land where its tone is in the master, after the trims and the pauses before it."""
    text = "A chunk of one sentence."
    words = [[0, 1, 0.41, 0.6, 1], [2, 7, 0.6, 0.9, 1], [8, 10, 0.9, 1.1, 0], [11, 14, 1.1, 1.3, 1],
             [15, 24, 1.3, 1.6, 1]]
    chunks = [CHUNKS[0], Row(1, 0, text, readback_detail={"timings": words}), CHUNKS[2]]
    timeline, raw = stitched(tmp_path, chunks)
    tone_at = onsets(tmp_path / "raw.flac")[2]  # chunk 1's only sentence
    first = timeline.words[0]
    assert first.word == "A" and first.chunk == 1 and first.source == (0, 1)
    assert abs(first.start - tone_at) < 0.03  # 0.41 s into the take = 10 ms into its tone
    assert [w.word for w in timeline.words] == text.split() and not timeline.words[2].heard
    files = timeline.files()
    assert "words.json" in files
    cue = next(c for c in parse_vtt(files["captions.vtt"]) if c.text == text)
    assert len(cue.inline) == 4 and abs(cue.inline[0] - (tone_at + 0.6 - 0.41)) < 0.03  # word-level, inline


def test_each_chapter_file_gets_its_own_captions_from_zero(tmp_path):
    timeline, raw = stitched(tmp_path)
    total = raw.samples / RATE
    marks = [s / RATE for s in raw.chapter_starts]
    files = timeline.files(1.0, [(marks[0], marks[1]), (marks[1], total)])
    one, two = parse_vtt(files["captions-chapter-001.vtt"]), parse_vtt(files["captions-chapter-002.vtt"])
    assert [c.text for c in two] == ["Chapter two begins here.", "And it goes on."]
    assert two[0].start < 0.05 and two[-1].end <= total - marks[1] + 1e-3
    assert len(one) == 3 and parse_srt(files["captions-chapter-002.srt"])[0].text == "Chapter two begins here."
    slow = parse_vtt(timeline.files(0.5)["captions.vtt"])  # a time-stretch to half speed doubles every time
    assert abs(slow[3].start - 2 * parse_vtt(files["captions.vtt"])[3].start) < 0.002


def test_word_level_cues_stay_valid_webvtt_when_words_share_a_time():
    """Words the recogniser placed at one instant (or at the cue's own start) get no inline time of their
    own: WebVTT wants inline times strictly inside the cue and rising."""
    from voxfarm.core.render.captions import Cue, subrip, webvtt

    cue = Cue(1.0, 2.0, "a b c d & <e>", [(1.0, "a"), (1.0, "b"), (1.5, "c"), (1.5, "d"), (1.9, "&"), (2.0, "<e>")])
    [got] = parse_vtt(webvtt([cue]))
    assert got.inline == [1.5, 1.9] and got.text == "a b c d & <e>"
    assert parse_srt(subrip([cue, Cue(0.5, 0.5, "before, and empty")]))[1].start == 1.0  # never goes back
