"""Voice request and response models: registration (JSON or multipart), reads, lists, and inline prompts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from voxfarm.core.ids import id_pattern
from voxfarm.core.schemas import BASE64, HTTP_URL, NON_BLANK, STRICT, ListQuery, exactly_one


class InlinePrompt(BaseModel):
    """A one-shot voice prompt: exactly one of audio_base64 or audio_url (or, on POST /v1/jobs/upload,
    the voice_file part), and its transcript."""

    model_config = ConfigDict(extra="forbid")
    transcript: str = Field(min_length=1, max_length=2000)
    audio_base64: str | None = Field(None, max_length=30_000_000)
    audio_url: str | None = Field(None, max_length=2048)


class VoiceCreateJson(BaseModel):
    model_config = ConfigDict(**STRICT, json_schema_extra=exactly_one("audio_base64", "audio_url"))
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


class VoiceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include: Literal["embedding"] | None = Field(None, description="embedding: add the speaker embedding")


class VoiceListQuery(ListQuery):
    cursor: str | None = Field(None, pattern=id_pattern("voice"), description="next_cursor of the previous page")


class VoicePath(BaseModel):
    voice_id: str = Field(max_length=200, description="A voice id or the voice's name")

