"""Voice prompt routes.  POST accepts multipart (``audio_file``) or JSON (``audio_base64`` or
``audio_url``); both bodies are validated with the pydantic models that also document them."""

from __future__ import annotations

from flask import Response, g, redirect, request, stream_with_context
from flask_openapi3 import APIBlueprint, Tag

from voxfarm.api import idempotency as idem
from voxfarm.api.contract import IDEMPOTENT
from voxfarm.api.hygiene import read_upload
from voxfarm.api.services import services
from voxfarm.core.audio.arrays import CONTENT_TYPES
from voxfarm.core.errors import InvalidInput
from voxfarm.core.jobs.serialize import voice_resource
from voxfarm.core.schemas import ErrorResponse
from voxfarm.core.voices import registry as core_voices
from voxfarm.core.voices.schemas import (
    VoiceCreateForm,
    VoiceCreateJson,
    VoiceList,
    VoiceListQuery,
    VoiceOut,
    VoicePath,
    VoiceQuery,
)

bp = APIBlueprint("voices", __name__, url_prefix="/v1", abp_tags=[Tag(name="voices")],
                  abp_security=[{"bearer": []}],
                  abp_responses={401: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse})

_REQUEST_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": VoiceCreateForm.model_json_schema(),
                            # the part's type is informative: the server sniffs the content itself
                            "encoding": {"audio_file": {"contentType": "audio/wav, audio/flac, audio/ogg, audio/mpeg, "
                                                                      "application/octet-stream"}}},
    "application/json": {"schema": VoiceCreateJson.model_json_schema()},
}}}


def _read_request() -> tuple[str, str, bytes]:
    svc = services()
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("audio_file")
        fields = {"name": request.form.get("name"), "transcript": request.form.get("transcript")}
        data = read_upload(upload.stream, svc.settings.voice_max_bytes, "audio file",
                           "VOXFARM_VOICE_MAX_BYTES") if upload else None
        form = VoiceCreateForm.model_validate({**fields, "audio_file": data or b""} if upload else fields)
        if not form.audio_file:
            raise InvalidInput("audio_file is empty", code="invalid_audio")
        return form.name, form.transcript, form.audio_file
    body = VoiceCreateJson.model_validate(request.get_json())
    return body.name, body.transcript, core_voices.prompt_audio(svc.settings, body.audio_base64, body.audio_url,
                                                                 what="a voice")


@bp.post("/voices", responses={201: VoiceOut, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse},
         openapi_extensions={**_REQUEST_BODY, **IDEMPOTENT})
def create_voice():
    """Register a voice prompt: reference audio (1-30 s) and its transcript."""
    svc = services()

    def build(session, fields):
        name, transcript, data = fields
        return voice_resource(core_voices.register_voice(session, svc.settings, svc.store, g.tenant.id,
                                                         name=name, transcript=transcript, data=data))

    # reading the body (and an audio_url download) happens before the transaction opens
    return idem.create("POST /v1/voices", 201, build, prepare=_read_request,
                       location=lambda voice: f"/v1/voices/{voice['id']}")


@bp.get("/voices", responses={200: VoiceList})
def list_voices(query: VoiceListQuery):
    svc = services()
    with svc.db.session() as s:
        rows, cursor = core_voices.list_voices(s, g.tenant.id, limit=query.limit, cursor=query.cursor)
        return {"data": [voice_resource(v) for v in rows], "next_cursor": cursor}


@bp.get("/voices/<voice_id>", responses={200: VoiceOut})
def get_voice(path: VoicePath):
    """A voice.  `?include=embedding` adds its speaker embedding (null until a worker made it);
    any other `include` is a 422."""
    svc = services()
    include = VoiceQuery.model_validate(request.args.to_dict()).include
    with svc.db.session() as s:
        return voice_resource(core_voices.get_voice(s, g.tenant.id, path.voice_id), embedding=include == "embedding")


@bp.get("/voices/<voice_id>/audio", responses={200: None, 302: None})
def get_voice_audio(path: VoicePath):
    """The voice's prompt audio as it was uploaded: 302 to a presigned URL (S3), or streamed (local disk)."""
    svc = services()
    with svc.db.session() as s:
        voice = core_voices.get_voice(s, g.tenant.id, path.voice_id)
    filename = f"{voice.id}.{voice.original_format}"
    url = svc.store.presigned_url(voice.original_key, svc.settings.presign_expiry_s, filename=filename)
    if url:
        return redirect(url, code=302)
    resp = Response(stream_with_context(svc.store.iter_chunks(voice.original_key)),
                    mimetype=CONTENT_TYPES.get(voice.original_format, "application/octet-stream"))
    resp.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return resp


@bp.delete("/voices/<voice_id>", responses={204: None})
def delete_voice(path: VoicePath):
    """Delete a voice and its stored audio.  Rendered jobs keep their results."""
    svc = services()
    with svc.db.session() as s:
        prefix = core_voices.delete_voice(s, g.tenant.id, path.voice_id)
    svc.store.delete_prefix(prefix)  # after the commit
    return "", 204
