"""``voxfarm tenants limits set|show NAME``: a tenant's own limits, stored on its row.

Each limit takes a number, ``none`` (no limit for this tenant, whatever the default) or
``default`` (drop the tenant's value: the farm-wide ``VOXFARM_*`` setting applies again).  The
API reads them on every request, so a change applies at once, without a restart.
"""

from __future__ import annotations

import click

from voxfarm.cli.admin import admin_settings, data_dir_option
from voxfarm.core.db import Database
from voxfarm.core.errors import VoxfarmError
from voxfarm.core.tenants.limits import NAMES, SETTINGS, effective, set_tenant_limits, tenant_by_name

_UNITS = {"submit_per_min": "requests/min", "speech_per_min": "requests/min", "read_per_min": "requests/min",
          "open_streams": "streams", "queued_audio_s": "audio-s queued", "monthly_audio_s": "audio-s per month"}


@click.group()
def tenants() -> None:
    """Tenants and their own limits."""


@tenants.group()
def limits() -> None:
    """A tenant's own limits (the defaults are the VOXFARM_* settings, unset = no limit)."""


def _limit_options(fn):
    for name in reversed(NAMES):
        fn = click.option(f"--{name.replace('_', '-')}", name, default=None, metavar="N|none|default",
                          help=f"{_UNITS[name]} (default: VOXFARM_{SETTINGS[name].upper()})")(fn)
    return fn


def _parse(name: str, raw: str) -> float | None:
    if raw.lower() == "none":
        return None
    try:
        return float(raw)
    except ValueError:
        raise click.BadParameter(f"{raw!r} is not a number, 'none' or 'default'",
                                 param_hint=f"--{name.replace('_', '-')}") from None


def _show(tenant, settings) -> None:
    values, own = effective(settings, tenant.limits), tenant.limits or {}
    click.echo(f"tenant {tenant.name}")
    for name in NAMES:
        value = "no limit" if values[name] is None else f"{values[name]:g} {_UNITS[name]}"
        click.echo(f"  {name:<16} {value:<28} ({'tenant' if name in own else 'default'})")


@limits.command("set")
@click.argument("name")
@_limit_options
@data_dir_option
def limits_set(name: str, data_dir: str | None, **given: str | None) -> None:
    """Set NAME's own limits, e.g. `--submit-per-min 10 --queued-audio-s default`."""
    changes = {k: _parse(k, v) for k, v in given.items() if v is not None and v.lower() != "default"}
    reset = tuple(k for k, v in given.items() if v is not None and v.lower() == "default")
    if not changes and not reset:
        raise click.UsageError("give at least one limit (voxfarm tenants limits set --help lists them)")
    settings = admin_settings(data_dir)
    with Database(settings).session() as s:
        try:
            tenant = set_tenant_limits(s, name, changes, reset)
        except VoxfarmError as exc:
            raise click.ClickException(exc.message) from None
        s.flush()
        _show(tenant, settings)


@limits.command("show")
@click.argument("name")
@data_dir_option
def limits_show(name: str, data_dir: str | None) -> None:
    """NAME's limits: each value and whether it is the tenant's own or the default."""
    settings = admin_settings(data_dir)
    with Database(settings).session() as s:
        try:
            tenant = tenant_by_name(s, name)
        except VoxfarmError as exc:
            raise click.ClickException(exc.message) from None
        _show(tenant, settings)
