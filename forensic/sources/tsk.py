"""Disk images through The Sleuth Kit (pytsk3): raw/dd and E01 (via libewf).

A whole disk (MBR, GPT, ...) has every allocated partition walked; a bare file system
is walked at offset 0. Deleted entries are listed and, where TSK can still read their
content, recovered and hashed; orphan files come from TSK's ``$OrphanFiles`` folder;
NTFS alternate data streams become entries of their own (``report.doc:hidden``).
"""
from __future__ import annotations

import bisect
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, cast

import pytsk3

from forensic.entry import FileEntry
from forensic.errors import CorruptSourceError
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator, safe_name
from forensic.sources.base import PositionalReader, Source, lib_path, short_error
from forensic.sources.carve import carve_disk, carve_volume
from forensic.sources.ewf import BadChunk, EwfMedia
from forensic.sources.unallocated import ReadAt, unallocated_runs
from forensic.sources.volumes import add_shadow_copies, claim_partition, has_inner, inner_entries


# The Sleuth Kit converts FAT's local wall-clock times with mktime(): with TZ=UTC that
# conversion is the identity, so the value we get is the wall-clock time as recorded.
# Those times are then stored without a zone and flagged (never presented as UTC).
if os.environ.get("TZ") != "UTC":
    os.environ["TZ"] = "UTC"
    time.tzset()

FS_NAMES = {
    pytsk3.TSK_FS_TYPE_NTFS: "ntfs", pytsk3.TSK_FS_TYPE_FAT12: "fat12", pytsk3.TSK_FS_TYPE_FAT16: "fat16",
    pytsk3.TSK_FS_TYPE_FAT32: "fat32", pytsk3.TSK_FS_TYPE_EXFAT: "exfat", pytsk3.TSK_FS_TYPE_EXT2: "ext2",
    pytsk3.TSK_FS_TYPE_EXT3: "ext3", pytsk3.TSK_FS_TYPE_EXT4: "ext4", pytsk3.TSK_FS_TYPE_HFS: "hfs+",
    pytsk3.TSK_FS_TYPE_ISO9660: "iso9660", pytsk3.TSK_FS_TYPE_FFS1: "ufs1", pytsk3.TSK_FS_TYPE_FFS1B: "ufs1b",
    pytsk3.TSK_FS_TYPE_FFS2: "ufs2", pytsk3.TSK_FS_TYPE_YAFFS2: "yaffs2", pytsk3.TSK_FS_TYPE_APFS: "apfs",
}
# File systems whose times are local wall-clock time with no zone stored.
LOCAL_TIME_FS = {"fat12", "fat16", "fat32", "exfat"}

_DATA_ATTRS = {pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA, pytsk3.TSK_FS_ATTR_TYPE_DEFAULT}
_CONTENT_ATTRS = _DATA_ATTRS | {pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA}
_NO_DATA_RUN = pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER
_NAMED_ATTRS = {pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA, pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT}
# ISO 9660: sector size, and the largest folder whose directory records are read for their
# times' GMT offsets
ISO_SECTOR = 2048
MAX_ISO_DIR = 16 << 20


class EwfImgInfo(pytsk3.Img_Info):
    """A pytsk3 image backed by libewf (E01, split segments)."""

    def __init__(self, media: EwfMedia) -> None:
        self.media = media
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:
        return self.media.read_at(offset, size)

    def get_size(self) -> int:
        return self.media.size

    def close(self) -> None:
        self.media.close()


class SpanIndex:
    """Bad chunk spans kept sorted by start, for finding those a file's runs overlap in
    O(log n + hits) instead of comparing every run with every span. Spans may overlap
    (recorded ones and ones found since): a running maximum of the ends tells where a
    backward scan from the last span starting before the query's end can stop."""

    def __init__(self, chunks: list[BadChunk], pad: bool = False) -> None:
        # pad: widen each span by its own length on both sides. A span is whole chunks
        # (bar the last of the media), so a chunk adjacent to it -- one libewf would merge
        # into it without its error count changing -- lies within that widened span.
        self.chunks = list(chunks)
        bounds = []
        for c in self.chunks:
            width = c.end - c.start if pad else 0
            bounds.append((c.start - width, c.end + width))
        self._order = sorted(range(len(self.chunks)), key=lambda i: bounds[i][0])
        self._lo = [bounds[i][0] for i in self._order]
        self._hi = [bounds[i][1] for i in self._order]
        self._maxhi: list[int] = []
        for hi in self._hi:
            self._maxhi.append(max(self._maxhi[-1], hi) if self._maxhi else hi)

    def __len__(self) -> int:
        return len(self.chunks)

    def hits(self, spans: list[tuple[int, int]]) -> dict[int, list[tuple[int, int]]]:
        """{index into chunks: [overlapping parts of spans]} for the [start, end) spans."""
        out: dict[int, list[tuple[int, int]]] = {}
        for a, b in spans:
            k = bisect.bisect_left(self._lo, b) - 1         # spans 0..k start before b
            while k >= 0 and self._maxhi[k] > a:
                if a < self._hi[k]:
                    out.setdefault(self._order[k], []).append((max(a, self._lo[k]), min(b, self._hi[k])))
                k -= 1
        return out


class _Volume:
    """Where a file system lies in its image, and what is known to be damaged there."""

    def __init__(self, offset: int, block_size: int,
                 damage: Callable[[list[tuple[int, int]]], list[tuple[BadChunk, int, int]]] | None) -> None:
        self.offset = offset
        self.block_size = block_size
        self.damage = damage        # media spans -> [(bad chunk, lo, hi)] they overlap


class TskReader(PositionalReader):
    """A seekable, read-only file object over one TSK file attribute."""

    def __init__(self, fs_file: pytsk3.File, size: int, attr_type: int | None = None, attr_id: int | None = None,
                 volume: _Volume | None = None) -> None:
        super().__init__(size)
        self.fs_file = fs_file
        self.attr = (attr_type, attr_id) if attr_type is not None else None
        self.volume = volume

    def damage_warnings(self) -> list[str]:
        """One warning per bad E01 chunk span that holds some of this content. Asked after
        the content was read: libewf has checked every chunk the read went through by then."""
        volume = self.volume
        if volume is None or volume.damage is None:
            return []
        spans = self._media_spans(volume)
        if not spans:
            return []
        return [f"content in a bad E01 chunk: its bytes at media offsets {lo:,}-{hi - 1:,} lie in "
                f"{chunk.describe()}, which fail the E01's checksum; libewf read them as zeros, so "
                "this content and its hashes are not what was acquired"
                for chunk, lo, hi in volume.damage(spans)]

    def _nonresident_attr(self) -> Any:
        """The attribute holding this content (the one named by ``self.attr``, else the
        default data attribute) when its content lies in clusters of the volume; None when it
        is resident (inside its MFT entry or inode), missing, or unreadable."""
        try:
            attrs = list(self.fs_file)
        except (OSError, RuntimeError):
            return None
        for attr in attrs:
            info = attr.info
            if self.attr is not None:
                if (info.type, info.id) == self.attr:
                    break
            elif info.type in _CONTENT_ATTRS and (not info.name or info.name == b"$Data"):
                break
        else:
            return None
        return attr if info.flags & pytsk3.TSK_FS_ATTR_NONRES else None

    def _media_spans(self, volume: _Volume) -> list[tuple[int, int]]:
        """[start, end) media byte spans of this content, from the attribute's data runs.
        Resident content (inside its MFT entry or inode) has none."""
        attr = self._nonresident_attr()
        if attr is None:
            return []
        bs, base, spans = volume.block_size, volume.offset, []
        try:
            runs = list(attr)
        except (OSError, RuntimeError):
            return []
        for run in runs:
            first = run.offset * bs
            if run.flags & _NO_DATA_RUN or first >= self.size:
                continue
            start = base + run.addr * bs
            spans.append((start, start + min(run.len * bs, self.size - first)))
        return spans

    def layout(self) -> tuple[list[tuple[int | None, int]], int] | None:
        """Where the content lies in the image, whole clusters: ([(image offset | None for a
        sparse run, length)], allocated length), the runs in content order. The bytes from
        the content's size to the allocated length are its slack. None for resident content
        (inside its MFT entry or inode) or content not on a volume."""
        volume = self.volume
        if volume is None:
            return None
        attr = self._nonresident_attr()
        if attr is None:
            return None
        bs, runs = volume.block_size, []
        try:
            for run in attr:
                if run.len <= 0:
                    continue
                start = None if run.flags & _NO_DATA_RUN else volume.offset + run.addr * bs
                runs.append((start, run.len * bs))
        except (OSError, RuntimeError):
            return None
        return runs, sum(n for _, n in runs)

    def read_at(self, offset: int, n: int) -> bytes:
        if self.attr is None:
            return cast(bytes, self.fs_file.read_random(offset, n))
        return cast(bytes, self.fs_file.read_random(offset, n, self.attr[0], self.attr[1]))


def _time(meta: pytsk3.TSK_FS_META, name: str) -> datetime | None:
    sec = getattr(meta, name, 0)
    if not sec:
        return None
    nano = getattr(meta, name + "_nano", 0) or 0
    try:
        return datetime.fromtimestamp(sec, tz=timezone.utc).replace(microsecond=nano // 1000)
    except (OverflowError, OSError, ValueError):
        return None


class TskImageSource(Source):
    """A raw/dd or E01 disk image, with or without a partition table."""

    FORMAT = "raw"
    # None: carve all unallocated space; else only these (parent locator, label) entries, found
    # again where they start (forensic.resolve sets it: an export reads carved files back)
    carve_only: set[tuple[str, str]] | None = None

    def __init__(self, img: pytsk3.Img_Info, locator: Locator, limits: Limits = DEFAULT_LIMITS,
                 label: str = "") -> None:
        super().__init__(locator, limits)
        self.img = img
        self.label = label or str(locator)
        self.volumes: list[tuple[Locator, pytsk3.FS_Info, str, int]] = []   # (..., byte offset in the image)
        self._recorded: list[BadChunk] | None = None
        self._found_count: int | None = None        # libewf's error count when _index was built
        self._found: list[BadChunk] = []            # libewf's spans then, not within a recorded one
        self._found_near = SpanIndex([], pad=True)
        self._index = SpanIndex([])                 # recorded + found, in that order
        self._open_volumes()

    # -- E01 chunks that fail their checksum -------------------------------------------
    def note_bad_chunks(self, chunks: list[BadChunk] | None) -> None:
        """The chunk spans an earlier full read of the E01 (intake) found bad; None: not
        checked then. Files whose data lies there are warned about like those libewf finds
        bad while this walk reads."""
        self._recorded = None if chunks is None else list(chunks)
        self._found_count = None
        self._rebuild([])

    def _rebuild(self, found: list[BadChunk]) -> None:
        recorded = self._recorded or []
        inside = SpanIndex(recorded)
        self._found = [c for c in found
                       if not any(r.start <= c.start and c.end <= r.end
                                  for r in (inside.chunks[i] for i in inside.hits([(c.start, c.end)])))]
        self._found_near = SpanIndex(self._found, pad=True)
        self._index = SpanIndex(recorded + self._found)

    def _refresh(self, force: bool = False) -> None:
        """Fetch libewf's list again only when its count of bad spans changed (one C call
        to learn it) or when asked to."""
        if not isinstance(self.img, EwfImgInfo):
            return
        media = self.img.media
        count = media.checksum_error_count()
        if count is None or (count == self._found_count and not force):
            return
        found = media.checksum_errors() or []
        self._found_count = len(found)
        self._rebuild(found)

    def bad_chunks(self) -> list[BadChunk]:
        """Bad chunk spans known now: those recorded, then those met while reading and not
        within one of them."""
        self._refresh(force=True)
        return list(self._index.chunks)

    def damage_at(self, spans: list[tuple[int, int]]) -> list[tuple[BadChunk, int, int]]:
        """The known bad chunk spans the [start, end) media spans overlap, each with the
        first and one-past-last overlapping byte, in bad_chunks() order."""
        self._refresh()
        # a bad chunk libewf merged into a listed span next to it leaves the count as it
        # was: when this content lies by a span found while reading, fetch the list anew
        if len(self._found_near) and self._found_near.hits(spans):
            self._refresh(force=True)
        hits = self._index.hits(spans)
        return [(self._index.chunks[i], min(a for a, _ in hits[i]), max(b for _, b in hits[i]))
                for i in sorted(hits)]

    def bad_chunk_warnings(self) -> list[str]:
        """Item-level warnings: one per bad chunk span (after the walk: every read is done),
        or that the chunks could not be checked at all."""
        if not isinstance(self.img, EwfImgInfo):
            return []
        out = []
        for chunk in self.bad_chunks():
            message = chunk.warning()
            if self._recorded is not None and chunk not in self._recorded:
                message += ("; found bad while triaging, though not when the E01 was added: it changed "
                            "since (run 'forensic evidence verify')")
            out.append(message)
        if self._recorded is None and not self.img.media.checks_chunks:
            out.append(f"E01 chunk checksums not checked: {self.img.media.unchecked_reason}; a chunk that fails "
                       "its checksum reads as zeros, unnoticed")
        return out

    def _open_volumes(self) -> None:
        size = self.img.get_size()
        partitions = []
        try:
            vs = pytsk3.Volume_Info(self.img)
        except (OSError, RuntimeError):
            vs = None
        if vs is not None:
            block = vs.info.block_size
            self.details["volume_system"] = _vs_name(vs.info.vstype)
            n = 0
            for part in vs:
                if not (part.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC):
                    continue
                desc = part.desc.decode("utf-8", "replace") if isinstance(part.desc, bytes) else str(part.desc)
                if desc.startswith("Empty (0x00)") or part.len == 0:
                    continue              # an unused MBR slot, not a partition
                n += 1
                start = part.start * block
                length = part.len * block
                info = {"number": n, "start": start, "length": length, "description": desc}
                partitions.append(info)
                if start + length > size:
                    self.warnings.append(f"partition {n} ({desc}) ends at byte {start + length:,}, past the end "
                                         f"of the image ({size:,} bytes): image truncated?")
                try:
                    fs = pytsk3.FS_Info(self.img, offset=start)
                except (OSError, RuntimeError) as exc:
                    info["file_system"] = None
                    if claim_partition(self, info):     # APFS or encrypted: walked or reported there
                        continue
                    self.warnings.append(f"partition {n} ({desc}) at byte {start:,}: no readable file system "
                                         f"({short_error(exc)})")
                    continue
                fstype = FS_NAMES.get(fs.info.ftype, str(fs.info.ftype))
                info["file_system"] = fstype
                self.volumes.append((self.locator.child("partition", f"partition {n} ({fstype})"), fs, fstype,
                                     start))
        if not self.volumes and not has_inner(self):
            try:
                fs = pytsk3.FS_Info(self.img, offset=0)
            except (OSError, RuntimeError) as exc:
                if partitions:
                    self.warnings.append("no partition holds a file system The Sleuth Kit can read")
                    self.details["partitions"] = partitions
                    return
                raise CorruptSourceError(
                    f"{self.label}: no partition table and no file system The Sleuth Kit can read "
                    f"({short_error(exc)})",
                    hint="the image may be encrypted, damaged (zeroed superblock?) or of an unsupported kind") from exc
            if partitions:
                self.warnings.append("the partition table holds no readable file system, but the image starts "
                                     "with one: walked as a bare file system")
            fstype = FS_NAMES.get(fs.info.ftype, str(fs.info.ftype))
            self.details["file_system"] = fstype
            self.volumes.append((self.locator.child("partition", f"file system ({fstype})"), fs, fstype, 0))
        self.details["partitions"] = partitions
        add_shadow_copies(self)      # NTFS volumes' shadow copies, walked after the disk's volumes

    def entries(self) -> Iterator[FileEntry]:
        damage = self.damage_at if isinstance(self.img, EwfImgInfo) else None
        for loc, fs, fstype, offset in self.volumes:
            volume = _Volume(offset, fs.info.block_size, damage)
            walker = _FsWalker(fs, loc, fstype, self.limits, self.warnings, volume, self.img.read)
            # the walk, then photos carved from the volume's unallocated space, then (below)
            # from the disk's space outside every partition
            yield from carve_volume(self.img, fs, fstype, offset, loc, self.limits, self.warnings, walker.walk(),
                                    self.carve_only, damage, walker.free_runs)
        yield from carve_disk(self.img, self.locator, self.limits, self.warnings, self.carve_only, damage)
        yield from inner_entries(self)      # APFS containers in partitions, shadow copies


class _FsWalker:
    def __init__(self, fs: pytsk3.FS_Info, locator: Locator, fstype: str, limits: Limits, warnings: list[str],
                 volume: _Volume | None = None, read: ReadAt | None = None) -> None:
        self.fs = fs
        self.volume = volume
        self.read = read            # the image's bytes (offset, n): where the allocation map is read
        self.locator = locator
        self.fstype = fstype
        self.limits = limits
        self.warnings = warnings
        self.tz_known = fstype not in LOCAL_TIME_FS
        self.seen_dirs: set[int] = set()
        self.is_ntfs = fstype == "ntfs"
        self.is_iso = fstype == "iso9660"
        self.has_streams = fstype in ("ntfs", "hfs+")
        self.is_fat = fstype in ("fat12", "fat16", "fat32")
        self._free_runs: list[tuple[int, int]] | None = None
        self._free: _FreeSpace | None = None
        self._free_read = False

    def walk(self) -> Iterator[FileEntry]:
        try:
            root = self.fs.open_dir(path="/")
        except (OSError, RuntimeError) as exc:
            self.warnings.append(f"{self.locator}: cannot open the root folder ({short_error(exc)})")
            return
        self.seen_dirs.add(self.fs.info.root_inum)
        root_file = None
        if self.is_iso:
            try:
                root_file = self.fs.open(path="/")
            except (OSError, RuntimeError):
                pass
        yield from self._dir(root, "", 0, root_file)

    def _dir(self, directory: pytsk3.Directory, parent: str, depth: int,
             dir_file: pytsk3.File | None = None) -> Iterator[FileEntry]:
        try:
            items = list(directory)
        except (OSError, RuntimeError) as exc:
            self.warnings.append(f"{self.locator}: folder {parent or '/'} unreadable ({short_error(exc)})")
            return
        records = self._iso_records(dir_file, parent) if self.is_iso and dir_file is not None else None
        seen: dict[str, int] = {}
        orphan = parent.startswith("/$OrphanFiles")
        for f in items:
            name_info = f.info.name
            raw = name_info.name
            if raw in (b".", b".."):
                continue
            name, valid = safe_name(raw)
            path = f"{parent}/{name}"
            count = seen.get(name, 0) + 1       # e.g. a deleted name beside a live one of the same name
            seen[name] = count
            label = path if count == 1 else f"{path} [{count}]"
            name_unalloc = bool(name_info.flags & pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
            meta = f.info.meta
            notes: list[str] = []
            if meta is None and name_info.meta_addr and name_unalloc:
                # the walk hands no metadata for a deleted name: open the entry the name
                # still points to, and keep it only if it is plausibly this file's
                f, meta, notes = self._own_meta(f, name_info, orphan)
            meta_unalloc = meta is not None and bool(meta.flags & pytsk3.TSK_FS_META_FLAG_UNALLOC)
            deleted = name_unalloc or meta_unalloc
            realloc = name_unalloc and meta is not None and not meta_unalloc
            kind = _kind(meta, name_info)
            entry = FileEntry(self.locator.child("fs", label), path, name, kind,
                              meta.size if (meta is not None and kind == "file") else None,
                              times=self._times(meta), times_tz_known=self.tz_known,
                              inode=str(meta.addr) if meta is not None else (str(name_info.meta_addr) or None),
                              allocated=not deleted, deleted=deleted)
            entry.warnings.extend(notes)
            if records is not None and meta is not None:
                self._iso_times(entry, f, raw, records)
            if not valid:
                entry.warnings.append("file name is not valid UTF-8 (shown with \\x escapes)")
            if kind == "file":
                if meta is None:
                    if not notes and not orphan:   # TSK's empty orphan slots are not news
                        entry.warnings.append("no metadata for this name" + (" (deleted)" if deleted else "")
                                              + ": content not recoverable")
                elif realloc:
                    entry.warnings.append("name of a deleted file whose inode was reallocated: content not recovered")
                    entry.size = None
                else:
                    entry.opener = _opener(f, meta.size, volume=self.volume)
                    self._rate(entry, f, None, orphan)
            elif kind == "link" and meta is not None:
                try:
                    entry.link_target = safe_name(meta.link)[0] if meta.link else None
                except Exception:
                    pass
            yield entry
            if kind in ("file", "dir") and meta is not None and not realloc and self.has_streams:
                yield from self._streams(f, entry, orphan)
            if kind == "dir" and meta is not None and not realloc:
                if meta.addr in self.seen_dirs:
                    continue  # a loop or a deleted name of a live folder
                if depth >= self.limits.max_dir_depth:
                    entry.warnings.append("folder nesting too deep; not descended")
                    continue
                self.seen_dirs.add(meta.addr)
                try:
                    sub = f.as_directory()
                except (OSError, RuntimeError) as exc:
                    entry.warnings.append(f"cannot open folder ({short_error(exc)})")
                    continue
                yield from self._dir(sub, path, depth + 1, f)

    # -- ISO 9660: recording times with their GMT offset -----------------------------------
    def _iso_records(self, dir_file: pytsk3.File, parent: str) -> dict[int | bytes, bytes]:
        """The 7-byte recording time of each directory record of the folder, by the extent
        it points to and by its file identifier (without ``;1``). TSK reads these times as
        if UTC, ignoring the GMT offset stored in their 7th byte."""
        out: dict[int | bytes, bytes] = {}
        try:
            size = min(dir_file.info.meta.size, MAX_ISO_DIR)
            data = dir_file.read_random(0, size) if size else b""
        except (OSError, RuntimeError, AttributeError) as exc:
            self.warnings.append(f"{self.locator}: folder {parent or '/'}: directory records unreadable "
                                 f"({short_error(exc)}): its times are as TSK reads them (GMT offset ignored)")
            return out
        pos = 0
        while pos < len(data):
            n = data[pos]
            if n == 0:          # records do not cross a sector: the rest of this one is padding
                pos = (pos // ISO_SECTOR + 1) * ISO_SECTOR
                continue
            if n < 34 or pos + n > len(data):
                break
            rec = data[pos:pos + n]
            ident = rec[33:33 + rec[32]]
            if ident not in (b"\0", b"\1"):
                out[int.from_bytes(rec[2:6], "little")] = rec[18:25]
                out[ident.split(b";")[0].rstrip(b".").upper()] = rec[18:25]
            pos += n
        return out

    def _iso_times(self, entry: FileEntry, f: pytsk3.File, raw_name: bytes,
                   records: dict[int | bytes, bytes]) -> None:
        """Replace TSK's reading of the entry's recording time (its ``born`` time) by the
        record's local time with its offset: true UTC once stored, ``times_tz_source``
        ``offset_tag``. An offset out of the standard's range (-48..+52 quarter hours) makes
        the time one of unknown zone (kept as recorded, flagged)."""
        extent = None
        try:
            for attr in f:
                if attr.info.type in _DATA_ATTRS and attr.info.flags & pytsk3.TSK_FS_ATTR_NONRES:
                    extent = next((r.addr for r in attr), None)
                    break
        except (OSError, RuntimeError):
            pass
        rec = records.get(extent) if extent else None
        if rec is None:
            rec = records.get(raw_name.split(b";")[0].rstrip(b".").upper())
        if rec is None:
            return
        local, offset = _iso_time(rec)
        if local is None:
            return
        if offset is None:
            entry.times_tz_known = False
            entry.times = {k: (v.replace(tzinfo=None) if v is not None else None) for k, v in entry.times.items()}
            entry.times["born"] = local
            entry.warnings.append(f"ISO 9660 recording time with a GMT offset out of range ({rec[6]:#04x}): "
                                  "kept as recorded, zone unknown")
            return
        entry.times["born"] = local.replace(tzinfo=timezone(timedelta(minutes=15 * offset)))
        entry.times_tz_source = "offset_tag"

    def _own_meta(self, f: pytsk3.File, name_info: pytsk3.TSK_FS_NAME, orphan: bool = False
                  ) -> tuple[pytsk3.File, pytsk3.TSK_FS_META | None, list[str]]:
        """The metadata entry a deleted name points to (``TSK_FS_NAME.meta_addr``), opened,
        when it is plausibly still the deleted file's: unallocated and, on NTFS, of the
        name's sequence number (or the next one: deleting an MFT entry raises it by one).
        Otherwise (f, None, [why]): the entry now holds another file, whose content must not
        be passed off as this one's."""
        addr = name_info.meta_addr
        try:
            opened = self.fs.open_meta(inode=addr)
            meta = opened.info.meta
        except (OSError, RuntimeError) as exc:
            return f, None, [f"deleted name; its metadata entry {addr} cannot be read ({short_error(exc)}): "
                             "content not recoverable"]
        if meta is None:
            return f, None, [f"deleted name; its metadata entry {addr} is empty: content not recoverable"]
        allocated = not meta.flags & pytsk3.TSK_FS_META_FLAG_UNALLOC
        what = "MFT entry" if self.is_ntfs else "inode"
        if self.is_ntfs:
            want, have = name_info.meta_seq, meta.seq
            if have not in (want, (want + 1) & 0xFFFF):
                state = "in use by" if allocated else "since used by and freed from"
                return f, None, [f"deleted name; its {what} {addr} was reallocated ({state} another file: "
                                 f"sequence {have}, the name's {want}): content not recovered"]
        if allocated:
            return f, None, [f"deleted name; its {what} {addr} is now allocated to another file: "
                             "content not recovered"]
        if self.is_ntfs and not orphan:
            # TSK gives a deleted index entry the sequence number of the MFT entry it finds, so
            # the entry's own names ($FILE_NAME) say whether it still is this file's
            names = _ntfs_names(opened)
            want = name_info.name.decode("utf-8", "replace").casefold()
            if names and want not in {n.casefold() for n in names}:
                other = safe_name(names[0])[0]
                return f, None, [f"deleted name; its {what} {addr} now holds another file ({other!r}), "
                                 "reallocated since: content not recovered"]
        if self.is_ntfs and meta.type == pytsk3.TSK_FS_META_TYPE_REG and not _has_data(opened):
            return f, None, []      # an MFT entry with no $DATA: e.g. TSK's OrphanFile-N slots
        return opened, meta, []

    def _rate(self, entry: FileEntry, f: pytsk3.File, attr: tuple[int, int] | None, orphan: bool) -> None:
        """Say how the entry's content was had (``recovery``) and, for content not
        allocated, how far it can be trusted (``recovery_confidence``): "high" when none of
        its blocks is allocated again, "low" (with a warning) when some are; not said where
        the file system's allocation map is not read (forensic.sources.unallocated)."""
        if not entry.deleted:
            entry.recovery = "allocated"
            return
        entry.recovery = "orphan" if orphan else "deleted-metadata"
        free = self._free_space()
        if free is None:
            return
        runs = _runs(f, attr)
        if runs is None:
            return
        entry.recovery_confidence = "high"
        bs = self.fs.info.block_size
        reused = free.reused([(addr * bs, length * bs) for addr, length in runs])
        if reused:
            entry.recovery_confidence = "low"
            first, n = reused
            entry.warnings.append(f"{n // bs:,} of the deleted content's blocks (first: block {first // bs:,}) are "
                                  "now allocated to a live file: the content may be partly another file's")

    def free_runs(self) -> list[tuple[int, int]] | None:
        """The volume's unallocated byte runs from its allocation map (forensic.sources.unallocated),
        read once for both the reuse check and the carver; None where the map is not read."""
        if not self._free_read and self.read is not None and self.volume is not None:
            self._free_read = True
            self._free_runs = unallocated_runs(self.fs, self.fstype, self.read, self.volume.offset)
            self._free = _FreeSpace(self._free_runs) if self._free_runs is not None else None
        return self._free_runs

    def _free_space(self) -> _FreeSpace | None:
        """The free runs as a lookup, for the reuse check (see :meth:`free_runs`)."""
        self.free_runs()
        return self._free

    def _streams(self, f: pytsk3.File, entry: FileEntry, orphan: bool) -> Iterator[FileEntry]:
        """NTFS named $DATA streams (``report.doc:hidden``) and HFS+ resource forks
        (``a_file:rsrc``) as entries of their own; the unnamed data stream is the file."""
        try:
            attrs = list(f)
        except (OSError, RuntimeError):
            return
        for attr in attrs:
            info = attr.info
            if self.is_ntfs:
                # named $DATA streams, and named indexes other than a folder's $I30 ($Secure:$SDH),
                # as fls lists them
                if not info.name or info.name == b"$Data" or info.type not in _NAMED_ATTRS \
                        or (info.type == pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT and info.name == b"$I30"):
                    continue
                sname = safe_name(info.name)[0]
            elif info.type == pytsk3.TSK_FS_ATTR_TYPE_HFS_RSRC:
                sname = "rsrc"
            else:
                continue
            label = f"{entry.path}:{sname}"
            ads = FileEntry(entry.locator.child("stream", f"{entry.name}:{sname}"), label,
                            f"{entry.name}:{sname}", "stream", info.size, times=entry.times,
                            times_tz_known=entry.times_tz_known, inode=entry.inode,
                            allocated=entry.allocated, deleted=entry.deleted)
            ads.opener = _opener(f, info.size, info.type, info.id, self.volume)
            self._rate(ads, f, (info.type, info.id), orphan)
            yield ads

    def _times(self, meta: pytsk3.TSK_FS_META | None) -> dict[str, datetime | None]:
        if meta is None:
            return {"modified": None, "accessed": None, "changed": None, "born": None}
        return {"modified": _time(meta, "mtime"), "accessed": _time(meta, "atime"),
                "changed": _time(meta, "ctime"), "born": _time(meta, "crtime")}


def _opener(f: pytsk3.File, size: int, attr_type: int | None = None, attr_id: int | None = None,
            volume: _Volume | None = None) -> Callable[[], BinaryIO]:
    # TskReader is a seekable raw reader: read, seek, tell, close, as FileEntry.open() promises
    return lambda: cast(BinaryIO, TskReader(f, size, attr_type, attr_id, volume))


class _FreeSpace:
    """A volume's unallocated byte runs (sorted, from its start), to tell which bytes of a
    deleted file's runs a live file has taken since."""

    def __init__(self, runs: list[tuple[int, int]]) -> None:
        self.starts = [start for start, _ in runs]
        self.ends = [start + length for start, length in runs]

    def reused(self, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
        """(first byte, byte count) of the (start, length) spans that lie outside the free
        runs (allocated now), or None when all of them are free."""
        first, n = None, 0
        for start, length in spans:
            pos, end = start, start + length
            while pos < end:
                i = bisect.bisect_right(self.starts, pos) - 1          # the free run starting at or before pos
                if i >= 0 and pos < self.ends[i]:
                    pos = min(end, self.ends[i])                       # free up to there
                    continue
                nxt = self.starts[i + 1] if i + 1 < len(self.starts) else end
                stop = min(end, nxt)                                   # allocated up to the next free run
                first = pos if first is None else first
                n += stop - pos
                pos = stop
        return (first, n) if first is not None else None


def _runs(f: pytsk3.File, attr: tuple[int, int] | None) -> list[tuple[int, int]] | None:
    """The (block, length) runs holding the content (the attribute ``attr`` = (type, id), or
    the file's default data); [] when resident (no clusters of its own); None when unreadable."""
    try:
        attrs = list(f)
    except (OSError, RuntimeError):
        return None
    for a in attrs:
        info = a.info
        if attr is not None:
            if (info.type, info.id) != attr:
                continue
        elif info.type not in _CONTENT_ATTRS or info.name not in (None, b"", b"$Data"):
            continue
        if not info.flags & pytsk3.TSK_FS_ATTR_NONRES:
            return []
        try:
            return [(r.addr, r.len) for r in a if not r.flags & _NO_DATA_RUN and r.len > 0]
        except (OSError, RuntimeError):
            return None
    return []


def _iso_time(rec: bytes) -> tuple[datetime | None, int | None]:
    """An ISO 9660 recording time (7 bytes: years since 1900, month, day, hour, minute,
    second, GMT offset in signed 15-minute units) as (naive local time, offset); (None, None)
    when unset or not a date; offset None when out of the standard's range."""
    if len(rec) < 7 or not any(rec[:6]):
        return None, None
    try:
        local = datetime(1900 + rec[0], rec[1], rec[2], rec[3], rec[4], rec[5])  # noqa: DTZ001 (zone: rec[6])
    except ValueError:
        return None, None
    offset = rec[6] - 256 if rec[6] > 127 else rec[6]
    return local, offset if -48 <= offset <= 52 else None


def _ntfs_names(f: pytsk3.File) -> list[str]:
    """The names an MFT entry's $FILE_NAME attributes hold (long and DOS 8.3 forms)."""
    names = []
    try:
        for a in f:
            info = a.info
            if info.type != pytsk3.TSK_FS_ATTR_TYPE_NTFS_FNAME or info.size < 0x42:
                continue
            raw = f.read_random(0, min(info.size, 0x42 + 510), info.type, info.id)
            n = raw[0x40] if len(raw) > 0x40 else 0
            names.append(raw[0x42:0x42 + 2 * n].decode("utf-16-le", "replace"))
    except (OSError, RuntimeError):
        return names
    return names


def _has_data(f: pytsk3.File) -> bool:
    """Whether the NTFS file has an unnamed $DATA attribute."""
    try:
        return any(a.info.type == pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA and not a.info.name for a in f)
    except (OSError, RuntimeError):
        return False


def _kind(meta: pytsk3.TSK_FS_META | None, name_info: pytsk3.TSK_FS_NAME) -> str:
    t = meta.type if meta is not None else name_info.type
    if t in (pytsk3.TSK_FS_META_TYPE_REG, pytsk3.TSK_FS_NAME_TYPE_REG):
        return "file"
    if t in (pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_NAME_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR,
             pytsk3.TSK_FS_NAME_TYPE_VIRT_DIR):
        return "dir"
    if t in (pytsk3.TSK_FS_META_TYPE_LNK, pytsk3.TSK_FS_NAME_TYPE_LNK):
        return "link"
    if t in (pytsk3.TSK_FS_META_TYPE_VIRT,) or t == pytsk3.TSK_FS_NAME_TYPE_VIRT:
        return "file"
    if meta is None and t == pytsk3.TSK_FS_NAME_TYPE_UNDEF:
        return "file"
    return "other"


def _vs_name(vstype: int) -> str:
    names = {pytsk3.TSK_VS_TYPE_DOS: "mbr", pytsk3.TSK_VS_TYPE_GPT: "gpt", pytsk3.TSK_VS_TYPE_MAC: "mac",
             pytsk3.TSK_VS_TYPE_BSD: "bsd", pytsk3.TSK_VS_TYPE_SUN: "sun"}
    return names.get(vstype, str(vstype))



def open_raw(path: Path) -> pytsk3.Img_Info:
    return pytsk3.Img_Info(lib_path(path))
