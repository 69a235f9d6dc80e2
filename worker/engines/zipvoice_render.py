"""One ZipVoice ``generate_batch``: prepare each item, run each equal-length group's decoder
steps together, vocode, post-process.  Split from the engine class to keep both readable.

An item is prepared alone (its text condition, prompt features and seeded noise depend only on
itself) and stacked with the other rows of its group, all of one frame count, so each of the
``num_steps`` decoder calls carries the whole group.  Problems with one item (an unknown or
out-of-range param, a text with nothing to pronounce) become that item's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from voxfarm.worker.engines import zipvoice_audio as dsp
from voxfarm.worker.engines.base import RenderRequest, RenderResult


class ItemError(Exception):
    pass


@dataclass
class _Item:
    index: int
    key: tuple
    prompt_frames: int
    text_cond: np.ndarray  # (frames, feat_dim)
    speech_cond: np.ndarray
    noise: np.ndarray
    rms: float
    params: dict[str, Any]


def _prepare(engine, index: int, request: RenderRequest) -> _Item:
    spec = engine.spec
    unknown = sorted(set(request.params) - set(spec.params))
    if unknown:
        raise ItemError(f"zipvoice does not use {', '.join(unknown)}")
    bad = spec.out_of_range(request.params)
    if bad:
        raise ItemError("; ".join(bad))
    p = {**spec.defaults, **request.params}
    voice, tokens, frames = engine.plan(request)
    if not tokens:
        raise ItemError("the text has nothing to pronounce")
    prompt = voice.data
    n_prompt = len(prompt.tokens)
    # the speed that makes the encoder's ceil(P / Lp * L / speed) land on the rounded length:
    # aim half a frame below it, far from float32 rounding at the ceiling
    speed = voice.frames * (n_prompt + len(tokens)) / (n_prompt * (frames - 0.5))
    text_cond = engine.model.encode(list(tokens), prompt.tokens.tolist(), voice.frames, speed)
    if text_cond.shape[0] != frames:
        raise RuntimeError(f"text encoder gave {text_cond.shape[0]} frames, expected {frames}")
    target = float(p["target_rms"])
    gain = target / prompt.rms if 0 < prompt.rms < target else 1.0  # quiet prompts are lifted
    speech_cond = np.zeros_like(text_cond)
    speech_cond[:voice.frames] = dsp.log_features(prompt.mel, gain)
    noise = np.random.default_rng(int(request.seed)).standard_normal(text_cond.shape, dtype=np.float32)
    key = (int(p["num_steps"]), float(p["t_shift"]), float(p["guidance_scale"]), frames)
    return _Item(index, key, voice.frames, text_cond, speech_cond, noise, prompt.rms, p)


def _finish(item: _Item, audio: np.ndarray, sample_rate: int) -> RenderResult:
    audio = np.clip(audio, -1.0, 1.0)
    target = float(item.params["target_rms"])
    if 0 < item.rms < target:  # back to the prompt's own loudness
        audio = audio * (item.rms / target)
    if item.params.get("remove_long_silence"):
        audio = dsp.cap_silences(audio, sample_rate)
    audio = dsp.trim_edges(audio, sample_rate)
    if audio.size == 0:
        return RenderResult(error="the model generated no audio for this text")
    return RenderResult(audio=audio.astype(np.float32), steps=int(item.params["num_steps"]))


def _vocode(model, items: list[_Item], feats: list[np.ndarray]) -> list[np.ndarray]:
    """Vocode equal-length items together (Vocos is convolutional: no padding, no cross-talk)."""
    out: list[np.ndarray | None] = [None] * len(items)
    by_len: dict[int, list[int]] = {}
    for j, f in enumerate(feats):
        by_len.setdefault(f.shape[0], []).append(j)
    for length, members in by_len.items():
        if length == 0:
            for j in members:
                out[j] = np.zeros(0, np.float32)
            continue
        stacked = np.stack([feats[j] for j in members]) / dsp.FEAT_SCALE  # back to natural-log mels
        audio = model.vocode(stacked)
        for row, j in enumerate(members):
            out[j] = audio[row]
    return out


def render_groups(engine, requests: list[RenderRequest]) -> tuple[list[RenderResult], int]:
    """Results in request order, and the number of decoder calls made."""
    results: list[RenderResult | None] = [None] * len(requests)
    groups: dict[tuple, list[_Item]] = {}
    for i, request in enumerate(requests):
        try:
            item = _prepare(engine, i, request)
        except (ItemError, ValueError) as exc:
            results[i] = RenderResult(error=str(exc))
            continue
        groups.setdefault(item.key, []).append(item)
    calls = 0
    for (steps, t_shift, guidance, _), items in groups.items():
        x = engine.model.sample(np.stack([it.noise for it in items]), np.stack([it.text_cond for it in items]),
                                np.stack([it.speech_cond for it in items]), steps, t_shift, guidance)
        calls += steps
        feats = [x[row, it.prompt_frames:] for row, it in enumerate(items)]  # only the new speech
        for it, audio in zip(items, _vocode(engine.model, items, feats), strict=True):
            results[it.index] = _finish(it, audio, engine.model.sample_rate)
    return results, calls
