"""The engine contract every TTS backend implements (one contract test runs over all of them).

A worker process loads exactly one engine, once (``load``), and keeps it pinned: on a GPU the
weights stay resident and every batch reuses them.  Heavy imports (torch, transformers) happen in
``load``, never at module import, so listing or validating engines stays cheap.

``generate_batch`` takes many requests -- usually from different jobs and tenants -- and returns
one result per request, in order.  A failure that concerns one item is reported in that item's
result; an exception means the whole call failed and the caller retries item by item.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from voxfarm.core.engines.registry import ENGINES, EngineSpec
from voxfarm.core.settings import Settings


@dataclass
class PreparedVoice:
    """An engine's ready-to-use form of a voice prompt (e.g. Dia's codec tokens)."""

    transcript: str
    data: Any
    frames: int = 0  # prompt length in the engine's own units (codec frames for Dia)


@dataclass
class RenderRequest:
    key: str  # caller's identifier (a chunk id); engines only echo it in logs
    text: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    voice: PreparedVoice | None = None


@dataclass
class RenderResult:
    audio: np.ndarray | None = None  # mono float32 at the engine's sample rate
    error: str | None = None
    steps: int = 0  # decoder steps this item needed (tokens generated)
    engine_s: float = 0.0  # this item's share of its batch's wall time (set by the worker runtime)

    @property
    def ok(self) -> bool:
        return self.error is None and self.audio is not None


@dataclass(frozen=True)
class BatchStats:
    """What the last ``generate_batch`` call cost, for benchmarks and worker stats."""

    items: int
    steps: int  # decoder steps the batch ran (the longest item's, for batched decoders)
    useful_steps: int  # sum of each item's own steps: steps * items - padding


class Engine(ABC):
    spec: ClassVar[EngineSpec]
    # an engine that renders a batch one item after another sets this and implements ``render_one``:
    # ``iter_batch`` then hands each result over as soon as it exists (a streamed request's first
    # chunk is released while its batch-mates still render), with the same results as ``generate_batch``
    item_by_item: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loaded = False
        self.last_stats: BatchStats | None = None

    # -- identity ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def model_id(self) -> str:
        return self.spec.model_id(self.settings)

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def fingerprint(self) -> str:
        """Identifies the model weights a prepared voice was made with (cache key part)."""
        import hashlib

        return hashlib.sha256(self.model_id.encode()).hexdigest()[:16]

    # -- lifecycle -----------------------------------------------------------------------------
    @abstractmethod
    def load(self) -> None:
        """Load weights/libraries.  Called once per worker process before it consumes tasks."""

    def prepare_voice(self, audio: np.ndarray, sample_rate: int, transcript: str) -> PreparedVoice:
        """Turn a normalized prompt into this engine's form.  Cached by the caller."""
        raise NotImplementedError(f"{self.name} does not clone voices")

    def voice_to_bytes(self, voice: PreparedVoice) -> bytes:
        raise NotImplementedError

    def voice_from_bytes(self, data: bytes, transcript: str) -> PreparedVoice:
        raise NotImplementedError

    @abstractmethod
    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        """Render every request; one result per request, same order."""

    def render_one(self, request: RenderRequest) -> RenderResult:
        """One item, for ``item_by_item`` engines."""
        raise NotImplementedError

    def iter_batch(self, requests: list[RenderRequest]) -> Iterator[RenderResult]:
        """``generate_batch``'s results one by one, in order: each as soon as it is rendered for an
        ``item_by_item`` engine, all at the end of the call for a batched decoder."""
        if not self.item_by_item:
            yield from self.generate_batch(requests)
            return
        if not self.loaded:
            raise RuntimeError("engine not loaded")
        steps = 0
        for request in requests:
            result = self.render_one(request)
            steps += result.steps
            yield result
        self.last_stats = BatchStats(len(requests), steps, steps)  # sequential: no padding

    # -- batching hints ------------------------------------------------------------------------
    def batch_key(self, request: RenderRequest) -> Hashable:
        """Requests with equal keys may share one forward pass (their sampling settings that
        apply batch-wide must match); seeds and lengths are per item."""
        return tuple(sorted((k, v) for k, v in request.params.items()
                            if k not in ("seed", "max_new_tokens")))

    @property
    def max_in_flight(self) -> int:
        """How many batches the worker may hand this engine at once (``generate_batch`` must then be
        thread-safe).  1 for a whole-batch decoder; more for one that admits requests step by step."""
        return 1

    def expected_length(self, request: RenderRequest) -> float:
        """A relative cost estimate used to group similar lengths and cut padding."""
        return len(request.text) + (request.voice.frames / 6 if request.voice else 0)


def load_engine_class(name: str) -> type[Engine]:
    """Import the class a registry entry names ("module:Class")."""
    spec = ENGINES[name]
    module_name, _, class_name = spec.target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise TypeError(f"{spec.target} is not an Engine")
    return cls


def create_engine(name: str, settings: Settings) -> Engine:
    return load_engine_class(name)(settings)
