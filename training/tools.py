"""The system tools the sample images are built with — no root, no mounting.

ext4 by ``mke2fs -d`` (+ ``debugfs`` to set owners and access times), FAT32 by ``mkfs.vfat``
+ mtools, partition tables by ``sfdisk``, E01 by ``ewfacquire``. Every variable input is fixed
(UUIDs, hash seed, volume id, clock via E2FSPROGS_FAKE_TIME / SOURCE_DATE_EPOCH / --invariant),
so the same files give the same image bytes. A missing tool is an error naming it and the
Debian package that provides it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from forensic.errors import ForensicError

MiB = 1 << 20
SECTOR = 512

PACKAGES = {
    "mke2fs": "e2fsprogs", "debugfs": "e2fsprogs", "sfdisk": "fdisk", "mkfs.vfat": "dosfstools",
    "mcopy": "mtools", "mmd": "mtools", "mdel": "mtools", "ewfacquire": "ewf-tools",
    "qemu-img": "qemu-utils",
}


class SampleToolError(ForensicError):
    """A system tool the sample generator needs is missing or failed."""


def require(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pkg = PACKAGES.get(tool, tool)
            raise SampleToolError(f"the system tool {tool!r} is needed to build the sample images and is "
                                  f"not installed (Debian/Ubuntu package: {pkg})",
                                  hint=f"sudo apt-get install {pkg}   (or run scripts/setup.sh)")


def run(args: list, env: dict | None = None, stdin: bytes | None = None) -> str:
    args = [str(a) for a in args]
    full_env = dict(os.environ, LC_ALL="C", TZ="UTC", **(env or {}))
    try:
        proc = subprocess.run(args, input=stdin, capture_output=True, env=full_env, timeout=300)
    except FileNotFoundError as exc:
        require(args[0])
        raise SampleToolError(f"cannot run {args[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise SampleToolError(f"{args[0]} failed (exit {proc.returncode}): "
                              f"{(proc.stderr or proc.stdout).decode('utf-8', 'replace').strip()[-500:]}")
    return proc.stdout.decode("utf-8", "replace")


def ext4_image(root: Path, image: Path, size_mib: int, *, uuid: str, hash_seed: str, when: int,
               label: str, owner: tuple[int, int], atimes: dict[str, int]) -> None:
    """An ext4 file system holding the folder ``root``; every inode gets ``owner`` and its
    access/change/birth times from ``atimes`` (path -> epoch): mke2fs copies the builder's uid,
    the source's ctime (the time it was written) and its atime (the time mke2fs read it)."""
    require("mke2fs", "debugfs")
    env = {"E2FSPROGS_FAKE_TIME": str(when)}
    run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-L", label, "-U", uuid,
         "-E", f"root_owner={owner[0]}:{owner[1]},hash_seed={hash_seed}", "-d", root, image, f"{size_mib}M"], env=env)
    script = image.with_suffix(".debugfs")
    lines = []
    for path, atime in sorted(atimes.items()):
        quoted = '"' + path.replace('"', '\\"') + '"'
        lines += [f"sif {quoted} uid {owner[0]}", f"sif {quoted} gid {owner[1]}",
                  f"sif {quoted} atime {atime}", f"sif {quoted} ctime {atime}", f"sif {quoted} crtime {atime}"]
    # names that are not UTF-8 are held as surrogate escapes: written back as their own bytes
    script.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    out = run(["debugfs", "-w", "-f", script, image], env=env)
    script.unlink()
    if "rror" in out or "not found" in out.lower():
        raise SampleToolError(f"debugfs could not set inode fields: {out.strip()[-500:]}")


def fat32_image(image: Path, size_mib: int, *, volume_id: str, src_root: Path,
                files: list[str], deleted: list[str], when: int,
                overwritten: list[tuple[str, str]] | None = None, then: list[str] | None = None) -> None:
    """A FAT32 file system with ``files`` (paths under ``src_root``, copied with their mtimes
    as the camera's wall clock); each (old, new) of ``overwritten``: ``old`` deleted, then
    ``new`` copied, its directory entry in ``old``'s slot; ``then`` copied after those (in the
    clusters after every other file's); the names in ``deleted`` are removed afterwards with
    mdel, so their clusters stay on the card, recoverable."""
    require("mkfs.vfat", "mcopy", "mmd", "mdel")
    with open(image, "wb") as fh:
        fh.truncate(size_mib * MiB)
    env = {"SOURCE_DATE_EPOCH": str(when)}
    run(["mkfs.vfat", "-F", "32", "-i", volume_id, "--invariant", image], env=env)   # no label entry, as many cameras
    made: set[str] = set()

    def put(rel: str) -> None:
        """``rel`` copied in, its folders made first (each once)."""
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in made:
                run(["mmd", "-i", image, "::/" + d], env=env)
                made.add(d)
        run(["mcopy", "-m", "-i", image, src_root / rel, "::/" + rel], env=env)

    for rel in files:
        put(rel)
    for old, new in overwritten or []:
        run(["mdel", "-i", image, "::/" + old], env=env)
        run(["mcopy", "-m", "-i", image, src_root / new, "::/" + new], env=env)
    for rel in then or []:
        put(rel)
    for rel in deleted:
        run(["mdel", "-i", image, "::/" + rel], env=env)


EXT4_BLOCK = 4096                        # ext4_image's block size


def ext4_free_block(image: Path, goal: int) -> int:
    """The first block of the ext4 file system ``image`` that its block bitmap marks free, at
    or after ``goal`` (debugfs ``ffb``): space no file holds, where left-over bytes can lie."""
    out = run(["debugfs", "-R", f"ffb 1 {goal}", image])
    words = out.split(":", 1)[-1].split()
    if "Free blocks found" not in out or not words or not words[0].isdigit():
        raise SampleToolError(f"debugfs found no free block from {goal}: {out.strip()[-200:]}")
    return int(words[0])


def write_at(path: Path, offset: int, data: bytes) -> None:
    """Write ``data`` into the file ``path`` at ``offset`` (the rest unchanged)."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def disk_image(image: Path, parts: list[dict], *, label: str, label_id: str, tail_mib: int = 1) -> list[int]:
    """A whole disk: a partition table (``gpt`` or ``dos``) and the given file-system images
    at 1 MiB-aligned starts. ``parts``: {'image': Path, 'type': ..., 'name'?: ..., 'uuid'?: ...}.
    Returns the byte offsets of the partitions."""
    require("sfdisk")
    start = MiB // SECTOR
    layout, offsets, pos = [], [], start
    for p in parts:
        sectors = (p["image"].stat().st_size + SECTOR - 1) // SECTOR
        line = f"start={pos}, size={sectors}, type={p['type']}"
        if p.get("uuid"):
            line += f", uuid={p['uuid']}"
        if p.get("name"):
            line += f', name="{p["name"]}"'
        layout.append(line)
        offsets.append(pos * SECTOR)
        pos += sectors
        pos = (pos + start - 1) // start * start
    total = pos * SECTOR + tail_mib * MiB
    with open(image, "wb") as fh:
        fh.truncate(total)
    script = f"label: {label}\nlabel-id: {label_id}\n" + "\n".join(layout) + "\n"
    run(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", image], stdin=script.encode())
    with open(image, "r+b") as out:
        for p, off in zip(parts, offsets, strict=True):
            out.seek(off)
            with open(p["image"], "rb") as src:
                shutil.copyfileobj(src, out, MiB)
    return offsets


def e01_image(raw: Path, target: Path, *, case: str, evidence: str, examiner: str, description: str,
              notes: str) -> Path:
    """``target``.E01 acquired by ewfacquire from ``raw``, with case metadata and MD5 + SHA-1
    acquisition hashes. (The E01 records when it was made, so its bytes differ per run; the
    media it holds does not.)"""
    require("ewfacquire")
    run(["ewfacquire", "-u", "-t", target, "-c", "fast", "-d", "sha1", "-f", "encase6",
         "-b", str(E01_CHUNK // SECTOR), "-C", case, "-E", evidence, "-e", examiner, "-D", description,
         "-N", notes, raw])
    return target.with_suffix(".E01")


E01_CHUNK = 64 * SECTOR                  # ewfacquire's default chunk: 64 sectors


def e01_chunks(segments: list[Path]) -> list[tuple[Path, int, int, bool]]:
    """(segment, offset in it, stored size, compressed) of every chunk of an E01 set, in media
    order, from the segments' table sections (EnCase 6 layout, as ewfacquire writes it: a
    chunk's offset is relative to the table's base; the last one ends where the table
    section starts)."""
    import struct
    out = []
    for seg in segments:
        data = Path(seg).read_bytes()
        at = 13                                             # past the file header
        while True:
            kind = data[at:at + 16].rstrip(b"\0")
            nxt = struct.unpack_from("<Q", data, at + 16)[0]
            if kind == b"table":
                n = struct.unpack_from("<I", data, at + 76)[0]
                base = struct.unpack_from("<Q", data, at + 84)[0]
                entries = struct.unpack_from(f"<{n}I", data, at + 100)
                starts = [base + (e & 0x7FFFFFFF) for e in entries]
                out += [(seg, s, e - s, bool(x >> 31))
                        for s, e, x in zip(starts, starts[1:] + [at], entries, strict=True)]
            if kind in (b"next", b"done") or nxt == at:
                break
            at = nxt
    return out


def flip_bytes(path: Path, offset: int, n: int = 16) -> None:
    """Invert ``n`` bytes of ``path`` at ``offset`` (a deterministic, detectable damage)."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        data = fh.read(n)
        fh.seek(offset)
        fh.write(bytes(b ^ 0xFF for b in data))


def damage_e01_chunk(e01: Path, index: int, n: int = 16) -> None:
    """Invert ``n`` bytes in the middle of chunk ``index``'s stored data: its checksum fails.
    The bytes changed are the same whenever the chunk's stored bytes are (they are: the same
    media gives the same chunk data), wherever in the file ewfacquire put the chunk."""
    _, at, size, _ = e01_chunks([e01])[index]
    flip_bytes(e01, at + size // 2, n)


def qcow2_image(raw: Path, out: Path) -> Path:
    """``raw`` converted to a QCOW2 image by ``qemu-img convert`` (no timestamps in the format:
    the same raw image gives the same bytes)."""
    require("qemu-img")
    run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, out])
    return out
