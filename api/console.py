"""The console (``/``) and the interactive API reference (``/docs``), served by the API process.

Both are static pages: the console is one HTML page with a little vanilla JavaScript (api/static/console/)
that signs in with an API key held in a JavaScript variable and calls the public API with it, so every
answer it shows is scoped to that key's tenant by the API itself.  ``/docs`` is Swagger UI, from the
``flask-openapi3-swagger`` package's bundled files, reading the served ``/openapi.json``.  Nothing is
fetched from another host: the Content-Security-Policy below allows this origin only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, Flask, Response, redirect, send_from_directory
from werkzeug.exceptions import NotFound

HERE = Path(__file__).resolve().parent
PAGES = HERE / "static" / "console"

# the console's own pages: no inline script or style, nothing from elsewhere, never framed
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
# Swagger UI sets inline styles and shows data: images
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
SWAGGER_FILES = {"swagger-ui.css": "css/swagger-ui.css", "swagger-ui-bundle.js": "js/swagger-ui-bundle.js"}

bp = Blueprint("console", __name__)
ENDPOINTS = frozenset({"console.index", "console.docs", "console.swagger", "console.swagger_file"})  # public


def _swagger_dir() -> Path | None:
    spec = importlib.util.find_spec("flask_openapi3_swagger")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "templates" / "swagger"
    return folder if folder.is_dir() else None


def _page(name: str, csp: str) -> Response:
    resp = send_from_directory(PAGES, name, mimetype="text/html", max_age=0)
    resp.headers["Content-Security-Policy"] = csp
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/")
def index():
    return _page("index.html", CSP)


@bp.get("/docs")
def docs():
    return _page("docs.html" if _swagger_dir() else "docs-missing.html", DOCS_CSP)


@bp.get("/openapi/swagger")
def swagger():
    return redirect("/docs", code=302)


@bp.get("/docs/swagger-ui.css", defaults={"name": "swagger-ui.css"})
@bp.get("/docs/swagger-ui-bundle.js", defaults={"name": "swagger-ui-bundle.js"})
def swagger_file(name: str):
    folder = _swagger_dir()
    if folder is None:
        raise NotFound("Swagger UI is not installed here (pip install flask-openapi3-swagger)")
    resp = send_from_directory(folder, SWAGGER_FILES[name], max_age=3600)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def register(app: Flask) -> None:
    app.register_blueprint(bp)
