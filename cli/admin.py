"""Administration commands that talk to the database directly: API keys, workers.

They find the database as every other command does (``--data-dir``, ``VOXFARM_DATA_DIR``,
``VOXFARM_DATABASE_URL``) and refuse, in one line naming it, a database without the schema.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from voxfarm.core.clock import iso, utcnow
from voxfarm.core.db import Database
from voxfarm.core.errors import VoxfarmError
from voxfarm.core.fleet.workers import is_live
from voxfarm.core.migrate import require_schema
from voxfarm.core.models import WorkerRow
from voxfarm.core.settings import Settings, load_settings
from voxfarm.core.tenants.accounts import create_key, list_keys, revoke_key

data_dir_option = click.option("--data-dir", default=None, type=click.Path(file_okay=False),
                               help="The farm's data dir (env VOXFARM_DATA_DIR; default ./var); "
                                    "VOXFARM_DATABASE_URL wins for the database.")


def admin_settings(data_dir: str | None) -> Settings:
    """Settings for an admin command, after checking that their database holds the schema."""
    settings = load_settings(data_dir=data_dir)
    try:
        require_schema(settings)
    except VoxfarmError as exc:
        raise click.ClickException(exc.message) from None
    return settings


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant name (created if new).")
@data_dir_option
def keys_create(tenant: str, data_dir: str | None) -> None:
    """Create a key; the key alone is printed on the last line (it is not stored)."""
    with Database(admin_settings(data_dir)).session() as s:
        try:
            created = create_key(s, tenant)
        except VoxfarmError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f"created key {created.id} (prefix {created.prefix}) for tenant {created.tenant}", err=False)
    click.echo(created.key)


@keys.command("list")
@click.option("--tenant", default=None)
@data_dir_option
def keys_list(tenant: str | None, data_dir: str | None) -> None:
    with Database(admin_settings(data_dir)).session() as s:
        rows = list_keys(s, tenant)
    for k in rows:
        state = f"revoked {iso(k.revoked_at)}" if k.revoked_at else "active"
        click.echo(f"{k.id}  {k.prefix}  {k.tenant:<20}  {state:<32}  last used {iso(k.last_used_at) or '-'}")


@keys.command("revoke")
@click.argument("key_id_or_prefix")
@data_dir_option
def keys_revoke(key_id_or_prefix: str, data_dir: str | None) -> None:
    with Database(admin_settings(data_dir)).session() as s:
        try:
            info = revoke_key(s, key_id_or_prefix)
        except VoxfarmError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f"revoked {info.id} ({info.prefix}) of tenant {info.tenant}")


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include stopped and silent workers.")
@data_dir_option
def workers(show_all: bool, data_dir: str | None) -> None:
    """Workers and what they serve: engine, model, device, batch settings, batches run."""
    settings = admin_settings(data_dir)
    now = utcnow()
    with Database(settings).session() as s:
        rows = s.scalars(select(WorkerRow).order_by(WorkerRow.started_at.desc())).all()
    shown = 0
    for w in rows:
        alive = is_live(w, settings, now)
        if not (alive or show_all):
            continue
        shown += 1
        stats = w.stats or {}
        click.echo(f"{w.id:<44} {'up' if alive else 'down':<5} state={stats.get('state', '-')} "
                   f"engine={w.engine} model={w.model} device={w.device} "
                   f"batch={w.max_batch_size}/{w.max_wait_ms:g}ms threads={w.concurrency} "
                   f"queues={','.join(w.queues)} batches={stats.get('batches', 0)} "
                   f"mean_batch={stats.get('mean_batch')} heartbeat={iso(w.heartbeat_at)}")
    if not shown:
        click.echo("no live workers" + ("" if show_all else " (use --all to see stopped ones)"))
