"""One error shape everywhere: ``{"error": {"code", "message", "details"?}}``.

Domain errors carry their own status and code; HTTP errors raised by Flask/Werkzeug (404, 405,
413...) and validation errors are mapped to the same shape; anything unexpected is a 500 with a
generic message (the traceback goes to the log, never to the client).  A database that is down
answers 503 quickly (connect timeout 3 s), so clients can retry.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, current_app, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from voxfarm.core.errors import VoxfarmError
from voxfarm.core.schemas import ErrorResponse  # noqa: F401 - the validation error model for OpenAPI

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
               413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited"}


def error_response(status: int, code: str, message: str, details: object | None = None):
    body: dict = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    resp = jsonify(body)
    resp.status_code = status
    return resp


# /v1/<collection>/<id>: what a missing object is called (core raises "job job_... not found")
_KINDS = {"jobs": "job", "batches": "batch", "voices": "voice", "lexicons": "lexicon",
          "webhook-deliveries": "webhook delivery"}
_OBJECT_PATH = re.compile(r"^/v1/([a-z-]+)/([^/]+)/?$")


def _no_route(method: str, path: str) -> str:
    match = _OBJECT_PATH.match(path)
    if match and match.group(1) in _KINDS:
        return f"{_KINDS[match.group(1)]} {match.group(2)[:64]!r} not found"
    return f"no route {method} {path[:200]} (the routes are listed at /openapi.json)"


def _clean(errors: list[dict]) -> list[dict]:
    # never echo the offending input back (it may be megabytes, or someone's secret)
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in errors[:20]]


def validation_error(exc: ValidationError):
    errs = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errs[0] if errs else {}
    where = ".".join(str(p) for p in first.get("loc", ())) or "request"
    return error_response(422, "validation_error", f"{where}: {first.get('msg', 'invalid')}", _clean(errs))


def register(app: Flask) -> None:
    @app.errorhandler(VoxfarmError)
    def _domain(exc: VoxfarmError):
        resp = error_response(exc.status, exc.code, exc.message, exc.details)
        if exc.status == 503:
            resp.headers["Retry-After"] = "5"  # storage or broker trouble: the same advice as a database outage
        return resp

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return validation_error(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.response is not None and exc.response.is_json:
            return exc.response  # already one of ours (abort with a JSON response)
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 404:  # no route matched: a malformed id reads like a well-formed missing one
            message = _no_route(request.method, request.path)
        if status == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            sent = f"{request.content_length} bytes" if request.content_length is not None else "larger"
            message = (f"the request body is {sent}; this server accepts at most {limit} bytes "
                       "(VOXFARM_MAX_REQUEST_BYTES)")
        resp = error_response(status, _HTTP_CODES.get(status, "http_error"), message)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # RFC 9110 15.5.6: a 405 lists them
        return resp

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _db_down(exc: Exception):
        log.warning("database unavailable: %s", exc)
        resp = error_response(503, "database_unavailable", "the database is unavailable; retry shortly")
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(DataError)
    def _bad_data(exc: DataError):
        # input the validators should have caught reached the database: refuse it, loudly in logs
        log.warning("database refused request data: %s", exc.orig)
        return error_response(422, "invalid_data", "the request holds data that cannot be stored")

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError):
        if exc.connection_invalidated:
            return _db_down(exc)
        log.exception("database error")
        return error_response(500, "internal_error", "internal error")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")
