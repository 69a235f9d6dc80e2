"""``voxfarm batch`` config handling without a farm: JSON paths of bad fields, the plan, naming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from voxfarm.cli.batch import batch
from voxfarm.cli.batch_config import batch_request, file_name, load, plan

FORMATS = ["wav", "flac", "mp3", "ogg", "m4b"]


def _write(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    return path


GOOD = {"generation": {"engine": "sim", "seed": 7}, "conditioning_defaults": {"voice": "v1", "speed": 2},
        "input": {"type": "config", "samples": [{"prompt": "Hello there."}, {"prompt": "Bye!", "voice": "v2"}]},
        "output": {"output_dir": "out", "file_format": "flac", "file_naming": "verbose"}}


@pytest.mark.parametrize("patch,path", [
    ({"output": {**GOOD["output"], "file_naming": "random"}}, "$.output.file_naming"),
    ({"input": {"type": "config", "samples": [{"prompt": "ok"}, {"prompt": ""}]}}, "$.input.samples[1].prompt"),
    ({"input": {"type": "file"}}, "$.input"),
    ({"generation": {"seed": -2}}, "$.generation.seed"),
    ({"output": {**GOOD["output"], "max_duration_s": 0}}, "$.output.max_duration_s"),
    ({"surprise": 1}, "$.surprise"),
    ({"output": {**GOOD["output"], "file_format": "mp3 v9"}}, "$.output.file_format"),
    ({"output": {**GOOD["output"], "file_format": "aiff"}}, "$.output.file_format"),
])
def test_a_bad_config_names_the_json_path(tmp_path, patch, path):
    result = CliRunner().invoke(batch, [str(_write(tmp_path, {**GOOD, **patch})), "--dry-run"])
    assert result.exit_code != 0
    assert f"{path}:" in result.output, result.output


def test_dry_run_prints_the_plan_and_submits_nothing(tmp_path):
    result = CliRunner().invoke(batch, [str(_write(tmp_path, GOOD)), "--dry-run", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert "2 items" in result.output and "0000_v1_seed7_hello_there.flac" in result.output
    assert "0001_v2_seed7_bye.flac" in result.output and not (tmp_path / "out").exists()


def test_plan_merges_defaults_and_resolves_the_prompts_file(tmp_path):
    (tmp_path / "lines.txt").write_text("One.\n\nTwo.\nThree.\n")
    cfg = {**GOOD, "generation": {"engine": "sim", "seed": -1, "params": {"speed": 1}},
           "input": {"type": "file", "prompts_file": "lines.txt"}}
    config, base = load(_write(tmp_path, cfg))
    p = plan(config, base, 1234, FORMATS)
    assert [it.prompt for it in p.items] == ["One.", "Two.", "Three."]
    assert p.items[0].params == {"speed": 2, "seed": 1234} and p.items[0].voice == "v1"
    assert plan(config, base, 99, FORMATS).digest == p.digest  # the picked seed is not part of the identity
    body = batch_request(p)
    assert body["defaults"] == {"output": {"format": "flac"}, "engine": "sim"} and len(body["items"]) == 3


def test_naming_strategies():
    assert file_name("index", 7, 4, "Hi", None, 1) == "0007"
    assert file_name("prompt", 7, 4, "Hello, World!", None, 1) == "0007_hello_world"
    assert file_name("voice", 7, 4, "Hi", "en_US-joe", 1) == "en_us_joe_0007"
    assert file_name("verbose", 7, 4, "Hi there", "v", 3) == "0007_v_seed3_hi_there"


@pytest.mark.parametrize("spelling,fmt,preset", [
    ("mp3 v0", "mp3", "mp3_v0"), ("MP3 320k", "mp3", "mp3_320k"), ("m4a aac_he_v2 64k", "m4a", "m4a_aac_he_v2_64k"),
    ("flac", "flac", None)])
def test_stable_audio_tools_format_spellings_map_to_presets(tmp_path, spelling, fmt, preset):
    """`voxfarm batch` takes the encoder spellings of stable-audio-tools configs as the API's presets (#30)."""
    cfg = {**GOOD, "output": {**GOOD["output"], "file_format": spelling}}
    config, base = load(_write(tmp_path, cfg))
    p = plan(config, base, 7, FORMATS, ["mp3_v0", "mp3_320k", "mp3_128k", "m4a_aac_he_v2_64k"])
    assert (p.fmt, p.preset) == (fmt, preset)
    assert batch_request(p)["defaults"]["output"] == {"format": fmt, **({"preset": preset} if preset else {})}
    assert p.items[0].name + f".{fmt}" == f"0000_v1_seed7_hello_there.{fmt}"


def test_dry_run_shows_the_seed_the_run_uses(tmp_path):
    """Seed -1: --dry-run prints the seed that the submitted batch then carries (#30)."""
    from voxfarm.cli import batch as batch_module

    path = _write(tmp_path, {**GOOD, "generation": {"engine": "sim", "seed": -1}})
    dry = CliRunner().invoke(batch, [str(path), "--dry-run"])
    shown = int(dry.output.split("seed ")[1].split(",")[0])
    p = batch_module._plan(path, (FORMATS, []))
    assert shown == p.seed and shown == batch_module._plan(path, (FORMATS, [])).seed
    assert all(it.params["seed"] == shown for it in p.items)
    (tmp_path / "o").mkdir()
    other = _write(tmp_path / "o", {**GOOD, "generation": {"engine": "sim", "seed": -1},
                                    "input": {"type": "config", "samples": [{"prompt": "Another one."}]}})
    assert batch_module._plan(other, (FORMATS, [])).seed != shown  # another config, another seed
