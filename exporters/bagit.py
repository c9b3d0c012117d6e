"""BagIt 1.0 (RFC 8493) written deterministically, and a deterministic ZIP writer.

``bagit.make_bag`` works on a folder on disk and writes ``Bagging-Date`` and file orders of
its own; a bundle is streamed straight into a ZIP instead, so the tag files are written
here, per the RFC:

* ``bagit.txt``: ``BagIt-Version: 1.0`` and ``Tag-File-Character-Encoding: UTF-8``;
* ``manifest-sha256.txt`` / ``tagmanifest-sha256.txt``: ``<hex digest> <path>`` lines, paths
  relative to the bag, ``/``-separated, with ``%``, CR and LF percent-encoded (section 2.1.3),
  sorted by path;
* ``bag-info.txt``: ``Label: value`` lines (no value spans lines: line breaks in a value are
  replaced by spaces).

ZIP members get a fixed time (1980-01-01 00:00, the earliest a ZIP can hold: a placeholder,
not a file time), fixed permissions (0644 files) and a fixed "made by" system (Unix), so the
same input gives the same bytes. WinZip AES encryption (pyzipper's ``AESZipFile``, AE-2,
256-bit keys) draws a random salt per member: encrypted bundles are reproducible in their
decrypted members only.
"""
from __future__ import annotations

import re
import zipfile
from typing import BinaryIO, Iterable

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
BAG_INFO = "bag-info.txt"
BAGIT = "bagit.txt"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_ATTR = (0o100644 << 16)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# -- manifests --------------------------------------------------------------------------------
def encode_path(path: str) -> str:
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace("%0d", "\r") \
        .replace("%25", "%")


def manifest_text(entries: Iterable[tuple[str, str]]) -> bytes:
    """``(path, sha256)`` pairs -> manifest bytes, sorted by path."""
    return "".join(f"{digest}  {encode_path(path)}\n" for path, digest in sorted(entries)).encode("utf-8")


class ManifestError(ValueError):
    pass


def parse_manifest(data: bytes) -> dict[str, str]:
    """Manifest bytes -> {path: digest}; ``ManifestError`` for a malformed line or duplicate."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8: {exc}") from None
    out: dict[str, str] = {}
    # Lines end in LF (or CRLF); str.splitlines would also break at U+0085, U+2028 and the
    # like, which a file name may hold.
    for n, line in enumerate(text.split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _HEX64.match(parts[0].lower()):
            raise ManifestError(f"line {n} is not '<sha256> <path>'")
        path = decode_path(parts[1].lstrip("*").strip(" "))
        if path in out:
            raise ManifestError(f"line {n}: {path!r} is listed twice")
        out[path] = parts[0].lower()
    return out


def bag_info_text(fields: Iterable[tuple[str, str]]) -> bytes:
    lines = []
    for label, value in fields:
        value = " ".join(str(value).splitlines())
        lines.append(f"{label}: {value}\n")
    return "".join(lines).encode("utf-8")


def parse_bag_info(data: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    last = None
    for line in data.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and last is not None:     # continuation (RFC 8493 2.2.2)
            out[last][-1] += " " + line.strip()
            continue
        if ":" not in line:
            continue
        label, value = line.split(":", 1)
        last = label.strip()
        out.setdefault(last, []).append(value.strip())
    return out


# -- deterministic ZIP ------------------------------------------------------------------------
COMPRESS_LEVEL = 1        # fast deflate: generated JSON/CSV/HTML shrink well even at level 1


def open_zip(fileobj: BinaryIO, password: bytes | None = None):
    """A ZIP writer on ``fileobj``: stdlib ``zipfile``, or with a password pyzipper's
    ``AESZipFile`` as published (WinZip AES, 256-bit keys, AE-2: no CRC-32 of the plaintext
    stored, so a small member's content cannot be guessed from it). Written through the
    public API only (``open(info, "w")``, ``writestr``), so any later release reads and
    writes it the same way."""
    if password is None:
        return zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL,
                               allowZip64=True)
    import pyzipper
    zf = pyzipper.AESZipFile(fileobj, "w", compression=pyzipper.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL,
                             allowZip64=True)
    zf.setpassword(password)
    zf.setencryption(pyzipper.WZ_AES, nbits=256)
    return zf


def member_info(zf, name: str, compress: bool) -> zipfile.ZipInfo:
    """A member's header, the same for the same name whenever written: fixed time, 0644
    permissions, made on Unix; deflated or stored. The writer's own class (pyzipper adds the
    AES fields to it)."""
    cls = getattr(zf, "zipinfo_cls", zipfile.ZipInfo)
    zi = cls(name, ZIP_EPOCH)
    zi.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    zi.external_attr = FILE_ATTR
    zi.create_system = 3
    return zi


def write_member(zf, name: str, data: bytes, compress: bool = True) -> None:
    """One member of bytes in memory (deflated at :data:`COMPRESS_LEVEL` when ``compress``)."""
    zf.writestr(member_info(zf, name, compress), data, compresslevel=COMPRESS_LEVEL if compress else None)
