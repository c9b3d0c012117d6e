"""Locator: the layered address of every byte.

A locator is a chain of layers, outermost first: the evidence source, a partition, a
file system path, an archive member, ... (``phone.E01 › partition 2 (ext4) › /DCIM/x.jpg``).
An inner layer never exists without its parent.
"""
from __future__ import annotations

from dataclasses import dataclass

SEP = " › "


@dataclass(frozen=True, slots=True)
class Layer:
    kind: str     # 'source' | 'partition' | 'fs' | 'member' | 'stream'
    label: str    # human-readable and unique within its parent

    def to_json(self) -> dict:
        return {"kind": self.kind, "label": self.label}


@dataclass(frozen=True, slots=True)
class Locator:
    layers: tuple[Layer, ...]

    @classmethod
    def root(cls, source_label: str) -> "Locator":
        return cls((Layer("source", source_label),))

    def child(self, kind: str, label: str) -> "Locator":
        return Locator(self.layers + (Layer(kind, label),))

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def inner(self) -> Layer:
        return self.layers[-1]

    def __str__(self) -> str:
        return SEP.join(layer.label for layer in self.layers)

    def to_json(self) -> list[dict]:
        return [layer.to_json() for layer in self.layers]


def safe_name(raw: bytes | str) -> tuple[str, bool]:
    """A printable, storable name for a name from evidence, and whether it was valid.

    Bytes that are not UTF-8 become ``\\xNN`` escapes (deterministic and reversible by
    reading); lone surrogates from ``os.fsdecode`` are mapped the same way. Control
    characters are escaped too, so a name can never forge a line in a listing.
    """
    valid = True
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
            text = raw
        except UnicodeEncodeError:
            valid = False
            text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            valid = False
            text = raw.decode("utf-8", "backslashreplace")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = "".join(c if (ord(c) >= 32 and ord(c) != 127) else f"\\x{ord(c):02x}" for c in text)
    return text, valid
