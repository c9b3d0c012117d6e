"""A folder: a logical extraction of a phone or computer.

Never follows a symbolic link (links are recorded as links, with their target), never
opens FIFOs, sockets or devices, and reads files with O_NOATIME where allowed so that
access times on the evidence are not changed by the triage.
"""
from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from forensic.entry import FileEntry
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator, safe_name
from forensic.sources.base import Source, open_readonly


def _ts(seconds_ns: int) -> datetime:
    return datetime.fromtimestamp(seconds_ns / 1e9, tz=timezone.utc)


class DirectorySource(Source):
    FORMAT = "directory"

    def __init__(self, root: Path, locator: Locator, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(locator, limits)
        self.root = Path(root).resolve()

    def entries(self) -> Iterator[FileEntry]:
        try:
            fd = _open_dir(os.fsencode(self.root), None)
        except OSError as exc:
            self.warnings.append(f"cannot open the folder: {exc.strerror or exc}")
            return
        try:
            yield from self._walk(fd, b"", 0)
        finally:
            os.close(fd)

    def _walk(self, dir_fd: int, rel_dir: bytes, depth: int) -> Iterator[FileEntry]:
        # Folders are opened by descriptor (O_NOATIME where allowed) and every child is
        # reached relative to it: no path is re-resolved, so no link can redirect the walk.
        try:
            with os.scandir(dir_fd) as it:
                children = sorted(os.fsencode(e.name) for e in it)
        except OSError as exc:
            self.warnings.append(f"cannot list folder /{safe_name(rel_dir)[0]}: {exc.strerror or exc}")
            return
        for bname in children:
            rel = rel_dir + b"/" + bname
            path, valid = safe_name(rel)
            name = safe_name(bname)[0]
            try:
                st = os.stat(bname, dir_fd=dir_fd, follow_symlinks=False)
            except OSError as exc:
                entry = FileEntry(self.locator.child("fs", path), path, name, "other", None)
                entry.warnings.append(f"cannot stat: {exc.strerror or exc}")
                yield entry
                continue
            birth = getattr(st, "st_birthtime", None)      # BSD and macOS only
            times = {
                "modified": _ts(st.st_mtime_ns),
                "accessed": _ts(st.st_atime_ns),
                "changed": _ts(st.st_ctime_ns),
                "born": _ts(int(birth * 1e9)) if birth is not None else None,
            }
            mode = st.st_mode
            entry = FileEntry(self.locator.child("fs", path), path, name, "other", st.st_size,
                              times=times, inode=str(st.st_ino))
            if not valid:
                entry.warnings.append("file name is not valid UTF-8 (shown with \\x escapes)")
            if stat.S_ISLNK(mode):
                entry.kind = "link"
                try:
                    entry.link_target = safe_name(os.readlink(bname, dir_fd=dir_fd))[0]
                except OSError:
                    pass
                yield entry
            elif stat.S_ISDIR(mode):
                entry.kind = "dir"
                entry.size = None
                yield entry
                if depth >= self.limits.max_dir_depth:
                    entry.warnings.append(f"folder nesting deeper than {self.limits.max_dir_depth}; not descended")
                    continue
                try:
                    sub = _open_dir(bname, dir_fd)
                except OSError as exc:
                    entry.warnings.append(f"cannot open folder: {exc.strerror or exc}")
                    continue
                try:
                    yield from self._walk(sub, rel, depth + 1)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(mode):
                entry.kind = "file"
                full = os.path.join(os.fsencode(self.root), rel.lstrip(b"/"))
                entry.opener = lambda full=full: open_readonly(full)
                yield entry
            else:
                kind = ("FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode)
                        else "device" if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else "special file")
                entry.size = None
                entry.warnings.append(f"{kind}: recorded, not opened")
                yield entry


def _open_dir(name: bytes, dir_fd: int | None) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        return os.open(name, flags | noatime, dir_fd=dir_fd)
    except PermissionError:
        return os.open(name, flags, dir_fd=dir_fd)


def tree_digest(source: DirectorySource, hashers: dict) -> int:
    """Feed a canonical listing of a folder (path, kind, size, SHA-256 per file) into
    ``hashers``; returns the total file bytes. This is what a folder's intake hash means."""
    import hashlib

    total = 0
    for entry in source.entries():
        digest = ""
        if entry.kind == "file":
            h = hashlib.sha256()
            try:
                with entry.open() as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                        total += len(chunk)
                digest = h.hexdigest()
            except OSError as exc:
                digest = f"unreadable:{exc.errno}"
        size = entry.size if entry.size is not None else ""
        line = f"{entry.kind}\t{size}\t{digest}\t{entry.path}\t{entry.link_target or ''}\n"
        data = line.encode("utf-8", "backslashreplace")
        for h in hashers.values():
            h.update(data)
    return total
