"""Job request and response models: what ``POST /v1/jobs`` accepts and what job, chunk and plan reads return.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from voxfarm.core.ids import id_pattern
from voxfarm.core.pagination import INDEX_CURSOR
from voxfarm.core.schemas import (
    BASE64,
    NON_BLANK,
    STRICT,
    ErrorBody,
    ListQuery,
    OutputFormat,
    OutputPreset,
    SamplingParams,
    WebhookSpec,
    exactly_one,
    path_id,
)
from voxfarm.core.voices.schemas import InlinePrompt


class OutputSpec(BaseModel):
    model_config = STRICT
    format: OutputFormat = "wav"
    sample_rate: int | None = Field(None, ge=8000, le=48000, description=(
        "mp3 and m4b: 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000 (others: 422 "
        "unsupported_sample_rate); wav, flac, ogg: any rate in range"))
    per_chapter: bool = Field(False, description="long-form: also store one file per chapter")
    # -- formats, presets and output filters (core/audio/formats.py) --
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


class QualitySpec(BaseModel):
    model_config = STRICT
    readback: bool | None = Field(None, description=(
        "hear every take with the farm's recogniser and re-render a take that misses words (null: the farm's "
        "VOXFARM_READBACK); GET /v1/engines says where it applies.  Chunks record readback_wer, readback_missing "
        "and readback_text; word timings go to words.json and the captions"))

    def resolved(self, farm_readback: bool) -> dict[str, bool]:
        """What the job stores: every check decided now, a null by the farm's default."""
        return {"readback": farm_readback if self.readback is None else self.readback}


VoiceRef = Annotated[str, Field(max_length=200)]


SpeakerTag = Annotated[str, Field(pattern=r"^S[12]$")]  # Dia's two speakers


LexiconRef = Annotated[str, Field(min_length=1, max_length=200)]  # a lexicon's id or name


class JobCreate(BaseModel):
    # no blanket string cap here: text and documents are limited by the documented settings
    # (max_text_chars, max_document_bytes, max_request_bytes) and answered with 413 in core/jobs/intake.py
    model_config = ConfigDict(extra="forbid", json_schema_extra=exactly_one("text", "document_base64"))
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
    quality: QualitySpec = Field(default_factory=QualitySpec)
    metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(0, ge=-100, le=100)
    webhook: WebhookSpec | None = None
    title: str | None = Field(None, max_length=500)
    author: str | None = Field(None, max_length=500)
    text_normalization: Literal["auto", "off"] = Field(
        "auto", description="auto: numbers, Roman numerals, abbreviations, times, money and symbols are read as "
                            "a narrator would say them (English; other languages as written); off: as written")
    announce_chapters: bool = Field(True, description="Markdown and EPUB: each chapter starts with its title read "
                                                      "aloud, then a pause (VOXFARM_PAUSE_TITLE_MS)")
    lexicons: list[LexiconRef] = Field(default_factory=list, max_length=16,
                                       description="Pronunciation lexicons (ids or names, POST /v1/lexicons), "
                                                   "applied in this order before normalisation")


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


class ReadbackSummary(BaseModel):
    chunks: int = Field(description="Chunks heard and compared")
    words: int = Field(description="Words of their text, normalised")
    wer: float | None = Field(description="Word error rate over all of them (errors / words)")
    flagged_chunks: list[int] = Field(description="Indexes of chunks where no take passed (the best was kept)")
    skipped_chunks: int = Field(description="Chunks not heard: see each chunk's readback_reason")


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
    quality: dict[str, Any] = Field(default_factory=dict, description="The checks this job asked for, decided at "
                                    "submit: {\"readback\": bool}")
    readback: ReadbackSummary | None = Field(None, description="Read-back over the whole job, once it succeeded "
                                             "(null: not read back)")
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
    warnings: list[str] = Field(default_factory=list, description="What the farm changed to deliver the job, "
                                "e.g. an unreadable cover image dropped")
    text_normalization: Literal["auto", "off"] = "auto"
    announce_chapters: bool = False
    lexicons: list[dict[str, Any]] = Field(default_factory=list, description="The lexicons applied: id, name, "
                                           "version at submit")


class JobList(BaseModel):
    data: list[JobOut]
    next_cursor: str | None


class ChunkOut(BaseModel):
    index: int
    chapter: int
    text: str = Field(description="The source text, as written")
    spoken_text: str = Field(description="What the engine renders: lexicon rules applied (IPA as "
                                         "\u27eagrapheme|ipa\u27eb), then normalisation")
    lexicon_matches: list[dict[str, Any]] = Field(default_factory=list, description="The lexicon rules that "
                                                  "matched (their versions join the cache key)")
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
    readback: Literal["passed", "flagged", "skipped"] | None = Field(None, description=(
        "Read-back of the kept take: passed, flagged (no take passed; the best was kept) or skipped "
        "(readback_reason says why); null: the job did not ask for it"))
    readback_wer: float | None = Field(None, description="Word error rate of the kept take as heard")
    readback_missing: dict[str, list[str]] | None = Field(None, description="Words not heard, normalised, "
                                                          "by place: start, middle, end")
    readback_text: str | None = Field(None, description="What the recogniser heard")
    readback_flagged: bool = Field(False, description="readback is flagged")
    readback_reason: str | None = Field(None, description="Why read-back was skipped")
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


class JobListQuery(ListQuery):
    status: Literal["queued", "running", "succeeded", "failed", "canceled"] | None = None
    cursor: str | None = Field(None, pattern=id_pattern("job"), description="next_cursor of the previous page")


class ChunkListQuery(ListQuery):
    limit: int = Field(500, ge=1, le=2000)
    cursor: str | None = Field(None, pattern=INDEX_CURSOR, description="next_cursor of the previous page")


class JobPath(BaseModel):
    job_id: str = path_id("job")

