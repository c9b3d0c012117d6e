"""iTunes/Finder backups of an iPhone or iPad (``MobileSync/Backup/<UDID>/``), read-only.

A backup stores every file under a hashed name, ``fileID[:2]/fileID`` with ``fileID`` the
SHA-1 of ``domain-relativePath``; ``Manifest.db`` (table ``Files``) maps each fileID back to
its domain and path. Each file is presented under its device path
(:func:`forensic.devicepath.ios_backup_path`: ``HomeDomain``/``Library/SMS/sms.db`` is
``/private/var/mobile/Library/SMS/sms.db``), with the domain path and the hashed storage name
in its locator (``HomeDomain/Library/SMS/sms.db (3d/3d0d7e5f...)``), so that app extractors
find their databases as on a full file system.

An encrypted backup is opened with the backup password through ``iphone-backup-decrypt``
(its keybag unlock, key unwrap and AES decryption; nothing of the keybag is done here).
Decrypted data is derived data: the decrypted ``Manifest.db`` is kept in a private folder
of this process (mode 0700, under the system's temporary folder, never beside the evidence)
while the source is open and removed when it is closed; a file's content is decrypted when
it is opened, into that folder, and the decrypted copy is unlinked at once (it lives as
long as the reader handed out).

The device facts (``Info.plist``, with ``Manifest.plist``'s ``Lockdown`` as a fallback) are
recorded in ``details["device"]``.
"""
from __future__ import annotations

import os
import plistlib
import shutil
import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from forensic.devicepath import ios_backup_path
from forensic.entry import FileEntry
from forensic.errors import PasswordError, SourceError
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator, safe_name
from forensic.sources.base import Source, display_path, open_readonly

MANIFEST_DB = "Manifest.db"
MANIFEST_PLIST = "Manifest.plist"
# The backup's own files at its top, listed as they are (besides the hashed storage).
TOP_FILES = ("Info.plist", MANIFEST_PLIST, MANIFEST_DB, "Status.plist")
_KIND = {1: "file", 2: "dir", 4: "link"}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MAX_PLIST = 16 << 20          # an Info.plist over 16 MiB is not one (it may hold app icons: a few MiB)
# Info.plist keys -> details["device"] names (the names are a contract: issue 22)
_INFO_KEYS = {
    "model": ("Product Name",), "product_type": ("Product Type",), "imei": ("IMEI",),
    "serial": ("Serial Number",), "ios_version": ("Product Version",), "device_name": ("Device Name", "Display Name"),
    "udid": ("Unique Identifier", "Target Identifier"), "build_version": ("Build Version",),
    "phone_number": ("Phone Number",), "iccid": ("ICCID",), "meid": ("MEID",), "imei2": ("IMEI 2",),
}
_LOCKDOWN_KEYS = {"product_type": "ProductType", "ios_version": "ProductVersion", "serial": "SerialNumber",
                  "udid": "UniqueDeviceID", "device_name": "DeviceName", "build_version": "BuildVersion"}


def _read_small(path: Path) -> bytes | None:
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > _MAX_PLIST:
            return None
        with open_readonly(path) as fh:
            return fh.read(_MAX_PLIST + 1)
    except OSError:
        return None


def _load_plist(path: Path) -> dict | None:
    data = _read_small(path)
    if data is None:
        return None
    try:
        value = plistlib.loads(data)
    except Exception:          # seized bytes: any parse failure is "not a readable plist"
        return None
    return value if isinstance(value, dict) else None


def looks_like_itunes_backup(folder: Path) -> bool:
    """A folder holding a ``Manifest.db`` that is SQLite, or a ``Manifest.plist`` that is a
    backup manifest (an encrypted backup's Manifest.db is ciphertext): the bytes decide."""
    db = folder / MANIFEST_DB
    try:
        if db.is_file() and not db.is_symlink():
            with open_readonly(db) as fh:
                if fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
                    return True
    except OSError:
        pass
    manifest = _load_plist(folder / MANIFEST_PLIST)
    return manifest is not None and any(k in manifest for k in ("BackupKeyBag", "Lockdown", "IsEncrypted"))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bytes)):
        return None
    return safe_name(str(value))[0]


def device_info(folder: Path, warnings: list[str]) -> dict:
    """The device's facts from ``Info.plist`` (``Manifest.plist``'s Lockdown where it lacks one)."""
    info = _load_plist(folder / "Info.plist")
    manifest = _load_plist(folder / MANIFEST_PLIST) or {}
    if info is None:
        warnings.append("Info.plist is missing or not a readable plist: device facts from Manifest.plist only")
        info = {}
    device: dict[str, Any] = {}
    for name, keys in _INFO_KEYS.items():
        device[name] = next((_text(info[k]) for k in keys if _text(info.get(k))), None)
    found = manifest.get("Lockdown")
    lockdown: dict = found if isinstance(found, dict) else {}
    for name, key in _LOCKDOWN_KEYS.items():
        if device.get(name) is None:
            device[name] = _text(lockdown.get(key))
    last = info.get("Last Backup Date") or manifest.get("Date")
    # A plist <date> is UTC by the format's definition: plistlib returns it naive, in UTC.
    if isinstance(last, datetime):
        aware = last.replace(tzinfo=timezone.utc) if last.tzinfo is None else last.astimezone(timezone.utc)
        device["last_backup"] = aware.isoformat().replace("+00:00", "Z")
    else:
        device["last_backup"] = None
    device["encrypted"] = bool(manifest.get("IsEncrypted"))
    if isinstance(manifest.get("Version"), str):
        device["backup_version"] = _text(manifest["Version"])
    return {k: v for k, v in device.items() if v is not None}


def _ts(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1 << 34:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


class ItunesBackupSource(Source):
    FORMAT = "itunes"

    def __init__(self, root: Path, locator: Locator, limits: Limits = DEFAULT_LIMITS,
                 password: bytes | None = None, label: str = "") -> None:
        super().__init__(locator, limits)
        self.root = Path(root).resolve()
        self.label = label or display_path(self.root.name)
        self.work = Path(tempfile.mkdtemp(prefix="forensic-itunes-"))     # private (0700), removed at close
        self.backup: Any = None          # iphone_backup_decrypt.EncryptedBackup, for an encrypted backup
        self.named_twice: set[str] = set()   # fileIDs of several Files rows, and those already given content
        self.read_once: set[str] = set()
        try:
            self.details["device"] = device_info(self.root, self.warnings)
            self.encrypted = bool(self.details["device"].get("encrypted"))
            if self.encrypted:
                self._unlock(password)
                self.details["encryption"] = {"scheme": "itunes-backup", "decrypted": True}
            self.manifest = self._manifest_copy()
        except BaseException:
            self.close()
            raise

    def _unlock(self, password: bytes | None) -> None:
        from iphone_backup_decrypt import EncryptedBackup, IncorrectPassphraseError
        if password is None:
            raise PasswordError(f"{self.label}: the iTunes/Finder backup is encrypted and no password was given",
                                hint="pass --password-file FILE (the backup password on its first line)")
        try:
            backup = EncryptedBackup(backup_directory=os.fsdecode(self.root), passphrase=password)
            backup.test_decryption()       # unlocks the keybag and decrypts Manifest.db (to its own 0700 temp)
        except IncorrectPassphraseError as exc:
            raise PasswordError(f"{self.label}: wrong password for the encrypted iTunes/Finder backup",
                                hint="check the file given with --password-file") from exc
        except Exception as exc:          # a damaged keybag or manifest: the library's words
            raise SourceError(f"{self.label}: cannot open the encrypted backup: {exc}",
                              hint="Manifest.plist or Manifest.db may be damaged") from exc
        self.backup = backup

    def _manifest_copy(self) -> Path | None:
        """A private copy of the (decrypted) Manifest.db: SQLite never opens the evidence's."""
        out = self.work / MANIFEST_DB
        try:
            if self.backup is not None:
                self.backup.save_manifest_file(os.fsdecode(out))
            else:
                with open_readonly(self.root / MANIFEST_DB) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, ValueError) as exc:
            self.warnings.append(f"Manifest.db cannot be read ({exc}): the backup's files are listed "
                                 "under their storage names only")
            return None
        return out

    def _rows(self) -> Iterator[tuple]:
        assert self.manifest is not None
        con = sqlite3.connect(f"file:{self.manifest}?mode=ro", uri=True)
        try:
            # a stored file named by several rows (a forged table without its primary key): read
            # once, so that a forger cannot have one big file read and hashed N times
            self.named_twice = {r[0] for r in con.execute(
                "SELECT fileID FROM Files WHERE flags = 1 GROUP BY fileID HAVING count(*) > 1")}
            cur = con.execute("SELECT fileID, domain, relativePath, flags, file FROM Files "
                              "ORDER BY domain, relativePath")
            while batch := cur.fetchmany(500):
                yield from batch
        finally:
            con.close()

    def entries(self) -> Iterator[FileEntry]:
        yield from self._top_files()
        if self.manifest is None:
            yield from self._storage_only()
            return
        listed = 0
        try:
            for row in self._rows():
                listed += 1
                yield self._entry(*row)
        except sqlite3.Error as exc:
            if listed:
                self.warnings.append(f"Manifest.db: reading its Files table failed ({exc}): the {listed} files "
                                     "listed so far are kept; the rest are not listed")
            else:
                self.warnings.append(f"Manifest.db cannot be read ({exc}): the backup's files are listed "
                                     "under their storage names only")
                yield from self._storage_only()

    def _top_files(self) -> Iterator[FileEntry]:
        for name in TOP_FILES:
            path = self.root / name
            if not path.is_file() or path.is_symlink():
                continue
            st = path.stat()
            entry = FileEntry(self.locator.child("backup", name), f"/{name}", name, "file", st.st_size,
                              times={"modified": _ts(st.st_mtime)})
            entry.opener = lambda path=path: open_readonly(path)
            yield entry

    def _storage_only(self) -> Iterator[FileEntry]:
        """No readable manifest: the stored files under their hashed names, so nothing is lost."""
        for sub in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink() and len(p.name) == 2):
            for path in sorted(sub.iterdir()):
                if not path.is_file() or path.is_symlink():
                    continue
                name = safe_name(os.fsencode(path.name))[0]
                entry = FileEntry(self.locator.child("backup", f"{sub.name}/{name}"), f"/{sub.name}/{name}", name,
                                  "file", path.stat().st_size)
                if self.encrypted:
                    entry.warnings.append("encrypted, and no manifest holds its key: content not read")
                else:
                    entry.opener = lambda path=path: open_readonly(path)
                yield entry

    def _entry(self, file_id: Any, domain: Any, rel: Any, flags: Any, blob: Any) -> FileEntry:
        fid = _text(file_id) or "?"
        dom = _text(domain) or "?"
        rel_text = _text(rel) or ""
        backup_path = f"{dom}/{rel_text}" if rel_text else dom
        # listed under its device path (one mapping for every source: forensic/devicepath.py);
        # a domain outside the published table stays under /<domain>/<relativePath>
        device_path = ios_backup_path(dom, rel_text) or f"/{backup_path}"
        name = device_path.rsplit("/", 1)[-1]
        kind = _KIND.get(flags if isinstance(flags, int) else -1, "other")
        # the locator keeps the backup's own naming: domain path and hashed storage name
        entry = FileEntry(self.locator.child("backup", f"{backup_path} ({fid[:2]}/{fid})"),
                          device_path, name, kind, None)
        record = None
        if isinstance(blob, bytes):
            from iphone_backup_decrypt.utils import FilePlist
            try:
                record = FilePlist(blob)
            except Exception as exc:     # a damaged or forged record: the entry stays, with a warning
                entry.warnings.append(f"its Manifest.db record cannot be decoded ({type(exc).__name__})")
        if record is not None:
            entry.times = {"modified": _ts(record.mtime), "born": _ts(record.created),
                           "changed": _ts(record._data.get("LastStatusChange"))}
            entry.inode = _text(record._data.get("InodeNumber"))
            if kind == "link":
                entry.link_target = _text(record.target)
        if kind != "file":
            return entry
        if fid in self.named_twice:
            if fid in self.read_once:
                entry.warnings.append(f"its stored file {fid[:2]}/{fid} is already listed under another path "
                                      "(Manifest.db names it more than once): content not read here")
                return entry
            self.read_once.add(fid)
        stored = self.root / fid[:2] / fid
        if len(fid) != 40 or not all(c in "0123456789abcdef" for c in fid):
            entry.warnings.append(f"storage name {fid!r} is not a SHA-1: content not read")
        elif stored.parent.is_symlink() or stored.is_symlink():      # a link could lead out of the backup
            entry.warnings.append(f"its stored file {fid[:2]}/{fid} is reached through a symbolic link: not followed")
        elif not stored.is_file():
            entry.size = record.filesize if record is not None else None
            entry.warnings.append(f"its stored file {fid[:2]}/{fid} is missing from the backup")
        elif self.encrypted:
            entry.size = record.filesize if record is not None else None
            if record is None or record.encryption_key is None:
                entry.warnings.append("encrypted file without a key in Manifest.db: content not read")
            else:
                entry.opener = lambda fid=fid, record=record: self._decrypt(fid, record)
        else:
            entry.size = stored.stat().st_size
            entry.opener = lambda stored=stored: open_readonly(stored)
        return entry

    def _decrypt(self, fid: str, record: Any) -> BinaryIO:
        """The file decrypted into the private folder, opened, and unlinked at once."""
        from iphone_backup_decrypt import utils
        try:
            key = self.backup.keybag.unwrap_key_for_class(record.protection_class, record.encryption_key)
            fd, out = tempfile.mkstemp(dir=self.work, prefix="f-")
            os.close(fd)
            try:
                utils.aes_decrypt_chunked(in_filename=utils.backup_file_path(os.fsdecode(self.root), fid),
                                          key=key, out_filepath=out)
                return open_readonly(out)
            finally:
                os.unlink(out)
        except OSError:
            raise
        except Exception as exc:        # a bad key or padding: the content cannot be had
            raise OSError(f"decrypting {fid[:2]}/{fid} failed: {exc}") from exc

    def close(self) -> None:
        # Dropping the library's object removes its own decrypted Manifest.db (its __del__).
        self.backup = None
        shutil.rmtree(self.work, ignore_errors=True)
        super().close()
