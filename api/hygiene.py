"""Request hygiene before any view runs: content types and JSON syntax.

Views that take a JSON body get a 415 for any other content type and a 400 for malformed JSON,
in the common error shape (flask-openapi3 alone would parse leniently and answer 422 for both).
"""

from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import BadRequest

from voxfarm.core.errors import TooLarge, UnsupportedMedia, VoxfarmError

# endpoint -> accepted mimetypes; requests to other endpoints may carry no body that matters
BODY_TYPES: dict[str, tuple[str, ...]] = {
    "jobs.create_job": ("application/json",),
    "jobs.upload_job": ("multipart/form-data",),
    "jobs.rerender_job": ("application/json",),
    "batches.create_batch": ("application/json",),
    "batches.upload_batch": ("multipart/form-data",),
    "voices.create_voice": ("application/json", "multipart/form-data"),
    "webhooks.set_endpoint": ("application/json",),
    "speech.create_speech": ("application/json",),
    "lexicons.create_lexicon": ("application/json",),
    "lexicons.replace_lexicon": ("application/json",),
}


class InvalidJson(VoxfarmError):
    status = 400
    code = "invalid_json"


class InvalidCharacters(VoxfarmError):
    status = 400
    code = "invalid_characters"


# NUL cannot be stored in PostgreSQL text and lone surrogates cannot be encoded as UTF-8: both are
# refused at the door, wherever they appear, instead of failing deep in a query
_BAD = re.compile(r"[\x00\ud800-\udfff]")


# binary parts by contract: sent without a filename they land in request.form, and the view answers
# 422 ("must be a file part") rather than this check a 400 about text
_FILE_PARTS = frozenset({"document", "voice_file", "audio_file"})


def _has_bad(value: object, depth: int = 0) -> bool:
    if isinstance(value, str):
        return bool(_BAD.search(value))
    if isinstance(value, dict):
        return any(_has_bad(k, depth + 1) or _has_bad(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_bad(v, depth + 1) for v in value)
    return False


def _refuse_bad_characters() -> None:
    if _has_bad(request.path) or any(_has_bad(k) or _has_bad(v) for k, v in request.args.items(multi=True)):
        raise InvalidCharacters("NUL bytes and unpaired surrogates are not accepted in the URL")


def read_upload(stream, cap: int, what: str, setting: str) -> bytes:
    """A file part's bytes, or 413 naming the size sent and the limit.  Past the cap the rest is
    only counted (werkzeug already spooled it, and MAX_CONTENT_LENGTH bounds it), never kept."""
    data = stream.read(cap + 1)
    if len(data) <= cap:
        return data
    size = len(data) + sum(len(block) for block in iter(lambda: stream.read(1 << 20), b""))
    raise TooLarge(f"the {what} is {size} bytes; the limit is {cap} ({setting})")


def register(app: Flask) -> None:
    @app.before_request
    def _check_body():
        _refuse_bad_characters()
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        accepted = BODY_TYPES.get(request.endpoint or "")
        if accepted is None:
            return None
        if request.mimetype not in accepted:
            hint = " (EPUB files as multipart: POST /v1/jobs/upload)" if request.endpoint == "jobs.create_job" else ""
            raise UnsupportedMedia(f"send {' or '.join(accepted)} (got {request.mimetype or 'no content type'}){hint}")
        if request.mimetype == "application/json":
            try:
                request.get_json(force=False, silent=False)
            except BadRequest:
                raise InvalidJson("the request body is not valid JSON") from None
            except RecursionError:  # json.loads recurses per nesting level
                raise InvalidJson("the request body nests too deeply") from None
            if _has_bad(request.get_json(silent=True)):
                raise InvalidCharacters("NUL bytes and unpaired surrogates are not accepted in text")
        elif request.mimetype == "multipart/form-data" and _has_bad(
                {k: v for k, v in request.form.to_dict(flat=False).items() if k not in _FILE_PARTS}):
            raise InvalidCharacters("NUL bytes and unpaired surrogates are not accepted in form fields")
        return None
