"""Shared building blocks of the request and response models: type aliases, the strict config, the error shape,
list queries, health, and the webhook field every job accepts.

The feature models live beside their features (core/jobs/schemas.py, core/voices/schemas.py, ...); the API
validates with them and flask-openapi3 builds ``/openapi.json`` from the very same classes, so the
published schema cannot drift from what the views accept.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from voxfarm.core.ids import ID_RE, id_pattern

AudioFormat = Literal["wav", "flac", "mp3", "ogg"]


OutputFormat = Literal["wav", "flac", "mp3", "ogg", "m4b", "opus", "aac", "m4a", "pcm"]


# quality presets (core/audio/formats.py); a preset implies its container format
OutputPreset = Literal["mp3_v0", "mp3_320k", "mp3_128k", "m4a_aac_he_v2_32k", "m4a_aac_he_v2_64k"]


EventType = Literal["job.succeeded", "job.failed", "job.canceled", "job.progress", "batch.completed"]


STRICT = ConfigDict(extra="forbid", str_max_length=2_100_000)


# What the document adds to the validation: rules the views check themselves (with their own error
# codes) but that a client generated from /openapi.json must know about.
NON_BLANK = {"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"}  # something besides whitespace (and no NUL)


BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


# http(s) only (core/netguard.py parses the rest; whether the address is public is checked there)
HTTP_URL = {"pattern": r"^[\x01-\x20]*[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20/?#@:\[][^\x00]*$",
            "description": "an http(s) URL"}


def exactly_one(*names: str) -> dict:
    return {"oneOf": [{"required": [n], "properties": {n: {"type": "string"}}} for n in names]}


# A job's params: JSON scalars by name.  Which names, types and ranges an engine accepts is data
# in core/engines/registry.py (ParamSpec), checked at submit (core/engines/params.py) and listed by GET /v1/engines.
ParamValue = StrictBool | StrictInt | StrictFloat | StrictStr


SamplingParams = dict[str, ParamValue]


class WebhookSpec(BaseModel):
    model_config = STRICT
    url: str = Field(min_length=8, max_length=2048, json_schema_extra=HTTP_URL)
    events: list[EventType] | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
    workers: dict[str, int] | None = Field(
        None, description="readyz: live workers per served engine, and `control` (finalize, webhooks)")
    warnings: list[str] | None = Field(
        None, description="readyz: what needs an operator, e.g. live workers whose engine this API does not serve")


class ListQuery(BaseModel):
    """Paging parameters.  A list route over another kind of object subclasses this and narrows
    ``cursor`` to that kind's id pattern (a cursor is the last id of the previous page)."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(20, ge=1, le=200)
    cursor: str | None = Field(None, pattern=ID_RE.pattern, description="next_cursor of the previous page")


# Path ids: the document gives their exact format, but one that does not match names nothing, so it
# answers 404 like an unknown id (the lookups check the format first), not 422.
def path_id(prefix: str):
    return Field(max_length=64, json_schema_extra={"pattern": id_pattern(prefix)})

