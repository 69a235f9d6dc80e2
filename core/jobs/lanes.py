"""Priority lanes: interactive work renders before bulk work already queued on the same engine.

Two levels, so that neither alone has to be perfect:

1. **Broker.**  Each engine has two queues, ``tts.<engine>.interactive`` and ``tts.<engine>``.  A
   chunk goes to the interactive one when its job's priority is at least ``interactive_priority``
   (50; POST /v1/audio/speech jobs get ``speech_priority``, 100).  Every engine worker consumes
   both; kombu fetches from a worker's queues in rotation (Redis BRPOP and the filesystem
   transport alike), so while both hold messages they get alternate fetches: an interactive
   message waits for at most one bulk fetch, and bulk keeps at least half the fetches however
   much interactive traffic arrives.  Nothing starves.
2. **Batcher.**  A worker holds up to ``2 x max_batch_size`` claimed messages; when forming a batch
   its micro-batcher anchors on the oldest interactive request, so an interactive chunk that
   reached the worker rides the very next batch (worker/batcher.py).  A bulk request that has
   waited ``max_bulk_skips`` batches is anchored next regardless: bulk is delayed, never starved.
"""

from __future__ import annotations

from voxfarm.core.engines.registry import queue_for
from voxfarm.core.settings import Settings

INTERACTIVE_SUFFIX = ".interactive"


def is_interactive(priority: int | None, settings: Settings) -> bool:
    return (priority or 0) >= settings.interactive_priority


def render_queue(engine: str, priority: int | None, settings: Settings) -> str:
    """The queue a chunk of a job with ``priority`` is published to."""
    return lane(engine, priority, settings.interactive_priority)


def lane(engine: str, priority: int | None, threshold: int) -> str:
    base = queue_for(engine)
    return base + INTERACTIVE_SUFFIX if (priority or 0) >= threshold else base


def engine_queues(engine: str) -> list[str]:
    """Both lanes of an engine, interactive first (what an engine worker consumes)."""
    return [queue_for(engine) + INTERACTIVE_SUFFIX, queue_for(engine)]
