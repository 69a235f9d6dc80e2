"""Request hygiene before any view runs: content types and JSON syntax.

Views that take a JSON body get a 415 for any other content type and a 400 for malformed JSON,
in the common error shape (flask-openapi3 alone would parse leniently and answer 422 for both).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest

from core.errors import UnsupportedMedia, VoxfarmError

# endpoint -> accepted mimetypes; requests to other endpoints may carry no body that matters
BODY_TYPES: dict[str, tuple[str, ...]] = {
    "jobs.create_job": ("application/json",),
    "voices.create_voice": ("application/json", "multipart/form-data"),
    "webhooks.set_endpoint": ("application/json",),
}


class InvalidJson(VoxfarmError):
    status = 400
    code = "invalid_json"


def register(app: Flask) -> None:
    @app.before_request
    def _check_body():
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        accepted = BODY_TYPES.get(request.endpoint or "")
        if accepted is None:
            return None
        if request.mimetype not in accepted:
            raise UnsupportedMedia(f"send {' or '.join(accepted)} (got {request.mimetype or 'no content type'})")
        if request.mimetype == "application/json":
            try:
                request.get_json(force=False, silent=False)
            except BadRequest:
                raise InvalidJson("the request body is not valid JSON") from None
        return None
