"""The engine registry: ``"module:Class"`` strings plus what the API must know about each engine.

Listing engines, validating a job against an engine's capabilities and planning its chunks must
never load torch (the API never loads a model), so capabilities live here as data and the worker-side
classes named by ``target`` read them back (``Engine.spec``).  Adding an engine is one entry here
plus its class under ``worker/engines/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxfarm.core.engines.catalog import engine_voices
from voxfarm.core.engines.hearing import readback_support
from voxfarm.core.engines.languages import KOKORO_LANG_PATTERN, engine_languages
from voxfarm.core.engines.params import ParamSpec
from voxfarm.core.settings import BatchSettings, Settings


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
    param_specs: tuple[ParamSpec, ...]  # the params this engine honours, with types and ranges
    deterministic: bool  # same request + seed -> bit-identical audio, whatever the batch
    defaults: dict[str, Any] = field(default_factory=dict)
    model_setting: str | None = None  # the Settings field naming the model (it joins cache keys)
    voices: str | None = None  # "catalog": pre-made voices listed by core/engines/catalog.py, picked by `voice`
    for_tests: bool = False  # benchmarks and tests only: never listed unless a farm names it
    # the OpenAI speech route: how output speed and named voices reach the engine (None: time-stretch / no names)
    speed_param: tuple[str, float, float, float] | None = None  # (param, value at 1x, min, max)
    voice_param: str | None = None  # the param that picks one of the engine's own voices
    # what the engine reads (core/text/lexicon.py): "ipa" through espeak-ng, so a lexicon's IPA reaches
    # the model as is; "text": words (a phoneme rule applies only through its alias)
    front_end: str = "text"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.param_specs)

    def model_id(self, settings: Settings) -> str:
        if self.model_setting and getattr(settings, self.model_setting, None):
            return str(getattr(settings, self.model_setting))
        return self.defaults.get("model", self.name)

    def out_of_range(self, params: dict[str, Any]) -> list[str]:
        """Descriptions of the given numeric params outside their ranges (empty: all fine); the
        worker's own check of what reached it (the API checks everything at submit)."""
        bad = []
        for spec in self.param_specs:
            value = params.get(spec.name)
            if value is None or spec.kind not in ("int", "float"):
                continue
            low = -float("inf") if spec.minimum is None else spec.minimum
            high = float("inf") if spec.maximum is None else spec.maximum
            if not (isinstance(value, int | float) and low <= value <= high):
                bad.append(f"{spec.name}={value!r} (allowed {spec.range_text()})")
        return bad

    def batch(self, settings: Settings) -> BatchSettings:
        return settings.batch_for(self.name, self.default_batch)

    def checked_batch(self, settings: Settings) -> BatchSettings:
        """The batch settings a worker starts with; a configured size above what the engine can
        carry in one ``generate_batch`` call stops the worker at start, naming both."""
        batch = self.batch(settings)
        if batch.max_batch_size > self.max_batch_size:
            raise ValueError(f"VOXFARM_BATCH sets max_batch_size={batch.max_batch_size} for {self.name}; "
                             f"the engine carries at most {self.max_batch_size} items per call")
        return batch

    def target_seconds(self, settings: Settings) -> float:
        return settings.chunk_target_s.get(self.name, self.chunk_target_s)


_SEED = ParamSpec("seed", "int", 0, 2**31 - 1, help="another take: a different seed, different audio")
# A pre-made voice name; kokoro also takes a weighted blend "af_bella:0.7,af_sky:0.3"
_VOICE = ParamSpec("voice", "str", pattern=r"[A-Za-z0-9_.\-]+(:[0-9.]+)?(,[A-Za-z0-9_.\-]+(:[0-9.]+)?){0,7}",
                   max_length=200, help="a pre-made voice from GET /v1/engines")

ENGINES: dict[str, EngineSpec] = {
    "espeak": EngineSpec(
        name="espeak",
        target="voxfarm.worker.engines.espeak:EspeakEngine",
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
        param_specs=(_SEED, ParamSpec("speed", "int", 80, 450, help="words per minute"),
                     ParamSpec("pitch", "int", 0, 99, help="base pitch"),
                     ParamSpec("language", "str", pattern=r"[a-z]{2,8}(-[a-z0-9]{1,8})*", max_length=20,
                               help="espeak-ng voice/language name, e.g. en-us")),
        # espeak-ng's output varies by a few samples (~0.01 % of length) between identical calls,
        # even after espeak_ng_SetRandSeed: library state we cannot reset, so no bit-identity
        deterministic=False,
        defaults={"model": "espeak-ng", "speed": 175, "pitch": 50, "language": "en-us"},
        speed_param=("speed", 175, 80, 450),  # words per minute
        voice_param="language",
        front_end="ipa",
    ),
    "dia": EngineSpec(
        name="dia",
        target="voxfarm.worker.engines.dia:DiaEngine",
        sample_rate=44_100,
        clones_voices=True,
        dialogue_tags=True,
        max_batch_size=64,
        # A decode step is bandwidth-bound: 16 sequences cost about what 1 does (bench/batching-cpu.md:
        # 3.3x the tokens/s of sequential decoding at B=8 on CPU).
        default_batch=BatchSettings(max_batch_size=16, max_wait_ms=50),
        chunk_target_s=12.0,  # Dia is most stable on 5-20 s of speech per generation
        chunk_max_chars=600,
        chars_per_second=15.0,
        param_specs=(ParamSpec("temperature", "float", 0, 3.0, min_exclusive=True),
                     ParamSpec("top_p", "float", 0, 1.0, min_exclusive=True), ParamSpec("top_k", "int", 1, 1024),
                     ParamSpec("cfg_scale", "float", 1.0, 10.0), _SEED, ParamSpec("max_new_tokens", "int", 1, 3072)),
        deterministic=True,  # per-item generators and mask-derived positions (worker/engines/dia.py)
        defaults={"temperature": 1.2, "top_p": 0.95, "top_k": 45, "cfg_scale": 3.0,
                  "max_new_tokens": 3072},
        model_setting="dia_model",
    ),
    "piper": EngineSpec(
        name="piper",
        target="voxfarm.worker.engines.piper:PiperEngine",
        sample_rate=22_050,  # the bundled voice's rate; 16 kHz voices are resampled to it
        clones_voices=False,
        dialogue_tags=False,
        # Measured (NOTES.md, bench/engines-cpu.md): padded batches run 2.3x slower than one item
        # at a time on CPU, so a batch is rendered item by item; batching still amortises the
        # DB and storage round trips around the model.
        max_batch_size=32,
        default_batch=BatchSettings(max_batch_size=8, max_wait_ms=20),
        chunk_target_s=20.0,
        chunk_max_chars=1000,
        chars_per_second=14.0,
        param_specs=(_SEED, _VOICE, ParamSpec("speaker", "str", pattern=r"[A-Za-z0-9_.\- ]{1,64}", max_length=64,
                                              help="speaker name or id of a multi-speaker voice"),
                     ParamSpec("speed", "float", 0.25, 4.0, help="1.0 = the voice's own pace (length_scale = 1/speed)"),
                     ParamSpec("noise_scale", "float", 0.0, 2.0, help="default: the voice's json (0.667)"),
                     ParamSpec("noise_w", "float", 0.0, 2.0, help="phoneme duration noise; default: the voice's json")),
        # the graph's RandomNormalLike ops are rewired to a seeded noise table at load
        # (worker/engines/onnx_noise.py), so the same text + seed gives the same samples
        deterministic=True,
        defaults={"model": "piper", "voice": "en_US-joe-medium", "speed": 1.0},
        voices="catalog",
        speed_param=("speed", 1.0, 0.25, 4.0),
        voice_param="voice",
        front_end="ipa",
    ),
    "kokoro": EngineSpec(
        name="kokoro",
        target="voxfarm.worker.engines.kokoro:KokoroEngine",
        sample_rate=24_000,
        clones_voices=False,
        dialogue_tags=False,
        # the ONNX export takes one item per call ([1, tokens] and one style row), so a batch is
        # rendered item by item, like piper's
        max_batch_size=32,
        default_batch=BatchSettings(max_batch_size=8, max_wait_ms=20),
        chunk_target_s=15.0,
        chunk_max_chars=400,  # 510 phoneme tokens per call; longer chunks are split at word gaps
        chars_per_second=14.0,
        param_specs=(_SEED, _VOICE, ParamSpec("speed", "float", 0.5, 2.0, help="kokoro-onnx's range"),
                     ParamSpec("lang_code", "str", pattern=KOKORO_LANG_PATTERN, max_length=1,
                               help="phonemiser language, as Kokoro-FastAPI: a, b, e, f, h, i, j, p, z "
                                    "(default: the voice's first letter; GET /v1/engines lists them)")),
        deterministic=True,
        defaults={"model": "kokoro", "voice": "af_bella", "speed": 1.0},
        model_setting="kokoro_model",
        voices="catalog",
        speed_param=("speed", 1.0, 0.5, 2.0),
        voice_param="voice",
        front_end="ipa",
    ),
    # Scale-out benchmarks (scripts/bench_scale.py) and tests: sleeps a modelled batch cost
    "sim": EngineSpec(
        name="sim",
        target="voxfarm.worker.engines.sim:SimEngine",
        sample_rate=16_000,
        clones_voices=False,
        dialogue_tags=False,
        max_batch_size=64,
        default_batch=BatchSettings(max_batch_size=16, max_wait_ms=50),
        chunk_target_s=10.0,
        chunk_max_chars=1000,
        chars_per_second=15.0,
        param_specs=(_SEED,),
        deterministic=True,
        for_tests=True,
    ),
    # Fault suite and tests (worker/engines/tone.py): deterministic tones from text + seed, with a
    # per-render log; the fault suite compares every result with a fault-free render of it
    "tone": EngineSpec(
        name="tone",
        target="voxfarm.worker.engines.tone:ToneEngine",
        sample_rate=22_050,
        clones_voices=False,
        dialogue_tags=False,
        max_batch_size=64,
        default_batch=BatchSettings(max_batch_size=8, max_wait_ms=20),
        chunk_target_s=20.0,
        chunk_max_chars=2000,
        chars_per_second=14.5,
        param_specs=(_SEED,),
        deterministic=True,
        defaults={"model": "tone-1"},
        for_tests=True,
    ),
    "zipvoice": EngineSpec(
        name="zipvoice",
        target="voxfarm.worker.engines.zipvoice:ZipVoiceEngine",
        sample_rate=24_000,
        clones_voices=True,  # a registered voice's wav + transcript; without one, a built-in prompt
        dialogue_tags=False,
        max_batch_size=32,
        # the num_steps decoder calls are batched across jobs whose frame counts are equal
        # (lengths are rounded up to a grid, VOXFARM_ZIPVOICE_LENGTH_GRID)
        default_batch=BatchSettings(max_batch_size=16, max_wait_ms=50),
        chunk_target_s=12.0,  # upstream keeps prompt + speech under ~25 s per generation
        chunk_max_chars=400,
        chars_per_second=14.0,
        param_specs=(_SEED,
                     ParamSpec("num_steps", "int", 1, 64, help="flow-matching steps (Distill: 4-8)"),
                     ParamSpec("guidance_scale", "float", 0.0, 10.0, help="classifier-free guidance (Distill: 3)"),
                     ParamSpec("speed", "float", 0.5, 2.0, help="speaking rate"),
                     ParamSpec("t_shift", "float", 0.05, 1.0, help="time-step shift of the sampler"),
                     ParamSpec("target_rms", "float", 0.01, 0.5, help="prompt loudness target"),
                     ParamSpec("remove_long_silence", "bool", help="shorten pauses over 2 s")),
        # equal-length buckets only: no padding reaches the decoder, and the per-item noise comes
        # from the item's seed.  Solo and batched renders agree to ~2e-6 (float summation order in
        # batched matmuls; a 16-bit PCM step is 3e-5); tests/worker/test_zipvoice.py checks it
        deterministic=True,
        # upstream's defaults for ZipVoice; ZipVoice-Distill is meant for num_steps 4-8, guidance 3
        defaults={"num_steps": 16, "guidance_scale": 1.0, "speed": 1.0, "t_shift": 0.5, "target_rms": 0.1,
                  "remove_long_silence": False},
        model_setting="zipvoice_model",
        speed_param=("speed", 1.0, 0.5, 2.0),
        front_end="ipa",
    ),
}


def served_engines(settings: Settings) -> list[str]:
    return [name for name in settings.engines if name in ENGINES]


def listed_engines(settings: Settings) -> list[str]:
    """The engines a user may be told about: every real one, and a test engine only where this farm
    serves it (``sim`` and ``tone`` are for benchmarks and tests)."""
    served = set(settings.engines)
    return sorted(name for name, spec in ENGINES.items() if not spec.for_tests or name in served)


def describe_engine(spec: EngineSpec, settings: Settings) -> dict[str, Any]:
    """What ``GET /v1/engines`` says about one engine (no model is loaded to say it)."""
    return {"name": spec.name, "model": spec.model_id(settings), "sample_rate": spec.sample_rate,
            "clones_voices": spec.clones_voices, "dialogue_tags": spec.dialogue_tags,
            "deterministic": spec.deterministic, "max_batch_size": spec.batch(settings).max_batch_size,
            "params": [p.describe(spec.defaults.get(p.name)) for p in spec.param_specs],
            "voices": engine_voices(spec.name, settings) if spec.voices == "catalog" else None,
            "lang_codes": engine_languages(spec.name),
            "speaker_gate": speaker_gate(spec, settings),
            "readback": readback_support(spec.name, spec.defaults, settings)}


def speaker_gate(spec: EngineSpec, settings: Settings) -> dict[str, Any]:
    """Whether this engine's cloned-voice chunks are checked against their voice (core/voices/speaker.py)."""
    if not spec.clones_voices:
        return {"enabled": False, "reason": "this engine does not clone voices"}
    if not settings.speaker_model:
        return {"enabled": False, "reason": "no speaker model is configured (VOXFARM_SPEAKER_MODEL)"}
    return {"enabled": True, "reason": None, "margin": settings.speaker_margin,
            "threshold": settings.speaker_threshold}


def queue_for(engine: str) -> str:
    return f"tts.{engine}"
