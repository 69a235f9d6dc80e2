"""``voxfarm batch CONFIG.json``: render a generation config as one batch and download its files.

The batch is submitted once: its Idempotency-Key is derived from the config's content, and the
chosen seed and batch id are kept in ``OUTPUT_DIR/.voxfarm-batch.json``, so a rerun (after a crash,
or to fetch what was missing) finds the same batch instead of rendering it again.  Files already on
disk whose sha256 equals the job's result sha256 are not downloaded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, get_args

import click
import requests

from voxfarm.cli import batch_config
from voxfarm.cli.batch_config import ConfigError, Plan
from voxfarm.cli.client import Client, _key, _url
from voxfarm.cli.progress import Progress
from voxfarm.core.schemas import OutputFormat, OutputPreset

STATE = ".voxfarm-batch.json"
TERMINAL = {"succeeded", "failed", "canceled"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _enum(doc: dict, field: str) -> list[str] | None:
    schema = doc.get("components", {}).get("schemas", {}).get("OutputSpec", {}).get("properties", {}).get(field, {})
    for branch in [schema, *schema.get("anyOf", [])]:
        if isinstance(branch, dict) and "enum" in branch:
            return list(branch["enum"])
    return None


def _server_formats(client: Client) -> tuple[list[str], list[str]]:
    """The output formats and quality presets the farm's OpenAPI document says it accepts."""
    doc = client.call("GET", "/openapi.json")
    return (_enum(doc, "format") or list(get_args(OutputFormat)),
            _enum(doc, "preset") or list(get_args(OutputPreset)))


def _state(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / STATE).read_text())
    except (OSError, ValueError):
        return {}


def _plan(config: Path, formats: tuple[list[str], list[str]]) -> Plan:
    try:
        cfg, base = batch_config.load(config)
        first = batch_config.plan(cfg, base, cfg.generation.seed, *formats)
        if cfg.generation.seed != -1:
            return first
        known = _state(first.output_dir)  # a rerun keeps the seed its first run recorded
        seed = known["seed"] if known.get("digest") == first.digest else \
            batch_config.derived_seed(first.digest, first.output_dir)
        return batch_config.plan(cfg, base, seed, *formats)
    except ConfigError as exc:
        raise click.ClickException(f"{config}: invalid config\n{exc}") from None


def _manifest(client: Client, batch_id: str) -> list[dict[str, Any]]:
    try:
        resp = client.session.get(f"{client.url}/v1/batches/{batch_id}/manifest", timeout=120)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach {client.url}: {exc}") from None
    if resp.status_code >= 400:
        raise click.ClickException(f"manifest: {resp.status_code} {resp.text[:300]}")
    return [json.loads(line) for line in resp.text.splitlines() if line.strip()]


def _submit(client: Client, p: Plan) -> str:
    out = p.output_dir
    known = _state(out)
    if known.get("digest") == p.digest and known.get("batch_id"):
        resp = client.session.get(f"{client.url}/v1/batches/{known['batch_id']}", timeout=60)
        if resp.status_code == 200:
            return known["batch_id"]
    key = f"voxfarm-batch-{p.digest[:48]}-{p.seed}"
    try:
        resp = client.session.post(f"{client.url}/v1/batches", json=batch_config.batch_request(p),
                                   headers={"Idempotency-Key": key}, timeout=600)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach {client.url}: {exc}") from None
    if resp.status_code >= 400:
        try:
            err = resp.json()["error"]
        except (ValueError, KeyError):
            raise click.ClickException(f"{resp.status_code}: {resp.text[:300]}") from None
        details = err.get("details") if isinstance(err.get("details"), dict) else {}
        if "index" in details:  # name the sample, not only its index in the batch
            item, inner = p.items[details["index"]], details.get("error") or {}
            raise click.ClickException(f"the farm refused the batch, nothing was rendered: item {item.index} "
                                       f"({item.prompt[:60]!r}): {inner.get('code')}: {inner.get('message')}")
        raise click.ClickException(f"{resp.status_code} {err.get('code')}: {err.get('message')}")
    batch = resp.json()
    out.mkdir(parents=True, exist_ok=True)
    (out / STATE).write_text(json.dumps({"digest": p.digest, "seed": p.seed, "batch_id": batch["id"]}))
    return batch["id"]


def _collect(client: Client, p: Plan, batch_id: str, rec: dict[str, Any]) -> tuple[str | None, bool]:
    """Save one finished item: (failure message or None, whether a file was downloaded)."""
    item = p.items[rec["index"]]
    label = f"item {item.index} ({item.name})"
    if rec["status"] != "succeeded":
        err = rec.get("error") or {}
        return f"{label}: {rec['status']}: {err.get('code')} {err.get('message') or ''}".rstrip(), False
    limit = p.config.output.max_duration_s
    if limit is not None and (rec.get("duration_s") or 0) > limit:
        return f"{label}: {rec['duration_s']:.2f}s is longer than max_duration_s ({limit}s)", False
    dest = p.output_dir / f"{item.name}.{p.fmt}"
    fetched = False
    if not (dest.exists() and _sha256(dest) == rec["sha256"]):
        partial = dest.with_name(dest.name + ".part")
        client.download({"id": rec["job_id"]}, partial)
        if _sha256(partial) != rec["sha256"]:
            partial.unlink()
            return f"{label}: the download does not match the job's sha256", False
        os.replace(partial, dest)
        fetched = True
    sidecar = dest.with_name(f"{item.name}.json")
    if p.config.output.save_metadata and (fetched or not sidecar.exists()):
        sidecar.write_text(json.dumps({
            "index": item.index, "prompt": item.prompt, "voice": item.voice, "engine": p.engine,
            "params": item.params, "seed": p.seed, "file": dest.name, "format": p.fmt, "sha256": rec["sha256"],
            "duration_s": rec.get("duration_s"), "job_id": rec["job_id"], "batch_id": batch_id}, indent=2))
    return None, fetched


@click.command("batch")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_url
@_key
@click.option("--dry-run", is_flag=True, help="Validate the config and print the plan; submit nothing.")
@click.option("--poll", default=1.0, show_default=True, type=float, help="Seconds between progress polls.")
def batch(config: Path, url: str, key: str | None, dry_run: bool, poll: float) -> None:
    """Render a generation config (JSON) as one batch; download every file as it completes."""
    client = Client(url, key)
    local = (list(get_args(OutputFormat)), list(get_args(OutputPreset)))
    p = _plan(config, local if dry_run else _server_formats(client))
    if dry_run:
        click.echo(f"config {config}: valid\n{len(p.items)} items, engine {p.engine or '(farm default)'}, "
                   f"seed {p.seed}, format {p.fmt}{f' (preset {p.preset})' if p.preset else ''}, "
                   f"naming {p.config.output.file_naming}\n"
                   f"output: {p.output_dir}")
        for it in p.items[:10]:
            click.echo(f"  {it.name}.{p.fmt}  voice={it.voice or '-'}  {it.prompt[:60]!r}")
        if len(p.items) > 10:
            click.echo(f"  ... and {len(p.items) - 10} more")
        return
    batch_id = _submit(client, p)
    failures: list[str] = []
    handled: set[int] = set()
    downloaded = 0
    with Progress(len(p.items), "file", batch_id) as bar:
        while len(handled) < len(p.items):
            for rec in _manifest(client, batch_id):
                if rec["index"] in handled or rec["status"] not in TERMINAL:
                    continue
                failure, fetched = _collect(client, p, batch_id, rec)
                handled.add(rec["index"])
                downloaded += fetched
                if failure:
                    failures.append(failure)
                bar.advance()
            if len(handled) < len(p.items):
                time.sleep(poll)
    click.echo(f"batch {batch_id}: {len(p.items) - len(failures)} files in {p.output_dir} "
               f"({downloaded} downloaded, {len(p.items) - len(failures) - downloaded} already there)")
    if failures:
        click.echo(f"{len(failures)} failed:\n" + "\n".join(f"  {f}" for f in failures), err=True)
        sys.exit(1)
