"""The REST client the client commands share (``--url``, ``--key``), and ``voxfarm voices``.

The job commands (submit, status, download, cancel, book) are in cli/jobs.py.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import requests

from voxfarm.cli.progress import Progress

TERMINAL = {"succeeded", "failed", "canceled"}
_url = click.option("--url", envvar="VOXFARM_URL", default="http://127.0.0.1:8000", show_default=True,
                    help="API base URL (env VOXFARM_URL).")
_key = click.option("--key", envvar="VOXFARM_API_KEY", default=None, help="API key (env VOXFARM_API_KEY).")


def _error_line(resp: requests.Response) -> str:
    try:
        err = resp.json()["error"]
        return f"{resp.status_code} {err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{resp.status_code}: {resp.text[:300]}"


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
            raise click.ClickException(_error_line(resp))
        return resp.json() if resp.content else {}

    def wait(self, job_id: str, progress: bool = True, poll_s: float = 0.5) -> dict:
        """Poll until the job ends, showing chunk progress with the server's ETA."""
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
                    bar = Progress(prog["total"], "chunk", job_id)
                if bar is not None:
                    bar.update(prog["done"], job["status"], eta=f"{prog['eta_s']}s" if prog.get("eta_s") else "-",
                               cached=prog.get("cache_hits", 0))
                if job["status"] in TERMINAL:
                    return job
                time.sleep(poll_s)
        finally:
            if bar is not None:
                bar.close()

    def download(self, job: dict, dest: Path, name: str | None = None) -> Path:
        """The job's audio, or its result file ``name`` (a per-chapter file, chapters.json...)."""
        path = f"/v1/jobs/{job['id']}/files/{name}" if name else f"/v1/jobs/{job['id']}/audio"
        try:
            resp = self.session.get(self.url + path, stream=True, timeout=300)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach {self.url}: {exc}") from None
        if resp.status_code >= 400:
            raise click.ClickException(f"download of {job['id']} failed: {_error_line(resp)}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as fh:
            for block in resp.iter_content(1 << 16):
                fh.write(block)
        return dest


def interrupted(job_id: str, output: str | None) -> None:
    """Ctrl-C while waiting: the job is the farm's, not this command's; say how to get or stop it."""
    dest = f" -o {output}" if output else ""
    click.echo(f"\ninterrupted: job {job_id} goes on rendering on the farm.\n"
               f"  fetch it later:  voxfarm download {job_id}{dest} --wait\n"
               f"  see it:          voxfarm status {job_id}\n"
               f"  cancel it:       voxfarm cancel {job_id}", err=True)
    sys.exit(130)


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
