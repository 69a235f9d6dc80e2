"""Shared fixtures: real PostgreSQL, Redis and an S3 protocol server (moto), or the embedded parts.

With ``CI=true`` the PostgreSQL and Redis fixtures *fail* when those services are unreachable (a
green CI run must have exercised them); elsewhere they fall back to SQLite and the filesystem
broker so the suite still runs on a laptop.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the project root first: tests/core, tests/api, ... must never shadow core, api, ... (a shadowed
# package silently resolved its modules through the editable install of another checkout)
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN = os.environ.get("VOXFARM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("VOXFARM_TEST_REDIS", "redis://127.0.0.1:6379")

import logging  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may ever reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
for var in [v for v in os.environ if v.startswith("VOXFARM_") and not v.startswith("VOXFARM_TEST_")]:
    del os.environ[var]  # tests build their settings explicitly
# the suite's engine unless a test names another: espeak (no model file, fast); the product default,
# piper (core/settings.py), is what the CLI tests that strip this (`voxfarm up`, the quick start) run
os.environ["VOXFARM_ENGINES"] = "espeak"


FALLBACKS: dict[str, str] = {}  # service -> why; printed once at the end of the run


def _unavailable(what: str, exc: Exception) -> None:
    if IN_CI:
        pytest.fail(f"{what} is unreachable in CI ({exc}); these tests must run there", pytrace=False)
    FALLBACKS.setdefault(what, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}")


def pytest_terminal_summary(terminalreporter) -> None:
    """Say it when a run did not exercise a production service: its tests ran on the embedded
    parts (SQLite, the filesystem broker) or were skipped.  Under CI=true they fail instead."""
    for what, why in FALLBACKS.items():
        terminalreporter.write_line(f"voxfarm: {what} unreachable ({why}); its tests fell back to the embedded "
                                    "parts or were skipped (CI=true fails instead)", yellow=True)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


@pytest.fixture(autouse=True)
def _no_leaked_processes():
    """Kill every API/worker process a test started, whatever happened in the test."""
    from helpers import Proc

    yield
    Proc.kill_all()


@pytest.fixture(scope="session")
def pg_url() -> str | None:
    """A fresh PostgreSQL database for this session (dropped afterwards), or None off-CI."""
    from sqlalchemy import create_engine, text

    name = f"voxfarm_test_{secrets.token_hex(4)}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
        yield None
        return
    yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_BASE, socket_connect_timeout=2).ping()
        return True
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
        return False


@pytest.fixture
def redis_url(redis_available) -> str | None:
    """A Redis database number of its own, flushed before and after the test."""
    if not redis_available:
        return None
    import redis

    db = 1 + int.from_bytes(os.urandom(1), "big") % 14
    url = f"{REDIS_BASE}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server on a real port (so presigned URLs and subprocesses work too)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    os.environ.update(env)
    yield {"endpoint": endpoint, "env": env}
    server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    import boto3

    bucket = f"vf-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(scope="session")
def tiny_dia(tmp_path_factory) -> Path:
    """A random 2-layer Dia + small DAC saved with save_pretrained (scripts/make_tiny_dia.py)."""
    from scripts.make_tiny_dia import make_tiny_dia

    return make_tiny_dia(tmp_path_factory.mktemp("models") / "dia-tiny")


@pytest.fixture(scope="session")
def tiny_kokoro(tmp_path_factory) -> Path:
    """A random Kokoro look-alike in the sherpa-onnx layout (scripts/make_tiny_kokoro.py), 2 MB."""
    from scripts.make_tiny_kokoro import make_tiny_kokoro

    return make_tiny_kokoro(tmp_path_factory.mktemp("models") / "kokoro-tiny")


@pytest.fixture(scope="session")
def tiny_zipvoice(tmp_path_factory) -> Path:
    """A random tiny ZipVoice ONNX export plus Vocos (scripts/make_tiny_zipvoice.py)."""
    from scripts.make_tiny_zipvoice import make_tiny_zipvoice

    return make_tiny_zipvoice(tmp_path_factory.mktemp("models") / "zipvoice-tiny")


@pytest.fixture(scope="session")
def tiny_ecapa(tmp_path_factory) -> Path:
    """A random tiny ECAPA-TDNN in speechbrain's spkrec-ecapa-voxceleb layout (scripts/make_tiny_ecapa.py)."""
    from scripts.make_tiny_ecapa import write

    return write(tmp_path_factory.mktemp("models") / "ecapa-tiny")


@pytest.fixture
def settings(tmp_path):
    """Embedded settings in a private data dir (SQLite, local disk, filesystem broker)."""
    from voxfarm.core.migrate import upgrade
    from voxfarm.core.settings import Settings

    s = Settings(data_dir=tmp_path / "var", outbound_allowlist=["127.0.0.1/32", "::1/128"])
    upgrade(s)
    return s


@pytest.fixture
def prod_settings(tmp_path, pg_url, redis_url, s3_bucket):
    """Production-shaped settings: PostgreSQL + Redis + S3 (moto), with embedded fallbacks off-CI."""
    from sqlalchemy import create_engine, text

    from voxfarm.core.migrate import upgrade
    from voxfarm.core.settings import Settings

    s = Settings(data_dir=tmp_path / "var", database_url=pg_url, broker_url=redis_url,
                 storage_url=f"s3://{s3_bucket}/farm", outbound_allowlist=["127.0.0.1/32", "::1/128"])
    if pg_url:
        engine = create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        engine.dispose()
    upgrade(s)
    return s


# -- an API over real HTTP (used by tests/api and tests/webhooks) ------------------------
from dataclasses import dataclass  # noqa: E402

from voxfarm.api.app import create_app  # noqa: E402
from voxfarm.celery_config import CeleryPublisher, make_celery  # noqa: E402
from voxfarm.core.db import Database  # noqa: E402

from helpers import ApiClient, ListPublisher, ServerThread, create_key  # noqa: E402


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
