"""What ``voxfarm models pull`` fetches for each engine: one table of hub repos, pinned revisions and
hashes, and the folder layout each engine loads (nothing here touches the network: cli/models.py does).

A ``Source`` is a hub repo at a revision and the files to take from it (fnmatch patterns; each must
match at least one file there, so a renamed upstream file is an error, not a half model).  ``strip``
drops a folder prefix (k2-fsa/ZipVoice keeps its export under ``zipvoice/``) and ``into`` places the
files in a subfolder (Dia's codec goes to ``dac/``, where worker/engines/dia_setup.py looks).  A
``UrlFile`` is one file published outside the hub (sherpa-onnx's Vocos vocoder, a GitHub release
asset), fetched with the same resuming downloader.

Pins: ``revision`` is a commit; None takes the branch head at the first pull and records the commit
in the folder's manifest (``voxfarm-models.json``), so later checks compare against it.  ``sha256``
pins content; where a file has none, the hub's own LFS sha256 at that revision is checked, and the
computed hash is recorded in the manifest either way.  The pins below were taken from public
references and could not be checked from the machine this was written on: the first real pull on
a machine that reaches the hub checks them (a mismatch stops the pull and keeps nothing).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "voxfarm-models.json"


@dataclass(frozen=True)
class Source:
    repo: str
    revision: str | None
    patterns: tuple[str, ...]
    strip: str = ""
    into: str = ""
    sha256: dict[str, str] = field(default_factory=dict)  # path in the repo -> pinned sha256

    def local_name(self, path: str) -> str:
        return self.into + path.removeprefix(self.strip)

    def wanted(self, paths: list[str]) -> tuple[list[str], list[str]]:
        """(the repo paths to fetch, the patterns that matched none of ``paths``)."""
        chosen = [p for p in paths if any(fnmatch.fnmatchcase(p, pat) for pat in self.patterns)]
        unmatched = [pat for pat in self.patterns if not any(fnmatch.fnmatchcase(p, pat) for p in paths)]
        return chosen, unmatched


@dataclass(frozen=True)
class UrlFile:
    url: str
    local: str
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSet:
    name: str
    env: str  # the setting that points an engine at the folder
    sources: tuple[Source | UrlFile, ...]
    about: str


_VOCOS = UrlFile("https://github.com/k2-fsa/sherpa-onnx/releases/download/vocoder-models/vocos_24khz.onnx",
                 "vocos_24khz.onnx")
_ZIPVOICE_FILES = ("text_encoder.onnx", "fm_decoder.onnx", "tokens.txt", "model.json")
_WHISPER_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.*")

MODELS: dict[str, ModelSet] = {m.name: m for m in (
    ModelSet("kokoro", "VOXFARM_KOKORO_MODEL", (
        Source("fastrtc/kokoro-onnx", None, ("kokoro-v1.0.onnx", "voices-v1.0.bin"), sha256={
            "kokoro-v1.0.onnx": "7d5df8ecf7d4b1878015a32686053fd0eebe2bc377234608764cc0ef3636a6c5",
            "voices-v1.0.bin": "bca610b8308e8d99f32e6fe4197e7ec01679264efed0cac9140fe9c29f1fbf7d"}),
        Source("hexgrad/Kokoro-82M", "fbba31e67ad83eb66394c926627e99d35abeb087", ("config.json",))),
        "Kokoro-82M v1.0, the full kokoro-onnx release: fp32 model, 54 voices (Apache-2.0)"),
    ModelSet("zipvoice", "VOXFARM_ZIPVOICE_MODEL", (
        Source("k2-fsa/ZipVoice", None, tuple(f"zipvoice/{f}" for f in _ZIPVOICE_FILES), strip="zipvoice/"),
        _VOCOS), "ZipVoice, upstream's ONNX export, with sherpa-onnx's Vocos vocoder (Apache-2.0, MIT)"),
    ModelSet("zipvoice_distill", "VOXFARM_ZIPVOICE_MODEL", (
        Source("k2-fsa/ZipVoice", None, tuple(f"zipvoice_distill/{f}" for f in _ZIPVOICE_FILES),
               strip="zipvoice_distill/"), _VOCOS),
        "ZipVoice-Distill (4-8 steps), upstream's ONNX export, with the Vocos vocoder"),
    ModelSet("dia", "VOXFARM_DIA_MODEL", (
        Source("nari-labs/Dia-1.6B-0626", None, ("config.json", "*.safetensors", "*_config.json")),
        Source("descript/dac_44khz", None, ("config.json", "*.safetensors"), into="dac/")),
        "Dia-1.6B-0626 in the transformers layout, with the DAC 44.1 kHz codec in dac/ (Apache-2.0, MIT)"),
    ModelSet("ecapa", "VOXFARM_SPEAKER_MODEL", (
        Source("speechbrain/spkrec-ecapa-voxceleb", None,
               ("hyperparams.yaml", "embedding_model.ckpt", "mean_var_norm_emb.ckpt", "classifier.ckpt",
                "label_encoder.txt")),), "ECAPA-TDNN speaker encoder for the speaker gate (Apache-2.0)"),
    ModelSet("whisper-base.en", "VOXFARM_ASR_MODEL", (
        Source("Systran/faster-whisper-base.en", "3d3d5dee26484f91867d81cb899cfcf72b96be6c", _WHISPER_FILES),),
        "Whisper base.en for read-back (CTranslate2, MIT)"),
    ModelSet("whisper-small.en", "VOXFARM_ASR_MODEL", (
        Source("Systran/faster-whisper-small.en", "d1d751a5f8271d482d14ca55d9e2deeebbae577f", _WHISPER_FILES),),
        "Whisper small.en for read-back (CTranslate2, MIT)"),
    ModelSet("whisper-small", "VOXFARM_ASR_MODEL", (
        Source("Systran/faster-whisper-small", None, _WHISPER_FILES),),
        "Whisper small, multilingual: read-back of Japanese and other languages (CTranslate2, MIT)"),
)}


def default_dir(data_dir: str | Path, name: str) -> Path:
    return Path(data_dir).expanduser().resolve() / "models" / name


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def missing_files(model: ModelSet, folder: Path) -> list[str]:
    """What ``folder`` lacks for ``model``: the manifest's files when a pull wrote one (a file of the
    wrong size counts as missing), else each pattern with no local match."""
    if not folder.is_dir():
        return [f"{folder} (no such folder)"]
    manifest = read_manifest(folder).get("files", {})
    if manifest:
        return [name for name, entry in manifest.items()
                if not (folder / name).is_file() or (folder / name).stat().st_size != entry.get("size")]
    local = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()]
    out = []
    for source in model.sources:
        if isinstance(source, UrlFile):
            out += [] if source.local in local else [source.local]
            continue
        out += [source.local_name(pat) for pat in source.patterns
                if not any(fnmatch.fnmatchcase(name, source.local_name(pat)) for name in local)]
    return out
