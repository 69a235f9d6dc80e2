from __future__ import annotations

import pytest

from core.engines import ENGINES
from core.settings import Settings
from worker.engines.base import create_engine

_loaded = {}


@pytest.fixture(scope="session")
def engine_settings(tiny_dia, tiny_kokoro, tiny_zipvoice, tmp_path_factory):
    return Settings(data_dir=tmp_path_factory.mktemp("var"), dia_model=str(tiny_dia), engines=list(ENGINES),
                    kokoro_model=str(tiny_kokoro), onnx_intra_op_threads=1, sim_batch_cost_s=(0.01, 0.001),
                    zipvoice_model=str(tiny_zipvoice))


@pytest.fixture(params=sorted(ENGINES))
def engine(request, engine_settings):
    """Every registered engine, loaded once per session (as a worker would)."""
    name = request.param
    if name not in _loaded:
        eng = create_engine(name, engine_settings)
        eng.load()
        _loaded[name] = eng
    return _loaded[name]


@pytest.fixture
def dia(engine_settings):
    if "dia" not in _loaded:
        eng = create_engine("dia", engine_settings)
        eng.load()
        _loaded["dia"] = eng
    return _loaded["dia"]
