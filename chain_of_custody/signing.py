"""Examiner keys and Ed25519 signatures in minisign's formats.

Files ``forensic examiner keygen NAME`` writes:

``NAME.pub`` -- minisign public key, so ``minisign -V -p NAME.pub -m FILE`` checks what we sign::

    untrusted comment: minisign public key <KEYID>
    base64("Ed" || key_id (8 bytes) || Ed25519 public key (32 bytes))

``NAME.key`` -- private key (mode 0600), our own format: three header lines, then the key as
PEM PKCS#8, encrypted (PBES2, via ``cryptography``'s best available encryption) when a
passphrase was given::

    forensic examiner key v1
    name: <examiner name>
    key-id: <KEYID>
    -----BEGIN PRIVATE KEY-----   (or ENCRYPTED PRIVATE KEY)
    ...

``key_id`` is the first 8 bytes of SHA-256(public key); ``<KEYID>`` shows it as minisign
does (the bytes read as a little-endian 64-bit number, 16 upper-case hex digits). The key
*fingerprint* recorded in custody entries is the full SHA-256 of the public key, hex.

Signatures are minisign "prehashed" signatures (minisign's default since 0.8)::

    untrusted comment: <text>
    base64("ED" || key_id || Ed25519(BLAKE2b-512(message)))
    trusted comment: <one line of text>
    base64(Ed25519(signature (64 bytes) || trusted comment bytes))
"""
from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from forensic.errors import UsageError
from forensic.outputs import create_new

# cryptography is imported where a key is used (inside the functions below), not by every
# command that records custody.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_HEADER = "forensic examiner key v1"
ENV_KEY = "FORENSIC_KEY"
ENV_PASSPHRASE = "FORENSIC_KEY_PASSPHRASE"


def key_id_for(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()[:8]


def key_id_text(key_id: bytes) -> str:
    return key_id[::-1].hex().upper()


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


# -- public keys -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PublicKey:
    key_id: bytes
    raw: bytes                      # 32-byte Ed25519 public key

    @classmethod
    def from_raw(cls, raw: bytes) -> "PublicKey":
        return cls(key_id_for(raw), raw)

    @classmethod
    def from_base64(cls, line: str) -> "PublicKey":
        """The key line of a minisign public key: base64("Ed" || key id || key)."""
        if not isinstance(line, str):
            raise ValueError("public key is not text")
        try:
            blob = base64.b64decode(line.strip(), validate=True)
        except ValueError as exc:
            raise ValueError(f"public key is not base64: {exc}") from exc
        if len(blob) != 42 or blob[:2] != b"Ed":
            raise ValueError("not a minisign Ed25519 public key")
        return cls(blob[2:10], blob[10:])

    @classmethod
    def from_text(cls, text: str) -> "PublicKey":
        """A minisign public key file (comment line optional)."""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if lines and lines[0].startswith("untrusted comment:"):
            lines = lines[1:]
        if not lines:
            raise ValueError("empty public key file")
        return cls.from_base64(lines[0])

    @classmethod
    def load(cls, path: Path) -> "PublicKey":
        try:
            return cls.from_text(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"cannot read public key {path}: {exc}") from exc

    @property
    def id_text(self) -> str:
        return key_id_text(self.key_id)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def base64(self) -> str:
        return base64.b64encode(b"Ed" + self.key_id + self.raw).decode("ascii")

    def to_text(self, comment: str | None = None) -> str:
        comment = comment or f"minisign public key {self.id_text}"
        return f"untrusted comment: {comment}\n{self.base64()}\n"

    def verify(self, message: bytes, signature_text: str) -> str:
        """Check a minisign signature of ``message``; return its trusted comment.

        Raises ``ValueError`` saying what is wrong."""
        lines = signature_text.splitlines()
        if len(lines) < 4 or not lines[0].startswith("untrusted comment:") \
                or not lines[2].startswith("trusted comment: "):
            raise ValueError("not a minisign signature (four lines expected)")
        try:
            blob = base64.b64decode(lines[1], validate=True)
            global_sig = base64.b64decode(lines[3], validate=True)
        except ValueError as exc:
            raise ValueError(f"signature is not base64: {exc}") from exc
        if len(blob) != 74 or blob[:2] not in (b"ED", b"Ed") or len(global_sig) != 64:
            raise ValueError("malformed minisign signature")
        if blob[2:10] != self.key_id:
            raise ValueError(f"signed with key {key_id_text(blob[2:10])}, not {self.id_text}")
        signed = hashlib.blake2b(message, digest_size=64).digest() if blob[:2] == b"ED" else message
        trusted = lines[2][len("trusted comment: "):]
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ed25519
        key = ed25519.Ed25519PublicKey.from_public_bytes(self.raw)
        try:
            key.verify(blob[10:], signed)
        except InvalidSignature:
            raise ValueError("signature does not match the signed text") from None
        try:
            key.verify(global_sig, blob[10:] + trusted.encode("utf-8"))
        except InvalidSignature:
            raise ValueError("trusted comment signature does not match") from None
        return trusted


# -- signers -------------------------------------------------------------------------------------
class Signer:
    """An examiner's private key, able to make minisign signatures."""

    __slots__ = ("name", "_key", "public")

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        self.name = name
        self._key = key
        from cryptography.hazmat.primitives import serialization
        raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        self.public = PublicKey.from_raw(raw)

    @classmethod
    def generate(cls, name: str) -> "Signer":
        from cryptography.hazmat.primitives.asymmetric import ed25519
        return cls(name, ed25519.Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> str:
        return self.public.id_text

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    def sign(self, message: bytes, trusted_comment: str,
             untrusted_comment: str | None = None) -> str:
        """A minisign (prehashed) signature of ``message``, as the text of a .minisig file."""
        if "\n" in trusted_comment or "\r" in trusted_comment:
            raise ValueError("a trusted comment is one line")
        sig = self._key.sign(hashlib.blake2b(message, digest_size=64).digest())
        global_sig = self._key.sign(sig + trusted_comment.encode("utf-8"))
        untrusted = untrusted_comment or f"signature from forensic examiner key {self.key_id}"
        return (f"untrusted comment: {untrusted}\n"
                f"{base64.b64encode(b'ED' + self.public.key_id + sig).decode('ascii')}\n"
                f"trusted comment: {trusted_comment}\n"
                f"{base64.b64encode(global_sig).decode('ascii')}\n")

    # -- key files -------------------------------------------------------------------------
    def private_text(self, passphrase: bytes | None = None) -> str:
        from cryptography.hazmat.primitives import serialization
        encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                      else serialization.NoEncryption())
        pem = self._key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8, encryption)
        return f"{KEY_HEADER}\nname: {self.name}\nkey-id: {self.key_id}\n{pem.decode('ascii')}"

    @classmethod
    def from_private_text(cls, text: str, passphrase: bytes | None = None) -> "Signer":
        head, sep, rest = text.partition("-----BEGIN")
        header = head.splitlines()
        if not sep or not header or header[0].strip() != KEY_HEADER:
            raise ValueError("not a forensic examiner key file")
        fields = dict(ln.split(": ", 1) for ln in header[1:] if ": " in ln)
        pem = (sep + rest).encode("ascii")
        encrypted = b"ENCRYPTED" in pem.split(b"\n", 1)[0]
        if encrypted and not passphrase:
            raise PermissionError("the key is passphrase-protected")
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
        try:
            key = serialization.load_pem_private_key(pem, passphrase if encrypted else None)
        except (ValueError, TypeError) as exc:
            raise ValueError("cannot decrypt the key (wrong passphrase?)" if encrypted
                             else f"cannot read the key: {exc}") from exc
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("the key is not an Ed25519 key")
        signer = cls(fields.get("name", ""), key)
        if fields.get("key-id") and fields["key-id"] != signer.key_id:
            raise ValueError("the key-id header does not match the key")
        return signer

    @classmethod
    def load(cls, path: Path, passphrase: bytes | None = None) -> "Signer":
        path = Path(path)
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read key file {path}: {exc}",
                             hint="create one with 'forensic examiner keygen NAME'") from exc
        try:
            return cls.from_private_text(text, passphrase)
        except PermissionError:
            raise UsageError(f"the key {path} is passphrase-protected",
                             hint=f"set ${ENV_PASSPHRASE} or pass --passphrase-file") from None
        except ValueError as exc:
            raise UsageError(f"cannot use key file {path}: {exc}") from exc


def write_keypair(signer: Signer, out_dir: Path, passphrase: bytes | None = None,
                  overwrite: bool = False) -> tuple[Path, Path]:
    """Write ``NAME.key`` (0600) and ``NAME.pub`` into ``out_dir``; never overwrite silently."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    key_path = out_dir / f"{signer.name}.key"
    pub_path = out_dir / f"{signer.name}.pub"
    for path in (key_path, pub_path):
        if path.exists() or path.is_symlink():
            if not overwrite:
                raise UsageError(f"{path} already exists", hint="choose another --out or NAME")
            path.unlink()           # a symlink is removed, never written through
    fd = create_new(key_path, 0o600)
    try:
        os.write(fd, signer.private_text(passphrase).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    with os.fdopen(create_new(pub_path, 0o644), "w", encoding="utf-8") as fh:
        fh.write(signer.public.to_text(
            f"minisign public key {signer.key_id} (forensic examiner {signer.name})"))
    return key_path, pub_path


def check_examiner_name(name: str) -> str:
    bad = (not name or name.strip() != name or name.startswith(".") or "/" in name
           or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name) or len(name) > 100)
    if bad:
        raise UsageError(f"unusable examiner name {name!r}",
                         hint="use letters, digits, spaces, '.', '-' or '_' (no '/', not starting with '.')")
    return name


def read_passphrase(passphrase_file: Path | None) -> bytes | None:
    """From ``--passphrase-file`` (first line) or ``$FORENSIC_KEY_PASSPHRASE``."""
    if passphrase_file is not None:
        try:
            data = Path(passphrase_file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read passphrase file: {exc}") from exc
        return data.splitlines()[0] if data.strip() else None
    value = os.environ.get(ENV_PASSPHRASE)
    return value.encode("utf-8") if value else None


def signer_from_env(key_path: Path | None, passphrase_file: Path | None = None) -> Signer | None:
    """The signer named by ``--key FILE``, else ``$FORENSIC_KEY``; None when neither is set."""
    if key_path is None:
        env = os.environ.get(ENV_KEY)
        if not env:
            return None
        key_path = Path(env)
    return Signer.load(Path(key_path), read_passphrase(passphrase_file))
