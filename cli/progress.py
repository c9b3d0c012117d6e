"""Progress bars on stderr (rich): shown only on a terminal and never when quiet
(:func:`forensic.cli.console.progress_enabled`); otherwise the advance callbacks do nothing."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from forensic.cli.console import err, progress_enabled


@contextmanager
def byte_progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    if not progress_enabled():
        yield lambda n: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


@contextmanager
def triage_progress(label: str, total_bytes: int | None) -> Iterator[Callable[[int, int], None]]:
    """Yields advance(files, bytes); shows files, files/s, MB/s and ETA."""
    if not progress_enabled():
        yield lambda f, b: None
        return
    import time
    state = {"files": 0, "t0": time.perf_counter()}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TextColumn("{task.fields[files]:,} files ({task.fields[rate]:.0f}/s)"), TimeRemainingColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task(label, total=total_bytes, files=0, rate=0.0)

        def advance(files: int, nbytes: int) -> None:
            state["files"] += files
            el = max(time.perf_counter() - state["t0"], 1e-6)
            progress.update(task, advance=nbytes, files=state["files"], rate=state["files"] / el)
        yield advance
