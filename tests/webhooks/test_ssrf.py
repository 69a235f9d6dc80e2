"""With the allowlist empty, a listener on loopback receives zero connections, whatever the URL
spelling; the API refuses the literal ones at submit time."""

from __future__ import annotations

import socket
import threading

import pytest
from sqlalchemy import select

from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.ids import new_id
from voxfarm.core.models import Tenant, WebhookAttempt, WebhookEvent
from voxfarm.core.settings import Settings
from voxfarm.core.state.events import endpoint_for
from voxfarm.core.state.lifecycle import EventStatus
from voxfarm.core.storage import open_store
from voxfarm.webhooks.delivery import deliver

from helpers import submit_job_direct


class Listener:
    def __init__(self, family=socket.AF_INET, host="127.0.0.1") -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except (TimeoutError, OSError):
                continue

    def stop(self):
        self._stop.set()
        self.sock.close()


@pytest.fixture
def closed_farm(tmp_path):
    from voxfarm.core.migrate import upgrade

    settings = Settings(data_dir=tmp_path / "var", outbound_allowlist=[], webhook_schedule_s=[0])
    upgrade(settings)
    db = Database(settings)
    db.test_settings, db.test_store = settings, open_store(settings)
    yield db
    db.dispose()


def test_zero_connections_for_every_spelling_of_loopback(closed_farm, monkeypatch):
    v4, v6 = Listener(), Listener(socket.AF_INET6, "::1")
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1", *a, **k)
                        if host == "hooks.rebind.test" else real(host, *a, **k))
    urls = [f"http://127.0.0.1:{v4.port}/h", f"http://[::1]:{v6.port}/h", f"http://[::ffff:127.0.0.1]:{v4.port}/h",
            f"http://0x7f000001:{v4.port}/h", f"http://2130706433:{v4.port}/h", f"http://localhost:{v4.port}/h",
            f"http://hooks.rebind.test:{v4.port}/h"]
    job_id, _ = submit_job_direct(closed_farm, "x", webhook=None)
    events = []
    with closed_farm.session() as s:
        tenant_id = s.scalar(select(Tenant.id))
        for url in urls:  # bypass submit-time checks: delivery itself must refuse
            ep = endpoint_for(s, tenant_id, url)
            ev = WebhookEvent(id=new_id("msg"), tenant_id=tenant_id, job_id=job_id, endpoint_id=ep.id,
                              type="job.succeeded", status=EventStatus.pending, next_attempt_at=utcnow())
            s.add(ev)
            events.append(ev.id)
    for event_id in events:
        deliver(closed_farm, closed_farm.test_store, closed_farm.test_settings, event_id)
    v4.stop()
    v6.stop()
    assert v4.connections == 0 and v6.connections == 0
    with closed_farm.session() as s:
        errors = [a.error for a in s.scalars(select(WebhookAttempt))]
    assert len(errors) == len(urls) and all("address" in e or "localhost" in e for e in errors)


def test_api_refuses_literal_internal_urls_at_submit(make_api):
    api = make_api(outbound_allowlist=[])
    client = api.client()
    for url in ["http://127.0.0.1:8080/h", "http://[::1]/h", "http://[::ffff:127.0.0.1]/h", "http://0x7f000001/h",
                "http://2130706433/h", "http://localhost/h"]:
        resp = client.post("/v1/jobs", json={"text": "x", "webhook": {"url": url}})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "url_not_allowed", url
        resp = client.put("/v1/webhooks/endpoint", json={"url": url})
        assert resp.status_code == 422, url
