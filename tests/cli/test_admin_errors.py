"""Admin commands find the farm's database (--data-dir, env) and, when it holds no schema, say
so in one line naming it, exit non-zero, and leave nothing behind."""

from __future__ import annotations

import sqlite3

from tests.cli.test_cli import _env, voxfarm

from helpers import free_port


def _one_line_error(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "sqlalchemy" not in proc.stderr.lower()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_keys_create_on_a_data_dir_without_a_database_names_it_and_creates_nothing(tmp_path):
    env = _env(tmp_path)
    for args in (["keys", "create", "--tenant", "acme"], ["keys", "list"], ["workers"], ["sweep", "--dry-run"]):
        line = _one_line_error(voxfarm(*args, env=env))
        assert str(tmp_path / "var" / "voxfarm.db") in line and "voxfarm migrate" in line, line
    assert not (tmp_path / "var").exists()  # no empty voxfarm.db, not even its folder


def test_data_dir_flag_wins_over_the_default(tmp_path):
    env = _env(tmp_path)  # VOXFARM_DATA_DIR points at an empty place
    farm = tmp_path / "farm"
    assert voxfarm("migrate", "--data-dir", str(farm), env=env).returncode == 0
    created = voxfarm("keys", "create", "--tenant", "acme", "--data-dir", str(farm), env=env)
    assert created.returncode == 0, created.stderr
    assert "acme" in voxfarm("keys", "list", "--data-dir", str(farm), env=env).stdout
    assert not (tmp_path / "var").exists()


def test_a_database_file_without_the_schema_is_named(tmp_path):
    env = _env(tmp_path)
    (tmp_path / "var").mkdir()
    sqlite3.connect(tmp_path / "var" / "voxfarm.db").close()  # what older versions left behind
    line = _one_line_error(voxfarm("keys", "create", "--tenant", "acme", env=env))
    assert "has no voxfarm schema" in line and "voxfarm.db" in line


def test_an_unreachable_database_url_is_one_line_without_the_password(tmp_path):
    env = _env(tmp_path)
    env["VOXFARM_DATABASE_URL"] = f"postgresql+psycopg://farm:s3cret@127.0.0.1:{free_port()}/farm"
    line = _one_line_error(voxfarm("keys", "list", env=env, timeout=60))
    assert "cannot open the database" in line and "127.0.0.1" in line and "s3cret" not in line
