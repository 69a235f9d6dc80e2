"""Client commands: they use the REST API like any other client (``--url``, ``--key``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import requests

from voxfarm.cli.textfile import read_text

TERMINAL = {"succeeded", "failed", "canceled"}
_url = click.option("--url", envvar="VOXFARM_URL", default="http://127.0.0.1:8000", show_default=True,
                    help="API base URL (env VOXFARM_URL).")
_key = click.option("--key", envvar="VOXFARM_API_KEY", default=None, help="API key (env VOXFARM_API_KEY).")


class Client:
    def __init__(self, url: str, key: str | None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs) -> dict:
        try:
            resp = self.session.request(method, self.url + path, timeout=60, **kwargs)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach {self.url}: {exc}") from None
        if resp.status_code >= 400:
            try:
                err = resp.json()["error"]
                raise click.ClickException(f"{resp.status_code} {err['code']}: {err['message']}")
            except (ValueError, KeyError):
                raise click.ClickException(f"{resp.status_code}: {resp.text[:300]}") from None
        return resp.json() if resp.content else {}

    def wait(self, job_id: str, progress: bool = True, poll_s: float = 0.5) -> dict:
        """Poll until the job ends, drawing a chunk progress bar with the server's ETA."""
        from tqdm import tqdm

        bar = None
        told = None
        try:
            while True:
                job = self.call("GET", f"/v1/jobs/{job_id}")
                if job.get("waiting_for") != told:  # say once why it waits, and again if that changes
                    told = job.get("waiting_for")
                    if told:
                        click.echo(f"job {job_id} is waiting for a {told.replace('_', ' ')}: "
                                   f"{job.get('waiting_message')}", err=True)
                prog = job["progress"]
                if progress and bar is None and prog["total"]:
                    bar = tqdm(total=prog["total"], unit="chunk", desc=job_id[-8:], file=sys.stderr)
                if bar is not None:
                    bar.n = prog["done"]
                    bar.set_postfix(status=job["status"], eta=f"{prog['eta_s']}s" if prog.get("eta_s") else "-",
                                    cached=prog.get("cache_hits", 0))
                    bar.refresh()
                if job["status"] in TERMINAL:
                    return job
                time.sleep(poll_s)
        finally:
            if bar is not None:
                bar.close()

    def download(self, job: dict, dest: Path, name: str | None = None) -> Path:
        """The job's audio, or its result file ``name`` (a per-chapter file, chapters.json...)."""
        path = f"/v1/jobs/{job['id']}/files/{name}" if name else f"/v1/jobs/{job['id']}/audio"
        resp = self.session.get(self.url + path, stream=True, timeout=300)
        if resp.status_code >= 400:
            raise click.ClickException(f"download failed: {resp.status_code} {resp.text[:200]}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as fh:
            for block in resp.iter_content(1 << 16):
                fh.write(block)
        return dest


def _finish(client: Client, job: dict, wait: bool, output: str | None) -> dict:
    if not wait and not output:
        click.echo(json.dumps(job, indent=2))
        return job
    job = client.wait(job["id"])
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
@click.option("--voice", "voice_id", default=None, help="A registered voice id (engines that clone).")
@click.option("--format", "fmt", default=None, type=click.Choice(["wav", "flac", "mp3", "ogg", "m4b"]))
@click.option("--param", "params", multiple=True, help="Sampling param, e.g. --param seed=7")
@click.option("--markdown", is_flag=True, help="TEXT is Markdown ('#' headings start chapters).")
@click.option("--webhook", default=None, help="URL to notify when the job ends.")
@click.option("--idempotency-key", default=None)
@click.option("--wait", is_flag=True, help="Wait for the job to end (with a progress bar).")
@click.option("-o", "--output", default=None, help="Write the audio here (implies --wait).")
def submit(text, url, key, engine, voice_id, fmt, params, markdown, webhook, idempotency_key, wait, output):
    """Submit TEXT for synthesis ('-' reads stdin, '@file' reads a file)."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = read_text(Path(text[1:]))
    body: dict = {"text": text, "text_format": "markdown" if markdown else "auto"}
    if engine:
        body["engine"] = engine
    if voice_id:
        body["voice_id"] = voice_id
    if fmt or output:
        body["output"] = {"format": fmt or Path(output).suffix.lstrip(".") or "wav"}
    if webhook:
        body["webhook"] = {"url": webhook}
    if params:
        body["params"] = {k: _coerce(v) for k, _, v in (p.partition("=") for p in params)}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    client = Client(url, key)
    _finish(client, client.call("POST", "/v1/jobs", json=body, headers=headers), wait, output)


def _coerce(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


@click.command()
@click.argument("job_id")
@_url
@_key
@click.option("--wait", is_flag=True)
def status(job_id, url, key, wait):
    """Show a job (optionally wait for it to end)."""
    client = Client(url, key)
    job = client.wait(job_id) if wait else client.call("GET", f"/v1/jobs/{job_id}")
    click.echo(json.dumps(job, indent=2))
    if job.get("waiting_for"):
        click.echo(f"waiting for a {job['waiting_for'].replace('_', ' ')}: {job.get('waiting_message')}", err=True)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_url
@_key
@click.option("--voice", "voice_id", default=None)
@click.option("--engine", default=None)
@click.option("--seed", type=int, default=None, help="Job seed (same seed = same takes, cache reuse).")
@click.option("--title", default=None)
@click.option("--author", default=None)
@click.option("--per-chapter", is_flag=True, help="Also produce one file per chapter.")
@click.option("-o", "--output", required=True, help="book.m4b, book.mp3, ... (format from the suffix)")
def book(file, url, key, voice_id, engine, seed, title, author, per_chapter, output):
    """Render a book (EPUB, Markdown or text) to one file, showing chunk progress and ETA."""
    path = Path(file)
    fmt = Path(output).suffix.lstrip(".").lower() or "m4b"
    body: dict = {"output": {"format": fmt, "per_chapter": per_chapter}}
    epub = path.suffix.lower() == ".epub"
    if not epub:
        body["text"] = read_text(path)
        body["text_format"] = "markdown" if path.suffix.lower() in (".md", ".markdown") else "auto"
    for name, value in (("voice_id", voice_id), ("engine", engine), ("title", title), ("author", author)):
        if value:
            body[name] = value
    if seed is not None:
        body["params"] = {"seed": seed}
    client = Client(url, key)
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


@click.group()
def voices() -> None:
    """Register, list and delete voice prompts."""


@voices.command("add")
@click.argument("audio", type=click.Path(exists=True, dir_okay=False))
@_url
@_key
@click.option("--name", required=True)
@click.option("--transcript", required=True, help="What the recording says (Dia: with [S1] tags).")
def voices_add(audio, url, key, name, transcript):
    client = Client(url, key)
    with open(audio, "rb") as fh:
        voice = client.call("POST", "/v1/voices", data={"name": name, "transcript": transcript},
                            files={"audio_file": (Path(audio).name, fh)})
    click.echo(json.dumps(voice, indent=2))
    click.echo(voice["id"])


@voices.command("list")
@_url
@_key
def voices_list(url, key):
    for v in Client(url, key).call("GET", "/v1/voices?limit=200")["data"]:
        click.echo(f"{v['id']}  {v['duration_s']:6.2f}s  {v['name']}")


@voices.command("delete")
@click.argument("voice_id")
@_url
@_key
def voices_delete(voice_id, url, key):
    Client(url, key).call("DELETE", f"/v1/voices/{voice_id}")
    click.echo(f"deleted {voice_id}")
