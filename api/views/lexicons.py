"""Pronunciation lexicon routes: JSON rules or a W3C PLS document in, JSON or PLS out.

Each view validates and makes one call into core/tenants/lexicons.py."""

from __future__ import annotations

from flask import Response, g
from flask_openapi3 import APIBlueprint, Tag

from voxfarm.api import idempotency as idem
from voxfarm.api.contract import IDEMPOTENT
from voxfarm.api.services import services
from voxfarm.core.schemas import ErrorResponse
from voxfarm.core.tenants import lexicons as core_lexicons
from voxfarm.core.tenants.lexicon_schemas import LexiconCreate, LexiconList, LexiconListQuery, LexiconOut, LexiconPath
from voxfarm.core.text.pls import to_pls

bp = APIBlueprint("lexicons", __name__, url_prefix="/v1", abp_tags=[Tag(name="lexicons")],
                  abp_security=[{"bearer": []}],
                  abp_responses={401: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse})

_PLS = {"description": "The lexicon as a W3C PLS 1.0 document (alphabet ipa)",
        "content": {"application/pls+xml": {"schema": {"type": "string"}}}}


@bp.post("/lexicons", responses={201: LexiconOut, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse},
         openapi_extensions=IDEMPOTENT)
def create_lexicon(body: LexiconCreate):
    """Add a pronunciation lexicon: rules as JSON, or a PLS document (``pls``).  Jobs, batches and
    speech name it in ``lexicons``."""
    svc = services()

    def build(session, _prepared):
        return core_lexicons.lexicon_resource(core_lexicons.create_lexicon(session, svc.settings, g.tenant.id, body))

    return idem.create("POST /v1/lexicons", 201, build, location=lambda lex: f"/v1/lexicons/{lex['id']}")


@bp.get("/lexicons", responses={200: LexiconList})
def list_lexicons(query: LexiconListQuery):
    """The tenant's lexicons, newest first (without their rules)."""
    with services().db.session() as s:
        rows, cursor = core_lexicons.list_lexicons(s, g.tenant.id, limit=query.limit, cursor=query.cursor)
        return {"data": [core_lexicons.lexicon_resource(x, rules=False) for x in rows], "next_cursor": cursor}


@bp.get("/lexicons/<lexicon_id>", responses={200: LexiconOut})
def get_lexicon(path: LexiconPath):
    with services().db.session() as s:
        return core_lexicons.lexicon_resource(core_lexicons.get_lexicon(s, g.tenant.id, path.lexicon_id))


@bp.get("/lexicons/<lexicon_id>/pls", responses={200: _PLS})
def export_lexicon(path: LexiconPath):
    """The lexicon as PLS (case and word-boundary options are not part of PLS: JSON keeps them)."""
    with services().db.session() as s:
        lexicon = core_lexicons.get_lexicon(s, g.tenant.id, path.lexicon_id)
        document = to_pls(core_lexicons.stored_rules(lexicon), lexicon.language)
    return Response(document, mimetype="application/pls+xml")


@bp.put("/lexicons/<lexicon_id>", responses={200: LexiconOut, 409: ErrorResponse, 413: ErrorResponse,
                                              415: ErrorResponse})
def replace_lexicon(path: LexiconPath, body: LexiconCreate):
    """Replace the lexicon's rules (and name).  Its version goes up; rules that did not change keep
    theirs, so re-submitted jobs re-render only the chunks whose matching rules changed."""
    svc = services()
    with svc.db.session() as s:
        lexicon = core_lexicons.replace_lexicon(s, svc.settings, g.tenant.id, path.lexicon_id, body)
        return core_lexicons.lexicon_resource(lexicon)


@bp.delete("/lexicons/<lexicon_id>", responses={204: None})
def delete_lexicon(path: LexiconPath):
    """Delete a lexicon.  Jobs already submitted keep what it said; new jobs naming it get a 404."""
    with services().db.session() as s:
        core_lexicons.delete_lexicon(s, g.tenant.id, path.lexicon_id)
    return "", 204
