"""Virtual-disk containers read in place through the libyal libraries, read-only.

QCOW2 (pyqcow; backing files), VMDK (pyvmdk; sparse, flat, multi-extent, parent disks),
VHD and VHDX (pyvhdi; fixed, dynamic, differencing), DMG (pymodi; UDIF, compressed) and
split raw (pysmraw; ``.001``, ``.002``, ...). Each gives the disk it holds as
:class:`ContainerMedia` (the virtual disk's bytes, thread-safe), which
:class:`ContainerImgInfo` hands to The Sleuth Kit as an external image, as ``EwfImgInfo``
does for E01.

A container of several files (a QCOW2 and its backing file, a VMDK descriptor and its
extents, the segments of a split image) has every part opened from the folder of the file
given, by its base name only: a name inside the evidence is never followed as a path
(``../../etc``), and a part that is missing there is a clear error, never a part found
elsewhere. The libraries open every file for reading only.
"""
from __future__ import annotations

import os
import re
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, cast

import pytsk3

from forensic.errors import CorruptSourceError, UnsupportedFormatError
from forensic.sources.base import display_path, lib_path, open_readonly

# Format names, as detect_format returns them and the case store records them.
FORMATS = ("qcow2", "vmdk", "vhd", "vhdx", "dmg", "split")
NAMES = {"qcow2": "QCOW2", "vmdk": "VMDK", "vhd": "VHD", "vhdx": "VHDX", "dmg": "DMG (UDIF)",
         "split": "split raw"}
MAX_CHAIN = 16              # backing files / parent disks followed at most
_SPLIT_FIRST = re.compile(r"\.(000|001|aa)$", re.IGNORECASE)     # dd/FTK (.001), split(1) (.aa)


def sniff(path: Path, head: bytes) -> str | None:
    """The container format of ``path`` by its signature (``head``: its first bytes), or None.
    A split raw image is named ``NAME.001`` (or ``.000``, or ``NAME.aa`` as split(1) names
    them) with at least the next segment beside it."""
    if head[:4] == b"QFI\xfb":
        return "qcow2"
    if head[:4] in (b"KDMV", b"COWD") or head.lstrip(b"\xef\xbb\xbf").startswith(b"# Disk DescriptorFile"):
        return "vmdk"
    if head[:8] == b"vhdxfile":
        return "vhdx"
    if head[:8] == b"conectix":             # a dynamic VHD keeps a copy of its footer at the start
        return "vhd"
    tail = _tail(path)
    if tail[-512:-504] == b"conectix" or tail[-511:-503] == b"conectix":   # fixed VHD: footer only
        return "vhd"
    if tail[-512:-508] == b"koly":            # UDIF trailer
        return "dmg"
    if _SPLIT_FIRST.search(path.name) and len(split_segments(path)) > 1:
        return "split"
    return None


def _tail(path: Path, n: int = 1024) -> bytes:
    try:
        with open_readonly(path) as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - n))
            return fh.read(n)
    except OSError:
        return b""


def split_segments(path: Path) -> list[Path]:
    """The segments of a split raw image whose first segment is ``path``, in order: the
    siblings numbered on from it with no gap (libsmraw's own glob)."""
    import pysmraw
    try:
        found = pysmraw.glob(os.path.join(lib_path(path.parent), path.name))
    except (OSError, RuntimeError):
        return [path]
    return [path.parent / Path(f).name for f in found] or [path]


def missing_segment(segments: list[Path]) -> str | None:
    """The name of the first segment missing from a split image whose later segments are
    there (``disk.003`` gone, ``disk.004`` beside ``disk.001``; ``.ac`` gone, ``.ad``
    there), or None."""
    last = segments[-1]
    m = re.search(r"\.(\d{3}|[a-z]{2}|[A-Z]{2})$", last.name)
    if m is None:
        return None
    stem, suffix = last.name[: m.start()], m.group(1)
    if suffix.isdigit():
        following = [f"{n:03d}" for n in range(int(suffix) + 1, 1000)]
    else:
        base = ord("a") if suffix.islower() else ord("A")
        number = (ord(suffix[0]) - base) * 26 + ord(suffix[1]) - base
        following = [chr(base + n // 26) + chr(base + n % 26) for n in range(number + 1, 26 * 26)]
    present = {p.name for p in last.parent.iterdir() if p.name.startswith(stem + ".")}
    if any(f"{stem}.{name}" in present for name in following[1:]):
        return f"{stem}.{following[0]}"
    return None


def _own_name(name: str) -> str:
    """A file name stored in the evidence (a backing file, an extent), reduced to its last
    part: POSIX or Windows separators alike, never followed up or across folders."""
    base = re.split(r"[\\/]", name.strip().strip("\x00"))[-1]
    if base in ("", ".", ".."):
        raise ValueError(f"not a file name: {name!r}")
    return base


def _part(folder: Path, stored: str, what: str, container: str) -> Path:
    try:
        base = _own_name(stored)
    except ValueError:
        base = ""
    candidate = folder / base if base else None
    if candidate is None or not candidate.is_file():
        raise CorruptSourceError(
            f"{container}: its {what} {stored!r} is not beside it in {display_path(folder)}",
            hint=f"copy the {what} into the same folder, under that name, and add the evidence again")
    _refuse_link_out(folder, candidate, what, container)
    return candidate


def _next_in_chain(folder: Path, stored: str, what: str, container: str, files: list[Path],
                   chain: list[str]) -> Path:
    """The next backing file or parent disk named ``stored``, beside the container (``_part``),
    added to ``files`` and ``chain``: a chain longer than MAX_CHAIN or one that comes back to a
    part already open is refused."""
    if len(chain) >= MAX_CHAIN:
        raise CorruptSourceError(f"{container}: more than {MAX_CHAIN} {what}s (a loop?)")
    part = _part(folder, stored, what, container)
    if part in files:
        raise CorruptSourceError(f"{container}: its {what}s form a loop ({display_path(part.name)})")
    files.append(part)
    chain.append(display_path(part.name))
    return part


def _refuse_link_out(folder: Path, part: Path, what: str, container: str) -> None:
    """A part that is a symlink to a file outside the container's folder (planted in the seized
    folder, pointing at the examiner's own files) is refused: parts are read from beside the
    container only."""
    if part.is_symlink() and part.resolve().parent != folder.resolve():
        raise CorruptSourceError(
            f"{container}: its {what} {display_path(part.name)} is a symbolic link to a file outside "
            f"{display_path(folder)}; it is not followed",
            hint=f"copy the {what} itself into the same folder and add the evidence again")


@dataclass
class ContainerMedia:
    """An opened container: its disk's bytes (``read_at``, thread-safe), every file it is
    made of (the one given first) and facts about it for the item's details."""

    fmt: str
    handle: Any
    size: int
    files: list[Path]
    details: dict = field(default_factory=dict)
    extra: list[Any] = field(default_factory=list)     # parent handles, closed last
    patch: QcowCompressed | None = None                # QCOW2: compressed clusters read here
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to n bytes of the disk at offset (fewer only at its end); OSError on a read error."""
        n = max(0, min(n, self.size - offset))
        if n <= 0:
            return b""
        with self._lock:
            try:
                data: bytes = self.handle.read_buffer_at_offset(n, offset)
            except (OSError, IOError, RuntimeError) as exc:
                raise OSError(f"{NAMES[self.fmt]} read failed at disk offset {offset:,}: {libyal_error(exc)}") from exc
            if self.patch is not None:
                data = self.patch.apply(offset, data)
        return data

    def close(self) -> None:
        with self._lock:
            for h in [self.handle, *reversed(self.extra)]:
                try:
                    h.close()
                except (OSError, RuntimeError):
                    pass
            self.extra = []


class QcowCompressed:
    """The compressed clusters of a QCOW2 chain, read and inflated here.

    libqcow (20260703) reads a compressed cluster whose data does not start on a 512-byte
    boundary -- as qemu-img convert -c writes most of them -- as zeros, without an error
    (found by comparing with qemu-img's own reading of the same image). Every compressed
    cluster the disk shows (the top file's, or a backing file's where no file above holds
    that cluster) is therefore located from the L1/L2 tables and inflated with zlib, as the
    QCOW2 specification says (raw deflate of at most ``(sectors + 1) * 512 - offset % 512``
    bytes); libqcow still reads everything else. zstd-compressed images are left to libqcow.
    """

    def __init__(self, cluster_bits: int, clusters: dict[int, tuple[Path, int, int]]) -> None:
        self.size = 1 << cluster_bits
        self.clusters = clusters              # cluster number -> (file, byte offset, compressed bytes)
        self._cache: dict[int, bytes] = {}

    @classmethod
    def of(cls, files: list[Path]) -> QcowCompressed | None:
        """None when no cluster is compressed (or the tables cannot be read: libqcow decides)."""
        found: dict[int, tuple[Path, int, int]] = {}
        bits = 16
        try:
            layers = [_QcowTables(path) for path in files]     # top first
            for depth, layer in enumerate(layers):
                bits = layer.bits
                for number, entry in layer.compressed():
                    # a cluster is the first file's that holds it: one above hides this one
                    if number in found or any(upper.entry(number) for upper in layers[:depth]):
                        continue
                    shift = 62 - (bits - 8)
                    offset = entry & ((1 << shift) - 1)
                    sectors = (entry >> shift) & ((1 << (bits - 8)) - 1)
                    found[number] = (layer.path, offset, (sectors + 1) * 512 - offset % 512)
        except (OSError, ValueError, struct.error):
            return None
        return cls(bits, found) if found else None

    def cluster(self, number: int) -> bytes:
        data = self._cache.get(number)
        if data is None:
            path, offset, length = self.clusters[number]
            with open_readonly(path) as fh:
                fh.seek(offset)
                packed = fh.read(length)
            try:
                data = zlib.decompressobj(-15).decompress(packed, self.size)
            except zlib.error as exc:
                raise OSError(f"QCOW2 compressed cluster {number} does not inflate ({exc})") from exc
            data = data.ljust(self.size, b"\x00")
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[number] = data
        return data

    def apply(self, offset: int, data: bytes) -> bytes:
        end = offset + len(data)
        first, last = offset // self.size, (end - 1) // self.size
        hits = [n for n in range(first, last + 1) if n in self.clusters]
        if not hits:
            return data
        out = bytearray(data)
        for n in hits:
            start = n * self.size
            lo, hi = max(offset, start), min(end, start + self.size)
            out[lo - offset:hi - offset] = self.cluster(n)[lo - start:hi - start]
        return bytes(out)


_COMPRESSED_BIT = bytes(1 if b & 0x40 else 0 for b in range(256))    # bit 62 of a big-endian entry


class _QcowTables:
    """The L1 and L2 tables of one QCOW2 file (version 2 or 3, zlib), read as needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open_readonly(path) as fh:
            head = fh.read(112)
            if head[:4] != b"QFI\xfb":
                raise ValueError("not QCOW")
            version, = struct.unpack(">I", head[4:8])
            if version not in (2, 3):
                raise ValueError("QCOW version")
            self.bits, = struct.unpack(">I", head[20:24])
            l1_size, = struct.unpack(">I", head[36:40])
            l1_offset, = struct.unpack(">Q", head[40:48])
            if not 9 <= self.bits <= 21 or l1_size > 1 << 24:
                raise ValueError("QCOW header")
            if version == 3 and len(head) >= 105 and struct.unpack(">I", head[100:104])[0] >= 105 and head[104]:
                raise ValueError("not zlib")
            extended = version == 3 and bool(struct.unpack(">Q", head[72:80])[0] & 16)   # extended L2 entries
            self.step = 16 if extended else 8
            fh.seek(l1_offset)
            self.l1 = struct.unpack(f">{l1_size}Q", fh.read(8 * l1_size))
        # Every L2 table of the active L1 is a cluster of its own (the specification): a table
        # named twice, or not on a cluster boundary, would make a file of a few hundred KB
        # list millions of compressed clusters (found by the red team), so it is refused.
        tables = [e & ((1 << 56) - 1) & ~511 for e in self.l1]
        tables = [t for t in tables if t]
        if len(set(tables)) != len(tables) or any(t % (1 << self.bits) for t in tables):
            raise ValueError("QCOW L2 tables shared or misaligned")
        self.per_table = (1 << self.bits) // self.step
        self._tables: dict[int, bytes] = {}

    def _table(self, fh: BinaryIO | None, index: int) -> bytes:
        raw = self._tables.get(index)
        if raw is None:
            offset = self.l1[index] & ((1 << 56) - 1) & ~511
            raw = b""
            if offset:
                if fh is None:
                    with open_readonly(self.path) as own:
                        own.seek(offset)
                        raw = own.read(1 << self.bits)
                else:
                    fh.seek(offset)
                    raw = fh.read(1 << self.bits)
            if len(self._tables) > 256:
                self._tables.clear()
            self._tables[index] = raw
        return raw

    def entry(self, number: int) -> int:
        """The L2 entry of a cluster (0: this file does not hold it)."""
        index, slot = divmod(number, self.per_table)
        if index >= len(self.l1):
            return 0
        raw = self._table(None, index)
        at = slot * self.step
        return int.from_bytes(raw[at:at + 8], "big") if len(raw) >= at + 8 else 0

    def compressed(self) -> Iterator[tuple[int, int]]:
        """(cluster number, L2 entry) of every compressed cluster of this file. The tables are
        scanned a byte column at a time (C speed): most tables hold no compressed cluster."""
        with open_readonly(self.path) as fh:
            for index in range(len(self.l1)):
                if not self.l1[index] & ((1 << 56) - 1) & ~511:
                    continue
                raw = self._table(fh, index)
                self._tables.pop(index, None)
                flags = raw[::self.step].translate(_COMPRESSED_BIT)
                slot = flags.find(1)
                while slot >= 0:
                    at = slot * self.step
                    yield index * self.per_table + slot, int.from_bytes(raw[at:at + 8], "big")
                    slot = flags.find(1, slot + 1)


class ContainerImgInfo(pytsk3.Img_Info):
    """A pytsk3 image over a container's disk (pytsk3's external image type).

    A span of the disk that cannot be read (a truncated or damaged container) is given to
    The Sleuth Kit as zeros, as libewf gives a bad E01 chunk, so that one bad cluster does
    not make a whole file system unreadable; each such span is a warning in ``warnings``
    (the source's list, set by whoever opens the source), said once."""

    PIECE = 4096

    def __init__(self, media: ContainerMedia) -> None:
        self.media = media
        self.warnings: list[str] = []
        self.bad: list[tuple[int, int]] = []          # [start, end) spans read as zeros, in order met
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:
        try:
            return self.media.read_at(offset, size)
        except OSError:
            pass
        parts, pos, end = [], offset, min(offset + size, self.media.size)
        while pos < end:
            step = min(self.PIECE - pos % self.PIECE, end - pos)
            try:
                parts.append(self.media.read_at(pos, step))
            except OSError as exc:
                parts.append(bytes(step))
                self._unreadable(pos, pos + step, exc)
            pos += step
        return b"".join(parts)

    def _unreadable(self, start: int, end: int, exc: OSError) -> None:
        if self.bad and self.bad[-1][1] == start:         # the span goes on: one warning for it
            start = self.bad[-1][0]
            self.bad[-1] = (start, end)
            old = self._warning(start, self._last_end, self._last_reason)
            if old in self.warnings:
                self.warnings.remove(old)
        else:
            self.bad.append((start, end))
        reason = str(exc).split(": ", 1)[-1]
        self._last_end, self._last_reason = end, reason
        self.warnings.append(self._warning(start, end, reason))

    _last_end = 0
    _last_reason = ""

    def _warning(self, start: int, end: int, reason: str) -> str:
        return (f"{NAMES[self.media.fmt]} read error: disk bytes {start:,}-{end - 1:,} cannot be read ({reason}); "
                "read as zeros, so whatever lay there (file data or file-system structures) is not in what this "
                "image gives (is the container truncated? run 'forensic evidence verify')")

    def get_size(self) -> int:
        return self.media.size

    def close(self) -> None:
        self.media.close()


def libyal_error(exc: BaseException) -> str:
    """The telling part of a libyal error chain ("func: message. func2: message2."): the
    first message saying what was wrong (invalid, missing, unsupported...), else the last."""
    text = " ".join(str(exc).split())
    parts = [p.split(": ", 1)[-1].strip().rstrip(".") for p in text.split(". ") if p.strip()]
    if not parts:
        return type(exc).__name__
    for part in parts:
        if any(k in part for k in ("invalid", "missing", "unsupported", "out of bounds", "mismatch")):
            return part
    return parts[-1]


def open_media(path: Path, fmt: str) -> ContainerMedia:
    """Open the container at ``path`` (format ``fmt``, one of FORMATS) read-only.
    Raises CorruptSourceError (damaged, or a part missing) or UnsupportedFormatError."""
    opener = {"qcow2": _open_qcow2, "vmdk": _open_vmdk, "vhd": _open_vhdi, "vhdx": _open_vhdi,
              "dmg": _open_dmg, "split": _open_split}[fmt]
    name = display_path(path.name)
    try:
        media = opener(path, fmt, name)
    except (OSError, IOError, RuntimeError, TypeError) as exc:
        raise CorruptSourceError(f"{name}: the {NAMES[fmt]} container cannot be opened ({libyal_error(exc)})",
                                 hint="the file may be truncated or damaged, or a part of it (backing file, "
                                      "extent, segment) missing from its folder") from exc
    if media.size <= 0:
        media.close()
        raise CorruptSourceError(f"{name}: the {NAMES[fmt]} container holds a disk of 0 bytes")
    return media


def _lib(path: Path) -> str:
    # libyal takes UTF-8 paths: a folder or name that is not UTF-8 is reached by an alias
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return lib_path(path)
    return os.path.join(lib_path(path.parent), path.name)


def _open_qcow2(path: Path, fmt: str, name: str) -> ContainerMedia:
    import pyqcow
    files: list[Path] = [path]
    handles: list[Any] = []
    handle = pyqcow.file()
    handle.open(_lib(path), "r")
    handles.append(handle)
    try:
        if handle.is_locked():
            raise UnsupportedFormatError(f"{name}: the QCOW2 image is encrypted",
                                         hint="opening an encrypted QCOW2 is not supported: decrypt it with "
                                              "qemu-img convert and add the copy")
        child, chain = handle, cast(list[str], [])
        while (backing := child.get_backing_filename()):
            part = _next_in_chain(path.parent, backing, "backing file", name, files, chain)
            with open_readonly(part) as fh:
                if fh.read(4) != b"QFI\xfb":
                    raise UnsupportedFormatError(
                        f"{name}: its backing file {display_path(part.name)} is not a QCOW2 image",
                        hint="a raw backing file is not supported: convert the chain with qemu-img convert")
            parent = pyqcow.file()
            parent.open(_lib(part), "r")
            handles.append(parent)
            child.set_parent(parent)
            child = parent
        details = {"backing_files": chain} if chain else {}
        media = ContainerMedia(fmt, handle, handle.get_media_size(), files, details, handles[1:])
        media.patch = QcowCompressed.of(files)
        return media
    except BaseException:
        for h in reversed(handles):
            h.close()
        raise


def _open_vmdk(path: Path, fmt: str, name: str) -> ContainerMedia:
    import pyvmdk
    files: list[Path] = [path]
    handles: list[Any] = []
    chain: list[str] = []
    opened: list[BinaryIO] = []
    top: Any = None
    details: dict = {}
    current = path
    try:
        while True:
            handle = pyvmdk.handle()
            handle.open(_lib(current), "r")
            handles.append(handle)
            extents, parts, own = [], [], True
            with open_readonly(current) as fh:
                # a monolithic sparse VMDK is its own one extent, whatever name its embedded
                # descriptor gives it (the file may have been renamed since)
                itself = fh.read(4) in (b"KDMV", b"COWD") and handle.get_number_of_extents() == 1
            for desc in handle.extent_descriptors:
                stored = desc.filename or ""
                part = current if itself or not stored else _part(current.parent, stored, "extent file", name)
                own = own and (itself or not stored or _own_name(stored) == stored)
                extents.append(display_path(part.name))
                parts.append(part)
                if part not in files:
                    files.append(part)
            if own:
                handle.open_extent_data_files()
            else:
                # an extent named with a folder: opened here, from beside the descriptor only
                fhs = [open_readonly(p) for p in parts]
                opened.extend(fhs)
                handle.open_extent_data_files_as_file_objects(fhs)
            if top is None:
                top = handle
                details["extents"] = extents
            else:
                handles[-2].set_parent(handle)
            parent = handle.get_parent_filename()
            if not parent:
                break
            current = _next_in_chain(current.parent, parent, "parent disk", name, files, chain)
        if chain:
            details["parent_disks"] = chain
        return ContainerMedia(fmt, top, top.get_media_size(), files, details, handles[1:] + opened)
    except BaseException:
        for h in reversed(handles):
            h.close()
        for fh in opened:
            fh.close()
        raise


def _open_vhdi(path: Path, fmt: str, name: str) -> ContainerMedia:
    import pyvhdi
    files: list[Path] = [path]
    handles: list[Any] = []
    chain: list[str] = []
    current = path
    try:
        while True:
            handle = pyvhdi.file()
            handle.open(_lib(current), "r")
            if handles:
                handles[-1].set_parent(handle)
            handles.append(handle)
            parent = handle.get_parent_filename()
            if not parent:
                break
            current = _next_in_chain(path.parent, parent, "parent disk", name, files, chain)
        top = handles[0]
        details: dict = {"disk_type": {2: "fixed", 3: "dynamic", 4: "differencing"}.get(top.disk_type,
                                                                                        str(top.disk_type))}
        if chain:
            details["parent_disks"] = chain
        return ContainerMedia(fmt, top, top.get_media_size(), files, details, handles[1:])
    except BaseException:
        for h in reversed(handles):
            h.close()
        raise


def _open_dmg(path: Path, fmt: str, name: str) -> ContainerMedia:
    import pymodi
    handle = pymodi.handle()
    handle.open(_lib(path), "r")
    try:
        return ContainerMedia(fmt, handle, handle.get_media_size(), [path])
    except BaseException:
        handle.close()
        raise


def _open_split(path: Path, fmt: str, name: str) -> ContainerMedia:
    import pysmraw
    files = split_segments(path)
    for segment in files[1:]:
        _refuse_link_out(path.parent, segment, "segment", name)
    gap = missing_segment(files)
    if gap is not None:
        raise CorruptSourceError(f"{name}: segment {display_path(gap)} of the split image is missing (later ones "
                                 "are there)", hint="put every segment side by side in one folder")
    handle = pysmraw.handle()
    handle.open([_lib(f) for f in files], "r")
    try:
        size = handle.get_media_size()
        total = sum(f.stat().st_size for f in files)
        if size != total:
            raise CorruptSourceError(f"{name}: the segments hold {total:,} bytes but read as {size:,}")
        return ContainerMedia(fmt, handle, size, files)
    except BaseException:
        handle.close()
        raise
