"""OpenAI-compatible speech models: the request, OpenAI's error shape, and the format catalogue.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from voxfarm.core.schemas import WebhookSpec

# -- OpenAI-compatible speech (core/speech/requests.py) ------------------------------------------
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
    lang_code: str | None = Field(None, pattern="^[abefhijpz]$", description=(
        "Kokoro-FastAPI extension (kokoro only): the phonemiser's language, apart from the voice "
        "(a American English, b British, e, f, h, i, j Japanese, p, z; default: the voice's first letter)"))
    stream_format: Literal["audio", "sse"] = "audio"
    instructions: str | None = Field(None, max_length=4096, description="accepted; used where the engine can")
    webhook: WebhookSpec | None = Field(None, description="voxfarm extension: notify when the job ends")
    timestamps: bool = Field(False, description=(
        "voxfarm extension: also return timings.  With stream_format sse, a speech.timestamps.delta event "
        "({segments: [{text, start, end, chunk}], words: [{word, start, end, chunk, source, heard}]}) comes "
        "before each chunk's audio; otherwise the answer is one JSON document (audio base64, segments, words), "
        "streamed as the audio renders.  Sentence times always; word times where the job is read back "
        "(GET /v1/engines)"))
    lexicons: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=16, description="voxfarm extension: pronunciation lexicons (ids or "
                                                          "names), applied in order")
    text_normalization: Literal["auto", "off"] = Field("auto", description="voxfarm extension: read numbers, "
                                                       "abbreviations and symbols as a narrator would (auto)")


# ``timestamps: true`` without SSE (voxfarm): the audio and its timings in one JSON document
_NUMBER, _INT = {"type": "number"}, {"type": "integer"}
_SEGMENT = {"type": "object", "required": ["text", "start", "end", "chunk"], "additionalProperties": False,
            "properties": {"text": {"type": "string"}, "start": _NUMBER, "end": _NUMBER, "chunk": _INT}}
_WORD = {"type": "object", "required": ["word", "start", "end", "chunk", "source", "heard"],
         "additionalProperties": False,
         "properties": {"word": {"type": "string"}, "start": _NUMBER, "end": _NUMBER, "chunk": _INT,
                        "source": {"type": "array", "items": _INT, "minItems": 2, "maxItems": 2},
                        "heard": {"type": "boolean"}}}
CAPTIONED_SPEECH = {
    "type": "object", "required": ["job_id", "content_type", "audio", "segments", "words"],
    "additionalProperties": False,
    "properties": {"job_id": {"type": "string"}, "content_type": {"type": "string"},
                   "audio": {"type": "string", "contentEncoding": "base64", "description": "response_format, base64"},
                   "segments": {"type": "array", "items": _SEGMENT, "description": "sentences: start and end in "
                                "seconds into the audio, chunk its index"},
                   "words": {"type": "array", "items": _WORD, "description": "read-back jobs only: source is "
                             "[start, end) characters of the chunk's text sent; heard false: placed between its "
                             "neighbours"}}}


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

