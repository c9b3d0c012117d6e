"""``forensic serve``: the review workspace in the browser (:mod:`forensic.serve`)."""
from __future__ import annotations

import ipaddress
import socket
import threading
import webbrowser
from pathlib import Path

import click

from forensic.case import Case
from forensic.cli import exit_codes
from forensic.cli.common import case_option
from forensic.cli.console import esc, info, warn
from forensic.errors import UsageError


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _launcher(url: str) -> Path:
    """A private page (0600, in a 0700 folder) forwarding the browser to ``url``: the browser's
    command line, which every local user can read in ``ps``, names this file, not the token."""
    import html
    import os
    import tempfile
    page = Path(tempfile.mkdtemp(prefix="forensic-serve-")) / "open.html"
    fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={html.escape(url)}">'
                 f'<p><a href="{html.escape(url)}">Open the review workspace</a></p>\n')
    return page


@click.command("serve")
@case_option
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="a free port",
              help="Port on 127.0.0.1.")
@click.option("--open", "open_browser", is_flag=True, help="Open the printed URL in the default browser.")
@click.option("--bind", default=None,
              help="Listen on this loopback address instead of 127.0.0.1 (anything but loopback is refused).")
def serve(case_dir: Path, port: int, open_browser: bool, bind: str | None) -> int:
    """Review the case in a browser: overview, gallery, chats, tagging (local only, token in the URL)."""
    import uvicorn

    from forensic.serve.app import Settings, create_app
    host = bind or "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or ipaddress.ip_address(host).version != 4:
        raise UsageError(f"refusing to listen on {host!r}: the review workspace is for this machine only",
                         hint="leave out --bind (127.0.0.1), or give another 127.x.y.z address")
    if bind is not None:
        warn(f"listening on {esc(host)} instead of 127.0.0.1")
    case = Case.open(case_dir)          # refused here, before listening, when there is no case
    try:
        from forensic.store import similar as store_similar
        older = store_similar.older_hashes(case.db)     # near duplicates are shown by hash version
    finally:
        case.close()
    if older is not None:
        warn(esc("near duplicates: " + older.message()))
    port = port or _free_port(host)
    settings = Settings.new(case.root, port, host)
    url = settings.url
    click.echo(url)
    info(f"reviewing case in {esc(case.root)}; Ctrl-C stops the server")
    launcher = _launcher(url) if open_browser else None
    if launcher is not None:       # once the server listens (uvicorn starts in well under a second)
        threading.Timer(1.0, webbrowser.open, [launcher.as_uri()]).start()
    try:
        # Bounds against slow or huge requests, said here rather than left to uvicorn's defaults:
        # an idle kept-alive connection closed after 5 s, a request head (or body part) over
        # 16 KB refused. A request head sent slowly is held open: uvicorn has no head timeout
        # (docs/threat-model.md). No limit_concurrency: it would answer 503 to the examiner's
        # own tabs once a few half-open connections are held, easier to deny than without.
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False,
                    server_header=False, proxy_headers=False, timeout_keep_alive=5,
                    h11_max_incomplete_event_size=16 * 1024)
    finally:
        if launcher is not None:
            import shutil
            shutil.rmtree(launcher.parent, ignore_errors=True)
    return exit_codes.OK


COMMANDS = [serve]
