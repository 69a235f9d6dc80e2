"""Job commands over the REST API: ``submit``, ``status``, ``download``, ``cancel``, ``book``.

``--voice`` names a pre-made voice on engines that have them (piper, kokoro) and a registered voice
(id or name) on engines that clone; ``--format`` takes every format the API writes and its quality
presets (mp3_v0...).  A Ctrl-C while waiting leaves the job rendering and says how to fetch or
cancel it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import get_args

import click

from voxfarm.cli.client import Client, _key, _url, interrupted
from voxfarm.cli.textfile import read_text
from voxfarm.core.schemas import OutputFormat, OutputPreset

FORMATS = [*get_args(OutputFormat), *get_args(OutputPreset)]
_VOICE_ID = re.compile(r"^voice_[0-9A-HJKMNP-TV-Z]{26}$")
_params = click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                       help="Engine param (repeatable), e.g. --param seed=7 --param speed=1.1 (GET /v1/engines).")
_voice = click.option("--voice", default=None, help="A pre-made voice (piper: en_US-joe-medium; kokoro: af_bella), "
                      "or a registered voice id or name (engines that clone).")


def _coerce(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def parse_params(params: tuple[str, ...]) -> dict:
    out = {}
    for p in params:
        name, eq, value = p.partition("=")
        if not eq or not name.strip():
            raise click.BadParameter(f"{p!r}: write NAME=VALUE", param_hint="--param")
        out[name.strip()] = _coerce(value)
    return out


def output_spec(fmt: str | None, output: str | None, default: str = "wav") -> dict:
    """``{"format"}`` or ``{"preset"}`` from --format, else from the -o suffix."""
    name = (fmt or (Path(output).suffix.lstrip(".").lower() if output else "") or default)
    if name in get_args(OutputPreset):
        return {"preset": name}
    if name not in get_args(OutputFormat):
        raise click.BadParameter(f"{name!r} is not a format the farm writes ({', '.join(FORMATS)})",
                                 param_hint="--format / -o")
    return {"format": name}


def voice_fields(client: Client, engine: str | None, voice: str) -> dict:
    """``{"voice": ...}`` for an engine's own voice, ``{"voice_id": ...}`` for a registered one."""
    if _VOICE_ID.match(voice):
        return {"voice_id": voice}
    served = client.call("GET", "/v1/engines")["data"]
    if engine is not None:
        target = [e for e in served if e["name"] == engine]
        if target and not target[0]["clones_voices"] and any(p["name"] == "voice" for p in target[0]["params"]):
            return {"voice": voice}  # the server says which voices it has if this is not one
        return {"voice_id": voice}
    names = {v["name"] for e in served for v in (e.get("voices") or [])}
    if voice.split(":")[0].split(",")[0] in names:
        return {"voice": voice}
    return {"voice_id": voice}


def _finish(client: Client, job: dict, wait: bool, output: str | None) -> dict:
    if not wait and not output:
        click.echo(json.dumps(job, indent=2))
        return job
    try:
        job = client.wait(job["id"])
    except KeyboardInterrupt:
        interrupted(job["id"], output)
    if job["status"] != "succeeded":
        err = job.get("error") or {}
        raise click.ClickException(f"job {job['id']} {job['status']}: {err.get('code')} {err.get('message')}")
    if output:
        path = client.download(job, Path(output))
        click.echo(f"job {job['id']} succeeded: {job['result']['duration_s']:.2f}s of audio")
        click.echo(str(path.resolve()))
    else:
        click.echo(json.dumps(job, indent=2))
    return job


@click.command()
@click.argument("text")
@_url
@_key
@click.option("--engine", default=None)
@_voice
@click.option("--format", "fmt", default=None, type=click.Choice(FORMATS), help="Default: from -o, else wav.")
@_params
@click.option("--markdown", is_flag=True, help="TEXT is Markdown ('#' headings start chapters).")
@click.option("--webhook", default=None, help="URL to notify when the job ends.")
@click.option("--idempotency-key", default=None)
@click.option("--wait", is_flag=True, help="Wait for the job to end (with progress).")
@click.option("-o", "--output", default=None, help="Write the audio here (implies --wait).")
def submit(text, url, key, engine, voice, fmt, params, markdown, webhook, idempotency_key, wait, output):
    """Submit TEXT for synthesis ('-' reads stdin, '@file' reads a file)."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = read_text(Path(text[1:]))
    body: dict = {"text": text, "text_format": "markdown" if markdown else "auto"}
    client = Client(url, key)
    if engine:
        body["engine"] = engine
    if voice:
        body.update(voice_fields(client, engine, voice))
    if fmt or output:
        body["output"] = output_spec(fmt, output)
    if webhook:
        body["webhook"] = {"url": webhook}
    if params:
        body["params"] = parse_params(params)
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    _finish(client, client.call("POST", "/v1/jobs", json=body, headers=headers), wait, output)


@click.command()
@click.argument("job_id")
@_url
@_key
@click.option("--wait", is_flag=True, help="Wait for the job to end (with progress).")
@click.option("-o", "--output", default=None, help="Download the audio here when it succeeds (implies --wait).")
def status(job_id, url, key, wait, output):
    """Show a job; --wait follows it to the end, -o also downloads its audio."""
    client = Client(url, key)
    if wait or output:
        _finish(client, {"id": job_id}, True, output)
        return
    job = client.call("GET", f"/v1/jobs/{job_id}")
    click.echo(json.dumps(job, indent=2))
    if job.get("waiting_for"):
        click.echo(f"waiting for a {job['waiting_for'].replace('_', ' ')}: {job.get('waiting_message')}", err=True)


@click.command()
@click.argument("job_id")
@_url
@_key
@click.option("-o", "--output", default=None, help="Where to write it (default: JOB_ID.<format> here).")
@click.option("--file", "name", default=None, help="A result file instead of the audio (chapter-001.mp3, "
              "chapters.json, metadata.json...; GET /v1/jobs/ID lists them).")
@click.option("--wait", is_flag=True, help="Wait for a job that is still rendering.")
def download(job_id, url, key, output, name, wait):
    """Download a finished job's audio (or one of its files)."""
    client = Client(url, key)
    job = client.call("GET", f"/v1/jobs/{job_id}")
    if job["status"] not in ("succeeded", "failed", "canceled") and wait:
        try:
            job = client.wait(job_id)
        except KeyboardInterrupt:
            interrupted(job_id, output)
    if job["status"] in ("queued", "running"):
        prog = job["progress"]
        raise click.ClickException(f"job {job_id} is {job['status']} ({prog['done']}/{prog['total']} chunks): "
                                   "nothing to download yet; add --wait to wait for it")
    if job["status"] != "succeeded":
        raise click.ClickException(f"job {job_id} {job['status']}: nothing to download")
    dest = Path(output or name or f"{job_id}.{job['result']['format']}")
    click.echo(str(client.download(job, dest, name=name).resolve()))


@click.command()
@click.argument("job_id")
@_url
@_key
def cancel(job_id, url, key):
    """Cancel a job: queued chunks never render; what is on the engine is dropped."""
    job = Client(url, key).call("POST", f"/v1/jobs/{job_id}/cancel")
    click.echo(f"job {job_id} {job.get('status', 'canceled')}")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_url
@_key
@_voice
@click.option("--engine", default=None)
@_params
@click.option("--seed", type=int, default=None, help="Job seed (same seed = same takes, cache reuse).")
@click.option("--title", default=None)
@click.option("--author", default=None)
@click.option("--per-chapter", is_flag=True, help="Also produce one file per chapter.")
@click.option("-o", "--output", required=True, help="book.m4b, book.mp3, ... (format from the suffix)")
def book(file, url, key, voice, engine, params, seed, title, author, per_chapter, output):
    """Render a book (EPUB, Markdown or text) to one file, showing chunk progress and ETA."""
    path = Path(file)
    body: dict = {"output": {**output_spec(None, output, "m4b"), "per_chapter": per_chapter}}
    epub = path.suffix.lower() == ".epub"
    if not epub:
        body["text"] = read_text(path)
        body["text_format"] = "markdown" if path.suffix.lower() in (".md", ".markdown") else "auto"
    for name, value in (("engine", engine), ("title", title), ("author", author)):
        if value:
            body[name] = value
    given = parse_params(params) | ({"seed": seed} if seed is not None else {})
    if given:
        body["params"] = given
    client = Client(url, key)
    if voice:
        body.update(voice_fields(client, engine, voice))
    if epub:  # the file itself, as multipart: no base64 inflation, the full document limit
        with open(path, "rb") as fh:
            job = client.call("POST", "/v1/jobs/upload", data={"job": json.dumps(body)},
                              files={"document": (path.name, fh, "application/epub+zip")})
    else:
        job = client.call("POST", "/v1/jobs", json=body)
    click.echo(f"submitted {job['id']}: {job['progress']['total']} chunks", err=True)
    job = _finish(client, job, True, output)
    if per_chapter:
        # beside the book: novel.m4b -> novel-chapters/chapter-001.m4b, ...
        folder = Path(output).with_name(Path(output).stem + "-chapters")
        names = sorted(n for n in job["result"]["files"] if n.startswith("chapter-"))
        for name in names:
            click.echo(str(client.download(job, folder / name, name=name).resolve()))
        click.echo(f"{len(names)} chapter files in {folder.resolve()}", err=True)
