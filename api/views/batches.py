"""Batch routes: bulk submit (JSON or a JSONL upload), progress, jobs, cancel, manifest."""

from __future__ import annotations

import json

from flask import Response, g, stream_with_context
from flask_openapi3 import APIBlueprint, FileStorage, Tag
from pydantic import BaseModel, ConfigDict, Field

from voxfarm.api import idempotency as idem
from voxfarm.api.contract import IDEMPOTENT
from voxfarm.api.hygiene import read_upload
from voxfarm.api.services import services
from voxfarm.core.batches import intake as core_batches
from voxfarm.core.batches.schemas import BatchCreate, BatchJobsQuery, BatchOut, BatchPath
from voxfarm.core.errors import InvalidInput
from voxfarm.core.jobs.schemas import JobList
from voxfarm.core.jobs.serialize import job_resource
from voxfarm.core.schemas import ErrorResponse

bp = APIBlueprint("batches", __name__, url_prefix="/v1", abp_tags=[Tag(name="batches")],
                  abp_security=[{"bearer": []}],
                  abp_responses={400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse})
_WRITE = {202: BatchOut, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse}


def _submit(scope: str, defaults, items, metadata=None, webhook=None, prepare=lambda: None):
    svc = services()

    def build(session, prepared):
        d, i = prepared if prepared is not None else (defaults, items)
        batch = core_batches.submit_batch(session, svc.settings, svc.store, g.tenant.id, d, i,
                                          metadata=metadata, webhook=webhook)
        return core_batches.batch_resource(session, batch)

    return idem.create(scope, 202, build, prepare=prepare)


@bp.post("/batches", responses=_WRITE, openapi_extensions=IDEMPOTENT)
def create_batch(body: BatchCreate):
    """Submit many jobs at once: all are written in one transaction, or none (202 with the batch)."""
    return _submit("POST /v1/batches", body.defaults, body.items, body.metadata, body.webhook)


class BatchUpload(BaseModel):
    """multipart/form-data: a JSONL file (one job per line; the first line may be {"defaults": ...})."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    items: FileStorage = Field(description="JSONL, one job object per line")
    defaults: str | None = Field(None, max_length=1_000_000, description="JSON object: defaults for every item")


@bp.post("/batches/upload", responses=_WRITE, openapi_extensions=IDEMPOTENT)
def upload_batch(form: BatchUpload):
    """Submit a JSONL file of jobs as one batch (202 with the batch)."""
    svc = services()

    def read():
        defaults = None
        if form.defaults is not None:
            try:
                defaults = json.loads(form.defaults)
            except ValueError:
                raise InvalidInput("the defaults field is not JSON", code="invalid_json") from None
            if not isinstance(defaults, dict):
                raise InvalidInput("the defaults field must be a JSON object", code="invalid_json")
        data = read_upload(form.items.stream, svc.settings.max_request_bytes, "items", "VOXFARM_MAX_REQUEST_BYTES")
        return core_batches.parse_jsonl(data, defaults)

    return _submit("POST /v1/batches/upload", None, None, prepare=read)


# the id converter keeps /batches/upload from matching here too (its Allow would list GET)
@bp.get('/batches/<id("bat"):batch_id>', responses={200: BatchOut}, operation_id="batches_get_batch")
def get_batch(path: BatchPath):
    """Counts per job status and progress."""
    svc = services()
    with svc.db.session() as s:
        return core_batches.batch_resource(s, core_batches.get_batch(s, g.tenant.id, path.batch_id))


@bp.get("/batches/<batch_id>/jobs", responses={200: JobList})
def list_batch_jobs(path: BatchPath, query: BatchJobsQuery):
    """The batch's jobs in item order, cursor-paginated."""
    svc = services()
    with svc.db.session() as s:
        rows, cursor = core_batches.list_jobs(s, g.tenant.id, path.batch_id, limit=query.limit, cursor=query.cursor)
        return {"data": [job_resource(j, svc.store, svc.settings) for j in rows], "next_cursor": cursor}


@bp.post("/batches/<batch_id>/cancel", responses={200: BatchOut})
def cancel_batch(path: BatchPath):
    """Cancel every job of the batch that has not finished."""
    svc = services()
    with svc.uow() as s:
        return core_batches.batch_resource(s, core_batches.cancel_batch(s, g.tenant.id, path.batch_id))


@bp.get("/batches/<batch_id>/manifest", responses={200: None})
def get_manifest(path: BatchPath):
    """JSONL, one line per item: index, job_id, status, result_url, sha256, duration_s."""
    svc = services()
    with svc.db.session() as s:
        batch = core_batches.get_batch(s, g.tenant.id, path.batch_id)

    def lines():
        with svc.db.session() as s:
            for record in core_batches.manifest(s, svc.store, svc.settings, batch):
                yield json.dumps(record, separators=(",", ":")) + "\n"

    return Response(stream_with_context(lines()), mimetype="application/jsonl")
