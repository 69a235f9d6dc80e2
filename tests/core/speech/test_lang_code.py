"""A speech request's ``lang_code`` (Kokoro-FastAPI's extension) reaches the kokoro job's params;
an engine without the param refuses it, and a code Kokoro lacks is refused by the schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from voxfarm.core.errors import InvalidInput
from voxfarm.core.speech.requests import submit_speech
from voxfarm.core.speech.schemas import SpeechRequest
from voxfarm.core.tenants.accounts import get_or_create_tenant


def _submit(db, **fields):
    settings = db.test_settings.model_copy(update={"engines": ["kokoro", "piper"]})
    body = SpeechRequest(**{"input": "Hello there.", **fields})
    with db.session() as s:
        job = submit_speech(s, settings, db.test_store, get_or_create_tenant(s, "acme").id, body)
        s.expunge_all()
        return job


def test_lang_code_reaches_the_kokoro_job_apart_from_the_voice(db):
    job = _submit(db, model="kokoro", voice="jm_kumo", lang_code="a")
    assert job.engine == "kokoro" and job.params["voice"] == "jm_kumo" and job.params["lang_code"] == "a"
    assert "lang_code" not in _submit(db, model="kokoro", voice="jm_kumo").params


def test_an_engine_without_lang_code_refuses_it(db):
    with pytest.raises(InvalidInput) as err:
        _submit(db, model="piper", voice="en_US-joe-medium", lang_code="a")
    assert err.value.code == "unsupported_param" and "lang_code" in err.value.message


def test_a_code_kokoro_lacks_is_refused_by_the_schema():
    with pytest.raises(ValidationError):
        SpeechRequest(model="kokoro", input="x", voice="jm_kumo", lang_code="q")
