"""The engine registry's own checks (the per-engine behaviour is tests/worker/test_engine_contract.py)."""

from __future__ import annotations

import pytest

from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.settings import Settings


def test_a_batch_size_above_what_the_engine_carries_stops_the_worker_at_start():
    spec = ENGINES["espeak"]
    fits = Settings(batch={"espeak": {"max_batch_size": spec.max_batch_size, "max_wait_ms": 5}})
    assert spec.checked_batch(fits).max_batch_size == spec.max_batch_size
    too_big = Settings(batch={"espeak": {"max_batch_size": spec.max_batch_size + 1, "max_wait_ms": 5}})
    with pytest.raises(ValueError, match=f"at most {spec.max_batch_size}"):
        spec.checked_batch(too_big)


def test_every_engine_names_its_model_through_its_setting():
    """model_id joins the cache keys: a changed model directory must change it (no per-engine case)."""
    for name, spec in ENGINES.items():
        if spec.model_setting:
            assert spec.model_id(Settings(**{spec.model_setting: "/models/x"})) == "/models/x", name
    assert ENGINES["dia"].model_id(Settings(dia_model="/models/dia")) == "/models/dia"
