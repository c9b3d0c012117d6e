"""APFS containers through libfsapfs (pyfsapfs): every volume walked, snapshots listed.

The Sleuth Kit reads APFS only through its pool API (``fls -P apfs -B``), which pytsk3 does
not expose, so an APFS container -- a bare one, the disk inside a DMG or another container,
or a partition of a disk -- is read with libfsapfs. Each volume is a locator layer of its
own (``APFS volume 1 (Macintosh HD)``); its files, folders and links are entries as a
Sleuth Kit walk gives them, and extended attributes (a resource fork, ``myxattr``) are
``stream`` entries beside their file, as NTFS alternate data streams are. An encrypted
(FileVault) volume is opened with the key given (``--password-file``: a user's password or
the recovery key) and walked as ``APFS volume N (name, decrypted)``; without it, it is not
skipped in silence: a warning names it and what opens it.

APFS times are nanoseconds since 1970 in UTC: stored as UTC, zone known.
Snapshots: pyfsapfs does not expose them; libfsapfs's C API does (``libfsapfs.h``:
``libfsapfs_volume_get_number_of_snapshots`` and friends, exported by the pyfsapfs module),
so they are listed through ctypes, as ``ewf.py`` reads libewf's checksum errors, when the
container is a file of its own or a partition of a raw disk image
(``details["apfs_volumes"][n]["snapshots"]``; None where they cannot be listed: inside an E01
or another container). Their files are
not walked (libfsapfs gives a snapshot's name only).
"""
from __future__ import annotations

import ctypes
import re
import stat
import threading
from datetime import datetime, timezone
from typing import Any, BinaryIO, Callable, Iterator, cast

import pyfsapfs

from forensic.entry import FileEntry
from forensic.errors import CorruptSourceError
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator, safe_name
from forensic.sources.base import PositionalReader, Source, short_error

NX_MAGIC = b"NXSB"           # container superblock magic, at byte 32 of block 0
_INTERNAL_XATTRS = {"com.apple.fs.symlink", "com.apple.fs.firmlink"}   # the file system's own bookkeeping


def looks_like_apfs(head: bytes) -> bool:
    return head[32:36] == NX_MAGIC


class ImgFile(PositionalReader):
    """A read-only file object over a span of a pytsk3 image (a partition, a whole disk),
    the way libyal's ``open_file_object`` wants one."""

    def __init__(self, img: Any, offset: int = 0, length: int | None = None) -> None:
        super().__init__(img.get_size() - offset if length is None else length)
        self.img = img
        self.offset = offset

    def get_size(self) -> int:
        return self.size

    def read_at(self, offset: int, n: int) -> bytes:
        return cast(bytes, self.img.read(self.offset + offset, n))


class _ApfsReader(PositionalReader):
    """A seekable reader over a file's data or one of its extended attributes."""

    WHAT = "APFS read"

    def __init__(self, read_at: Callable[[int, int], bytes], size: int) -> None:
        super().__init__(size)
        self._read_at = read_at

    def read_at(self, offset: int, n: int) -> bytes:
        return self._read_at(offset, n)


def _time(ns: int | None) -> datetime | None:
    if not ns:
        return None
    try:
        return datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc).replace(
            microsecond=ns % 1_000_000_000 // 1000)
    except (OverflowError, OSError, ValueError):
        return None


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


class ApfsContainer:
    """An opened APFS container over a span of an image; every read holds one lock
    (libfsapfs shares one file object between all its volumes and files)."""

    def __init__(self, img: Any, offset: int = 0, length: int | None = None, label: str = "") -> None:
        self.lock = threading.RLock()
        self.file = ImgFile(img, offset, length)
        self.container = pyfsapfs.container()
        try:
            self.container.open_file_object(self.file)
        except (OSError, RuntimeError) as exc:
            raise CorruptSourceError(f"{label}: the APFS container cannot be opened ({short_error(exc)})",
                                     hint="the container may be damaged or truncated") from exc

    def close(self) -> None:
        with self.lock:
            try:
                self.container.close()
            except (OSError, RuntimeError):
                pass


class ApfsSource(Source):
    """Every volume of an APFS container, each its own locator layer."""

    FORMAT = "apfs"

    def __init__(self, img: Any, locator: Locator, limits: Limits = DEFAULT_LIMITS, label: str = "",
                 offset: int = 0, length: int | None = None, warnings: list[str] | None = None,
                 FORMAT: str = "apfs", path: str | None = None, key: bytes | None = None) -> None:
        super().__init__(locator, limits)
        self.FORMAT = FORMAT
        if warnings is not None:
            self.warnings = warnings        # shared with the disk source holding this container
        self.img = img
        self.label = label or str(locator)
        self.apfs = ApfsContainer(img, offset, length, self.label)
        self.volumes: list[tuple[Locator, Any]] = []
        described = []
        snapshots = list_snapshots(path, offset) if path is not None else None
        try:
            count = self.apfs.container.get_number_of_volumes()
        except (OSError, RuntimeError) as exc:
            self.close()
            raise CorruptSourceError(f"{self.label}: the APFS container's volumes cannot be read "
                                     f"({short_error(exc)})") from exc
        for i in range(count):
            info: dict = {"number": i + 1}
            described.append(info)
            try:
                volume = self.apfs.container.get_volume(i)
                name = volume.get_name() or ""
                info.update(name=name, identifier=volume.get_identifier())
                locked = volume.is_locked()
            except (OSError, RuntimeError) as exc:
                self.warnings.append(f"APFS volume {i + 1} of {self.label} cannot be read ({short_error(exc)})")
                continue
            info["snapshots"] = snapshots[i] if snapshots is not None and i < len(snapshots) else None
            shown = safe_name(name)[0]
            label = f"APFS volume {i + 1} ({shown})"
            if locked:
                info["encrypted"] = True
                if key is None or not _unlock(volume, key):
                    given = "the key given does not open it" if key is not None else "no key was given"
                    self.warnings.append(
                        f"APFS volume {i + 1} ({shown}) is encrypted (FileVault) and {given}: its files are not "
                        "listed; opening it needs a user's password or the recovery key (24 characters in six "
                        "groups), given with --password-file (the key on its first line)")
                    continue
                info["decrypted"] = True
                label = f"APFS volume {i + 1} ({shown}, decrypted)"
            self.volumes.append((locator.child("volume", label), volume))
        self.details["apfs_volumes"] = described
        self.details["file_system"] = "apfs"

    def entries(self) -> Iterator[FileEntry]:
        for loc, volume in self.volumes:
            yield from _Walker(self.apfs.lock, volume, loc, self.limits, self.warnings).walk()

    def close(self) -> None:
        self.volumes = []
        self.apfs.close()
        super().close()


class _Walker:
    def __init__(self, lock: threading.RLock, volume: Any, locator: Locator, limits: Limits,
                 warnings: list[str]) -> None:
        self.lock = lock
        self.volume = volume
        self.locator = locator
        self.limits = limits
        self.warnings = warnings

    def walk(self) -> Iterator[FileEntry]:
        try:
            with self.lock:
                root = self.volume.get_root_directory()
        except (OSError, RuntimeError) as exc:
            self.warnings.append(f"{self.locator}: cannot open the root folder ({short_error(exc)})")
            return
        yield from self._dir(root, "", 0, {root.identifier})

    def _dir(self, directory: Any, parent: str, depth: int, seen: set[int]) -> Iterator[FileEntry]:
        try:
            with self.lock:
                subs = list(directory.sub_file_entries)
        except (OSError, RuntimeError) as exc:
            self.warnings.append(f"{self.locator}: folder {parent or '/'} unreadable ({short_error(exc)})")
            return
        for sub in subs:
            try:
                with self.lock:
                    entry, attrs = self._entry(sub, parent)
            except (OSError, RuntimeError) as exc:
                self.warnings.append(f"{self.locator}: an entry of folder {parent or '/'} unreadable "
                                     f"({short_error(exc)})")
                continue
            yield entry
            yield from self._streams(sub, entry, attrs)
            if entry.kind == "dir":
                ident = int(entry.inode or 0)
                if ident in seen:
                    continue
                if depth >= self.limits.max_dir_depth:
                    entry.warnings.append("folder nesting too deep; not descended")
                    continue
                seen.add(ident)
                yield from self._dir(sub, entry.path, depth + 1, seen)

    def _entry(self, f: Any, parent: str) -> tuple[FileEntry, list[tuple[int, str, int]]]:
        name, valid = safe_name(f.get_name() or "")
        path = f"{parent}/{name}"
        kind = _kind(f.get_file_mode() or 0)
        ident = f.get_identifier()
        times = {"modified": _time(f.get_modification_time_as_integer()),
                 "accessed": _time(f.get_access_time_as_integer()),
                 "changed": _time(f.get_inode_change_time_as_integer()),
                 "born": _time(f.get_creation_time_as_integer())}
        size = f.get_size() if kind == "file" else None
        entry = FileEntry(self.locator.child("fs", path), path, name, kind, size, times=times,
                          times_tz_known=True, inode=str(ident), allocated=True, deleted=False,
                          recovery="allocated")
        if not valid:
            entry.warnings.append("file name is not valid UTF-8 (shown with \\x escapes)")
        if kind == "file":
            entry.opener = self._opener(ident, None, size or 0)
        elif kind == "link":
            target = f.get_symbolic_link_target()
            entry.link_target = safe_name(target)[0] if target else None
        attrs = []
        for i in range(f.get_number_of_extended_attributes()):
            xattr = f.get_extended_attribute(i)
            xname = xattr.get_name() or ""
            if xname not in _INTERNAL_XATTRS:
                attrs.append((i, xname, xattr.get_size()))
        return entry, attrs

    def _streams(self, f: Any, entry: FileEntry, attrs: list[tuple[int, str, int]]) -> Iterator[FileEntry]:
        for index, xname, size in attrs:
            sname = safe_name(xname)[0]
            stream = FileEntry(entry.locator.child("stream", f"{entry.name}:{sname}"), f"{entry.path}:{sname}",
                               f"{entry.name}:{sname}", "stream", size, times=entry.times,
                               times_tz_known=True, inode=entry.inode, allocated=True, deleted=False,
                               recovery="allocated")
            stream.opener = self._opener(int(entry.inode or 0), index, size)
            yield stream

    def _opener(self, ident: int, xattr: int | None, size: int) -> Callable[[], BinaryIO]:
        lock, volume = self.lock, self.volume

        def read_at(offset: int, n: int) -> bytes:
            # the file entry is looked up again per read: no libfsapfs object is held per file
            with lock:
                fe = volume.get_file_entry_by_identifier(ident)
                target = fe if xattr is None else fe.get_extended_attribute(xattr)
                data: bytes = target.read_buffer_at_offset(n, offset)
            return data

        return lambda: cast(BinaryIO, _ApfsReader(read_at, size))


_RECOVERY_KEY = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4}){5}$")


def _unlock(volume: Any, key: bytes) -> bool:
    """Whether ``key`` (a FileVault recovery key, else a user's password) opens the volume."""
    text = key.decode("utf-8", "replace").strip()
    try:
        if _RECOVERY_KEY.match(text.upper()):
            volume.set_recovery_password(text.upper())
        else:
            volume.set_password(text)
        return bool(volume.unlock())
    except (OSError, RuntimeError):
        return False


# -- snapshots, through libfsapfs's C API ---------------------------------------------------

def list_snapshots(path: str, offset: int = 0) -> list[list[str] | None] | None:
    """The snapshot names of every volume of the APFS container in the file ``path`` (at
    ``offset``: a partition of a raw disk image, read through a libbfio file range) -- a
    list per volume; None for a volume whose snapshots cannot be read -- or None when
    libfsapfs's C API cannot be reached or the container cannot be opened through it.
    The range is given no size (0: to the end of the file): with the partition's size this
    libbfio build fails to read a range whose size is smaller than its offset (it seems to
    take the size for an end offset); the container's superblock says where it ends."""
    try:
        lib = _capi()
    except (OSError, AttributeError):
        return None
    container = ctypes.c_void_p()
    err = ctypes.c_void_p()
    if lib.libfsapfs_container_initialize(ctypes.byref(container), ctypes.byref(err)) != 1:
        _free_error(lib, err)
        return None
    out: list[list[str] | None] = []
    bfio = ctypes.c_void_p()
    name = path.encode("utf-8", "surrogateescape")
    try:
        if offset:
            if lib.libbfio_file_range_initialize(ctypes.byref(bfio), ctypes.byref(err)) != 1 \
                    or lib.libbfio_file_range_set_name(bfio, name, len(name), ctypes.byref(err)) != 1 \
                    or lib.libbfio_file_range_set(bfio, offset, 0, ctypes.byref(err)) != 1 \
                    or lib.libfsapfs_container_open_file_io_handle(
                        container, bfio, lib.libfsapfs_get_access_flags_read(), ctypes.byref(err)) != 1:
                _free_error(lib, err)
                return None
        elif lib.libfsapfs_container_open(container, name, lib.libfsapfs_get_access_flags_read(),
                                          ctypes.byref(err)) != 1:
            _free_error(lib, err)
            return None
        count = ctypes.c_int()
        if lib.libfsapfs_container_get_number_of_volumes(container, ctypes.byref(count), ctypes.byref(err)) != 1:
            _free_error(lib, err)
            return None
        for i in range(count.value):
            out.append(_volume_snapshots(lib, container, i))
        lib.libfsapfs_container_close(container, ctypes.byref(err))
        _free_error(lib, err)
    finally:
        lib.libfsapfs_container_free(ctypes.byref(container), ctypes.byref(err))
        _free_error(lib, err)
        if bfio.value:
            lib.libbfio_handle_free(ctypes.byref(bfio), ctypes.byref(err))
            _free_error(lib, err)
    return out


def _volume_snapshots(lib: ctypes.CDLL, container: ctypes.c_void_p, index: int) -> list[str] | None:
    volume, err = ctypes.c_void_p(), ctypes.c_void_p()
    if lib.libfsapfs_container_get_volume_by_index(container, index, ctypes.byref(volume), ctypes.byref(err)) != 1:
        _free_error(lib, err)
        return None
    names: list[str] | None = []
    try:
        count = ctypes.c_int()
        if lib.libfsapfs_volume_get_number_of_snapshots(volume, ctypes.byref(count), ctypes.byref(err)) != 1:
            _free_error(lib, err)
            return None
        for s in range(count.value):
            snap = ctypes.c_void_p()
            if lib.libfsapfs_volume_get_snapshot_by_index(volume, s, ctypes.byref(snap), ctypes.byref(err)) != 1:
                _free_error(lib, err)
                names = None
                break
            size = ctypes.c_size_t()
            text = f"snapshot {s + 1}"
            if lib.libfsapfs_snapshot_get_utf8_name_size(snap, ctypes.byref(size), ctypes.byref(err)) == 1 \
                    and size.value:
                buf = ctypes.create_string_buffer(size.value)
                if lib.libfsapfs_snapshot_get_utf8_name(snap, buf, size.value, ctypes.byref(err)) == 1:
                    text = safe_name(buf.value)[0]
            _free_error(lib, err)
            lib.libfsapfs_snapshot_free(ctypes.byref(snap), ctypes.byref(err))
            _free_error(lib, err)
            assert names is not None
            names.append(text)
    finally:
        lib.libfsapfs_volume_free(ctypes.byref(volume), ctypes.byref(err))
        _free_error(lib, err)
    return names


def _free_error(lib: ctypes.CDLL, err: ctypes.c_void_p) -> None:
    if err.value:
        lib.libfsapfs_error_free(ctypes.byref(err))
        err.value = None


_LIB: ctypes.CDLL | None = None


def _capi() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        lib = ctypes.CDLL(pyfsapfs.__file__)
        P, PP, ip, sp = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int), \
            ctypes.POINTER(ctypes.c_size_t)
        sigs: dict[str, tuple[Any, list[Any]]] = {
            "libfsapfs_get_access_flags_read": (ctypes.c_int, []),
            "libfsapfs_error_free": (None, [PP]),
            "libfsapfs_container_initialize": (ctypes.c_int, [PP, PP]),
            "libfsapfs_container_free": (ctypes.c_int, [PP, PP]),
            "libfsapfs_container_open": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int, PP]),
            "libfsapfs_container_open_file_io_handle": (ctypes.c_int, [P, P, ctypes.c_int, PP]),
            "libbfio_file_range_initialize": (ctypes.c_int, [PP, PP]),
            "libbfio_file_range_set_name": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t, PP]),
            "libbfio_file_range_set": (ctypes.c_int, [P, ctypes.c_int64, ctypes.c_uint64, PP]),
            "libbfio_handle_free": (ctypes.c_int, [PP, PP]),
            "libfsapfs_container_close": (ctypes.c_int, [P, PP]),
            "libfsapfs_container_get_number_of_volumes": (ctypes.c_int, [P, ip, PP]),
            "libfsapfs_container_get_volume_by_index": (ctypes.c_int, [P, ctypes.c_int, PP, PP]),
            "libfsapfs_volume_free": (ctypes.c_int, [PP, PP]),
            "libfsapfs_volume_get_number_of_snapshots": (ctypes.c_int, [P, ip, PP]),
            "libfsapfs_volume_get_snapshot_by_index": (ctypes.c_int, [P, ctypes.c_int, PP, PP]),
            "libfsapfs_snapshot_free": (ctypes.c_int, [PP, PP]),
            "libfsapfs_snapshot_get_utf8_name_size": (ctypes.c_int, [P, sp, PP]),
            "libfsapfs_snapshot_get_utf8_name": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t, PP]),
        }
        for name, (restype, argtypes) in sigs.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        _LIB = lib
    return _LIB
