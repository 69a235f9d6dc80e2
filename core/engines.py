"""The engine registry: ``"module:Class"`` strings plus what the API must know about each engine.

Listing engines, validating a job against an engine's capabilities and planning its chunks must
never load torch (the API never loads a model), so capabilities live here as data and the worker-side
classes named by ``target`` read them back (``Engine.spec``).  Adding an engine is one entry here
plus its class under ``worker/engines/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.settings import BatchSettings, Settings


@dataclass(frozen=True)
class EngineSpec:
    name: str
    target: str  # "module:Class", imported only by workers
    sample_rate: int
    clones_voices: bool
    dialogue_tags: bool  # understands [S1]/[S2] speaker tags
    max_batch_size: int  # the most items one generate_batch call may carry
    default_batch: BatchSettings
    chunk_target_s: float  # long texts are packed into chunks of about this much speech
    chunk_max_chars: int  # hard cap per chunk (Dia's encoder takes 1024 bytes of text)
    chars_per_second: float  # speaking rate used for expected durations and ETAs
    params: tuple[str, ...]  # sampling params this engine honours
    deterministic: bool  # same request + seed -> bit-identical audio, whatever the batch
    defaults: dict[str, Any] = field(default_factory=dict)

    def model_id(self, settings: Settings) -> str:
        if self.name == "dia":
            return settings.dia_model
        return self.defaults.get("model", self.name)

    def batch(self, settings: Settings) -> BatchSettings:
        return settings.batch_for(self.name, self.default_batch)

    def target_seconds(self, settings: Settings) -> float:
        return settings.chunk_target_s.get(self.name, self.chunk_target_s)


ENGINES: dict[str, EngineSpec] = {
    "espeak": EngineSpec(
        name="espeak",
        target="worker.engines.espeak:EspeakEngine",
        sample_rate=22_050,
        clones_voices=False,
        dialogue_tags=False,
        # espeak-ng holds global state, so a "batch" is rendered item by item behind one lock;
        # batching still amortises the DB and storage round trips around it.
        max_batch_size=32,
        default_batch=BatchSettings(max_batch_size=8, max_wait_ms=20),
        chunk_target_s=20.0,
        chunk_max_chars=2000,
        chars_per_second=14.5,  # espeak-ng default 175 words/min, measured 14-15 chars/s
        params=("seed", "speed", "pitch", "language"),
        # espeak-ng's output varies by a few samples (~0.01 % of length) between identical calls,
        # even after espeak_ng_SetRandSeed: library state we cannot reset, so no bit-identity
        deterministic=False,
        defaults={"model": "espeak-ng", "speed": 175, "pitch": 50, "language": "en-us"},
    ),
    "dia": EngineSpec(
        name="dia",
        target="worker.engines.dia:DiaEngine",
        sample_rate=44_100,
        clones_voices=True,
        dialogue_tags=True,
        max_batch_size=64,
        # A decode step is bandwidth-bound: 16 sequences cost about what 1 does (issue 4).
        default_batch=BatchSettings(max_batch_size=16, max_wait_ms=50),
        chunk_target_s=12.0,  # Dia is most stable on 5-20 s of speech per generation
        chunk_max_chars=600,
        chars_per_second=15.0,
        params=("temperature", "top_p", "top_k", "cfg_scale", "seed", "max_new_tokens"),
        deterministic=True,  # per-item generators and mask-derived positions (worker/engines/dia.py)
        defaults={"temperature": 1.2, "top_p": 0.95, "top_k": 45, "cfg_scale": 3.0,
                  "max_new_tokens": 3072},
    ),
    # Test/benchmark engine (worker/engines/tone.py): deterministic tones, no speech.  Served only
    # where VOXFARM_ENGINES lists it; the fault suite compares results with fault-free renders of it.
    "tone": EngineSpec(
        name="tone",
        target="worker.engines.tone:ToneEngine",
        sample_rate=22_050,
        clones_voices=False,
        dialogue_tags=False,
        max_batch_size=64,
        default_batch=BatchSettings(max_batch_size=8, max_wait_ms=20),
        chunk_target_s=20.0,
        chunk_max_chars=2000,
        chars_per_second=14.5,
        params=("seed",),
        deterministic=True,
        defaults={"model": "tone-1"},
    ),
}


def get_spec(name: str) -> EngineSpec:
    try:
        return ENGINES[name]
    except KeyError:
        raise KeyError(name) from None


def served_engines(settings: Settings) -> list[str]:
    return [name for name in settings.engines if name in ENGINES]


def queue_for(engine: str) -> str:
    return f"tts.{engine}"
