"""Request and response models shared by the API (validation + OpenAPI), the CLI and core.

These are plain pydantic models: the API validates requests with them and flask-openapi3 builds
``/openapi.json`` from the very same classes, so the published schema cannot drift from what the
views accept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from core.ids import ID_RE, id_pattern
from core.pagination import INDEX_CURSOR

AudioFormat = Literal["wav", "flac", "mp3", "ogg"]
OutputFormat = Literal["wav", "flac", "mp3", "ogg", "m4b", "opus", "aac", "m4a", "pcm"]
# quality presets (core/formats.py); a preset implies its container format
OutputPreset = Literal["mp3_v0", "mp3_320k", "mp3_128k", "m4a_aac_he_v2_32k", "m4a_aac_he_v2_64k"]
EventType = Literal["job.succeeded", "job.failed", "job.canceled", "job.progress", "batch.completed"]

_STRICT = ConfigDict(extra="forbid", str_max_length=2_100_000)
# What the document adds to the validation: rules the views check themselves (with their own error
# codes) but that a client generated from /openapi.json must know about.
NON_BLANK = {"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"}  # something besides whitespace (and no NUL)
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


# http(s) only (core/netguard.py parses the rest; whether the address is public is checked there)
HTTP_URL = {"pattern": r"^[\x01-\x20]*[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20/?#@:\[][^\x00]*$",
            "description": "an http(s) URL"}


def _exactly_one(*names: str) -> dict:
    return {"oneOf": [{"required": [n], "properties": {n: {"type": "string"}}} for n in names]}


# A job's params: JSON scalars by name.  Which names, types and ranges an engine accepts is data
# in core/engines.py (ParamSpec), checked at submit (core/params.py) and listed by GET /v1/engines.
ParamValue = StrictBool | StrictInt | StrictFloat | StrictStr
SamplingParams = dict[str, ParamValue]


class OutputSpec(BaseModel):
    model_config = _STRICT
    format: OutputFormat = "wav"
    sample_rate: int | None = Field(None, ge=8000, le=48000, description=(
        "mp3 and m4b: 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000 (others: 422 "
        "unsupported_sample_rate); wav, flac, ogg: any rate in range"))
    per_chapter: bool = Field(False, description="long-form: also store one file per chapter")
    # -- formats, presets and output filters (core/formats.py) --
    preset: OutputPreset | None = Field(None, description="quality preset; sets the format (GET /v1/formats)")
    volume: float = Field(1.0, gt=0, le=4.0, description="linear gain applied to the output")
    speed: float = Field(1.0, ge=0.25, le=4.0, description="through the engine where it can, else a time-stretch")

    @model_validator(mode="after")
    def _preset_format(self) -> OutputSpec:
        if self.preset is not None:
            implied = self.preset.split("_", 1)[0]
            if "format" not in self.model_fields_set:
                self.format = implied  # type: ignore[assignment]
            elif self.format != implied:
                raise ValueError(f"preset {self.preset} writes {implied}, not {self.format}")
        return self


class WebhookSpec(BaseModel):
    model_config = _STRICT
    url: str = Field(min_length=8, max_length=2048, json_schema_extra=HTTP_URL)
    events: list[EventType] | None = None


class InlinePrompt(BaseModel):
    """A one-shot voice prompt: exactly one of audio_base64 or audio_url (or, on POST /v1/jobs/upload,
    the voice_file part), and its transcript."""

    model_config = ConfigDict(extra="forbid")
    transcript: str = Field(min_length=1, max_length=2000)
    audio_base64: str | None = Field(None, max_length=30_000_000)
    audio_url: str | None = Field(None, max_length=2048)


VoiceRef = Annotated[str, Field(max_length=200)]
SpeakerTag = Annotated[str, Field(pattern=r"^S[12]$")]  # Dia's two speakers


class JobCreate(BaseModel):
    # no blanket string cap here: text and documents are limited by the documented settings
    # (max_text_chars, max_document_bytes, max_request_bytes) and answered with 413 in core/jobs.py
    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one("text", "document_base64"))
    text: str | None = Field(None, description="Plain text or Markdown ('#' headings start chapters); "
                                               "at most VOXFARM_MAX_TEXT_CHARS characters (413 beyond)",
                             json_schema_extra=NON_BLANK)
    text_format: Literal["auto", "plain", "markdown"] = Field(
        "auto", description="auto: Markdown when the text has Markdown headings (ATX '#' or setext), else plain")
    document_base64: str | None = Field(None, description="An EPUB file, base64-encoded (at most "
                                                          "VOXFARM_MAX_DOCUMENT_BYTES decoded; larger books: "
                                                          "POST /v1/jobs/upload)",
                                        json_schema_extra={"pattern": BASE64, "contentEncoding": "base64",
                                                           "contentMediaType": "application/epub+zip"})
    engine: str | None = Field(None, max_length=32)
    voice_id: str | None = Field(None, max_length=200, description="A registered voice: its id or its name")
    voice: VoiceRef | InlinePrompt | None = Field(
        None, description="A string: a pre-made voice of the engine (piper, kokoro; kokoro blends: "
        "'af_bella:0.7,af_sky:0.3'), same as params.voice.  An object: a one-shot cloning prompt sent with "
        "the job (checked like POST /v1/voices; the same bytes are stored once)")
    voices: dict[SpeakerTag, VoiceRef | InlinePrompt] | None = Field(
        None, description="Dia dialogue: speaker tag (S1, S2) -> a voice id, name or inline prompt; every tag "
        "in the text needs one")
    params: SamplingParams = Field(default_factory=dict, max_length=32,
                                   description="Engine params; GET /v1/engines lists each engine's names and ranges")
    output: OutputSpec = Field(default_factory=OutputSpec)
    metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(0, ge=-100, le=100)
    webhook: WebhookSpec | None = None
    title: str | None = Field(None, max_length=500)
    author: str | None = Field(None, max_length=500)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Progress(BaseModel):
    done: int
    total: int
    cache_hits: int = 0
    eta_s: float | None = None


class ResultOut(BaseModel):
    url: str | None
    format: str | None
    duration_s: float | None
    bytes: int | None
    sha256: str | None
    chapters: list[dict[str, Any]] | None = None
    files: dict[str, str] = Field(default_factory=dict)


class RenderInfo(BaseModel):
    worker: str | None
    batch_size: int | None
    attempts: int
    started_at: str | None
    finished_at: str | None


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    engine: str
    model: str
    voice_id: str | None
    voice_sha256: str | None
    voices: dict[str, str] | None = Field(None, description="A dialogue's speaker tag -> voice id")
    params: dict[str, Any]
    output: dict[str, Any]
    metadata: dict[str, Any]
    priority: int
    title: str | None
    created_at: str
    updated_at: str
    cancel_requested: bool
    progress: Progress
    result: ResultOut | None
    error: ErrorBody | None
    render: RenderInfo
    webhook: dict[str, Any] | None
    waiting_for: Literal["worker", "control_worker"] | None = Field(
        None, description="Why an unfinished job cannot progress now: no live worker for its engine, or no "
                          "control worker to finalize it (null when nothing is missing)")
    waiting_message: str | None = None


class JobList(BaseModel):
    data: list[JobOut]
    next_cursor: str | None


class ChunkOut(BaseModel):
    index: int
    chapter: int
    text: str
    expected_s: float
    status: str
    seed: int
    cache_key: str
    cache_hit: bool
    duration_s: float | None
    attempts: int
    batch_size: int | None
    worker: str | None = Field(None, description="The worker that last claimed it (null until claimed)")
    started_at: str | None = Field(None, description="First claimed by a worker (RFC 3339)")
    finished_at: str | None = Field(None, description="Rendered (RFC 3339)")
    engine_s: float | None = Field(None, description="Its share of its batch's engine time (usage)")
    quality_retries: int = Field(0, description="Takes rendered beyond the first (quality or speaker gate)")
    take_seed: int | None = Field(None, description="The kept take's seed (differs from seed after a retry)")
    speaker_similarity: float | None = Field(None, description="Cosine of the chunk to its cloned voice "
                                             "(null: the speaker gate is off or does not apply)")
    speaker_flagged: bool = Field(False, description="No take reached the speaker threshold; the most "
                                  "similar one was kept")
    error: ErrorBody | None


class ChapterOut(BaseModel):
    index: int
    title: str
    first_chunk: int
    chunks: int


class ChunkPlanOut(BaseModel):
    job_id: str
    chapters: list[ChapterOut]
    chunks: list[ChunkOut]
    next_cursor: str | None


class VoiceCreateJson(BaseModel):
    model_config = ConfigDict(**_STRICT, json_schema_extra=_exactly_one("audio_base64", "audio_url"))
    name: str = Field(min_length=1, max_length=200)
    transcript: str = Field(min_length=1, max_length=2000, json_schema_extra=NON_BLANK)
    audio_base64: str | None = Field(None, max_length=30_000_000,
                                     json_schema_extra={"pattern": BASE64, "contentEncoding": "base64",
                                                        "description": "WAV, FLAC, Ogg or MP3, 1-30 s"})
    audio_url: str | None = Field(None, max_length=2048, json_schema_extra=HTTP_URL)


class VoiceCreateForm(BaseModel):
    """multipart/form-data variant of voice registration."""

    name: str = Field(min_length=1, max_length=200)
    transcript: str = Field(min_length=1, max_length=2000, json_schema_extra=NON_BLANK)
    audio_file: bytes = Field(json_schema_extra={"format": "binary"})


class VoiceOut(BaseModel):
    id: str
    name: str
    transcript: str
    format: str
    sample_rate: int
    channels: int
    duration_s: float
    bytes: int
    sha256: str
    speech_s: float | None = Field(description="Seconds of speech found by voice QA at registration")
    snr_db: float | None = Field(description="Estimated signal-to-noise ratio in dB (null: no pause to "
                                 "measure the noise in)")
    registered: bool = Field(description="false: a one-shot prompt sent with a job, swept after its jobs")
    embedding_model: str | None = Field(description="The speaker encoder that embedded it (null: not embedded "
                                        "yet, or no speaker model on this farm)")
    embedding_self_similarity: float | None = Field(
        description="Cosine between the prompt's two halves; the speaker gate's threshold derives from it")
    embedding: list[float] | None = Field(None, description="The speaker embedding, with ?include=embedding")
    created_at: str


class VoiceList(BaseModel):
    data: list[VoiceOut]
    next_cursor: str | None


class WebhookSecretOut(BaseModel):
    secret: str
    previous_secret_valid_until: str | None


class WebhookEndpointIn(BaseModel):
    model_config = _STRICT
    url: str | None = Field(None, min_length=1, max_length=2048,
                            json_schema_extra=HTTP_URL)


class DeliveryAttemptOut(BaseModel):
    attempt: int
    url: str
    status_code: int | None
    latency_ms: float | None
    error: str | None
    next_attempt_at: str | None
    created_at: str


class DeliveryOut(BaseModel):
    id: str
    type: str
    status: str
    attempts: list[DeliveryAttemptOut]
    next_attempt_at: str | None
    delivered_at: str | None


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


class ParamOut(BaseModel):
    name: str
    type: Literal["int", "float", "str", "bool"]
    default: Any | None = None
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    description: str | None = None


class SpeakerGateOut(BaseModel):
    enabled: bool = Field(description="Cloned-voice chunks are compared with their voice and re-rendered "
                          "below the threshold")
    reason: str | None = Field(description="Why the gate is off")
    margin: float | None = Field(None, description="Threshold = the voice's split-half similarity minus this")
    threshold: float | None = Field(None, description="A fixed threshold for every voice (VOXFARM_SPEAKER_THRESHOLD)")


class EngineOut(BaseModel):
    name: str
    model: str
    sample_rate: int
    clones_voices: bool
    dialogue_tags: bool
    deterministic: bool
    max_batch_size: int
    params: list[ParamOut]
    voices: list[dict[str, Any]] | None = Field(None, description="Pre-made voices (null: none, or not visible "
                                                "from the API host)")
    live_workers: int = Field(0, description="Workers serving this engine with a recent heartbeat")
    languages: list[str] | None = Field(None, description="Values the `language` param accepts (null: any)")
    speaker_gate: SpeakerGateOut


class EngineList(BaseModel):
    data: list[EngineOut]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
    workers: dict[str, int] | None = Field(
        None, description="readyz: live workers per served engine, and `control` (finalize, webhooks)")


class ListQuery(BaseModel):
    """Paging parameters.  A list route over another kind of object subclasses this and narrows
    ``cursor`` to that kind's id pattern (a cursor is the last id of the previous page)."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(20, ge=1, le=200)
    cursor: str | None = Field(None, pattern=ID_RE.pattern, description="next_cursor of the previous page")


class VoiceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include: Literal["embedding"] | None = Field(None, description="embedding: add the speaker embedding")


class VoiceListQuery(ListQuery):
    cursor: str | None = Field(None, pattern=id_pattern("voice"), description="next_cursor of the previous page")


class JobListQuery(ListQuery):
    status: Literal["queued", "running", "succeeded", "failed", "canceled"] | None = None
    cursor: str | None = Field(None, pattern=id_pattern("job"), description="next_cursor of the previous page")


class ChunkListQuery(ListQuery):
    limit: int = Field(500, ge=1, le=2000)
    cursor: str | None = Field(None, pattern=INDEX_CURSOR, description="next_cursor of the previous page")


# Path ids: the document gives their exact format, but one that does not match names nothing, so it
# answers 404 like an unknown id (the lookups check the format first), not 422.
def _path_id(prefix: str):
    return Field(max_length=64, json_schema_extra={"pattern": id_pattern(prefix)})


class JobPath(BaseModel):
    job_id: str = _path_id("job")


class VoicePath(BaseModel):
    voice_id: str = Field(max_length=200, description="A voice id or the voice's name")


class DeliveryPath(BaseModel):
    delivery_id: str = _path_id("msg")


# -- OpenAI-compatible speech (core/speech.py) ------------------------------------------
SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class SpeechVoiceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=200)


class SpeechRequest(BaseModel):
    """``POST /v1/audio/speech``, as OpenAI defines it (unknown extra fields are ignored, as
    OpenAI-compatible servers do, so newer SDKs keep working)."""

    model_config = ConfigDict(extra="ignore", str_max_length=200_000)
    model: str = Field(min_length=1, max_length=64, description="an engine, or tts-1 / tts-1-hd (settings)")
    input: str = Field(min_length=1, description="the text; at most SPEECH_MAX_INPUT_CHARS (4096)")
    voice: str | SpeechVoiceRef = Field(description="an engine voice, a registered voice id or name, "
                                                    "or an OpenAI voice name (alloy, echo, ...)")
    response_format: SpeechFormat = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"
    instructions: str | None = Field(None, max_length=4096, description="accepted; used where the engine can")
    webhook: WebhookSpec | None = Field(None, description="voxfarm extension: notify when the job ends")


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    error: OpenAIErrorBody


class FormatOut(BaseModel):
    name: str
    kind: Literal["format", "preset"]
    format: str
    content_type: str
    encoder: str
    available: bool


class FormatList(BaseModel):
    data: list[FormatOut]


# -- bulk intake: POST /v1/batches ---------------------------------------------------
class BatchCreate(BaseModel):
    """Items are job objects (the POST /v1/jobs body); ``defaults`` is merged under each item."""

    model_config = ConfigDict(extra="forbid")
    defaults: dict[str, Any] = Field(default_factory=dict, description="Job fields every item inherits "
                                     "(params, output and metadata merge key by key)")
    items: list[dict[str, Any]] = Field(description="The jobs, as POST /v1/jobs bodies; at most "
                                        "VOXFARM_BATCH_MAX_ITEMS (413 beyond). One invalid item refuses "
                                        "the batch: error.details = {index, error}")
    metadata: dict[str, Any] = Field(default_factory=dict)
    webhook: WebhookSpec | None = Field(None, description="Where batch.completed goes (default: the "
                                        "tenant's endpoint)")


class BatchProgress(BaseModel):
    jobs_done: int
    jobs_total: int
    percent: float
    chunks_done: int
    chunks_total: int


class BatchOut(BaseModel):
    id: str
    status: Literal["queued", "running", "completed"]
    total: int
    counts: dict[str, int]
    progress: BatchProgress
    metadata: dict[str, Any]
    webhook: dict[str, Any] | None
    created_at: str | None
    cancel_requested: bool
    completed_at: str | None


class BatchPath(BaseModel):
    batch_id: str = _path_id("bat")


class BatchJobsQuery(ListQuery):
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, pattern=INDEX_CURSOR, description="next_cursor of the previous page")
