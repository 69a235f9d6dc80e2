"""Read-back's comparison (core/render/readback.py) without a recogniser: heard words are given, so the
WER, the missing words by place and the word timings can be checked exactly; jiwer is the independent
reference for the WER."""

from __future__ import annotations

import random

import jiwer
import pytest

from voxfarm.core.render.readback import (
    HeardWord,
    align,
    basic_normalize,
    judge,
    source_words,
    summarize,
    word_timings,
)
from voxfarm.core.render.takes import Take, choose_take

TEXT = "It was the best of times, it was the worst of times."


def heard(words: str, step: float = 0.3) -> list[HeardWord]:
    return [HeardWord(w, i * step, i * step + step * 0.8) for i, w in enumerate(words.split())]


def test_the_wer_is_jiwers_on_random_edits():
    rng = random.Random(7)
    vocab = "the a river ran cold under an old grey bridge at dawn".split()
    for _ in range(200):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 15))]
        hyp = [w for w in ref if rng.random() > 0.2]
        hyp = [rng.choice(vocab) if rng.random() < 0.2 else w for w in hyp]
        hyp[rng.randint(0, len(hyp)):0] = [rng.choice(vocab)] * rng.randint(0, 2)
        v = judge(" ".join(ref), heard(" ".join(hyp)), max_wer=1.0)
        expected = jiwer.wer(" ".join(ref), " ".join(hyp)) if hyp else 1.0
        assert v.wer == pytest.approx(expected, abs=1e-4), (ref, hyp)
        ops = align(ref, hyp)
        assert [r for op, i, _ in ops if i is not None for r in [ref[i]]] == ref  # every reference word once
        assert [hyp[j] for op, _, j in ops if j is not None] == hyp


def test_a_clean_take_passes():
    v = judge(TEXT, heard("it was the best of times it was the worst of times"), max_wer=0.2)
    assert v.status == "passed" and v.wer == 0 and v.errors == 0 and v.ref_words == 12
    assert v.missing == {"start": [], "middle": [], "end": []}


def test_missing_words_are_placed_and_a_lost_ending_fails_however_low_the_wer():
    v = judge(TEXT, heard("was the best of times it was the worst"), max_wer=0.5)
    assert v.missing == {"start": ["it"], "middle": [], "end": ["of", "times"]}
    assert v.status == "failed" and v.wer == pytest.approx(3 / 12, abs=1e-4)
    v = judge(TEXT, heard("it was the best times it was the worst of times"), max_wer=0.5)
    assert v.missing["middle"] == ["of"] and v.status == "passed"
    assert judge(TEXT, heard("it was the best of times it was the worst"), max_wer=0.5,
                 max_missing_end=2).status == "passed"


def test_too_many_errors_fail_but_one_homophone_in_a_title_does_not():
    assert judge(TEXT, heard("it was the beast of tomes it was the worse of times"), max_wer=0.2).status == "failed"
    assert judge("Two.", heard("to."), max_wer=0.3).status == "passed"


def test_a_take_heard_as_empty_is_a_failed_take_not_an_error():
    v = judge(TEXT, [], max_wer=0.3)
    assert v.status == "failed" and v.wer == 1.0 and v.timings == []
    assert len(v.missing["end"]) == 12
    assert judge("... !", heard("hello"), max_wer=0.3).status == "skipped"  # nothing to compare with


def test_numbers_compare_through_the_normaliser_given():
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    v = judge("In 1865 the ship carried twenty-five sailors.", heard("In 1865, the ship carried 25 sailors."),
              norm, max_wer=0.1)
    assert v.wer == 0 and v.status == "passed"
    assert judge("twenty-five", heard("25"), basic_normalize, max_wer=0.1).wer == 1.0  # the plain one cannot


def test_word_timings_point_into_the_text_sent_and_fill_the_missed_words():
    text = "Hi ⟪Nguyen|ŋwɪn⟫, the old river."
    t = word_timings(text, [HeardWord(" Hi", 0.0, 0.2), HeardWord(" Nguyen,", 0.3, 0.7),
                            HeardWord(" river.", 1.2, 1.6)])
    assert [text[a:b] for a, b, *_ in t] == ["Hi", "⟪Nguyen|ŋwɪn⟫,", "the", "old", "river."]
    assert [(s, e, h) for _, _, s, e, h in t] == [(0.0, 0.2, 1), (0.3, 0.7, 1), (0.7, 1.2, 0), (0.7, 1.2, 0),
                                                  (1.2, 1.6, 1)]
    assert source_words(text) == [(a, b) for a, b, *_ in t]


def test_the_take_loop_rerenders_a_take_that_misses_words_and_keeps_the_best():
    """Take n of the text drops its last n words... except the kept one; the gate is read-back."""
    takes = {0: "it was the best of times it was the worst", 1: "it was the best of times it was the worst of times"}
    rendered = []

    def render(seed):
        rendered.append(seed)
        return Take(seed, engine_s=0.1)

    def hear(n):
        return judge(TEXT, heard(takes.get(n, "it was")), max_wer=0.3)

    kept = choose_take(lambda s: render(len(rendered)), seed=5, job_seed=9, text=TEXT, retries=2, quality=None,
                       speaker=None, readback=lambda audio: hear(audio))
    assert rendered == [0, 1] and kept.retries == 1 and kept.heard.wer == 0 and not kept.readback_flagged
    takes.clear()
    takes.update({0: "it was the best of", 1: "it was the best of times it was", 2: "it"})
    rendered.clear()
    kept = choose_take(lambda s: render(len(rendered)), seed=5, job_seed=9, text=TEXT, retries=2, quality=None,
                       speaker=None, readback=lambda audio: hear(audio))
    assert rendered == [0, 1, 2] and kept.readback_flagged and kept.take.audio == 1  # the lowest WER kept


def test_the_jobs_figure_is_over_all_its_words():
    class C:
        def __init__(self, idx, status, words=0, errors=0):
            self.idx, self.readback = idx, status
            self.readback_detail = {"ref_words": words, "errors": errors} if status != "skipped" else {"reason": "x"}

    got = summarize([C(0, "passed", 90, 3), C(1, "flagged", 10, 7), C(2, "skipped"), C(3, None)])
    assert got == {"chunks": 2, "words": 100, "wer": 0.1, "flagged_chunks": [1], "skipped_chunks": 1}
    assert summarize([C(0, None)]) is None
