"""Evidence sources: detection and opening, all read-only.

``detect_format`` names a source's format from its bytes (never from its name alone):
``directory``, ``itunes`` (an iTunes/Finder backup folder), ``zip``, ``tar``, ``raw``, ``e01``,
the virtual-disk containers ``qcow2``,
``vmdk``, ``vhd``, ``vhdx``, ``dmg`` and ``split`` (raw in segments ``.001``, ``.002``...: the
name says where to look for the next segments, the bytes decide), or ``apfs`` (an APFS
container);
``open_source`` returns a :class:`~forensic.sources.base.Source` to walk;
``open_nested`` opens a ZIP/TAR found inside another source.
"""
from __future__ import annotations

import re
import tarfile
from pathlib import Path
from typing import BinaryIO, cast

from forensic.errors import SourceError, UnsupportedFormatError
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator
from forensic.sources.archive import (TarSource, ZipSource, looks_like_gzip, looks_like_tar,
                                      looks_like_zip)
from forensic.sources.base import Source, display_path, lib_path, open_readonly
from forensic.sources.containers import FORMATS as CONTAINER_FORMATS
from forensic.sources.containers import sniff as sniff_container
from forensic.sources.directory import DirectorySource
from forensic.sources.ewf import looks_like_ewf


def _head(path: Path, n: int = 4096) -> bytes:
    try:
        with open_readonly(path) as fh:
            return fh.read(n)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}",
                          hint="check the path and the permissions") from exc


def detect_format(path: Path) -> str:
    if not path.exists() and not path.is_symlink():
        raise SourceError(f"evidence source not found: {path}")
    if path.is_dir():
        from forensic.sources.itunes import looks_like_itunes_backup
        return "itunes" if looks_like_itunes_backup(path) else "directory"
    if not path.is_file():
        raise UnsupportedFormatError(f"{path} is not a regular file or folder")
    head = _head(path)
    if not head:
        raise UnsupportedFormatError(f"{path.name} is empty (0 bytes): nothing to examine")
    if looks_like_ewf(head):
        return "e01"
    from forensic.sources.android_backup import looks_like_android_backup
    if looks_like_android_backup(head):
        return "android-backup"
    if looks_like_zip(head):
        return _zip_format(path)
    if looks_like_tar(head):
        return "tar"
    if looks_like_gzip(head) or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        try:
            with tarfile.open(path, "r:*") as tf:
                tf.next()
            return "tar"
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UnsupportedFormatError(f"{path.name} is compressed but not a readable TAR archive ({exc})") from exc
    container = sniff_container(path, head)
    if container is not None:
        return container
    from forensic.sources.apfs import looks_like_apfs
    if looks_like_apfs(head):
        return "apfs"
    from forensic.sources.encrypted import encrypted_format
    encrypted = encrypted_format(head, display_path(path.name))
    if encrypted is not None:
        return encrypted
    # A raw image: a partition table or a file system The Sleuth Kit recognises.
    import pytsk3
    try:
        img = pytsk3.Img_Info(lib_path(path))
    except (OSError, RuntimeError) as exc:
        raise SourceError(f"cannot open {path.name}: {exc}") from exc
    try:
        try:
            pytsk3.Volume_Info(img)
            return "raw"
        except (OSError, RuntimeError):
            pass
        try:
            pytsk3.FS_Info(img, offset=0)
            return "raw"
        except (OSError, RuntimeError):
            pass
    finally:
        img.close()
    magic_hint = _describe(head)
    split = ""
    segment = re.search(r"\.(\d{3})$", path.name)
    if segment and int(segment.group(1)) <= 1:
        split = (" (named like the first segment of a split raw image, but no .002 is beside it and "
                 "this segment alone holds no disk)")
    elif segment and any(path.with_name(path.name[:segment.start()] + f".{n:03d}").is_file() for n in (0, 1)):
        split = " (a later segment of a split raw image: add its first segment, .001 or .000)"
    raise UnsupportedFormatError(
        f"{path.name}: not a format this tool reads: no partition table or file system found{split} "
        f"(libmagic says: {magic_hint})",
        hint="a damaged (e.g. zeroed superblock) or encrypted image looks like this too; supported: a folder, "
             "ZIP, TAR (.tar, .tar.gz), raw/dd disk images (MBR/GPT or a bare file system The Sleuth Kit "
             "reads), split raw (.001, .002, ...), E01, QCOW2, VMDK, VHD, VHDX, DMG and APFS containers")


def _zip_format(path: Path) -> str:
    """``ufdr`` for a ZIP holding a Cellebrite report.xml, else ``zip``."""
    import zipfile
    from forensic.sources.ufdr import looks_like_ufdr
    try:
        with open_readonly(path) as fh, zipfile.ZipFile(fh) as zf:
            return "ufdr" if looks_like_ufdr(zf) else "zip"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "zip"            # the ZIP source names the damage when it opens it


def _device_tree(archive: ZipSource | TarSource, path: Path) -> Source:
    """A full-file-system archive from an acquisition tool (its members under ``private/var``,
    ``Dump/data``...) walked under the device's paths; any other archive as it is."""
    from forensic.devicepath import looks_like_device_tree
    from forensic.sources.ufdr import DeviceTreeSource
    if isinstance(archive, ZipSource):
        names = [zi.filename for zi in archive.infos[:2000]]
    else:
        names = []
        try:
            with open_readonly(path) as fh, tarfile.open(fileobj=fh, mode="r|*") as tf:
                for ti in tf:
                    names.append(ti.name)
                    if len(names) >= 200:
                        break
        except (tarfile.TarError, OSError, EOFError):
            pass
    return DeviceTreeSource(archive) if looks_like_device_tree(names) else archive


def _device_folder(path: Path, per_level: int = 40) -> bool:
    """Whether a folder holds a device's file system (``Dump/data/data``, ``private/var``...),
    judged from its first three levels of folders (``per_level`` at most in each)."""
    import os
    from forensic.devicepath import looks_like_device_tree
    names: list[str] = []

    def walk(folder: Path, rel: str, depth: int) -> None:
        try:
            subs = sorted(e.name for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))[:per_level]
        except OSError:
            return
        for name in subs:
            names.append(f"{rel}{name}/")
            if depth < 3:
                walk(folder / name, f"{rel}{name}/", depth + 1)

    walk(path, "", 1)
    return looks_like_device_tree([n + "x" for n in names], sample=len(names))


def _describe(head: bytes) -> str:
    try:
        import magic
        return str(magic.from_buffer(head))
    except Exception:
        return "unknown content"


def open_source(path: Path, fmt: str, label: str, password: bytes | None = None,
                limits: Limits = DEFAULT_LIMITS) -> Source:
    loc = Locator.root(display_path(label))
    if fmt == "directory":
        folder = DirectorySource(path, loc, limits)
        if _device_folder(path):        # a logical extraction laid out as the device's file system
            from forensic.sources.ufdr import DeviceTreeSource
            return DeviceTreeSource(folder)
        return folder
    if fmt == "itunes":         # an iTunes/Finder backup folder (encrypted: opened with the password)
        from forensic.sources.itunes import ItunesBackupSource
        return ItunesBackupSource(path, loc, limits, password, label)
    if fmt in ("zip", "tar"):
        fh = open_readonly(path)
        size = path.stat().st_size
        archive: ZipSource | TarSource
        try:
            if fmt == "zip":
                archive = ZipSource(fh, loc, size, password, limits, label)
                archive.require_password(label)
            else:
                archive = TarSource(fh, loc, size, limits, label)
        except BaseException:
            fh.close()
            raise
        archive.owned.append(fh)
        return _device_tree(archive, path)
    if fmt in ("android-backup", "ufdr"):
        return _open_vendor(path, fmt, loc, limits, label, password)
    if fmt in ("raw", "e01"):
        from forensic.sources.tsk import EwfImgInfo, TskImageSource, open_raw
        from forensic.sources.volumes import volume_key
        if fmt == "raw":
            img = open_raw(path)
        else:
            from forensic.sources.ewf import open_ewf
            handle, _ = open_ewf(path)
            img = EwfImgInfo(handle)
        with volume_key(password, lib_path(path) if fmt == "raw" else None):   # for its encrypted/APFS partitions
            src = TskImageSource(img, loc, limits, label)
        src.FORMAT = fmt
        return src
    if fmt in ("bitlocker", "luks"):
        return _open_encrypted(path, fmt, loc, limits, label, password)
    if fmt in CONTAINER_FORMATS or fmt == "apfs":
        return _open_container(path, fmt, loc, limits, label, password)
    raise UnsupportedFormatError(f"unknown format {fmt!r}")


def _open_vendor(path: Path, fmt: str, loc: Locator, limits: Limits, label: str,
                 password: bytes | None) -> Source:
    """An Android backup (.ab) or a Cellebrite UFDR: files under their device paths."""
    from forensic.sources.android_backup import AndroidBackupSource
    from forensic.sources.ufdr import UfdrSource
    fh = open_readonly(path)
    src: Source
    try:
        if fmt == "android-backup":
            src = AndroidBackupSource(fh, loc, path.stat().st_size, password, limits, label)
        else:
            ufdr = UfdrSource(fh, loc, path.stat().st_size, password, limits, label)
            ufdr.require_password(label)
            src = ufdr
    except BaseException:
        fh.close()
        raise
    src.owned.append(fh)
    return src


def _open_encrypted(path: Path, fmt: str, loc: Locator, limits: Limits, label: str,
                    password: bytes | None) -> Source:
    """An image that is one BitLocker or LUKS volume, opened with the key and walked decrypted."""
    from forensic.sources.encrypted import examine, open_decrypted
    from forensic.sources.tsk import TskImageSource, open_raw
    img = open_raw(path)
    try:
        found = examine(img)
        if found is None:
            raise UnsupportedFormatError(f"{display_path(path.name)} is no longer a {fmt} volume")
        decrypted = open_decrypted(img, 0, None, found, password, display_path(path.name))
    except BaseException:
        img.close()
        raise
    try:
        src = TskImageSource(decrypted, loc.child("volume", f"{found.scheme} (decrypted)"), limits, label)
    except BaseException:
        decrypted.close()
        img.close()
        raise
    src.FORMAT = fmt
    src.details["encryption"] = {**found.to_json(), "decrypted": True}
    src.owned.extend([cast(BinaryIO, decrypted), cast(BinaryIO, img)])
    return src


def _open_container(path: Path, fmt: str, loc: Locator, limits: Limits, label: str,
                    password: bytes | None = None) -> Source:
    """A virtual-disk container (or an APFS container file): its disk walked as a raw image
    is, or, when the disk is an APFS container, every APFS volume in it."""
    from forensic.sources.apfs import ApfsSource, looks_like_apfs
    from forensic.sources.containers import ContainerImgInfo, open_media
    from forensic.sources.tsk import TskImageSource, open_raw
    from forensic.sources.encrypted import examine, open_decrypted
    from forensic.sources.volumes import volume_key
    img = ContainerImgInfo(open_media(path, fmt)) if fmt != "apfs" else open_raw(path)
    src: Source
    try:
        head = img.read(0, 4096)
        if looks_like_apfs(head):
            src = ApfsSource(img, loc, limits, label, FORMAT=fmt, path=lib_path(path) if fmt == "apfs" else None,
                             key=password)
        else:
            found = examine(img)
            if found is not None:       # the disk in the container is one encrypted volume
                decrypted = open_decrypted(img, 0, None, found, password, f"the disk in {display_path(path.name)}")
                src = TskImageSource(decrypted, loc.child("volume", f"{found.scheme} (decrypted)"), limits, label)
                src.details["encryption"] = {**found.to_json(), "decrypted": True}
                src.owned.append(cast(BinaryIO, decrypted))
            else:
                with volume_key(password):
                    src = TskImageSource(img, loc, limits, label)
            src.FORMAT = fmt
        if isinstance(img, ContainerImgInfo):      # spans unreadable while walking: the source's warnings
            src.warnings.extend(img.warnings)
            img.warnings = src.warnings
    except BaseException:
        img.close()
        raise
    src.owned.append(cast(BinaryIO, img))      # closed with the source (it has close(), as a file has)
    return src


def open_nested(reader: BinaryIO, head: bytes, locator: Locator, size: int,
                limits: Limits = DEFAULT_LIMITS, password: bytes | None = None) -> Source | None:
    """A ZIP or TAR inside another source, walked as a source of its own; None if neither."""
    if looks_like_zip(head):
        return ZipSource(reader, locator, size, password, limits, str(locator))
    if looks_like_tar(head) or looks_like_gzip(head):
        return TarSource(reader, locator, size, limits, str(locator))
    return None
