"""Where and how Dia runs: the device and dtype asked for (``auto`` picks CUDA, then MPS, then
CPU; bf16 on CUDA), and the local directory its weights load from -- never a hub at run time.
torch is imported inside the functions: importing this module costs nothing."""

from __future__ import annotations

from pathlib import Path


def resolve_device(requested: str) -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(requested: str, device: str):
    import torch

    if requested == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[requested]


def local_dir(name: str) -> str:
    """``name`` if it is a directory, else its snapshot in the Hugging Face cache, found on the
    filesystem alone.  Never a hub id: with one, huggingface_hub contacts the hub (it fetches an
    agent registry while building headers) even under ``local_files_only``, unless HF_HUB_OFFLINE
    is set in the environment; a local directory never reaches hub code at all."""
    if Path(name).is_dir():
        return name
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(name, "config.json")
    if isinstance(found, str):
        return str(Path(found).parent)
    raise OSError(f"{name} is not a local directory and not in the Hugging Face cache; weights are never "
                  "downloaded at run time (set VOXFARM_DIA_MODEL / VOXFARM_DIA_CODEC to local directories)")


def codec_path(model: str, configured: str | None) -> str:
    """The DAC codec's location: the setting, a ``dac/`` folder beside the model, or what the
    model's processor config names (resolved to a local directory by ``local_dir``)."""
    if configured:
        return configured
    local = Path(model) / "dac"
    if local.is_dir():
        return str(local)
    import json

    from huggingface_hub import try_to_load_from_cache

    cfg = Path(model) / "processor_config.json"
    path = str(cfg) if cfg.is_file() else try_to_load_from_cache(model, "processor_config.json")
    if isinstance(path, str):
        return json.loads(Path(path).read_text())["audio_tokenizer"]["audio_tokenizer_name_or_path"]
    return "descript/dac_44khz"
