"""Voice catalogue: Piper voice folders, Kokoro voice names from both layouts, blends."""

from __future__ import annotations

import json

import onnx
import pytest

from scripts.make_tiny_kokoro import VOICES, make_tiny_kokoro
from voxfarm.core.engines.catalog import (
    BUNDLED_PIPER,
    check_voice,
    engine_voices,
    kokoro_files,
    kokoro_voice_names,
    onnx_metadata,
    parse_blend,
    piper_voices,
)
from voxfarm.core.errors import InvalidInput
from voxfarm.core.settings import Settings


def _voice_dir(tmp_path, name: str, **cfg):
    (tmp_path / f"{name}.onnx").write_bytes(b"not read by the catalogue")
    base = {"audio": {"sample_rate": 16000}, "espeak": {"voice": "de"}, "language": {"code": "de_DE"},
            "num_speakers": 1, "phoneme_id_map": {}}
    (tmp_path / f"{name}.onnx.json").write_text(json.dumps({**base, **cfg}))


def test_piper_lists_the_bundled_voice_and_a_folder(tmp_path):
    _voice_dir(tmp_path, "de_DE-test-low")
    _voice_dir(tmp_path, "en_GB-multi-medium", num_speakers=3, speaker_id_map={"b": 1, "a": 0, "c": 2})
    (tmp_path / "orphan.onnx").write_bytes(b"no json beside it")
    voices = piper_voices(Settings(piper_voices=tmp_path))
    assert set(voices) == {BUNDLED_PIPER, "de_DE-test-low", "en_GB-multi-medium"}
    assert voices[BUNDLED_PIPER].bundled and voices[BUNDLED_PIPER].sample_rate == 22050
    assert voices["de_DE-test-low"].sample_rate == 16000 and voices["de_DE-test-low"].language == "de_DE"
    assert voices["en_GB-multi-medium"].speakers == ("a", "b", "c")  # in id order
    assert set(piper_voices(Settings())) == {BUNDLED_PIPER}


@pytest.mark.parametrize("layout", ["sherpa", "kokoro-onnx"])
def test_kokoro_voice_names_from_either_layout(tmp_path, layout):
    folder = make_tiny_kokoro(tmp_path / layout, layout)
    files = kokoro_files(folder)
    assert kokoro_voice_names(files) == sorted(VOICES)
    assert [v["name"] for v in engine_voices("kokoro", Settings(kokoro_model=str(folder)))] == sorted(VOICES)


def test_onnx_metadata_matches_the_onnx_package(tiny_kokoro):
    model = kokoro_files(tiny_kokoro).model
    reference = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    assert onnx_metadata(model) == reference and reference["speaker_names"]


def test_missing_kokoro_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="VOXFARM_KOKORO_MODEL"):
        kokoro_files(None)
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="no voices file in .*voices-v1.0.bin"):
        kokoro_files(tmp_path)
    assert engine_voices("kokoro", Settings(kokoro_model=str(tmp_path))) is None


def test_blends_normalise_their_weights():
    assert parse_blend("af_bella") == [("af_bella", 1.0)]
    assert parse_blend("af_bella:3,af_sky:1") == [("af_bella", 0.75), ("af_sky", 0.25)]
    for bad in ("af_bella:x", "a:0,b:0", ""):
        with pytest.raises(ValueError):
            parse_blend(bad)


def test_check_voice_refuses_unknown_voices(tiny_kokoro):
    s = Settings(kokoro_model=str(tiny_kokoro))
    check_voice("kokoro", "af_bella:0.6,am_adam:0.4", s)
    check_voice("piper", BUNDLED_PIPER, s)
    with pytest.raises(InvalidInput) as err:
        check_voice("kokoro", "af_bella:0.5,af_nobody:0.5", s)
    assert err.value.code == "unknown_voice" and "af_nobody" in err.value.message
    assert err.value.details["allowed"] == sorted(VOICES)
    with pytest.raises(InvalidInput):
        check_voice("piper", "af_bella", s)
