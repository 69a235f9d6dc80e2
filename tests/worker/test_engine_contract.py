"""One contract, every registered engine (espeak, and dia on the tiny random checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest

from core.engines import ENGINES
from helpers import tone
from worker.engines.base import Engine, RenderRequest, load_engine_class

TEXTS = ["Hello there.", "A somewhat longer sentence for the batch to carry along.", "[S1] Short one."]


def _params(engine: Engine, **extra) -> dict:
    base = {"max_new_tokens": 64} if "max_new_tokens" in engine.spec.params else {}
    return {**base, **extra}


def test_registry_entries_name_engine_classes():
    for name, spec in ENGINES.items():
        cls = load_engine_class(name)
        assert cls.spec is spec and ":" in spec.target


def test_capabilities_are_declared(engine):
    spec = engine.spec
    assert spec.sample_rate > 0 and spec.max_batch_size >= spec.default_batch.max_batch_size >= 1
    assert isinstance(spec.clones_voices, bool) and isinstance(spec.dialogue_tags, bool)
    assert "seed" in spec.params
    assert engine.loaded and engine.model_id


def test_one_result_per_request_in_order(engine):
    requests = [RenderRequest(f"r{i}", t, _params(engine), seed=i) for i, t in enumerate(TEXTS)]
    results = engine.generate_batch(requests)
    assert len(results) == len(requests)
    for r in results:
        assert r.ok, r.error
        assert r.audio.dtype == np.float32 and r.audio.ndim == 1 and r.audio.size > 0
        assert np.abs(r.audio).max() <= 1.0 and np.isfinite(r.audio).all()
    assert engine.last_stats.items == len(requests)


def test_same_request_same_audio_whatever_the_batch(engine):
    target = RenderRequest("t", TEXTS[1], _params(engine), seed=1234)
    alone = engine.generate_batch([target])[0].audio
    others = [RenderRequest(f"o{i}", t, _params(engine), seed=100 + i) for i, t in enumerate(TEXTS)]
    batched = engine.generate_batch([others[0], target, others[2]])[1].audio
    if engine.spec.deterministic:
        assert alone.shape == batched.shape and np.allclose(alone, batched, atol=1e-5)
    else:  # declared non-deterministic: still the same utterance, to within 1 % of its length
        assert abs(alone.size - batched.size) <= 0.01 * alone.size


def test_an_item_error_stays_with_its_item(engine):
    good = RenderRequest("g", "Fine text.", _params(engine), seed=1)
    if engine.name == "espeak":
        bad = RenderRequest("b", "Fine text.", _params(engine, language="zz-nope"), seed=1)
    elif engine.name in ("piper", "kokoro"):  # a voice the engine does not have
        bad = RenderRequest("b", "Fine text.", _params(engine, voice="no_such_voice"), seed=1)
    elif engine.name == "sim":
        bad = RenderRequest("b", "Fine text. <sim-error>", _params(engine), seed=1)
    else:  # fewer new tokens than Dia's codebook delay: nothing decodable
        bad = RenderRequest("b", "Fine text.", _params(engine, max_new_tokens=4), seed=1)
    groups = {engine.batch_key(good), engine.batch_key(bad)}
    results = [engine.generate_batch([r])[0] for r in (good, bad)] if len(groups) > 1 else engine.generate_batch([good, bad])
    assert results[0].ok and not results[1].ok and results[1].error


def test_voice_support_matches_the_capability(engine):
    audio = tone(2.0, 44100)
    if not engine.spec.clones_voices:
        with pytest.raises(NotImplementedError):
            engine.prepare_voice(audio, 44100, "hi")
        return
    voice = engine.prepare_voice(audio, 44100, "[S1] This is my voice.")
    again = engine.voice_from_bytes(engine.voice_to_bytes(voice), voice.transcript)
    assert np.array_equal(np.asarray(again.data), np.asarray(voice.data)) and again.frames == voice.frames > 0
    out = engine.generate_batch([RenderRequest("v", "New words.", _params(engine), seed=3, voice=again)])[0]
    assert out.ok
