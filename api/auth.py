"""Bearer-key authentication; every other layer receives the tenant, never the key."""

from __future__ import annotations

from flask import Flask, g, request

from voxfarm.api import console
from voxfarm.api.services import services
from voxfarm.core.errors import Unauthorized
from voxfarm.core.tenants.accounts import authenticate, get_or_create_tenant

PUBLIC_ENDPOINTS = {"health.healthz", "health.readyz", "openapi_json", "metrics.expose", "static"} | console.ENDPOINTS


def register(app: Flask) -> None:
    @app.before_request
    def _authenticate():
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        svc = services()
        if not svc.settings.auth_enabled:
            with svc.db.session() as s:
                g.tenant = get_or_create_tenant(s, "default")
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
        with svc.db.session() as s:
            tenant = authenticate(s, token.strip())
            if tenant is None:
                raise Unauthorized("the API key is invalid or revoked", code="invalid_api_key")
            s.expunge(tenant)
            g.tenant = tenant
        return None
