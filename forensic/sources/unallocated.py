"""Where a volume's unallocated space lies: byte runs read from its allocation map.

pytsk3 has no block walk (``tsk_fs_block_walk`` is not bound), so the allocation map of each
file system is read here, through TSK where it exposes it as a file and from the volume's
bytes where the format is simple:

- FAT12/16/32: the first FAT (a cluster whose entry is 0 is free), placed by the boot sector;
- NTFS: the ``$Bitmap`` file (one bit per cluster), read through TSK;
- exFAT: the allocation bitmap, read through TSK (``$ALLOC_BITMAP``);
- HFS+: the allocation file (``$AllocationFile``, most significant bit first), through TSK;
- ext2/3/4: each block group's block bitmap, placed by the group descriptors (a group
  whose bitmap was never written, ``BLOCK_UNINIT``, is free but for its superblock backup,
  descriptor table and the groups' metadata blocks lying in it); ``meta_bg`` is not read.

The runs are byte offsets from the start of the volume, sorted, as ``blkls`` (The Sleuth
Kit) lists the same space; the tests compare the two byte for byte. Other file systems get
None: their unallocated space is not carved, and the walk says so.
"""
from __future__ import annotations

import re
import struct
from typing import Callable, Iterator

import pytsk3

Runs = list[tuple[int, int]]        # (byte offset in the volume, length)
ReadAt = Callable[[int, int], bytes]

MAX_MAP = 128 << 20                 # an allocation map larger than this is not read (damage?)


def bitmap_runs(bitmap: bytes, count: int) -> list[tuple[int, int]]:
    """(first unit, units) runs of clear bits among the first count bits (LSB first)."""
    runs: list[tuple[int, int]] = []

    def add(first: int, n: int) -> None:
        if first >= count:
            return
        n = min(n, count - first)
        if runs and runs[-1][0] + runs[-1][1] == first:
            runs[-1] = (runs[-1][0], runs[-1][1] + n)
        else:
            runs.append((first, n))

    for m in re.finditer(rb"\x00+|[^\x00\xff]", bitmap):
        if m.group()[0] == 0:
            add(m.start() * 8, (m.end() - m.start()) * 8)
            continue
        byte = m.group()[0]
        for bit in range(8):
            if not byte & (1 << bit):
                add(m.start() * 8 + bit, 1)
    return runs


def _fat(read: ReadAt, offset: int) -> Runs | None:
    bs = read(offset, 512)
    if len(bs) < 512:
        return None
    bps, spc, reserved, nfats, root_entries, total16 = struct.unpack_from("<HBHBHH", bs, 11)
    fatsz16 = struct.unpack_from("<H", bs, 22)[0]
    total32 = struct.unpack_from("<I", bs, 32)[0]
    fatsz32 = struct.unpack_from("<I", bs, 36)[0]
    if bps not in (512, 1024, 2048, 4096) or spc == 0 or spc & (spc - 1) or nfats == 0:
        return None
    fatsz = fatsz16 or fatsz32
    total = total16 or total32
    root_sectors = (root_entries * 32 + bps - 1) // bps
    first_data = reserved + nfats * fatsz + root_sectors
    if fatsz == 0 or total <= first_data:
        return None
    clusters = (total - first_data) // spc
    bits = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
    need = ((clusters + 2) * bits + 7) // 8
    if need > fatsz * bps or need > MAX_MAP:
        return None
    table = read(offset + reserved * bps, need)
    if len(table) < need:
        return None
    runs: Runs = []
    csize = spc * bps
    base = offset + first_data * bps
    n = clusters + 2
    for first, count in _free_clusters(table, bits, n):
        _add(runs, base + (first - 2) * csize, count * csize)
    # sectors past the last whole cluster belong to no cluster: unallocated (as TSK has them)
    tail = first_data + clusters * spc
    if total > tail:
        _add(runs, offset + tail * bps, (total - tail) * bps)
    return [(start - offset, length) for start, length in runs]


_LOW_NIBBLE = bytes(b & 0x0F for b in range(256))
_ZEROS = re.compile(rb"\x00+")


def _free_clusters(table: bytes, bits: int, n: int) -> Iterator[tuple[int, int]]:
    """(first cluster, count) runs of free clusters (entry 0) among clusters 2..n-1.

    FAT16/32: the entries' bytes are ORed together as big integers (C speed, no loop per
    cluster): one byte per cluster, zero where the cluster is free; FAT32's top four bits
    are reserved and masked off."""
    if bits == 12:
        free = bytearray(n)
        for c in range(2, n):
            pair = table[c * 3 // 2] | (table[c * 3 // 2 + 1] << 8)
            free[c] = 1 if ((pair >> 4) if c & 1 else (pair & 0xFFF)) else 0
        marks = bytes(free)
    else:
        width = bits // 8
        planes = [table[i:n * width:width] for i in range(width)]
        if bits == 32:
            planes[3] = planes[3].translate(_LOW_NIBBLE)
        merged = 0
        for plane in planes:
            merged |= int.from_bytes(plane, "big")
        marks = merged.to_bytes(n, "big")
    for m in _ZEROS.finditer(marks, 2):
        yield m.start(), m.end() - m.start()


def _add(runs: Runs, start: int, length: int) -> None:
    if runs and runs[-1][0] + runs[-1][1] == start:
        runs[-1] = (runs[-1][0], runs[-1][1] + length)
    else:
        runs.append((start, length))


def _tsk_file(fs: pytsk3.FS_Info, path: str, cap: int) -> bytes | None:
    try:
        f = fs.open(path)
        size = f.info.meta.size
        if size <= 0 or size > cap:
            return None
        return bytes(f.read_random(0, size))
    except (OSError, RuntimeError, AttributeError):
        return None


def _ntfs(fs: pytsk3.FS_Info) -> Runs | None:
    count = fs.info.block_count
    bitmap = _tsk_file(fs, "/$Bitmap", MAX_MAP)
    if bitmap is None or len(bitmap) * 8 < count:
        return None
    bs = fs.info.block_size
    return [(first * bs, n * bs) for first, n in bitmap_runs(bitmap, count)]


def _has_backup(group: int, sparse: bool) -> bool:
    """Whether an ext block group holds a superblock backup (sparse_super: groups 0, 1 and
    powers of 3, 5 and 7)."""
    if not sparse or group <= 1:
        return True
    for base in (3, 5, 7):
        n = base
        while n < group:
            n *= base
        if n == group:
            return True
    return False


_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _hfs(fs: pytsk3.FS_Info) -> Runs | None:
    """HFS+: the allocation file, one bit per block, the most significant bit first."""
    count = fs.info.block_count
    bitmap = _tsk_file(fs, "/$AllocationFile", MAX_MAP)
    if bitmap is None or len(bitmap) * 8 < count:
        return None
    bs = fs.info.block_size
    return [(first * bs, n * bs) for first, n in bitmap_runs(bitmap.translate(_REVERSED), count)]


def _ext(read: ReadAt, offset: int) -> Runs | None:
    sb = read(offset + 1024, 1024)
    if len(sb) < 1024 or sb[0x38:0x3A] != b"\x53\xef":
        return None
    blocks_lo = struct.unpack_from("<I", sb, 4)[0]
    first_data, log_bs = struct.unpack_from("<II", sb, 0x14)
    per_group = struct.unpack_from("<I", sb, 0x20)[0]
    inodes_per_group = struct.unpack_from("<I", sb, 0x28)[0]
    inode_size = struct.unpack_from("<H", sb, 0x58)[0] if struct.unpack_from("<I", sb, 0x4C)[0] else 128
    ro_compat, incompat = struct.unpack_from("<I", sb, 0x64)[0], struct.unpack_from("<I", sb, 0x60)[0]
    reserved_gdt = struct.unpack_from("<H", sb, 0xCE)[0]
    is64 = bool(incompat & 0x80)
    desc_size = struct.unpack_from("<H", sb, 0xFE)[0] if is64 else 32
    blocks = blocks_lo | ((struct.unpack_from("<I", sb, 0x150)[0] << 32) if is64 else 0)
    if log_bs > 6 or per_group == 0 or desc_size < 32 or incompat & 0x10:   # meta_bg: GDT elsewhere
        return None
    bs = 1024 << log_bs
    groups = (blocks - first_data + per_group - 1) // per_group
    if per_group > 8 * bs or groups <= 0 or groups * desc_size > MAX_MAP:
        return None                       # a block bitmap is one block: the superblock is damaged
    gdt_blocks = (groups * desc_size + bs - 1) // bs
    gdt = read(offset + (first_data + 1) * bs, groups * desc_size)
    if len(gdt) < groups * desc_size or groups * per_group // 8 > MAX_MAP:
        return None
    descs = []
    for g in range(groups):
        d = gdt[g * desc_size:(g + 1) * desc_size]
        block_bitmap, inode_bitmap, inode_table = struct.unpack_from("<III", d, 0)
        flags = struct.unpack_from("<H", d, 0x12)[0]
        if is64 and desc_size >= 0x2C:
            hi = struct.unpack_from("<III", d, 0x20)
            block_bitmap, inode_bitmap, inode_table = (block_bitmap | hi[0] << 32, inode_bitmap | hi[1] << 32,
                                                       inode_table | hi[2] << 32)
        descs.append((block_bitmap, inode_bitmap, inode_table, flags))
    # every group's own metadata blocks, for groups whose bitmap was never written
    table_blocks = (inodes_per_group * inode_size + bs - 1) // bs
    meta = sorted([(b, 1) for b, _, _, _ in descs] + [(i, 1) for _, i, _, _ in descs]
                  + [(t, table_blocks) for _, _, t, _ in descs])
    runs: Runs = []
    for g, (block_bitmap, _, _, flags) in enumerate(descs):
        first = first_data + g * per_group
        count = min(per_group, blocks - first)
        if flags & 0x2:
            # BLOCK_UNINIT: no bitmap written; free but for a superblock backup with its
            # descriptor table, and the metadata blocks that lie in the group
            used = [(first, 1 + gdt_blocks + reserved_gdt)] if _has_backup(g, bool(ro_compat & 0x1)) else []
            used += [(b, n) for b, n in meta if b < first + count and b + n > first]
            at = first
            for b, n in sorted(used):
                if b > at:
                    _add(runs, at * bs, (min(b, first + count) - at) * bs)
                at = max(at, b + n)
            if at < first + count:
                _add(runs, at * bs, (first + count - at) * bs)
            continue
        bitmap = read(offset + block_bitmap * bs, (count + 7) // 8)
        if len(bitmap) < (count + 7) // 8:
            return None
        for unit, n in bitmap_runs(bitmap, count):
            _add(runs, (first + unit) * bs, n * bs)
    return runs


def _exfat(fs: pytsk3.FS_Info, read: ReadAt, offset: int) -> Runs | None:
    vbr = read(offset, 512)
    if len(vbr) < 512 or vbr[3:11] != b"EXFAT   ":
        return None
    heap, clusters = struct.unpack_from("<II", vbr, 0x58)
    bps_shift, spc_shift = vbr[0x6C], vbr[0x6D]
    bitmap = _tsk_file(fs, "/$ALLOC_BITMAP", MAX_MAP)
    if bitmap is None or len(bitmap) * 8 < clusters:
        return None
    bps = 1 << bps_shift
    csize = bps << spc_shift
    return [(heap * bps + first * csize, n * csize) for first, n in bitmap_runs(bitmap, clusters)]


def unallocated_runs(fs: pytsk3.FS_Info, fstype: str, read: ReadAt, offset: int) -> Runs | None:
    """The volume's unallocated byte runs (offsets from its start), or None when its file
    system's allocation map is not read here or is unreadable."""
    try:
        if fstype in ("fat12", "fat16", "fat32"):
            return _fat(read, offset)
        if fstype == "ntfs":
            return _ntfs(fs)
        if fstype in ("ext2", "ext3", "ext4"):
            return _ext(read, offset)
        if fstype == "exfat":
            return _exfat(fs, read, offset)
        if fstype == "hfs+":
            return _hfs(fs)
    except (OSError, RuntimeError, struct.error, ValueError):
        return None
    return None


def unpartitioned(img: pytsk3.Img_Info) -> Runs:
    """Byte runs of the disk outside every partition (gaps the partition table leaves,
    the space after the last partition), as (offset in the image, length); [] for an image
    without a partition table."""
    try:
        vs = pytsk3.Volume_Info(img)
    except (OSError, RuntimeError):
        return []
    block = vs.info.block_size
    size = img.get_size()
    out: Runs = []
    for part in vs:
        if part.flags & pytsk3.TSK_VS_PART_FLAG_UNALLOC and part.len > 0:
            start = part.start * block
            if start == 0:
                start = block          # sector 0 holds the partition table itself
            end = min((part.start + part.len) * block, size)
            if end > start:
                out.append((start, end - start))
    return out
