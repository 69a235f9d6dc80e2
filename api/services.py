"""What every request handler reaches: settings, the database, storage, the publisher and the
tenant limiter, built once per app by ``api.app.create_app`` and found through ``services()``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from voxfarm.core.db import Database
from voxfarm.core.settings import Settings
from voxfarm.core.state.outbox import Publisher, unit_of_work
from voxfarm.core.storage import ObjectStore
from voxfarm.core.tenants.limits import Limiter


@dataclass
class Services:
    settings: Settings
    db: Database
    store: ObjectStore
    publisher: Publisher
    limiter: Limiter

    def uow(self) -> unit_of_work:
        return unit_of_work(self.db, self.publisher)


def services() -> Services:
    return current_app.extensions["voxfarm"]
