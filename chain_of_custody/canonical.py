"""Canonical JSON (RFC 8785, JCS) for the subset of JSON the custody log uses.

Custody entries and checkpoints hold only objects, arrays, strings, integers, booleans and
null. For that subset, Python's encoder with sorted keys, ``(",", ":")`` separators and
``ensure_ascii=False`` produces exactly the RFC 8785 form, given three restrictions that
:func:`check_value` enforces:

* no floats (JCS serialises numbers as ECMAScript doubles; we never need fractions);
* integers within +-(2**53 - 1), so every integer is exactly representable as a double;
* object keys within the Basic Multilingual Plane: JCS sorts keys by UTF-16 code units,
  Python by code points, and the two orders differ only for keys holding characters above
  U+FFFF.

Strings must be valid Unicode (no lone surrogates): :func:`encode` raises ``ValueError``
otherwise. The encoding itself is done by orjson, which writes the same bytes as Python's
encoder configured as above.
"""
from __future__ import annotations

from typing import Any

import orjson

MAX_SAFE_INT = 2**53 - 1
ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
FLAT_TYPES = frozenset((str, int, bool, type(None)))


def encode(value: Any) -> str:
    """Canonical text of an already checked value (see :func:`check_value`).

    orjson with sorted keys writes exactly what Python's own encoder does with
    ``sort_keys=True, separators=(",", ":"), ensure_ascii=False`` (compact, UTF-8, the
    RFC 8785 escapes), several times faster; a test holds the two equal."""
    try:
        return orjson.dumps(value, option=ORJSON_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"not encodable as canonical JSON: {exc}") from None


def encode_checked(value: Any, path: str = "$") -> str:
    """:func:`check_value` then :func:`encode`, quick for the common flat object of
    strings, integers, booleans and nulls with ASCII keys (orjson enforces the integer
    range itself)."""
    if type(value) is dict and FLAT_TYPES.issuperset(map(type, value.values())):
        try:
            if "".join(value).isascii():
                return encode(value)
        except TypeError:            # a key that is not a string: check_value says so
            pass
    check_value(value, path)
    return encode(value)


def check_value(value: Any, path: str = "$") -> None:
    """Raise ``ValueError`` unless ``value`` is in the canonical subset described above."""
    t = type(value)
    if t is str or value is None or t is bool:
        return
    if t is int:
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return
        raise ValueError(f"{path}: integer {value} is outside +-(2**53-1)")
    if t is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError(f"{path}: object key {key!r} is not a string")
            if not key.isascii() and max(key) > "\uffff":
                raise ValueError(f"{path}: object key {key!r} has a character above U+FFFF")
            ti = type(item)
            if ti is str or item is None or ti is bool:      # the common leaves, checked inline
                continue
            if ti is int and -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                continue
            check_value(item, f"{path}.{key}")
        return
    if t is list or t is tuple:
        for i, item in enumerate(value):
            check_value(item, f"{path}[{i}]")
        return
    if t is float:
        raise ValueError(f"{path}: floats are not allowed in custody entries ({value!r})")
    raise ValueError(f"{path}: {t.__name__} is not a JSON value")


def canonical_text(value: Any) -> str:
    """Check ``value`` and return its canonical JSON text."""
    check_value(value)
    return encode(value)


def canonical_bytes(value: Any) -> bytes:
    """Check ``value`` and return its canonical JSON as UTF-8 bytes."""
    return canonical_text(value).encode("utf-8")
