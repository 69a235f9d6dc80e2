"""Celery configuration for voxfarm, shared by the API (a publisher with no tasks) and the workers.

Queues: ``tts.<engine>`` (one per engine, GPU workers), ``control`` (finalize/stitch, reconcile)
and ``webhooks`` (delivery; never on a GPU worker's queue).  Tasks are addressed by name only, so
the API never imports worker code.

Reliability settings, and why:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acked only after its result is
  stored; a killed worker's messages go back to the queue.  Requeueing is unbounded in Celery, so
  the attempt cap lives in the DB lease (core/render/leases.py).
* ``worker_prefetch_multiplier=1`` with a threads pool of ``2 x max_batch_size``: the pool itself is
  the batcher's feed (one batch rendering while the next one fills).
* ``visibility_timeout`` (Redis): unacked messages are redelivered after it, so it must exceed the
  longest render or stitch; 6 h by default, and nothing is ever scheduled with an ETA longer than
  60 s (the reconciler re-sends slow retries from the DB instead).
* JSON only: a broker message never carries code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Celery

from voxfarm.core.settings import Settings
from voxfarm.core.state.outbox import CONTROL_QUEUE


def celery_settings(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "broker_url": settings.resolved_broker_url,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": CONTROL_QUEUE,
        "task_create_missing_queues": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 4,
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "enable_utc": True,
    }
    if settings.embedded_broker:
        # kombu's filesystem transport: no server, messages are files under <data_dir>/broker.
        # It deletes a message when fetched (no unacked state): the reconciler re-sends from the DB.
        # broker_fs.Transport fixes kombu's write race (a reader could take an empty message file
        # and crash the worker): messages are written aside and renamed into the folder.
        conf["broker_transport"] = "voxfarm.broker_fs:Transport"
        folder = settings.broker_dir
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        conf["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        }
        conf["worker_enable_remote_control"] = False
    return conf


def make_celery(settings: Settings, name: str = "voxfarm") -> Celery:
    app = Celery(name, set_as_current=False)
    app.conf.update(celery_settings(settings))
    return app


class CeleryPublisher:
    """core.state.outbox.Publisher over Celery: send tasks by name, reusing one producer per batch."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish_many(self, messages: Sequence[tuple[str, list[Any], str]]) -> None:
        with self.app.producer_or_acquire() as producer:
            for task, args, queue in messages:
                self.app.send_task(task, args=args, queue=queue, routing_key=queue, producer=producer,
                                   retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1,
                                                             "interval_step": 0.4, "interval_max": 1})

    def queue_depth(self, queue: str) -> int | None:
        """Messages waiting in ``queue`` (0 if it does not exist), or None if unknown."""
        try:
            with self.app.connection_for_write() as conn:
                channel = conn.default_channel
                try:
                    return int(channel.queue_declare(queue=queue, passive=True).message_count)
                except Exception as exc:  # noqa: BLE001 - kombu raises NOT_FOUND differently per transport
                    if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
                        return 0
                    raise
        except Exception:  # noqa: BLE001 - broker down: the caller treats depth as unknown
            return None

    def ping(self) -> None:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
