"""OpenAI-compatible ``POST /v1/audio/speech`` (streamed from the farm) and ``GET /v1/formats``.

The view validates, submits the request as a job (core/speech/requests.py; ``Idempotency-Key`` replays the
same job's audio) and streams it (core/speech/stream.py).  Errors on this route use OpenAI's error
shape, ``{"error": {"message", "type", "param", "code"}}``, so the ``openai`` SDK reads them.
"""

from __future__ import annotations

import json
import logging
import socket

from flask import Response, g, request
from flask_openapi3 import APIBlueprint, Tag

from voxfarm.api import idempotency as idem
from voxfarm.api.services import services
from voxfarm.core.audio import formats
from voxfarm.core.audio.stitch import Pauses
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.errors import Conflict
from voxfarm.core.jobs import intake as core_jobs
from voxfarm.core.render.timings import Timeline
from voxfarm.core.schemas import ErrorResponse
from voxfarm.core.speech import requests as core_speech
from voxfarm.core.speech.schemas import CAPTIONED_SPEECH, FormatList, OpenAIError, SpeechRequest
from voxfarm.core.speech.stream import StreamSpec, captioned, sse_events, stream_audio

log = logging.getLogger(__name__)
bp = APIBlueprint("speech", __name__, url_prefix="/v1", abp_tags=[Tag(name="speech")],
                  abp_security=[{"bearer": []}])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_AUDIO = {"description": "Audio in `response_format`, sent with chunked transfer while it renders; "
                         "`X-Job-Id` names the job (GET /v1/jobs/{id} fetches the stored result).",
          "content": {**{ct: _BINARY for ct in ("audio/mpeg", "audio/ogg", "audio/aac", "audio/flac", "audio/wav",
                                                "audio/pcm")},
                      "text/event-stream": {"schema": {"type": "string"}},
                      "application/json": {"schema": CAPTIONED_SPEECH}}}
_OPENAI_TYPES = {401: "invalid_request_error", 404: "invalid_request_error", 409: "invalid_request_error",
                 413: "invalid_request_error", 415: "invalid_request_error", 422: "invalid_request_error",
                 429: "rate_limit_error", 503: "server_error"}


@bp.post("/audio/speech", responses={200: _AUDIO, 400: OpenAIError, 401: OpenAIError, 404: OpenAIError,
                                     409: OpenAIError, 413: OpenAIError, 415: OpenAIError, 422: OpenAIError,
                                     429: OpenAIError})
def create_speech(body: SpeechRequest):
    """Text to speech, as OpenAI's endpoint: streamed from the farm in an interactive lane."""
    svc = services()
    tenant_id = g.tenant.id
    replay = idem.begin("POST /v1/audio/speech")
    if replay is not None:
        job_id = replay.get_json()["job_id"]
    else:
        with idem.guard(), svc.uow() as session:
            job = core_speech.submit_speech(session, svc.settings, svc.store, tenant_id, body)
            job_id = job.id
            idem.complete(session, 200, {"job_id": job_id})
    with svc.db.session() as s:
        job = core_jobs.get_job(s, tenant_id, job_id)
        spec = StreamSpec(job.id, job.output["format"], ENGINES[job.engine].sample_rate,
                          float(job.output.get("volume") or 1.0), float(job.output.get("tempo") or 1.0),
                          job.output.get("sample_rate"))

    def abandon() -> None:  # the client left: its remaining chunks never render
        with svc.uow() as s:
            core_jobs.cancel_job(s, tenant_id, job_id)

    st = svc.settings
    timeline = Timeline(spec.engine_rate) if body.timestamps else None  # voxfarm extension: timings too
    audio = stream_audio(svc.db, svc.store, spec, Pauses(st.pause_sentence_ms, st.pause_paragraph_ms,
                                                         st.pause_chapter_ms, st.crossfade_ms),
                         poll_s=st.speech_poll_s, timeout_s=st.speech_stream_timeout_s,
                         client_gone=_client_gone(request.environ), on_abandon=_quietly(abandon), timeline=timeline)
    if body.stream_format == "sse":
        resp = Response(sse_events(audio, len(body.input), timeline, spec.tempo), mimetype="text/event-stream")
    elif timeline is not None:  # one JSON document, streamed: the audio as it renders, then its timings
        doc = captioned(audio, timeline, job_id, formats.codec_for(spec.fmt).content_type, spec.tempo)
        resp = Response(doc, mimetype="application/json")
    else:
        resp = Response(audio, mimetype=formats.codec_for(spec.fmt).content_type)
    resp.headers["X-Job-Id"] = job_id
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # proxies must pass chunks on as they come
    return resp


@bp.get("/formats", responses={200: FormatList, 401: ErrorResponse})
def list_formats():
    """Output formats and quality presets, and whether this farm's ffmpeg can write each."""
    return {"data": formats.catalogue()}


@bp.after_request
def _openai_errors(resp: Response) -> Response:
    """Rewrite this blueprint's errors from voxfarm's shape to OpenAI's (same code and message)."""
    if request.endpoint != "speech.create_speech" or resp.status_code < 400 or not resp.is_json:
        return resp
    err = (resp.get_json(silent=True) or {}).get("error")
    if not isinstance(err, dict) or "type" in err:
        return resp
    details = err.get("details")
    param = None
    if isinstance(details, dict):
        param = details.get("param")
    elif isinstance(details, list) and details and details[0].get("loc"):
        param = ".".join(p for p in details[0]["loc"] if p != "body") or None
    resp.set_data(json.dumps(
        {"error": {"message": err.get("message", ""), "type": _OPENAI_TYPES.get(resp.status_code, "server_error"
                   if resp.status_code >= 500 else "invalid_request_error"), "param": param,
                   "code": err.get("code")}}))
    return resp


def _client_gone(environ: dict):
    """Whether the client closed its connection (peeked without reading; works under gunicorn
    and werkzeug, which expose the socket)."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")

    def gone() -> bool:
        if sock is None:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    return gone


def _quietly(fn):
    def run() -> None:
        try:
            fn()
        except Conflict:
            pass  # the job ended while the client left: nothing left to cancel
        except Exception:  # noqa: BLE001 - a cancel that fails leaves a job that renders for nobody
            log.warning("could not cancel an abandoned stream's job", exc_info=True)

    return run
