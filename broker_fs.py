"""The embedded broker: kombu's filesystem transport, with messages that appear whole or not at all.

kombu 5.x's ``filesystem`` transport has a race (seen here with 60 jobs retrying through an 8 s S3
outage): ``_put`` creates ``<time>_<uuid>.<queue>.msg`` in the shared folder and only then locks and
writes it, while ``_get`` lists the folder, moves a file away and reads it without looking at the
writer's lock.  A reader can take a file that is still empty; ``json.loads`` raises, Celery reports
"Unrecoverable error: JSONDecodeError" and the embedded worker -- the whole ``voxfarm up`` stack --
stops.

Here a message is written under a name no reader matches (``.<uuid>.tmp``, same folder, so the same
file system) and ``os.rename``d to its queue name once complete: rename is atomic within a file
system, so a reader sees either no file or the whole message.  A reader claims a message by
renaming it into its own folder (atomic too, exactly one reader wins); kombu's default moves it to
the system temp dir with ``shutil.move``, which is a copy + delete when that is another file system,
so two readers could both copy one message.

Selected by ``celery_config`` (``broker_transport``) whenever the broker URL is ``filesystem://``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    """Atomic put (write, fsync, rename) and atomic claim (rename into a private folder)."""

    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        tmp = os.path.join(self.data_folder_out, f".{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                os.fsync(f.fileno())  # survive a power cut as a whole message, not an empty file
            os.rename(tmp, final)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    @property
    def control_folder(self):
        # kombu's default is "control" relative to the current directory, which left exchange
        # tables in whatever folder a process started in (the repository root, once); default to
        # a sibling of the queue folder instead
        default = Path(self.transport_options.get("data_folder_in", ".")).parent / "control"
        return Path(self.transport_options.get("control_folder", default))

    def _claim_folder(self) -> str:
        folder = os.path.join(str(self.processed_folder), "claimed")
        os.makedirs(folder, exist_ok=True)
        return folder

    def _get(self, queue):
        wanted = f"{queue}.msg"
        claimed = self._claim_folder()
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:  # another queue's message, or one being written
                continue
            mine = os.path.join(claimed, f"{uuid.uuid4().hex}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), mine)
            except FileNotFoundError:  # another consumer claimed it first
                continue
            try:
                with open(mine, "rb") as f:
                    payload = f.read()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {mine!r} from queue.") from exc
            finally:
                if not self.store_processed:
                    try:
                        os.unlink(mine)
                    except OSError:
                        pass
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = "filesystem"
    driver_name = "filesystem"
