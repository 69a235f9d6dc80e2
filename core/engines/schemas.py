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

