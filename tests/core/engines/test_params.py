"""Per-engine params: types, ranges, unknown names; the 422 lists what the engine accepts."""

from __future__ import annotations

import pytest

from voxfarm.core.engines.params import ParamSpec, validate_params
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.errors import InvalidInput


def _check(engine: str, given: dict) -> dict:
    spec = ENGINES[engine]
    return validate_params(engine, spec.param_specs, given, spec.defaults)


def test_values_in_range_pass_and_take_their_types():
    assert _check("piper", {"speed": 2, "noise_w": 0.5, "voice": "en_US-joe-medium"}) == \
        {"speed": 2.0, "noise_w": 0.5, "voice": "en_US-joe-medium"}
    out = _check("espeak", {"speed": 200.0, "language": "en-gb"})
    assert out == {"speed": 200, "language": "en-gb"} and isinstance(out["speed"], int)
    assert _check("kokoro", {"voice": "af_bella:0.7,af_sky:0.3", "speed": 0.5})["speed"] == 0.5


def test_unknown_param_lists_every_allowed_one_with_its_range():
    with pytest.raises(InvalidInput) as err:
        _check("piper", {"temperature": 1.0})
    e = err.value
    assert e.status == 422 and e.code == "unsupported_param"
    for name in ("seed", "voice", "speaker", "speed", "noise_scale", "noise_w"):
        assert name in e.message
    assert "speed (float >=0.25 <=4)" in e.message
    assert [a["name"] for a in e.details["allowed"]] == list(ENGINES["piper"].params)
    assert e.details["unknown"] == ["temperature"]


@pytest.mark.parametrize("engine,given,fragment", [
    ("piper", {"speed": 5.0}, "speed must be float >=0.25 <=4"),
    ("piper", {"speed": 0.1}, "speed must be float >=0.25 <=4"),
    ("kokoro", {"speed": 2.5}, "speed must be float >=0.5 <=2"),
    ("piper", {"speed": "fast"}, "speed must be a number"),
    ("piper", {"noise_w": True}, "noise_w must be a number"),
    ("espeak", {"speed": 175.5}, "speed must be an integer"),
    ("dia", {"temperature": 0}, "temperature must be float >0 <=3"),
    ("dia", {"top_k": 0}, "top_k must be int >=1 <=1024"),
    ("piper", {"speed": float("nan")}, "speed must be a finite number"),
    ("espeak", {"language": "EN US"}, "language must match"),
    ("kokoro", {"voice": "a" * 201}, "voice must be a non-empty string of at most 200"),
])
def test_bad_values_are_refused_naming_the_param(engine, given, fragment):
    with pytest.raises(InvalidInput) as err:
        _check(engine, given)
    assert err.value.code == "invalid_param" and fragment in err.value.message
    assert "it accepts" in err.value.message and err.value.details["allowed"]


def test_boundaries_are_inclusive_unless_declared_exclusive():
    spec = ParamSpec("x", "float", 0.0, 1.0)
    assert spec.coerce(0.0) == 0.0 and spec.coerce(1) == 1.0
    exclusive = ParamSpec("t", "float", 0.0, 1.0, min_exclusive=True)
    with pytest.raises(ValueError):
        exclusive.coerce(0.0)
    assert exclusive.describe(0.5) == {"name": "t", "type": "float", "default": 0.5,
                                       "exclusive_minimum": 0.0, "maximum": 1.0}


def test_every_engine_declares_seed_and_describes_its_params():
    for spec in ENGINES.values():
        assert "seed" in spec.params
        for p in spec.param_specs:
            d = p.describe(spec.defaults.get(p.name))
            if spec.defaults.get(p.name) is not None:  # defaults are themselves valid values
                assert p.coerce(spec.defaults[p.name]) == d["default"]
