from __future__ import annotations

import pytest
from pydantic import ValidationError

from voxfarm.core.settings import Settings, load_settings


def test_embedded_defaults_need_no_server(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VOXFARM_ENGINES", raising=False)  # the suite pins espeak (tests/conftest.py)
    s = load_settings()
    assert s.resolved_database_url.startswith("sqlite:///") and s.resolved_database_url.endswith("var/voxfarm.db")
    assert s.resolved_storage_url.startswith("file://")
    # one default engine in both modes: what `voxfarm up` runs is what `voxfarm api` serves (#30)
    assert s.embedded_broker and s.default_engine == "piper" and s.engines == ["piper"]
    assert Settings(engines=["espeak", "dia"]).default_engine == "espeak"  # unset: the first served
    assert Settings(engines=["espeak", "dia"], default_engine="dia").default_engine == "dia"


def test_production_by_environment_alone(monkeypatch):
    monkeypatch.setenv("VOXFARM_DATABASE_URL", "postgresql+psycopg://u@db/vf")
    monkeypatch.setenv("VOXFARM_BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("VOXFARM_STORAGE_URL", "s3://bucket/prefix")
    monkeypatch.setenv("VOXFARM_ENGINES", "espeak, dia")
    monkeypatch.setenv("VOXFARM_BATCH", '{"dia": {"max_batch_size": 16, "max_wait_ms": 50}}')
    monkeypatch.setenv("VOXFARM_WEBHOOK_SCHEDULE_S", "0,1,2")
    s = load_settings()
    assert s.resolved_database_url == "postgresql+psycopg://u@db/vf" and not s.embedded_broker
    assert s.engines == ["espeak", "dia"] and s.batch["dia"].max_batch_size == 16
    assert s.webhook_schedule_s == [0.0, 1.0, 2.0]


def test_bad_settings_are_refused():
    with pytest.raises(ValidationError):
        Settings(outbound_allowlist=["10.0.0.0/99"])
    with pytest.raises(ValidationError):
        Settings(batch={"dia": {"max_batch_size": 0, "max_wait_ms": 5}})
