"""``voxfarm usage``: the tenant's consumption over a window, through the REST API."""

from __future__ import annotations

import json

import click

from voxfarm.cli.client import Client, _key, _url


def _row(name: str, t: dict) -> str:
    return (f"{name:<28} {t['chunks']:>7} {t['cache_hits']:>6} {t['characters']:>10} "
            f"{t['audio_s']:>11.1f} {t['engine_s']:>10.1f}")


@click.command()
@click.option("--from", "from_", default=None, help="Window start, RFC 3339 (e.g. 2026-11-01T00:00:00Z).")
@click.option("--to", default=None, help="Window end (exclusive), RFC 3339.")
@click.option("--job", "job_id", default=None, help="Only this job.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@_url
@_key
def usage(from_: str | None, to: str | None, job_id: str | None, as_json: bool, url: str, key: str | None) -> None:
    """Characters, audio-seconds and engine-seconds used, per engine and job."""
    params = {k: v for k, v in {"from": from_, "to": to, "job_id": job_id}.items() if v}
    data = Client(url, key).call("GET", "/v1/usage", params=params)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"tenant {data['tenant']}  window [{data['from'] or '-'}, {data['to'] or '-'})")
    click.echo(f"{'':<28} {'chunks':>7} {'cached':>6} {'characters':>10} {'audio_s':>11} {'engine_s':>10}")
    click.echo(_row("total", data["total"]))
    for e in data["engines"]:
        click.echo(_row(f"engine {e['engine']}", e))
    for j in data["jobs"]:
        click.echo(_row(j["job_id"], j))
    if data["jobs_truncated"]:
        click.echo("(more jobs: narrow the window or use --job)")
