"""A throw-away PostgreSQL server for the tests: a new cluster in a temporary folder, listening
only on a Unix socket in that folder (no TCP port), stopped and removed when the tests end.

Debian's ``postgresql`` package provides the server (``scripts/setup.sh`` installs it). The
server refuses to run as root, so as root it runs as the ``postgres`` system user the package
creates; the tests connect over the socket as the cluster's superuser, trusted locally.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "forensic_test"


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


def available() -> str | None:
    """None when a server can be started here, else why not."""
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        return "PostgreSQL server programs (initdb, pg_ctl) not installed: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no 'postgres' user to run the server as"
    return None


class Server:
    """One cluster: ``url(database)`` gives a libpq URL for a database on it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="forensic-pg-"))
        self.data = self.dir / "data"
        self.socket = self.dir / "sock"
        self.socket.mkdir()
        self._as: list[str] = []
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chmod(self.dir, 0o755)
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
            os.chown(self.socket, pg.pw_uid, pg.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run([_bin("initdb"), "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"])
        self._run([_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                   "-o", f"-k {self.socket} -c listen_addresses='' -c fsync=off "
                         "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                   "start"])

    def _run(self, cmd: list) -> None:
        proc = subprocess.run(self._as + [str(c) for c in cmd], capture_output=True, text=True)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            raise RuntimeError(f"{cmd[0]} failed: {proc.stderr or proc.stdout}"
                               + (log.read_text(errors="replace") if log.exists() else ""))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket}"

    def new_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg
        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database :meth:`new_database` made (its connections ended first)."""
        import psycopg
        name = url.split("@/", 1)[1].split("?", 1)[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run([_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
