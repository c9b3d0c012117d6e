"""Encrypted volumes: recognised by their signature and reported, never skipped in silence.

BitLocker (``-FVE-FS-`` in the boot sector), LUKS 1 and 2 (``LUKS\\xba\\xbe`` at the
start) and FileVault 2 / Core Storage (``CS`` at byte 88 of the volume header) are
recognised at a volume's first bytes: a partition of a disk, or a whole image. The
report names the scheme, where the volume is, and what would open it (the BitLocker
key protectors the volume lists, read with libbde, say which: a recovery password, a
TPM, a startup key, a user password). Decrypting is not done by this version: the
examiner decrypts with the key (libbde's ``bdemount``, libluksde's ``luksdemount``,
libfvde's ``fvdemount`` or the operating system) and adds the decrypted image.
APFS volumes encrypted by FileVault are reported by :mod:`forensic.sources.apfs`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forensic.errors import UnsupportedFormatError

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
    return (f"{where} is encrypted with {found.scheme}: its files are not listed{extra}. Opening it needs "
            f"{found.needs}; decrypt it with {found.opener} and add the decrypted volume as evidence")


def refuse_if_encrypted(head: bytes, name: str) -> None:
    """An image that is one encrypted volume cannot be walked: say so at once."""
    found = detect(head)
    if found is None:
        return
    raise UnsupportedFormatError(f"{name} is a {found.scheme}-encrypted volume: nothing in it can be read "
                                 "without its key",
                                 hint=f"opening it needs {found.needs}; decrypt it with {found.opener} "
                                      "and add the decrypted image")
