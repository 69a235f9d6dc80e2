"""Shared ONNX Runtime plumbing for the ONNX engines (piper, kokoro, zipvoice).

* ``require_files`` checks every model file a worker needs before anything loads, so a missing
  file is one clear error at worker start that names the file, never a failure mid-job.
* ``create_session`` opens an ``InferenceSession`` on CUDA when onnxruntime-gpu sees a GPU
  (the ``onnxruntime-gpu`` extra) and on the CPU otherwise, with the thread counts from settings.

onnxruntime is imported here, and this module is imported only from engine ``load()`` methods,
so listing engines and validating jobs never pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import onnxruntime as ort

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class ModelFileMissing(FileNotFoundError):
    """A model file named by settings is not on disk (models are never downloaded at run time)."""


def require_files(engine: str, paths: Iterable[str | Path], hint: str = "") -> list[Path]:
    """Every path must exist; otherwise raise one error naming all the missing ones."""
    resolved = [Path(p).expanduser() for p in paths]
    missing = [str(p) for p in resolved if not p.is_file()]
    if missing:
        raise ModelFileMissing(f"{engine}: model file(s) not found: {', '.join(missing)}"
                               + (f" ({hint})" if hint else ""))
    return resolved


def providers(device: str = "auto") -> list[str]:
    """``auto``: CUDA first when this onnxruntime build has it, then CPU; ``cpu`` / ``cuda`` force."""
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        if CUDA not in available:
            raise RuntimeError("onnxruntime has no CUDAExecutionProvider here; install the "
                               "onnxruntime-gpu extra (voxfarm[gpu]) or set the device to cpu/auto")
        return [CUDA, CPU]
    return [CUDA, CPU] if CUDA in available else [CPU]


def create_session(model: str | Path | bytes, *, device: str = "auto", intra_op_threads: int = 0,
                   inter_op_threads: int = 0) -> ort.InferenceSession:
    """An InferenceSession with full graph optimisation.  Thread counts of 0 let onnxruntime
    choose (one per physical core); workers sharing a box with others should set them."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Every chunk is a new input length: the memory pattern would cache a plan per shape, and the CPU
    # arena keeps the largest blocks it ever handed out unless each run shrinks it (``Session.run``)
    opts.enable_mem_pattern = False
    opts.intra_op_num_threads = max(0, int(intra_op_threads))
    opts.inter_op_num_threads = max(0, int(inter_op_threads))
    source = model if isinstance(model, bytes) else str(model)  # bytes: a graph rewritten in memory
    return Session(source, sess_options=opts, providers=providers(device))


class Session(ort.InferenceSession):
    """An InferenceSession whose runs give the CPU arena back what they grew it by.  A piper worker
    kept 290 MiB more after its first long inputs with the arena as it comes (398 -> 690 MiB in three
    batches of mixed lengths), 60-70 MiB with each run shrinking it, for about 10 % more CPU than
    the arena as it comes and less than no arena at all (bench/soak.md)."""

    def run(self, output_names, input_feed, run_options=None):
        return super().run(output_names, input_feed, run_options or _shrinking())


def _shrinking() -> ort.RunOptions:
    global _RUN_OPTIONS
    if _RUN_OPTIONS is None:
        opts = ort.RunOptions()
        opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        _RUN_OPTIONS = opts
    return _RUN_OPTIONS


_RUN_OPTIONS: ort.RunOptions | None = None


def session_device(session: ort.InferenceSession) -> str:
    """``cuda`` or ``cpu``: the provider that actually runs the graph (CUDA may fall back)."""
    return "cuda" if session.get_providers()[0] == CUDA else "cpu"


def input_names(session: ort.InferenceSession) -> set[str]:
    return {i.name for i in session.get_inputs()}


def metadata(session: ort.InferenceSession) -> dict[str, Any]:
    """The model's custom metadata map (sherpa-onnx exports keep sample_rate, voices... there)."""
    return dict(session.get_modelmeta().custom_metadata_map)
