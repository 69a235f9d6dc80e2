"""Usage: characters, audio-seconds and engine-seconds per tenant, engine and job, and the
tenant's limits with its standing against each."""

from __future__ import annotations

from flask import g
from flask_openapi3 import APIBlueprint, Tag

from voxfarm.api.services import services
from voxfarm.core.schemas import ErrorResponse
from voxfarm.core.tenants.usage import UsageOut, UsageQuery, usage

bp = APIBlueprint("usage", __name__, url_prefix="/v1", abp_tags=[Tag(name="usage")],
                  abp_security=[{"bearer": []}], abp_responses={401: ErrorResponse, 422: ErrorResponse})


@bp.get("/usage", responses={200: UsageOut})
def get_usage(query: UsageQuery):
    """What this tenant consumed in [from, to): chunks finished in the window, cache hits included; and
    each of its limits (null: none) with what counts against it now."""
    svc = services()
    with svc.db.session() as s:
        report = usage(s, g.tenant.id, g.tenant.name, query, svc.settings.usage_max_jobs,
                       svc.limiter.standing(s, g.tenant))
        return UsageOut.model_validate(report).model_dump(mode="json", by_alias=True)
