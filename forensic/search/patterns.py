"""Built-in pattern lists for trafficking investigations: a candidate regular expression
each, and a check a candidate must pass to be a hit (a checksum where the format has one).

==========  ============================================================================
phone       E.164 and international (``+``/``00``) numbers; national forms with a region
            (``--region``), as ``phonenumbers`` validates them for that region
email       e-mail addresses
iban        IBANs: ISO 13616 mod-97 checksum
card        payment card numbers (13-19 digits, spaces or dashes allowed): Luhn
btc         Bitcoin: base58check P2PKH/P2SH (version 0x00/0x05), bech32/bech32m ``bc1``
eth         Ethereum ``0x`` + 40 hex digits: EIP-55 checksum where the case is mixed
trx         TRON: base58check, version 0x41 (``T...``)
passport    passport-like numbers: 1-2 capitals and 6-8 digits (no checksum: a lead only)
url         http(s) and www. addresses
onion       Tor .onion addresses (v3: 56 base32 characters; v2: 16)
==========  ============================================================================
"""
from __future__ import annotations

import hashlib
from typing import Callable

from forensic.errors import UsageError
from forensic.search.terms import Term

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_CLASS = "[1-9A-HJ-NP-Za-km-z]"


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = "".join(c for c in text if c.isdigit())
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and len(set(digits)) > 1 and luhn(digits)


def _iban(text: str) -> bool:
    s = text.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def b58decode(text: str) -> bytes | None:
    n = 0
    for ch in text:
        i = _B58.find(ch)
        if i < 0:
            return None
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def b58check(text: str, versions: bytes, length: int = 25) -> bool:
    raw = b58decode(text)
    if raw is None or len(raw) != length or raw[0] not in versions:
        return False
    return hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4] == raw[-4:]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    """BIP-173's checksum polynomial (a BCH code, no cryptography)."""
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32_ok(text: str) -> bool:
    s = text.lower()
    if s != text and text.upper() != text:
        return False
    hrp, _, data = s.rpartition("1")
    if hrp != "bc" or len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + [_BECH32.index(c) for c in data]
    return _polymod(values) in (1, 0x2BC830A3)        # bech32 (BIP-173), bech32m (BIP-350)


def _btc(text: str) -> bool:
    if text[:3].lower() == "bc1":
        return bech32_ok(text)
    return b58check(text, b"\x00\x05")


def _keccak256(data: bytes) -> bytes:
    from Cryptodome.Hash import keccak
    return keccak.new(digest_bits=256, data=data).digest()


def eip55_ok(text: str) -> bool:
    body = text[2:]
    if body == body.lower() or body == body.upper():
        return True                     # no checksum written: any all-one-case address
    digest = _keccak256(body.lower().encode()).hex()
    return all(c.isdigit() or (c.isupper() == (int(digest[i], 16) >= 8)) for i, c in enumerate(body))


def _eth(text: str) -> bool:
    return len(set(text[2:].lower())) > 4 and eip55_ok(text)


def _trx(text: str) -> bool:
    return b58check(text, b"\x41")


def _any(text: str) -> bool:
    return True


def _passport(text: str) -> bool:
    return len(set(text)) > 3


def _phone(region: str | None) -> Callable[[str], bool]:
    import phonenumbers

    def check(text: str) -> bool:
        digits = "".join(c for c in text if c.isdigit())
        intl = text.startswith("+") or digits.startswith("00")
        if not intl and region is None:
            return False
        try:
            number = phonenumbers.parse("+" + digits[2:] if digits.startswith("00") and not text.startswith("+")
                                        else text, None if intl else region)
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.is_valid_number(number))
    return check


# name -> (candidate regex, check or None)
PATTERNS: dict[str, tuple[str, Callable[[str], bool] | None]] = {
    "phone": (r"(?<![\w+])(?:\+|00)?\(?\d{1,4}\)?(?:[ .\-]?\(?\d{1,4}\)?){2,6}(?![\w])", None),
    "email": (r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}"
              r"(?![A-Za-z])", None),
    "iban": (r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])", _iban),
    "card": (r"(?<![\d\-])\d(?:[ \-]?\d){12,18}(?![\d\-])", _card),
    "btc": (rf"(?<![A-Za-z0-9])(?:[13]{_B58_CLASS}{{25,34}}|bc1[ac-hj-np-z02-9]{{8,87}}|BC1[AC-HJ-NP-Z02-9]{{8,87}})"
            r"(?![A-Za-z0-9])", _btc),
    "eth": (r"(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])", _eth),
    "trx": (rf"(?<![A-Za-z0-9])T{_B58_CLASS}{{33}}(?![A-Za-z0-9])", _trx),
    "passport": (r"(?<![A-Za-z0-9])[A-Z]{1,2}\d{6,8}(?![A-Za-z0-9])", _passport),
    "url": (r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{3,2000}", None),
    "onion": (r"(?<![a-z2-7])(?:[a-z2-7]{56}|[a-z2-7]{16})\.onion(?![A-Za-z0-9])", None),
}


def pattern_terms(names: list[str], region: str | None = None) -> list[Term]:
    """The built-in lists named (``all`` for every one) as terms; the list's name is
    ``pattern:NAME``."""
    wanted = list(PATTERNS) if "all" in names else names
    terms = []
    for name in wanted:
        if name not in PATTERNS:
            raise UsageError(f"no built-in pattern list {name!r}", hint="lists: " + ", ".join(PATTERNS) + ", all")
        regex, check = PATTERNS[name]
        if name == "phone":
            check = _phone(region.upper() if region else None)
        if check is None:
            check = _any                # a pass of its own: it must not hide another term's hit
        terms.append(Term(regex, f"pattern:{name}", True, check))
    return terms
