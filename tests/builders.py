"""Builders of real evidence fixtures with real tools (no mounting, no root needed).

Each returns the path of what it built; tests check what the tool reports against
what the builder put in.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

MiB = 1 << 20


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"system tools missing: {', '.join(missing)} (run scripts/setup.sh)")


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, **kw)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def ext4_image(tmp: Path, files: dict[str, bytes], size_mib: int = 8, name: str = "ext4.img",
               fstype: str = "ext4") -> Path:
    need("mke2fs")
    root = write_tree(tmp / (name + ".root"), files)
    img = tmp / name
    env = dict(os.environ, E2FSPROGS_FAKE_TIME="1700000000")
    run("mke2fs", "-q", "-F", "-t", fstype, "-b", "1024", "-E", "root_owner=0:0", "-d", root, img,
        f"{size_mib}M", env=env)
    return img


def fat_image(tmp: Path, files: dict[str, bytes], deleted: tuple[str, ...] = (), size_mib: int = 34,
              name: str = "fat.img", fat: int = 32) -> Path:
    """A FAT file system; the names in ``deleted`` are written then removed with mdel."""
    need("mkfs.vfat", "mcopy", "mmd", "mdel")
    img = tmp / name
    with open(img, "wb") as fh:
        fh.truncate(size_mib * MiB)
    run("mkfs.vfat", "-F", str(fat), "-n", "CARD", img)
    src = tmp / (name + ".src")
    dirs = set()
    for rel, data in files.items():
        parts = rel.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                run("mmd", "-i", img, "::/" + d)
                dirs.add(d)
        p = src / rel.strip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        run("mcopy", "-i", img, p, "::/" + rel.strip("/"))
    for rel in deleted:
        run("mdel", "-i", img, "::/" + rel.strip("/"))
    return img


def disk_image(tmp: Path, partitions: list[Path], label: str = "gpt", name: str = "disk.img",
               extra_tail_mib: int = 1) -> Path:
    """A whole disk with an MBR ('dos') or GPT table holding the given file-system images."""
    need("sfdisk")
    start = 2048  # sectors
    layout, offsets = [], []
    pos = start
    for part in partitions:
        sectors = (part.stat().st_size + 511) // 512
        offsets.append(pos)
        layout.append(f"start={pos}, size={sectors}, type={'L' if label == 'gpt' else '83'}")
        pos += sectors + 2048
    total = (pos + extra_tail_mib * 2048 + 34) * 512
    img = tmp / name
    with open(img, "wb") as fh:
        fh.truncate(total)
    script = f"label: {label}\n" + "\n".join(layout) + "\n"
    run("sfdisk", "--no-reread", "--no-tell-kernel", "-q", img, input=script.encode())
    with open(img, "r+b") as fh:
        for part, off in zip(partitions, offsets, strict=True):
            fh.seek(off * 512)
            with open(part, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)
    return img


def e01_image(tmp: Path, raw: Path, name: str = "phone", segment: str | None = None, **meta: str) -> Path:
    """An E01 made by ewfacquire from a raw image (segment size e.g. '1MiB' for split sets)."""
    need("ewfacquire")
    target = tmp / name
    args = ["ewfacquire", "-u", "-t", target, "-c", "none", "-d", "sha1",
            "-C", meta.get("case", "CASE-1"), "-E", meta.get("evidence", "EV-1"),
            "-e", meta.get("examiner", "Examiner"), "-D", meta.get("description", "test image"),
            "-N", meta.get("notes", "made by tests")]
    if segment:
        args += ["-S", segment]
    run(*args, raw)
    return tmp / (name + ".E01")


def zip_file(path: Path, members: list[tuple[str, bytes]], password: bytes | None = None) -> Path:
    if password is not None:
        import pyzipper
        with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED,
                                 encryption=pyzipper.WZ_AES) as zf:
            zf.setpassword(password)
            for name, data in members:
                zf.writestr(name, data)
        return path
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (2021, 3, 1, 12, 0, 0)), data)
    return path


# A small valid JPEG (8x8, grey) with an Exif APP1 holding Make/Model, built by hand.
def tiny_jpeg(make: bytes = b"TestMake", model: bytes = b"TestModel") -> bytes:
    import struct
    entries = []
    data_area = b""
    base = 8 + 2 + 2 * 12 + 4
    for tag, val in ((0x010F, make + b"\0"), (0x0110, model + b"\0")):
        entries.append(struct.pack(">HHII", tag, 2, len(val), base + len(data_area)))
        data_area += val
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", len(entries)) + b"".join(entries) \
        + struct.pack(">I", 0) + data_area
    app1 = b"Exif\x00\x00" + tiff
    body = bytes.fromhex(
        "ffdb004300" + "01" * 64 +
        "ffc0000b080008000801011100"
        "ffc4001f0000010501010101010100000000000000000102030405060708090a0b"
        "ffda0008010100003f00d2cf20")
    return b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + body + b"\xff\xd9"


def debugfs(img: Path, *commands: str) -> str:
    """Run debugfs write commands on an ext image (no mounting)."""
    need("debugfs")
    out = ""
    for c in commands:
        out += run("debugfs", "-w", "-R", c, img).stdout.decode()
    return out


def ext_inode(img: Path, path: str) -> int:
    need("debugfs")
    out = run("debugfs", "-R", f"stat {path}", img).stdout.decode()
    import re
    return int(re.search(r"Inode: (\d+)", out).group(1))


def ntfs_image(tmp: Path, files: dict[str, bytes], streams: dict[str, dict[str, bytes]] | None = None,
               size_mib: int = 8, name: str = "ntfs.img") -> Path:
    """An NTFS file system built with mkntfs + ntfscp (no mounting); ``streams`` adds named
    alternate data streams: {path: {stream_name: bytes}}. Paths must be in the root folder."""
    need("mkntfs", "ntfscp")
    img = tmp / name
    with open(img, "wb") as fh:
        fh.truncate(size_mib * MiB)
    run("mkntfs", "-q", "-F", "-f", img)
    src = tmp / (name + ".src")
    src.mkdir(exist_ok=True)
    for i, (rel, data) in enumerate(files.items()):
        p = src / f"f{i}"
        p.write_bytes(data)
        run("ntfscp", "-q", img, p, rel.strip("/"))
        for sname, sdata in (streams or {}).get(rel, {}).items():
            q = src / f"f{i}.{sname}"
            q.write_bytes(sdata)
            run("ntfscp", "-q", "-N", sname, img, q, rel.strip("/"))
    return img
