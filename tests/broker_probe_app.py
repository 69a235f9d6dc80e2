"""A Celery app on voxfarm's embedded broker settings, for tests/test_broker_fs.py: one task that
retries itself a chosen number of times (short countdowns) and then appends its number to a log."""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

from voxfarm.celery_config import celery_settings
from voxfarm.core.settings import Settings

app = Celery("probe", set_as_current=True)
app.conf.update(celery_settings(Settings(data_dir=Path(os.environ["VOXFARM_DATA_DIR"]))))
app.conf.task_default_queue = "probe"


@app.task(name="probe", bind=True, acks_late=True, max_retries=None)
def probe(self, n: int, retries_wanted: int, log: str) -> None:
    if self.request.retries < retries_wanted:
        raise self.retry(countdown=0.2 * (1 + self.request.retries), exc=None)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{n}\n".encode())  # one short write with O_APPEND: lines never interleave
    finally:
        os.close(fd)
