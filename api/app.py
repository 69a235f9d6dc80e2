"""The intake API: a Flask app factory (flask-openapi3, so /openapi.json is generated from the
same pydantic models the views validate with).

The API never imports torch or worker code: it validates, writes rows (and outbox messages) in one
transaction, publishes by task name after the commit, and answers.  Everything it needs is built
once here and reached through ``services()``.
"""

from __future__ import annotations

from flask_openapi3 import Info, OpenAPI

from voxfarm.api import auth, console, contract, errors, hygiene, limits, metrics
from voxfarm.api.services import Services, services  # noqa: F401 - services() is reached from here too
from voxfarm.api.views import batches, health, jobs, lexicons, speech, usage, voices, webhooks
from voxfarm.celery_config import CeleryPublisher, make_celery
from voxfarm.core.db import Database
from voxfarm.core.render import faults
from voxfarm.core.settings import Settings, load_settings
from voxfarm.core.state.outbox import Publisher
from voxfarm.core.storage import ObjectStore, open_store
from voxfarm.core.tenants.limit_store import open_limit_store
from voxfarm.core.tenants.limits import Limiter


def create_app(settings: Settings | None = None, *, publisher: Publisher | None = None,
               store: ObjectStore | None = None) -> OpenAPI:
    settings = settings or load_settings()
    if publisher is None:
        publisher = CeleryPublisher(make_celery(settings, name="voxfarm-api"))
    app = OpenAPI(
        __name__,
        info=Info(title="voxfarm", version="0.1.0",
                  description="Voice render farm: submit text, get speech. Authenticate with "
                              "`Authorization: Bearer <key>`."),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        validation_error_status=422,
        validation_error_model=errors.ErrorResponse,
        validation_error_callback=errors.validation_error,
        doc_ui=False,
    )
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=2 * 1024 * 1024,
        MAX_FORM_PARTS=32,
        JSON_SORT_KEYS=False,
    )
    db = Database(settings)
    app.extensions["voxfarm"] = Services(settings, db, store or open_store(settings),
                                         faults.publisher(publisher, settings.fault),
                                         Limiter(settings, open_limit_store(settings, db)))
    metrics.register(app, app.extensions["voxfarm"])  # first: its timer sees every request
    app.url_map.converters["id"] = contract.IdConverter
    errors.register(app)
    auth.register(app)  # first: an anonymous request is 401 whatever its body
    hygiene.register(app)
    limits.register(app)  # after auth and hygiene: counts the tenant's requests that got this far
    for module in (health, jobs, batches, voices, lexicons, webhooks, usage, speech):
        app.register_api(module.bp)
    # the spec flask-openapi3 generates from the view models, completed by api/contract.py (doc UI off)
    app.add_url_rule("/openapi.json", "openapi_json", lambda: contract.openapi_document(app, settings))
    console.register(app)  # / and /docs: static pages that call the API above with the user's key
    return app
