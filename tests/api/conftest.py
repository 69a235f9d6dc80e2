from __future__ import annotations

from dataclasses import dataclass

import pytest

from api.app import create_app
from celery_config import CeleryPublisher, make_celery
from core.db import Database
from helpers import ApiClient, ListPublisher, ServerThread, create_key


@dataclass
class Api:
    url: str
    settings: object
    db: Database
    app: object
    publisher: object

    def client(self, tenant: str = "acme") -> ApiClient:
        return ApiClient(self.url, create_key(self.settings, tenant))


@pytest.fixture
def make_api(prod_settings):
    """Serve create_app() over real HTTP; PostgreSQL + Redis + moto S3 (embedded fallback off-CI)."""
    servers = []

    def make(**overrides) -> Api:
        settings = prod_settings.model_copy(update={"engines": ["espeak", "dia"], "allow_audio_url": True,
                                                     **overrides})
        publisher = CeleryPublisher(make_celery(settings)) if settings.broker_url else ListPublisher()
        app = create_app(settings, publisher=publisher)
        server = ServerThread(app)
        servers.append(server)
        return Api(server.url, settings, Database(settings), app, publisher)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def api(make_api) -> Api:
    return make_api()
