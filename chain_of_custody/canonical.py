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

Strings must be valid Unicode (no lone surrogates): encoding the result to UTF-8 fails
otherwise, and :func:`canonical_bytes` turns that into ``ValueError``.
"""
from __future__ import annotations

from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
from typing import Any

MAX_SAFE_INT = 2**53 - 1


def _no_default(obj: Any) -> Any:
    raise TypeError(f"not allowed in canonical JSON: {type(obj).__name__}")


# The C encoder, built once (json.dumps builds one per call). Arguments: markers, default,
# string encoder, indent, key separator, item separator, sort_keys, skipkeys, allow_nan.
if c_make_encoder is not None:  # pragma: no branch - CPython always has it
    _C_ENCODER = c_make_encoder(None, _no_default, c_encode_basestring, None, ":", ",",
                                True, False, False)

    def encode(value: Any) -> str:
        """Canonical text of an already checked value (see :func:`check_value`)."""
        return "".join(_C_ENCODER(value, 0))
else:  # pragma: no cover
    import json

    def encode(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False, default=_no_default)


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
    try:
        return canonical_text(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"string is not valid Unicode (lone surrogate): {exc}") from exc
