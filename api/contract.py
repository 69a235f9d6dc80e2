"""The published OpenAPI document: flask-openapi3's generated spec, completed with what every
route shares, so that it lists every answer the API can give.

Views declare only what is theirs (their models, and route-specific errors such as 409); this
module adds the rest to *every registered operation*, so a new route is documented the moment it
is registered:

* the error body ``{"error": {"code", "message"}}`` for 400 (malformed JSON, NUL or unpaired
  surrogates anywhere in the URL or body), 401 (secured operations), 404 (paths with ids), 413 and
  415 (operations with a body), 422 (validation), 429 (secured operations: a tenant limit, with
  ``Retry-After`` and ``RateLimit-*``, api/limits.py), 500 and 503 (database or storage down, with
  ``Retry-After``);
* ``Location`` on 201/202/302 answers; on operations marked ``x-idempotent``, the
  ``Idempotency-Key`` rules (in the description) and the ``Idempotent-Replayed`` response header;
* OpenAPI links from every operation that returns a resource ``id`` to the operations under
  ``<its path>/{param}`` (POST /v1/jobs -> GET /v1/jobs/{job_id}, /cancel, /chunks...), plus the
  cross-prefix links in ``CROSS_LINKS``: what Schemathesis' stateful phase walks;
* what this deployment accepts, so that a request valid by the document is valid here: the served
  engines, each engine's own params (core/engines/registry.py capabilities), the text limit, no NUL in any
  request string, and request examples that succeed as written.

Which 405 a route gives is not per operation: errors.py answers it with ``Allow`` (RFC 9110).
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import numpy as np
from flask import Flask
from werkzeug.routing import BaseConverter

from voxfarm.api.contract_links import METHODS as _METHODS
from voxfarm.api.contract_links import add_links
from voxfarm.core.audio.arrays import encode
from voxfarm.core.engines.languages import LANGUAGES
from voxfarm.core.engines.params import ParamSpec
from voxfarm.core.engines.registry import ENGINES, listed_engines, served_engines
from voxfarm.core.ids import id_pattern
from voxfarm.core.jobs.idempotency import MAX_KEY_LEN
from voxfarm.core.settings import Settings
from voxfarm.core.speech.requests import OPENAI_MODELS

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
IDEMPOTENT = {"x-idempotent": True}  # openapi_extensions for views that go through idempotency.create

_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}
_RL_LIMIT = {"description": "The limit that refused the request (requests per minute, streams, audio-seconds)",
             "schema": {"type": "integer", "minimum": 0}}
_RL_REMAINING = {"description": "What is left of it now", "schema": {"type": "integer", "minimum": 0}}
_RL_RESET = {"description": "Seconds until it is whole again", "schema": {"type": "integer", "minimum": 0}}
_LOCATION = {"description": "URL of the resource (or of the redirect target)", "schema": {"type": "string"}}
_REPLAYED = {"description": "`true` when this is the stored answer to an earlier request with the same "
                            "Idempotency-Key", "schema": {"type": "string", "enum": ["true"]}}

class IdConverter(BaseConverter):
    """``<id("job"):job_id>`` matches only that kind's ids, so a static sibling such as
    ``/v1/jobs/upload`` is not also read as a job id (its ``Allow`` would then list GET)."""

    def __init__(self, url_map, prefix: str) -> None:
        super().__init__(url_map)
        self.regex = id_pattern(prefix)[1:-1]


def _error(description: str, **headers: dict) -> dict:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}
    if headers:
        out["headers"] = {name.replace("_", "-"): h for name, h in headers.items()}
    return out


def _add(responses: dict, status: str, response: dict) -> None:
    """Add ``response`` unless the view documented this status itself (then keep its model, add headers)."""
    have = responses.get(status)
    if have is None:
        responses[status] = response
    elif "headers" in response:
        have.setdefault("headers", {}).update(response["headers"])


def _standard_responses(path: str, method: str, op: dict) -> None:
    responses = op.setdefault("responses", {})
    has_body = "requestBody" in op
    _add(responses, "400", _error("Malformed JSON (`invalid_json`), or NUL bytes / unpaired surrogates in the "
                                  "URL or body (`invalid_characters`)"))
    if op.get("security"):
        _add(responses, "401", _error("No API key, or an invalid or revoked one"))
    if "{" in path:
        _add(responses, "404", _error("No such object for this tenant"))
    if has_body:
        _add(responses, "413", _error("The body is larger than this server accepts"))
        _add(responses, "415", _error("The body is not one of the declared media types"))
    _add(responses, "422", _error("The request does not validate; `details` lists each problem"))
    if op.get("security"):
        _add(responses, "429", _error("A tenant limit refused the request (`details.limit` names it: a per-minute "
                                      "rate, open streams, queued or monthly audio); nothing was stored",
                                      Retry_After=_RETRY_AFTER, RateLimit_Limit=_RL_LIMIT,
                                      RateLimit_Remaining=_RL_REMAINING, RateLimit_Reset=_RL_RESET))
    _add(responses, "500", _error("Unexpected error (the message never carries internals)"))
    if path != "/healthz":
        _add(responses, "503", _error("The database or object storage is unavailable; retry later",
                                      Retry_After=_RETRY_AFTER))
    for status, response in responses.items():
        if status in ("201", "202", "302"):
            response.setdefault("headers", {})["Location"] = _LOCATION
        if op.get("x-idempotent") and status.startswith("2"):
            response.setdefault("headers", {})["Idempotent-Replayed"] = _REPLAYED
    if op.pop("x-idempotent", False):
        # described, not declared as a parameter: generated requests would reuse keys, and a replay
        # answers with the first (possibly since deleted) resource, as the IETF draft says it should
        op["description"] = (op.get("description", "") + "\n\nSend `Idempotency-Key: <up to "
                             f"{MAX_KEY_LEN} printable ASCII characters>` to repeat the request safely: the "
                             "same key and body replay the first answer (`Idempotent-Replayed: true`), the "
                             "same key with another body is a 422, and while the first is still running, a "
                             "409.").strip()
        _add(responses, "409", _error("A request with this Idempotency-Key is still in progress"))


def _deployment(doc: dict, settings: Settings) -> None:
    """What this deployment accepts: the engines it serves and its text limit."""
    props = doc.get("components", {}).get("schemas", {}).get("JobCreate", {}).get("properties", {})
    if "engine" in props:
        props["engine"] = {"anyOf": [{"type": "string", "enum": served_engines(settings)}, {"type": "null"}],
                           "default": None, "description": f"default: {settings.default_engine}; "
                                                           f"known engines: {', '.join(listed_engines(settings))}"}
    if "voices" in props:
        # flask-openapi3 drops pydantic's patternProperties, leaving a bare object that admits any
        # key (a NUL in one is a 400): the speaker tags and what each may name, as the model says
        props["voices"] = {"anyOf": [{"type": "object", "propertyNames": {"pattern": "^S[12]$"},
                                      "additionalProperties": {"anyOf": [
                                          {"type": "string", "maxLength": 200},
                                          {"$ref": "#/components/schemas/InlinePrompt"}]}},
                                     {"type": "null"}],
                           "default": None, "description": props["voices"].get("description", "")}
    speech = doc.get("components", {}).get("schemas", {}).get("SpeechRequest", {}).get("properties", {})
    if "model" in speech:  # an engine this farm serves, or an OpenAI model name mapped to one
        speech["model"] = {"type": "string", "enum": sorted({*served_engines(settings), *OPENAI_MODELS,
                                                              *settings.speech_models}),
                           "description": "an engine, or tts-1 / tts-1-hd / gpt-4o-mini-tts (settings)"}
    for branch in props.get("text", {}).get("anyOf", []):
        if branch.get("type") == "string":
            branch["maxLength"] = settings.max_text_chars
    if "engine" in props:
        # each engine takes its own params (core/engines/registry.py ParamSpec rows) and only a cloning one a voice_id
        branches = []
        for name in served_engines(settings):
            spec = ENGINES[name]
            names = {p.name for p in spec.param_specs}
            params = {p.name: _param_schema(p, LANGUAGES.get(name)) for p in spec.param_specs}
            branch: dict[str, Any] = {"properties": {
                "engine": {"const": name},
                "params": {"type": "object", "properties": params, "additionalProperties": False}}}
            if name == settings.default_engine:
                branch["properties"]["engine"] = {"anyOf": [{"const": name}, {"type": "null"}]}
            else:
                branch["required"] = ["engine"]
            if not spec.clones_voices:
                branch["properties"]["voice_id"] = {"type": "null"}
            if "voice" not in names:
                branch["properties"]["voice"] = {"type": "null"}
            branches.append(branch)
        doc["components"]["schemas"]["JobCreate"]["allOf"] = [{"anyOf": branches}]


def _param_schema(p: ParamSpec, languages: frozenset[str] | None) -> dict:
    """JSON Schema for what ``ParamSpec.coerce`` accepts (an "int" takes 2.0 too, as JSON Schema's integer)."""
    if p.kind == "bool":
        return {"type": "boolean"}
    if p.kind == "str":
        if p.name == "language" and languages:
            return {"type": "string", "enum": sorted(languages)}
        out: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": p.max_length}
        return out | ({"pattern": f"^(?:{p.pattern})$"} if p.pattern else {"pattern": NO_NUL})
    out = {"type": "integer" if p.kind == "int" else "number"}
    if p.minimum is not None:
        out["exclusiveMinimum" if p.min_exclusive else "minimum"] = p.minimum
    if p.maximum is not None:
        out["maximum"] = p.maximum
    return out


# requests.py refuses NUL anywhere in a body or URL (PostgreSQL cannot store it): say so for every
# request string, and describe free-form JSON (``metadata``) as values made of such strings
NO_NUL = "^[^\\x00]*$"
JSON_VALUE = {"anyOf": [{"type": "null"}, {"type": "boolean"}, {"type": "number"},
                        {"type": "string", "pattern": NO_NUL},
                        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
                        {"type": "object", "propertyNames": {"pattern": NO_NUL},
                         "additionalProperties": {"$ref": "#/components/schemas/JsonValue"}}]}


def _no_nul(node: Any, schemas: dict, seen: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _no_nul(item, schemas, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _no_nul(schemas.get(name), schemas, seen)
        return
    if node.get("type") == "string" and "pattern" not in node and "enum" not in node and "format" not in node:
        node["pattern"] = NO_NUL
    if node.get("type") == "object" and node.get("additionalProperties") not in (None, False):
        node.setdefault("propertyNames", {"pattern": NO_NUL})  # a narrower pattern (speaker tags) stays
        if node["additionalProperties"] is True:
            node["additionalProperties"] = {"$ref": "#/components/schemas/JsonValue"}
    for key, value in node.items():
        if key not in ("enum", "default", "examples", "example", "const"):
            _no_nul(value, schemas, seen)


def _request_strings(doc: dict) -> None:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["JsonValue"] = JSON_VALUE
    seen: set[str] = set()
    for item in doc["paths"].values():
        for method in _METHODS:
            if method in item:
                for param in item[method].get("parameters", []):
                    _no_nul(param.get("schema"), schemas, seen)
                for media_type, media in item[method].get("requestBody", {}).get("content", {}).items():
                    schema = media.get("schema", {})
                    target = schemas.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema)
                    if media_type == "multipart/form-data" and "additionalProperties" not in target:
                        # other form fields are ignored, but they pass the same NUL check
                        target["additionalProperties"] = {"type": "string"}
                    _no_nul(schema, schemas, seen)


def _example_audio() -> str:
    """1.5 s of a warbling 220 Hz tone as 8 kHz FLAC (base64, ~5 KB): a prompt the server accepts."""
    t = np.arange(int(1.5 * 8000)) / 8000
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
    return base64.b64encode(encode(tone.astype("float32"), 8000, "flac")[0]).decode()


def _examples(doc: dict, settings: Settings) -> None:
    """Request examples that succeed as they are (Schemathesis' examples phase sends them)."""
    bodies = {("post", "/v1/jobs"): {"text": "Hello from the farm.", "engine": settings.default_engine},
              ("post", "/v1/voices"): {"name": "Narrator", "transcript": "[S1] These are my words.",
                                       "audio_base64": _example_audio()}}
    for (method, path), example in bodies.items():
        media = doc["paths"].get(path, {}).get(method, {}).get("requestBody", {}).get("content", {})
        if "application/json" in media:
            media["application/json"]["example"] = example


def openapi_document(app: Flask, settings: Settings) -> dict:
    """The completed document (built once per app)."""
    cached = app.extensions.get("voxfarm_openapi")
    if cached is None:
        doc = copy.deepcopy(app.api_doc)
        for path, item in doc["paths"].items():
            for method in _METHODS:
                if method in item:
                    _standard_responses(path, method, item[method])
        add_links(doc)
        _deployment(doc, settings)
        _request_strings(doc)
        _examples(doc, settings)
        app.extensions["voxfarm_openapi"] = cached = doc
    return cached
