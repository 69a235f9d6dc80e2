"""``lang_code`` (Kokoro-FastAPI's): the phonemiser's language apart from the voice, by default the
voice's first letter; it decides how the job's text is cut into sentences."""

from __future__ import annotations

import pytest

from voxfarm.core.engines.languages import KOKORO_LANGUAGES, engine_languages, kokoro_lang_code, text_language
from voxfarm.core.engines.params import validate_params
from voxfarm.core.engines.registry import ENGINES, describe_engine
from voxfarm.core.errors import InvalidInput
from voxfarm.core.settings import Settings


@pytest.mark.parametrize("params,code", [
    ({"voice": "jf_alpha"}, "j"), ({"voice": "af_bella"}, "a"), ({"voice": "bf_emma:0.5,af_sky:0.5"}, "b"),
    ({"voice": "jm_kumo", "lang_code": "a"}, "a"), ({"voice": "af_bella", "lang_code": "j"}, "j"),
    ({}, "a"), ({"voice": "xx_unknown"}, "a"),
])
def test_lang_code_is_given_or_the_voices_first_letter(params, code):
    assert kokoro_lang_code(params) == code


def test_the_job_language_follows_lang_code_for_kokoro_and_language_elsewhere():
    assert text_language("kokoro", {"voice": "jf_alpha"}) == "ja"
    assert text_language("kokoro", {"voice": "jf_alpha", "lang_code": "a"}) == "en"
    assert text_language("espeak", {"language": "fr-fr"}) == "fr"
    assert text_language("piper", {}) == "en"


def test_kokoro_takes_only_known_codes_and_lists_them():
    spec = ENGINES["kokoro"]
    assert validate_params("kokoro", spec.param_specs, {"lang_code": "j"}) == {"lang_code": "j"}
    for bad in ("x", "ja", "A"):
        with pytest.raises(InvalidInput) as err:
            validate_params("kokoro", spec.param_specs, {"lang_code": bad})
        assert err.value.code == "invalid_param"
    with pytest.raises(InvalidInput) as err:
        validate_params("piper", ENGINES["piper"].param_specs, {"lang_code": "a"})
    assert err.value.code == "unsupported_param"
    listed = describe_engine(spec, Settings())["lang_codes"]
    assert [entry["lang_code"] for entry in listed] == list(KOKORO_LANGUAGES) == list("abefhijpz")
    assert next(e for e in listed if e["lang_code"] == "j")["language"] == "ja"
    assert engine_languages("piper") is None
