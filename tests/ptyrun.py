"""Run the real ``forensic`` command as an examiner does: in a pseudo-terminal.

stdin, stdout and stderr are all the pty's slave side, so the command sees an interactive
terminal (rich draws progress bars, hides and restores the cursor). The output is read
from the master side as the terminal would show it.
"""
from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


@dataclass
class PtyResult:
    code: int
    output: str

    def cursor_restored(self) -> bool:
        """No hide-cursor sequence is left without a show-cursor after it."""
        hidden = self.output.rfind(HIDE_CURSOR)
        return hidden < 0 or self.output.find(SHOW_CURSOR, hidden) > hidden


def run_in_pty(args: list[str], *, cwd: Path, env: dict | None = None, columns: int = 100,
               when: Callable[[str], bool] | None = None, send_signal: int = signal.SIGINT,
               timeout: float = 120) -> PtyResult:
    """Run ``forensic ARGS`` on a pty of ``columns`` columns; when ``when(output so far)``
    first returns True, send ``send_signal`` to the command. Returns its exit code and all it
    showed."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env["TERM"] = "xterm-256color"
    full_env.update(env or {})
    # the pty's size, even when env is a copy of os.environ (a pytest-xdist worker has COLUMNS=80)
    full_env.update({"COLUMNS": str(columns), "LINES": "40"})
    master, slave = pty.openpty()
    proc = subprocess.Popen(FORENSIC + [str(a) for a in args], cwd=cwd, env=full_env, stdin=slave,
                            stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    signalled = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"forensic {args} did not end in {timeout} s; showed:\n"
                                     + b"".join(chunks).decode("utf-8", "replace"))
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:          # EIO: the slave side is closed, the command ended
                    data = b""
                if not data:
                    break
                chunks.append(data)
            if when and not signalled and when(b"".join(chunks).decode("utf-8", "replace")):
                proc.send_signal(send_signal)
                signalled = True
        code = proc.wait(timeout=timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if when is not None:
        assert signalled, "the condition to send the signal never came"
    return PtyResult(code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"))
