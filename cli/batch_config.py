"""``voxfarm batch`` generation configs: the stable-audio-tools config shape, adapted to speech.

    {"generation": {"engine": "piper", "params": {...}, "seed": -1},
     "conditioning_defaults": {"voice": "en_US-joe-medium", "speed": 1.0},
     "input": {"type": "config", "samples": [{"prompt": "Hello.", "voice": "...", "params": {...}}]}
           | {"type": "file", "prompts_file": "lines.txt"},        # one prompt per line
     "output": {"output_dir": "out", "file_format": "wav", "file_naming": "index",
                "save_metadata": true, "max_duration_s": 30}}

A bad field is reported with its JSON path (``$.output.file_naming: ...``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ParamValue = bool | int | float | str
_STRICT = ConfigDict(extra="forbid")


class Generation(BaseModel):
    model_config = _STRICT
    engine: str | None = Field(None, max_length=32)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    seed: int = Field(-1, ge=-1, le=2**31 - 1, description="-1: pick one at random (recorded in the sidecars)")


class Sample(BaseModel):
    model_config = _STRICT
    prompt: str = Field(min_length=1)
    voice: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)


class Input(BaseModel):
    model_config = _STRICT
    type: Literal["config", "file"]
    samples: list[Sample] | None = None
    prompts_file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Input:
        if self.type == "config" and not self.samples:
            raise ValueError("type 'config' needs a non-empty samples list")
        if self.type == "file" and not self.prompts_file:
            raise ValueError("type 'file' needs prompts_file")
        return self


class Output(BaseModel):
    model_config = _STRICT
    output_dir: str = Field(min_length=1)
    file_format: str = Field("wav", min_length=2, max_length=40)
    file_naming: Literal["prompt", "verbose", "voice", "index"] = "index"
    save_metadata: bool = True
    max_duration_s: float | None = Field(None, gt=0)


class BatchConfig(BaseModel):
    model_config = _STRICT
    generation: Generation = Field(default_factory=Generation)
    conditioning_defaults: dict[str, ParamValue] = Field(default_factory=dict)
    input: Input
    output: Output


class ConfigError(ValueError):
    """A config problem, already phrased with the JSON path of the faulty field."""


def json_path(loc: tuple) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


@dataclass
class Item:
    index: int
    prompt: str
    voice: str | None
    params: dict[str, Any]
    name: str  # file name without extension


@dataclass
class Plan:
    config: BatchConfig
    base: Path  # the config's folder: relative paths resolve against it
    engine: str | None
    seed: int
    fmt: str
    items: list[Item]
    digest: str  # what the batch is, canonically: the Idempotency-Key and the resume state hang on it
    preset: str | None = None  # an encoder preset (mp3_v0...) that ``fmt`` is the container of

    @property
    def output_dir(self) -> Path:
        out = Path(self.config.output.output_dir)
        return out if out.is_absolute() else self.base / out


def load(path: Path) -> tuple[BatchConfig, Path]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"$: {path} is not JSON: {exc}") from None
    try:
        return BatchConfig.model_validate(raw), path.resolve().parent
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{json_path(e['loc'])}: {e['msg']}" for e in exc.errors())) from None


def _slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit].rstrip("_") or "untitled"


def file_name(strategy: str, index: int, width: int, prompt: str, voice: str | None, seed: int) -> str:
    idx = f"{index:0{width}d}"
    if strategy == "index":
        return idx
    if strategy == "prompt":
        return f"{idx}_{_slug(prompt)}"  # the index keeps two equal prompts apart
    if strategy == "voice":
        return f"{_slug(voice or 'default', 40)}_{idx}"
    return f"{idx}_{_slug(voice or 'default', 40)}_seed{seed}_{_slug(prompt, 40)}"  # verbose


def file_format(spelling: str, formats: list[str], presets: list[str]) -> tuple[str, str | None]:
    """(format, preset) for a stable-audio-tools ``file_format``: ``"wav"``, or a format with its
    encoder options, ``"mp3 v0"`` -> mp3 with preset mp3_v0, ``"m4a aac_he_v2 64k"`` -> m4a_aac_he_v2_64k."""
    words = spelling.strip().lower().replace("-", "_").split()
    if len(words) == 1 and words[0] in formats:
        return words[0], None
    name = "_".join(words)
    if name in presets:
        return name.split("_", 1)[0], name
    raise ConfigError(f"$.output.file_format: {spelling!r} is not supported (formats: {', '.join(formats)}; "
                      f"with encoder options: {', '.join(p.replace('_', ' ', 1) for p in presets)})")


def plan(config: BatchConfig, base: Path, seed: int, formats: list[str], presets: list[str] | None = None) -> Plan:
    """Resolve prompts, voices, params and names.  ``seed`` replaces a -1 in the config."""
    fmt, preset = file_format(config.output.file_format, formats, presets or [])
    if config.input.type == "file":
        source = Path(config.input.prompts_file)
        source = source if source.is_absolute() else base / source
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"$.input.prompts_file: cannot read {source}: {exc}") from None
        samples = [Sample(prompt=line.strip()) for line in lines if line.strip()]
        if not samples:
            raise ConfigError(f"$.input.prompts_file: {source} holds no prompts")
    else:
        samples = config.input.samples or []
    cond = dict(config.conditioning_defaults)
    default_voice = cond.pop("voice", None)
    width = max(4, len(str(len(samples) - 1)))
    items = []
    for i, sample in enumerate(samples):
        voice = sample.voice or (str(default_voice) if default_voice is not None else None)
        params = {**config.generation.params, **cond, **sample.params, "seed": seed}
        items.append(Item(i, sample.prompt, voice, params,
                          file_name(config.output.file_naming, i, width, sample.prompt, voice, seed)))
    # the digest ignores the seed picked for -1, so a rerun finds its state (and that seed) again
    body = {"engine": config.generation.engine, "fmt": preset or fmt, "seed": config.generation.seed,
            "items": [[it.prompt, it.voice, {k: v for k, v in it.params.items() if k != "seed"}] for it in items]}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return Plan(config, base, config.generation.engine, seed, fmt, items, digest, preset)


def derived_seed(digest: str, output_dir: Path) -> int:
    """The seed that stands for -1: from the config's content and where it renders, so ``--dry-run``
    shows the seed the run will use (a different config or folder gets another one)."""
    return int(hashlib.sha256(f"{digest}:{output_dir.resolve()}".encode()).hexdigest()[:8], 16) % 2**31


def batch_request(p: Plan) -> dict[str, Any]:
    """The POST /v1/batches body: shared fields once, in ``defaults``."""
    defaults: dict[str, Any] = {"output": {"format": p.fmt, **({"preset": p.preset} if p.preset else {})}}
    if p.engine:
        defaults["engine"] = p.engine
    items = []
    for it in p.items:
        item: dict[str, Any] = {"text": it.prompt, "params": it.params,
                                "metadata": {"index": it.index, "name": it.name}}
        if it.voice is not None:
            item["voice"] = it.voice
        items.append(item)
    return {"defaults": defaults, "items": items, "metadata": {"config_digest": p.digest}}
