"""Engine catalogue models: what ``GET /v1/engines`` returns (params with ranges, voices, languages).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
)


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


class ReadbackOut(BaseModel):
    enabled: bool = Field(description="Takes of this engine are heard by the recogniser and re-rendered when they "
                          "miss words (jobs ask with quality.readback)")
    reason: str | None = Field(description="Why read-back does not apply (e.g. a language the recogniser cannot hear)")
    languages: list[str] | None = Field(description="Languages the recogniser hears (null: all Whisper knows)")
    max_wer: float = Field(description="A take heard with a higher word error rate is re-rendered "
                           "(VOXFARM_READBACK_MAX_WER)")
    default: bool = Field(description="Jobs that do not say are read back (VOXFARM_READBACK)")


class LangCodeOut(BaseModel):
    lang_code: str = Field(description="the `lang_code` param's value (Kokoro-FastAPI's one-letter codes)")
    language: str = Field(description="ISO 639-1")
    name: str
    phonemizer: str = Field(description="what turns the text into the model's phonemes")


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
    lang_codes: list[LangCodeOut] | None = Field(None, description="Values the `lang_code` param accepts: the "
                                                 "phonemiser's language apart from the voice (null: no such param)")
    speaker_gate: SpeakerGateOut
    readback: ReadbackOut


class EngineList(BaseModel):
    data: list[EngineOut]

