from __future__ import annotations

import pytest

from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.settings import Settings
from voxfarm.worker.engines.base import create_engine

_loaded = {}


@pytest.fixture(scope="session")
def engine_settings(tiny_dia, tiny_kokoro, tiny_zipvoice, tmp_path_factory):
    return Settings(data_dir=tmp_path_factory.mktemp("var"), dia_model=str(tiny_dia), engines=list(ENGINES),
                    kokoro_model=str(tiny_kokoro), onnx_intra_op_threads=1, sim_batch_cost_s=(0.01, 0.001),
                    zipvoice_model=str(tiny_zipvoice))


# Dia's continuous loop (issue 18) takes the whole engine contract too.  3 slots for the 4-request
# invariance batches, so one request always waits for a slot to free; cache shapes fit a 6 s voice
# prompt (517 frames) plus 40 new frames, and the longest test script.
VARIANTS = {"dia:continuous": ("dia", {"dia_batching": "continuous", "dia_slots": 3, "dia_loop_max_len": 576,
                                       "dia_loop_max_text": 192})}


@pytest.fixture(params=sorted(ENGINES) + sorted(VARIANTS))
def engine(request, engine_settings):
    """Every registered engine (and variant), loaded once per session (as a worker would)."""
    key = request.param
    if key not in _loaded:
        name, overrides = VARIANTS.get(key, (key, {}))
        eng = create_engine(name, engine_settings.model_copy(update=overrides))
        eng.load()
        _loaded[key] = eng
    return _loaded[key]


@pytest.fixture
def dia(engine_settings):
    if "dia" not in _loaded:
        eng = create_engine("dia", engine_settings)
        eng.load()
        _loaded["dia"] = eng
    return _loaded["dia"]
