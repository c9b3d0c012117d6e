"""What a disk's partitions hold beyond a file system The Sleuth Kit reads, for
:class:`~forensic.sources.tsk.TskImageSource`: an APFS container (walked with
:mod:`forensic.sources.apfs`), an encrypted volume (reported by
:mod:`forensic.sources.encrypted`, or, BitLocker and LUKS, opened with the key given to
``open_source`` and walked decrypted under ``partition N (LUKS1, decrypted)``), and the
Volume Shadow Copies of an NTFS volume.

Shadow copies (libvshadow, pyvshadow): each snapshot of an NTFS volume is the volume as it
was when the snapshot was taken; its file system is walked as an extra volume whose
locator has a layer ``shadow copy N (taken at)`` under the partition's. Every file of
every snapshot is listed and hashed, so a file unchanged since a snapshot is listed once
per snapshot with the same SHA-256: the dedup is by hash in the store (``files --sha256``
lists every place one content was found), not by leaving entries out, so that what each
snapshot held stays provable.
"""
from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator, cast

import pytsk3

from forensic.entry import FileEntry
from forensic.errors import SourceError
from forensic.sources.apfs import ApfsSource, ImgFile, looks_like_apfs
from forensic.sources.base import Source, short_error
from forensic.sources.encrypted import OPENABLE, PROBE, examine, open_decrypted, warning

if TYPE_CHECKING:
    from forensic.sources.tsk import TskImageSource

MAX_SHADOW_COPIES = 64
# the key (--password-file) for encrypted partitions, while a disk's source is being opened
_KEY: ContextVar[bytes | None] = ContextVar("forensic_volume_key", default=None)
# the path of a raw disk image being opened (APFS snapshots are listed from the file itself)
_PATH: ContextVar[str | None] = ContextVar("forensic_raw_path", default=None)


@contextmanager
def volume_key(key: bytes | None, raw_path: str | None = None) -> Iterator[None]:
    """Within: a disk's BitLocker/LUKS partitions are opened with ``key``; ``raw_path``: the
    disk is that raw image file."""
    token, path_token = _KEY.set(key), _PATH.set(raw_path)
    try:
        yield
    finally:
        _KEY.reset(token)
        _PATH.reset(path_token)
# the sources found inside a disk's source (APFS containers, shadow copies), walked after it
_inner: weakref.WeakKeyDictionary[Any, list[Source]] = weakref.WeakKeyDictionary()


def claim_partition(src: TskImageSource, info: dict) -> bool:
    """A partition without a file system TSK reads: an APFS container (its volumes are
    walked after the disk's other volumes) or an encrypted volume (a warning naming it and
    what opens it). True when it was one of those and has been dealt with."""
    start, length, number = info["start"], info["length"], info["number"]
    where = f"partition {number} ({info.get('description', '')})"
    try:
        head = src.img.read(start, PROBE)
    except (OSError, RuntimeError):
        return False
    if looks_like_apfs(head):
        loc = src.locator.child("partition", f"partition {number} (apfs)")
        try:
            apfs = ApfsSource(src.img, loc, src.limits, src.label, offset=start, length=length,
                              warnings=src.warnings, key=_KEY.get(), path=_PATH.get())
        except SourceError as exc:
            src.warnings.append(f"{where}: {exc.message}")
            info["file_system"] = "apfs"
            return True
        info["file_system"] = "apfs"
        info["apfs_volumes"] = apfs.details["apfs_volumes"]
        _inner.setdefault(src, []).append(apfs)
        src.owned.append(cast(BinaryIO, apfs))          # closed with the disk's source
        return True
    found = examine(src.img, start, length)
    if found is None:
        return False
    info["encryption"] = found.to_json()
    key = _KEY.get()
    if key is None or found.scheme not in OPENABLE:
        src.warnings.append(warning(found, where))
        return True
    from forensic.sources.tsk import TskImageSource
    try:
        decrypted = open_decrypted(src.img, start, length, found, key, where)
    except SourceError as exc:
        src.warnings.append(f"{warning(found, where)} ({exc.message})")
        return True
    loc = src.locator.child("partition", f"partition {number} ({found.scheme}, decrypted)")
    try:
        inner = TskImageSource(decrypted, loc, src.limits, src.label)
    except SourceError as exc:
        decrypted.close()
        src.warnings.append(f"{where}: opened with the key, but {exc.message}")
        return True
    info["encryption"]["decrypted"] = True
    src.warnings.extend(inner.warnings)
    inner.warnings = src.warnings
    inner.owned.append(cast(BinaryIO, decrypted))
    _inner.setdefault(src, []).append(inner)
    src.owned.append(cast(BinaryIO, inner))
    return True


def has_inner(src: TskImageSource) -> bool:
    return bool(_inner.get(src))


def inner_entries(src: TskImageSource) -> Iterator[FileEntry]:
    """The entries of the APFS containers in the disk's partitions and of its shadow copies."""
    for inner in _inner.get(src, []):
        yield from inner.entries()


class StoreImgInfo(pytsk3.Img_Info):
    """A pytsk3 image over one shadow copy (a pyvshadow store: the volume as it was)."""

    def __init__(self, store: Any, lock: threading.Lock) -> None:
        self.store = store
        self.lock = lock
        self.size = store.get_volume_size()
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:
        size = max(0, min(size, self.size - offset))
        with self.lock:
            data: bytes = self.store.read_buffer_at_offset(size, offset)
        return data

    def get_size(self) -> int:
        return int(self.size)


def add_shadow_copies(src: TskImageSource) -> None:
    """Each NTFS volume's shadow copies, walked after the disk's own volumes (each as a
    source of its own over the snapshot, under the volume's locator); what they are in the
    details (``shadow_copies``), a snapshot that cannot be read as a warning."""
    import pyvshadow

    from forensic.sources.tsk import TskImageSource
    if isinstance(src.img, StoreImgInfo):
        return                          # a snapshot's own copy of the shadow-copy header
    parts = {p["start"]: p for p in src.details.get("partitions") or []}
    for loc, _fs, fstype, offset in list(src.volumes):
        if fstype != "ntfs":
            continue
        part = parts.get(offset)
        length = part["length"] if part is not None else src.img.get_size() - offset
        reader = ImgFile(src.img, offset, length)
        try:
            if not pyvshadow.check_volume_signature_file_object(reader):
                continue
            volume = pyvshadow.volume()
            volume.open_file_object(reader)
            count = volume.get_number_of_stores()
        except (OSError, RuntimeError) as exc:
            src.warnings.append(f"{loc}: the volume shadow copies cannot be read ({short_error(exc)})")
            continue
        src.owned.append(cast(BinaryIO, volume))
        lock = threading.Lock()
        described = []
        for i in range(min(count, MAX_SHADOW_COPIES)):
            try:
                store = volume.get_store(i)
                taken = _filetime(store.get_creation_time_as_integer())
                label = f"shadow copy {i + 1} ({taken or 'time unknown'})"
                snapshot = TskImageSource(StoreImgInfo(store, lock), loc.child("snapshot", label), src.limits,
                                          f"{src.label} {label}")
            except (OSError, RuntimeError, SourceError) as exc:
                src.warnings.append(f"{loc}: shadow copy {i + 1} cannot be read ({short_error(exc)})")
                continue
            src.warnings.extend(snapshot.warnings)
            snapshot.warnings = src.warnings
            described.append({"number": i + 1, "taken_at": taken, "identifier": str(store.get_identifier())})
            _inner.setdefault(src, []).append(snapshot)
        if count > MAX_SHADOW_COPIES:
            src.warnings.append(f"{loc}: {count} shadow copies; only the first {MAX_SHADOW_COPIES} are walked")
        src.details.setdefault("shadow_copies", []).append({"volume": str(loc), "copies": described})


def _filetime(value: int | None) -> str | None:
    """A Windows FILETIME (100 ns since 1601, UTC) as ISO 8601 UTC."""
    if not value:
        return None
    try:
        seconds = value / 10_000_000 - 11_644_473_600
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None

