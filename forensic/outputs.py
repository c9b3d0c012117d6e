"""Where a command may write: never over evidence, never over the case's own store.

Every file a command writes at a path the examiner names (``--out``, ``--password-out``,
``case init DIR``, ``examiner keygen --out``, ``verify-bundle --extract``) goes through
:func:`check_output` first. It refuses a path that is, or is inside, a registered evidence
source of the case (a file, an E01's segments, a folder source), and the case's own files
(``case.db`` and its journals, the custody log, its checkpoints, quarantine and logs).
Both the path as written and the path with every symlink resolved are checked, and an
existing file is compared by device and inode too, so a symlink or a hard link to evidence
is caught. New files are then created with ``O_EXCL | O_NOFOLLOW`` (:func:`create_new`),
or written to a fresh temporary file beside the target and renamed over it
(:func:`write_atomic`), which replaces a symlink rather than writing through it.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from forensic.case import item_source
from forensic.errors import UsageError

# The case folder's own files and folders (see forensic.case and forensic.chain_of_custody.log).
CASE_FILES = ("case.db", "case.db-wal", "case.db-shm", "case.db-journal", "custody.jsonl",
              "custody.checkpoints.jsonl", "custody.quarantine", "logs")


@dataclass(frozen=True)
class Protected:
    path: Path          # absolute, symlinks resolved
    is_dir: bool
    what: str           # for the error message, e.g. "evidence item 'phone'"


def protected_paths(case) -> list[Protected]:
    """What no output may overwrite or write into, for ``case`` (a forensic.case.Case)."""
    found: list[Protected] = []
    for row in case.items():
        source = item_source(row)
        what = f"evidence item {row['item']!r}"
        found.append(Protected(_resolved(source), source.is_dir(), what))
        details = json.loads(row["details"] or "{}")
        for seg in details.get("segments") or []:      # an E01's other segment files
            found.append(Protected(_resolved(source.parent / seg["name"]), False, what))
        if details.get("password_file"):
            found.append(Protected(_resolved(Path(details["password_file"])), False,
                                   f"the password file of {what}"))
    root = _resolved(case.root)
    for name in CASE_FILES:
        found.append(Protected(root / name, name in ("custody.quarantine", "logs"), "the case store"))
    return found


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(path: Path, case=None, *, cases: tuple = (), option: str = "--out") -> Path:
    """Refuse ``path`` as an output when it is, or is inside, a protected path of ``case``
    (and of each of ``cases``). Returns ``path``."""
    guarded = [p for c in (case, *cases) if c is not None for p in protected_paths(c)]
    if not guarded:
        return path
    candidates = {Path(os.path.abspath(path)), _resolved(path)}
    try:        # the parent resolved, the last component as written (a symlink not followed)
        candidates.add(_resolved(Path(path).parent) / Path(path).name)
    except OSError:
        pass
    try:
        st = os.stat(path)
        same_inode = (st.st_dev, st.st_ino)
    except OSError:
        same_inode = None
    for p in guarded:
        for c in candidates:
            if _inside(c, p.path):
                raise UsageError(f"{option} {path} would write over {p.what} ({p.path})",
                                 hint="evidence and the case store are never written: choose a path "
                                      "outside them")
        if same_inode is not None:
            try:
                pst = os.stat(p.path)
            except OSError:
                continue
            if (pst.st_dev, pst.st_ino) == same_inode:
                raise UsageError(f"{option} {path} is the same file as {p.what} ({p.path})",
                                 hint="evidence and the case store are never written: choose a path "
                                      "outside them")
    return path


def create_new(path: Path, mode: int = 0o600) -> int:
    """Create ``path`` as a new file (never an existing one, never through a symlink) and
    return its descriptor open for writing."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError as exc:
        raise UsageError(f"{path} already exists", hint="remove it or choose another name") from exc


@contextmanager
def write_atomic(path: Path, mode: str = "w", **open_kw) -> Iterator[IO]:
    """Write ``path`` through a new temporary file beside it, flushed to disk and renamed
    over ``path`` at the end (a symlink at ``path`` is replaced, never written through);
    on any error the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder", hint="give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"the folder of {path} does not exist", hint="create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    try:
        with os.fdopen(fd, mode, **open_kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
