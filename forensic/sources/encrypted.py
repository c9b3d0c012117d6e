"""Encrypted volumes: recognised by their signature and reported, never skipped in silence.

BitLocker (``-FVE-FS-`` in the boot sector), LUKS 1 and 2 (``LUKS\\xba\\xbe`` at the
start) and FileVault 2 / Core Storage (``CS`` at byte 88 of the volume header) are
recognised at a volume's first bytes: a partition of a disk, or a whole image. The
report names the scheme, where the volume is, and what would open it (the BitLocker
key protectors the volume lists, read with libbde, say which: a recovery password, a
TPM, a startup key, a user password).

With a key (``--password-file``: its first line is a BitLocker recovery password
(48 digits in groups of six) or user password, or a LUKS passphrase), a BitLocker or LUKS
volume is opened read-only through libbde or libluksde and its decrypted content walked
(:func:`unlock`); the locator says so (``partition 2 (LUKS1, decrypted)``). The key itself
is never stored in the case, only the path of the file it was read from (as for an
encrypted ZIP). FileVault 2 (which also needs the EncryptedRoot.plist.wipekey of the
Recovery HD partition) is reported only: decrypt it with fvdemount and add the result.
APFS volumes encrypted by FileVault are reported by :mod:`forensic.sources.apfs`.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import pytsk3

from forensic.errors import PasswordError, UnsupportedFormatError

PROBE = 4096          # bytes read at a volume's start to recognise it


@dataclass(frozen=True, slots=True)
class Encryption:
    scheme: str                        # 'BitLocker', 'LUKS1', 'LUKS2', 'FileVault 2 (Core Storage)'
    opener: str                        # the libyal library and tool that open it with a key
    needs: str                         # what the examiner must supply
    facts: dict = field(default_factory=dict)   # e.g. BitLocker key protectors, LUKS UUID

    def to_json(self) -> dict:
        return {"scheme": self.scheme, "opener": self.opener, "needs": self.needs, **self.facts}


def detect(head: bytes) -> Encryption | None:
    """The encryption scheme whose signature starts ``head`` (a volume's first bytes), or None."""
    if head[3:11] == b"-FVE-FS-":
        return Encryption("BitLocker", "libbde (bdemount)",
                          "the 48-digit recovery password, the user password or the startup key (.BEK)")
    if head[:6] == b"LUKS\xba\xbe":
        version = int.from_bytes(head[6:8], "big")
        # LUKS1 and LUKS2 both keep the UUID, NUL-padded ASCII, at byte 168
        uuid = head[168:208].split(b"\x00")[0].decode("ascii", "replace")
        return Encryption(f"LUKS{version}" if version in (1, 2) else "LUKS", "libluksde (luksdemount)",
                          "a passphrase or a key file of one of its key slots",
                          {"uuid": uuid} if uuid else {})
    if head[88:90] == b"CS" and int.from_bytes(head[90:92], "little") == 1:
        return Encryption("FileVault 2 (Core Storage)", "libfvde (fvdemount)",
                          "the user's password or the recovery key, and the EncryptedRoot.plist.wipekey "
                          "of the Recovery HD partition")
    return None


def examine(img: Any, offset: int = 0, length: int | None = None) -> Encryption | None:
    """Whether the volume at ``offset`` of a pytsk3 image is encrypted, and with what."""
    try:
        head = img.read(offset, PROBE)
    except (OSError, RuntimeError):
        return None
    found = detect(head)
    if found is not None and found.scheme == "BitLocker":
        found = _bitlocker_facts(found, img, offset, length)
    return found


def _bitlocker_facts(found: Encryption, img: Any, offset: int, length: int | None) -> Encryption:
    """The key protectors a BitLocker volume lists in its (unencrypted) metadata."""
    import pybde

    from forensic.sources.apfs import ImgFile
    volume = pybde.volume()
    try:
        volume.open_file_object(ImgFile(img, offset, length))
    except (OSError, RuntimeError):
        return found
    facts: dict = {}
    try:
        kinds = {v: k.lower().replace("_", " ") for k, v in vars(pybde.key_protection_types).items()
                 if k.isupper() and isinstance(v, int)}
        protectors = []
        for i in range(volume.get_number_of_key_protectors()):
            kp = volume.get_key_protector(i)
            protectors.append(kinds.get(kp.get_type(), str(kp.get_type())))
        facts["key_protectors"] = protectors
        ident = volume.get_volume_identifier()
        if ident:
            facts["volume_identifier"] = str(ident)
    except (OSError, RuntimeError, AttributeError):
        pass
    finally:
        volume.close()
    if not facts:
        return found
    return Encryption(found.scheme, found.opener, found.needs, facts)


def warning(found: Encryption, where: str) -> str:
    """An item-level warning: the scheme, the volume, and what opens it."""
    extra = ""
    if found.facts.get("key_protectors"):
        extra = f"; its key protectors: {', '.join(found.facts['key_protectors'])}"
    how = (f"give it with --password-file (the key on its first line) or decrypt it with {found.opener}"
           if found.scheme in OPENABLE else f"decrypt it with {found.opener} and add the decrypted volume")
    return (f"{where} is encrypted with {found.scheme}: its files are not listed{extra}. Opening it needs "
            f"{found.needs}; {how}")


OPENABLE = {"BitLocker": "bitlocker", "LUKS1": "luks", "LUKS2": "luks"}     # scheme -> item format


def encrypted_format(head: bytes, name: str) -> str | None:
    """The item format of an image that is one encrypted volume (``bitlocker``, ``luks``),
    None when it is not one; one that cannot be opened here (FileVault 2) is refused."""
    found = detect(head)
    if found is None:
        return None
    if found.scheme in OPENABLE:
        return OPENABLE[found.scheme]
    raise UnsupportedFormatError(f"{name} is a {found.scheme}-encrypted volume: nothing in it can be read "
                                 "without its key",
                                 hint=f"opening it needs {found.needs}; decrypt it with {found.opener} "
                                      "and add the decrypted image")


_RECOVERY_PASSWORD = re.compile(r"^\d{6}(-\d{6}){7}$")


def unlock(img: Any, offset: int, length: int | None, found: Encryption, key: bytes) -> Any | None:
    """The BitLocker or LUKS volume at ``offset`` of a pytsk3 image opened with ``key`` (a
    libyal volume handle reading the decrypted content), or None when the key does not open
    it. Raises UnsupportedFormatError for a scheme opened elsewhere (FileVault 2)."""
    from forensic.sources.apfs import ImgFile
    text = key.decode("utf-8", "replace").strip()
    if found.scheme == "BitLocker":
        import pybde
        volume = pybde.volume()
        if _RECOVERY_PASSWORD.match(text):
            volume.set_recovery_password(text)
        else:
            volume.set_password(text)
    elif found.scheme in ("LUKS1", "LUKS2"):
        import pyluksde
        volume = pyluksde.volume()
        volume.set_password(text)
    else:
        raise UnsupportedFormatError(f"a {found.scheme} volume is not opened by this version",
                                     hint=f"decrypt it with {found.opener} and add the decrypted image")
    try:
        volume.open_file_object(ImgFile(img, offset, length))
    except (OSError, RuntimeError):
        return None
    try:
        if volume.is_locked() and not volume.unlock():
            volume.close()
            return None
    except (OSError, RuntimeError):
        volume.close()
        return None
    return volume


class DecryptedImgInfo(pytsk3.Img_Info):
    """A pytsk3 image over the decrypted content of an opened BitLocker or LUKS volume."""

    def __init__(self, volume: Any) -> None:
        self.volume = volume
        self.lock = threading.Lock()
        self.size = int(volume.get_size())
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:
        size = max(0, min(size, self.size - offset))
        with self.lock:
            data: bytes = self.volume.read_buffer_at_offset(size, offset)
        return data

    def get_size(self) -> int:
        return self.size

    def close(self) -> None:
        with self.lock:
            self.volume.close()


def open_decrypted(img: Any, offset: int, length: int | None, found: Encryption, key: bytes | None,
                   where: str) -> DecryptedImgInfo:
    """The decrypted content of an encrypted volume as a pytsk3 image; PasswordError
    (naming ``where`` and what opens it) without a key or with one that does not open it."""
    if key is None:
        raise PasswordError(f"{where} is encrypted with {found.scheme} and no key was given",
                            hint=f"opening it needs {found.needs}: pass --password-file FILE (the key on its "
                                 f"first line), or decrypt it with {found.opener} and add the decrypted image")
    volume = unlock(img, offset, length, found, key)
    if volume is None:
        raise PasswordError(f"{where} is encrypted with {found.scheme} and the key given does not open it",
                            hint=f"it needs {found.needs}, on the first line of the --password-file")
    return DecryptedImgInfo(volume)
