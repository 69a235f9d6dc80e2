"""`voxfarm tenants limits set|show`: a tenant's own limits in the database, over the defaults."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from voxfarm.cli.main import main
from voxfarm.core.db import Database
from voxfarm.core.models import Tenant

from helpers import create_key


def _run(settings, *args: str):
    return CliRunner().invoke(main, [*args, "--data-dir", str(settings.data_dir)], catch_exceptions=False)


def _own(settings, name: str = "acme"):
    db = Database(settings)
    with db.session() as s:
        limits = s.scalar(select(Tenant.limits).where(Tenant.name == name))
    db.dispose()
    return limits


def test_set_stores_numbers_none_and_default_drops_the_tenants_value(settings, monkeypatch):
    monkeypatch.setenv("VOXFARM_RATE_LIMIT_READ_PER_MIN", "600")  # the farm default `show` reports
    create_key(settings, "acme")
    out = _run(settings, "tenants", "limits", "set", "acme", "--submit-per-min", "10", "--queued-audio-s", "none",
               "--monthly-audio-s", "36000")
    assert out.exit_code == 0, out.output
    assert _own(settings) == {"submit_per_min": 10, "queued_audio_s": None, "monthly_audio_s": 36000.0}
    assert _run(settings, "tenants", "limits", "set", "acme", "--monthly-audio-s", "default").exit_code == 0
    assert _own(settings) == {"submit_per_min": 10, "queued_audio_s": None}
    shown = _run(settings, "tenants", "limits", "show", "acme").output
    assert "submit_per_min   10 requests/min" in shown and "(tenant)" in shown
    assert "read_per_min     600 requests/min" in shown and "queued_audio_s   no limit" in shown


def test_bad_values_and_unknown_tenants_are_refused_and_change_nothing(settings):
    create_key(settings, "acme")
    for args, message in ((["--submit-per-min", "2.5"], "whole number"), (["--open-streams", "lots"], "not a number"),
                          (["--queued-audio-s", "-3"], ">= 0"), ([], "at least one limit")):
        out = _run(settings, "tenants", "limits", "set", "acme", *args)
        assert out.exit_code != 0 and message in out.output, (args, out.output)
    assert _own(settings) is None
    out = _run(settings, "tenants", "limits", "set", "nobody", "--submit-per-min", "5")
    assert out.exit_code == 1 and "no tenant 'nobody'" in out.output
