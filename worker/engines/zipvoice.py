"""ZipVoice / ZipVoice-Distill zero-shot cloning on ONNX Runtime, batched across jobs.

Per item: the prompt's transcript and the text become IPA tokens (espeak-ng), the text encoder
turns them into a frame-level condition (one item per call: it derives the frame count from
scalars), and the flow-matching decoder integrates ``num_steps`` Euler steps from seeded noise,
conditioned on the prompt's log-mel features.  Vocos turns the new frames into 24 kHz audio.

Batching.  The ``num_steps`` decoder calls cost the most, and the exported decoder takes a batch
of rows of one length but has no padding mask: a padded row would see its padding.  So rows only
share a call when their frame counts are *equal*.  To make that common, an item's frame count is
rounded up to a grid (``zipvoice_length_grid``, 3 % steps) by slowing it slightly -- a function of
the item alone, so it renders the same audio solo or in any batch.  ``batch_key`` carries the
rounded length with the batch-wide scalars (steps, t_shift, guidance); the micro-batcher groups on it.

Voices.  ``prepare_voice`` trims the prompt (upstream's rules), keeps its linear mel magnitudes,
its RMS and its tokens; the worker caches them beside the voice in storage.  ``target_rms``
is applied at render time, so one cached prompt serves every job.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from bisect import bisect_left
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from voxfarm.core.audio.arrays import resample
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.text.chunking import clean_tags
from voxfarm.worker.engines import zipvoice_audio as dsp
from voxfarm.worker.engines.base import BatchStats, Engine, PreparedVoice, RenderRequest, RenderResult
from voxfarm.worker.engines.espeak import EspeakEngine
from voxfarm.worker.engines.ipa import phonemize
from voxfarm.worker.engines.onnx_session import session_device
from voxfarm.worker.engines.zipvoice_model import OnnxZipVoice, frames_for, locate, read_tokens
from voxfarm.worker.engines.zipvoice_render import render_groups

PROMPT_TAIL_S = 0.2  # upstream appends 0.2 s of silence so the prompt does not leak into the speech
FORMAT = 1  # cached prompt layout version
# without a registered voice, ZipVoice clones this espeak-ng rendering (a robotic but valid prompt)
DEFAULT_PROMPT = "This is the default voice of the farm, speaking clearly."


@dataclass(eq=False)
class Prompt:
    """A prepared ZipVoice prompt: linear mel magnitudes, token ids and the original RMS."""

    mel: np.ndarray  # (frames, num_mels) float32
    tokens: np.ndarray  # (n,) int64
    rms: float

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Prompt) and np.array_equal(self.mel, other.mel)
                and np.array_equal(self.tokens, other.tokens) and self.rms == other.rms)


def _punctuate(text: str) -> str:
    text = clean_tags(text).strip()
    return text if not text or text[-1] in ".,;:!?" else text + "."


class ZipVoiceEngine(Engine):
    spec = ENGINES["zipvoice"]

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._grid: list[int] = [1]
        self._grid_lock = threading.Lock()

    @property
    def device(self) -> str:
        return session_device(self.model.decoder) if self.loaded else "cpu"

    @property
    def fingerprint(self) -> str:
        """A cached prompt depends on the token table, the feature settings and the phonemizer's
        language -- not on the weights, so fp32 and int8 (or a moved directory) share it."""
        return self._fingerprint

    def load(self) -> None:
        files = locate(self.settings)
        self.table = read_tokens(files.tokens)
        self.model = OnnxZipVoice(files, self.settings)
        m = self.model
        key = (files.tokens.read_bytes() + f"|{m.sample_rate}|{m.n_fft}|{m.hop}|{m.num_mels}|"
               f"{self.settings.zipvoice_language}|{FORMAT}".encode())
        self._fingerprint = hashlib.sha256(key).hexdigest()[:16]
        self.tokenize = lru_cache(maxsize=8192)(self._tokenize)
        self.loaded = True
        self.default_voice = self.prepare_voice(*self._espeak_prompt(), DEFAULT_PROMPT)

    @staticmethod
    def _espeak_prompt() -> tuple[np.ndarray, int]:
        espeak = EspeakEngine(None)  # the espeak engine reads no settings
        espeak.load()
        out = espeak.generate_batch([RenderRequest("default-prompt", DEFAULT_PROMPT)])[0]
        return out.audio, espeak.spec.sample_rate

    def _tokenize(self, text: str) -> tuple[int, ...]:
        ipa = phonemize(_punctuate(text), self.settings.zipvoice_language)
        return tuple(self.table[ch] for ch in ipa if ch in self.table)  # upstream skips unknown tokens

    # -- voices --------------------------------------------------------------------------------
    def prepare_voice(self, audio: np.ndarray, sample_rate: int, transcript: str) -> PreparedVoice:
        m = self.model
        audio = dsp.trim_edges(dsp.cap_silences(resample(audio, sample_rate, m.sample_rate), m.sample_rate),
                               m.sample_rate)
        audio = np.concatenate([audio, np.zeros(int(PROMPT_TAIL_S * m.sample_rate), np.float32)])
        tokens = np.asarray(self.tokenize(transcript), np.int64)
        if tokens.size == 0:
            raise ValueError("the voice transcript has nothing to pronounce")
        mel = dsp.mel_magnitudes(audio, m.sample_rate, m.n_fft, m.hop, m.num_mels)
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        return PreparedVoice(transcript, Prompt(mel, tokens, rms), frames=mel.shape[0])

    def voice_to_bytes(self, voice: PreparedVoice) -> bytes:
        buf = io.BytesIO()
        p = voice.data
        np.savez(buf, format=np.int64(FORMAT), mel=p.mel, tokens=p.tokens, rms=np.float64(p.rms))
        return buf.getvalue()

    def voice_from_bytes(self, data: bytes, transcript: str) -> PreparedVoice:
        """Raises ``ValueError`` for anything unusable, so the cache re-prepares the voice."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                mel, tokens, rms, fmt = z["mel"], z["tokens"], float(z["rms"]), int(z["format"])
        except (OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise ValueError(f"cached zipvoice prompt is unreadable: {exc}") from None
        if fmt != FORMAT or mel.ndim != 2 or mel.shape[1] != self.model.num_mels or tokens.size == 0:
            raise ValueError("cached zipvoice prompt has another layout")
        prompt = Prompt(mel.astype(np.float32), tokens.astype(np.int64), rms)
        return PreparedVoice(transcript, prompt, frames=prompt.mel.shape[0])

    # -- batching ------------------------------------------------------------------------------
    def _params(self, request: RenderRequest) -> dict:
        return {**self.spec.defaults, **request.params}

    def _rounded(self, frames: int) -> int:
        """The grid point at or above ``frames``: points 3 % apart (exact lengths when grid = 0)."""
        step = self.settings.zipvoice_length_grid
        if step <= 0:
            return frames
        with self._grid_lock:
            while self._grid[-1] < frames:
                self._grid.append(max(self._grid[-1] + 1, int(np.ceil(self._grid[-1] * (1 + step)))))
            return self._grid[bisect_left(self._grid, frames)]

    def plan(self, request: RenderRequest) -> tuple[PreparedVoice, tuple[int, ...], int]:
        """(voice, text tokens, total frames after rounding) for one request."""
        voice = request.voice or self.default_voice
        tokens = self.tokenize(request.text)
        p = self._params(request)
        natural = frames_for(voice.frames, len(voice.data.tokens), max(1, len(tokens)), float(p["speed"]))
        # a short text at a high speed can ask for fewer frames than the prompt holds: keep a
        # few frames per token of new speech so the item still says something
        natural = max(natural, voice.frames + 2 * max(2, len(tokens)))
        return voice, tokens, self._rounded(natural)

    def batch_key(self, request: RenderRequest) -> Hashable:
        """Steps, t_shift, guidance (batch-wide scalars) and the rounded frame count.  Never
        raises (it runs on the batcher's thread): a request it cannot plan goes alone, and
        ``generate_batch`` reports its error."""
        try:
            p = self._params(request)
            return (int(p["num_steps"]), float(p["t_shift"]), float(p["guidance_scale"]), self.plan(request)[2])
        except Exception:  # noqa: BLE001
            return ("unplannable", request.key)

    def expected_length(self, request: RenderRequest) -> float:
        try:
            return float(self.plan(request)[2])
        except Exception:  # noqa: BLE001 - see batch_key
            return 0.0

    # -- generation ----------------------------------------------------------------------------
    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        if not self.loaded:
            raise RuntimeError("engine not loaded")
        results, calls = render_groups(self, requests)
        self.last_stats = BatchStats(len(requests), calls, sum(r.steps for r in results))
        return results
