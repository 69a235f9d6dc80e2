"""One contract, every registered engine (espeak, and dia on the tiny random checkpoint).

Batch invariance (issue 11): an engine that declares ``deterministic`` must render every request
bit-identically alone and in any batch -- short beside long, no voice beside voice prompts of
different lengths, at the first, a middle and the last position, with several tenants' seeds.
An engine that is not deterministic still gets a mapping check: its items' lengths differ by
construction, so a batch whose results reached the wrong requests shows up as swapped lengths.
A new engine plugs in with one ``INVARIANCE`` entry (or none: ``_case`` derives a default from
its capabilities).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pytest

from voxfarm.core.engines.registry import ENGINES
from voxfarm.worker.engines.base import Engine, RenderRequest, load_engine_class

from helpers import tone

TEXTS = ["Hello there.", "A somewhat longer sentence for the batch to carry along.", "[S1] Short one."]


@dataclass(frozen=True)
class InvarianceCase:
    params: dict = field(default_factory=dict)  # the params every request of the case carries
    voice_seconds: tuple[float, ...] = ()  # prompt lengths to clone (empty: engine does not clone)
    prompt_rate: int = 44_100
    # engines whose random test weights never end on their own (dia) may end each request at a
    # step derived from its text (``engine.eos_at``), so items of one batch finish at different steps
    end_at: Callable[[RenderRequest], int] | None = None
    # 0: bit-identical.  An engine whose batched arithmetic differs from its solo one by float
    # summation order must say so here, with the bound it guarantees (never above a 16-bit PCM step)
    tolerance: float = 0.0


INVARIANCE: dict[str, InvarianceCase] = {
    "espeak": InvarianceCase(),
    # 40 steps keep the tiny checkpoint quick; 1.5 s and 6 s prompts are 130 and 517 codec frames,
    # so the short prompt is left-padded by 387 frames when the two share a batch.  EOS at
    # 4 + chars/8 new steps: step 5 for the short text, 22 for the long one (+ the 15-step tail < 40)
    # ZipVoice batches equal-length items through batched matmuls: solo and batched agree to ~2e-6,
    # not bit for bit (core/engines/registry.py); bounded here by one 16-bit PCM step
    "zipvoice": InvarianceCase(voice_seconds=(1.5, 6.0), tolerance=3e-5),
    "dia": InvarianceCase(params={"max_new_tokens": 40}, voice_seconds=(1.5, 6.0),
                          end_at=lambda r: 4 + len(r.text) // 8),
}

SHORT, LONG = "Hi there.", ("This sentence is a good deal longer than its neighbour, so that any engine "
                            "speaking it needs several times as long as it needs for the short one.")


def _case(engine: Engine) -> InvarianceCase:
    default = InvarianceCase(voice_seconds=(1.5, 6.0) if engine.spec.clones_voices else ())
    return INVARIANCE.get(engine.name, default)


@contextmanager
def _ending(engine: Engine, end_at: Callable[[RenderRequest], int] | None):
    if end_at is None:
        yield
        return
    engine.eos_at = end_at
    try:
        yield
    finally:
        engine.eos_at = None


def _endings(engine: Engine) -> list:
    """Every way the case's items may end: at the engine's own end, and at per-text steps if given
    (last: the realistic one, where batch-mates finish at different steps)."""
    return [None] + ([_case(engine).end_at] if _case(engine).end_at else [])


def _tenant_requests(engine: Engine) -> list[RenderRequest]:
    """Four tenants' requests (distinct seeds): short/no voice, long/long prompt, short/short prompt,
    long/no voice (engines that clone voices; the others get the texts alone).  Not a palindrome,
    so results handed back in reverse order swap a short and a long one."""
    case = _case(engine)
    voices = [engine.prepare_voice(tone(sec, case.prompt_rate, 180 + 60 * i), case.prompt_rate,
                                   f"[S1] Reference words number {i}.") for i, sec in enumerate(case.voice_seconds)]
    short_voice, long_voice = (voices[0], voices[-1]) if voices else (None, None)
    plan = [(SHORT, None), (LONG, long_voice), (SHORT, short_voice), (LONG, None)]
    return [RenderRequest(f"tenant-{i}", text, dict(case.params), seed=1000 + 37 * i, voice=voice)
            for i, (text, voice) in enumerate(plan)]


def _rotations(n: int) -> list[list[int]]:
    """Orders in which every request sits once at each position (first, middles, last)."""
    return [[(start + k) % n for k in range(n)] for start in range(n)]


def _render_in_order(engine: Engine, requests: list[RenderRequest], order: list[int]) -> dict[int, object]:
    """One batch in ``order`` (grouped by batch key as the worker does); results by request index."""
    groups: dict = {}
    for i in order:
        groups.setdefault(engine.batch_key(requests[i]), []).append(i)
    # (an engine may keep some apart: zipvoice's batch key holds the frame count, so only equal
    # lengths ever share its decoder calls)
    out = {}
    for idx in groups.values():
        for i, result in zip(idx, engine.generate_batch([requests[i] for i in idx]), strict=False):
            out[i] = result
    return out


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


def _same_take(engine: Engine, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two renders are the same take: equal (within the case's bound) for a deterministic
    engine, within 1 % of the length for one that is not."""
    if not engine.spec.deterministic:
        return abs(a.size - b.size) <= 0.01 * max(a.size, b.size)
    return a.shape == b.shape and np.allclose(a, b, rtol=0, atol=_case(engine).tolerance)


def test_one_result_per_request_in_order(engine):
    """One result per request, each at its own request's position: every result is the take its
    request renders alone (the three renders tell apart), not a batch-mate's."""
    short = {"max_new_tokens": 32} if "max_new_tokens" in engine.spec.params else {}  # Dia: quick solo renders
    requests = [RenderRequest(f"r{i}", t, _params(engine, **short), seed=i) for i, t in enumerate(TEXTS)]
    results = engine.generate_batch(requests)
    assert len(results) == len(requests)
    for r in results:
        assert r.ok, r.error
        assert r.audio.dtype == np.float32 and r.audio.ndim == 1 and r.audio.size > 0
        assert np.abs(r.audio).max() <= 1.0 and np.isfinite(r.audio).all()
    assert engine.last_stats.items == len(requests)
    alone = [engine.generate_batch([r])[0].audio for r in requests]
    for i in range(len(alone)):
        for j in range(i):  # distinct texts and seeds: distinct takes, so a swap cannot pass
            assert not _same_take(engine, alone[i], alone[j]), (i, j)
    for i, (got, solo) in enumerate(zip(results, alone, strict=True)):
        assert _same_take(engine, got.audio, solo), f"result {i} is not request {i}'s take"


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
    if len(groups) > 1:
        results = [engine.generate_batch([r])[0] for r in (good, bad)]
    else:
        results = engine.generate_batch([good, bad])
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


@pytest.mark.timeout(900)  # 4 solo renders and 5 batches of 4 on 2 shared CPU cores
def test_each_request_renders_the_same_alone_and_at_every_batch_position(engine):
    requests = _tenant_requests(engine)
    endings = _endings(engine)
    for end_at in endings:
        # every position under the last ending; one order under the others (2 CPU cores are shared)
        orders = _rotations(len(requests)) if end_at is endings[-1] else [list(range(len(requests)))]
        with _ending(engine, end_at):
            alone = [engine.generate_batch([r])[0] for r in requests]
            assert all(r.ok for r in alone), [r.error for r in alone]
            for order in orders:
                batched = _render_in_order(engine, requests, order)
                for i, solo in enumerate(alone):
                    got = batched[i]
                    assert got.ok, got.error
                    where = f"request {i} at position {order.index(i)} of {order}, end_at={end_at}"
                    if engine.spec.deterministic:  # bit-identical unless the case declares a bound
                        assert got.audio.shape == solo.audio.shape, where
                        tol = _case(engine).tolerance
                        assert np.array_equal(got.audio, solo.audio) if tol == 0 else \
                            np.allclose(got.audio, solo.audio, rtol=0, atol=tol), where
                    else:  # the same utterance: within 1 % of its solo length (espeak jitters by samples)
                        assert abs(got.audio.size - solo.audio.size) <= 0.01 * solo.audio.size, where


def test_batched_results_reach_their_own_requests(engine):
    """Mapping check that needs no determinism: a long text comes back longer, in its own slot."""
    requests = _tenant_requests(engine)
    with _ending(engine, _case(engine).end_at):
        results = engine.generate_batch(requests)
    sizes = [r.audio.size for r in results]
    pairs = [(i, j) for i, r in enumerate(requests) for j, o in enumerate(requests)
             if r.text == LONG and o.text == SHORT]
    assert len(pairs) == 4
    for i, j in pairs:
        assert sizes[i] > 2 * sizes[j], (i, j, sizes)
