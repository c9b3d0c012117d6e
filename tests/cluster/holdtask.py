"""A Dask worker plugin for the kill test (distributed's public WorkerPlugin API): once the
folder it is given exists, the first piece task to start executing on any worker writes that
worker process's id to FOLDER/held and waits there, to be killed; later tasks run normally."""
from __future__ import annotations

import os
import time
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin


class HoldFirstPiece(WorkerPlugin):
    def __init__(self, folder: str) -> None:
        self.folder = folder

    def transition(self, key, start, finish, **kwargs) -> None:
        name = key if isinstance(key, str) else str(key)
        if finish != "executing" or not name.startswith("forensic-piece-") or not Path(self.folder).is_dir():
            return
        try:
            fd = os.open(Path(self.folder) / "held", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return                                   # another task was held: this one runs
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:           # until the test kills this process
            time.sleep(0.05)
