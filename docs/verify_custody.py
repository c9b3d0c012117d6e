#!/usr/bin/env python3
"""Stand-alone verifier for a forensic case's custody log (see docs/custody-log.md).

Needs only the Python standard library and the ``cryptography`` package. Usage::

    python3 verify_custody.py CASE_DIR [--pub EXAMINER.pub ...]
    python3 verify_custody.py BUNDLE/data/custody [--pub EXAMINER.pub ...]

CASE_DIR (or a bundle made with --full-custody) holds the whole log, ``custody.jsonl``, which
is re-verified entry by entry. A bundle's excerpt holds ``checkpoint.json``, the entries that
concern the exported items (``entries.jsonl``) and an inclusion proof for each
(``proofs.jsonl``): each entry is checked and proved to be in the checkpointed log.

Prints one JSON object (ok, mode, entries, checkpoints, signatures_verified, first_bad_seq,
problem; for a log also unchecked_tail, the entries no checkpoint covers) and exits 0 when
the log verifies, 4 when it does not, or when there is nothing to verify: a folder with no
entries is never "ok".
"""
import base64
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ZERO = "0" * 64
MEMBERS = {"action", "actor", "at", "details", "hash", "host", "prev", "reason", "seq",
           "sha256", "subject", "tool"}


def H(data):
    return hashlib.sha256(data).digest()


def no_float(text):
    raise ValueError("float")


def safe_int(text):
    if abs(int(text)) > 2**53 - 1:
        raise ValueError("integer out of range")
    return int(text)


def load(text):
    return json.loads(text, parse_float=no_float, parse_int=safe_int, parse_constant=no_float)


def canonical(value):
    """RFC 8785 for values without floats and with object keys inside the BMP."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def is_hex64(v):
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def root_of(stack):
    """Stack of (size, hash) perfect subtrees -> RFC 9162 tree hash."""
    if not stack:
        return H(b"")
    h = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        h = H(b"\x01" + left + h)
    return h


def push(stack, leaf):
    size, h = 1, leaf
    while stack and stack[-1][0] == size:
        h = H(b"\x01" + stack.pop()[1] + h)
        size *= 2
    stack.append((size, h))


def consistent(m, n, old, new, proof):
    """RFC 9162 section 2.1.4.2."""
    if m == n:
        return not proof and old == new
    if m == 0:
        return not proof
    if m > n or not proof:
        return False
    if m & (m - 1) == 0:
        proof = [old] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = H(b"\x01" + c + fr), H(b"\x01" + c + sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = H(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old and sr == new


def inclusion_root(index, size, leaf, proof):
    """RFC 9162 section 2.1.3.2: the root an inclusion proof leads to, or None."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != 32:
            return None
        if fn & 1 or fn == sn:
            r = H(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = H(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def check_minisign(public_b64, message, sig_text, trusted_comment, trusted_keys):
    key = base64.b64decode(public_b64)
    if len(key) != 42 or key[:2] != b"Ed":
        raise ValueError("bad public key")
    if trusted_keys and key not in trusted_keys:
        raise ValueError("signed by a key that is not trusted")
    lines = sig_text.split("\n")
    blob, global_sig = base64.b64decode(lines[1]), base64.b64decode(lines[3])
    if blob[:2] != b"ED" or blob[2:10] != key[2:10] or len(blob) != 74:
        raise ValueError("malformed signature")
    if lines[2] != "trusted comment: " + trusted_comment:
        raise ValueError("trusted comment differs")
    pk = Ed25519PublicKey.from_public_bytes(key[10:])
    try:
        pk.verify(blob[10:], hashlib.blake2b(message, digest_size=64).digest())
        pk.verify(global_sig, blob[10:] + trusted_comment.encode())
    except InvalidSignature:
        raise ValueError("signature does not verify") from None


def check_entry(line, seq):
    """One entry line: canonical JSON with every member, its own ``seq``, hashing to its
    ``hash``; returns the parsed entry, or raises ValueError saying what is wrong."""
    try:
        e = load(line.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(e, dict) or not MEMBERS <= e.keys():
        raise ValueError("not an entry")
    if canonical(e).encode() != line:
        raise ValueError("not canonical")
    if e["seq"] != seq or isinstance(e["seq"], bool):
        raise ValueError("wrong seq")
    rest = {k: v for k, v in e.items() if k != "hash"}
    if not is_hex64(e["hash"]) or H(canonical(rest).encode()).hex() != e["hash"]:
        raise ValueError("hash does not match")
    return e


def check_checkpoint(cp, trusted_keys):
    """A checkpoint's own consistency: body built from its fields, signature (if any, and by
    a trusted key when keys are given). Returns whether it was signed; raises ValueError."""
    body = ("forensic custody checkpoint v1\n" + json.dumps(cp["case_id"], ensure_ascii=False)
            + f"\n{cp['tree_size']}\n{cp['root']}\n{cp['at']}\n")
    if cp["body"] != body:
        raise ValueError("body differs from fields")
    if cp["signature"] is None:
        if trusted_keys:
            raise ValueError("unsigned")
        return False
    comment = (f"forensic custody checkpoint case={json.dumps(cp['case_id'])} "
               f"size={cp['tree_size']} root={cp['root']}")
    check_minisign(cp["public_key"], body.encode(), cp["signature"], comment, trusted_keys)
    return True


EXCERPT_FILES = ("checkpoint.json", "entries.jsonl", "proofs.jsonl")


def verify(case_dir, trusted_keys=()):
    case_dir = Path(case_dir)
    if not (case_dir / "custody.jsonl").exists():
        if any((case_dir / name).exists() for name in EXCERPT_FILES):
            return verify_excerpt(case_dir, trusted_keys)
        return {"ok": False, "mode": None, "entries": 0, "checkpoints": 0, "signatures_verified": 0,
                "first_bad_seq": None,
                "problem": f"nothing to verify in {case_dir}: no custody log (custody.jsonl) and no "
                           "bundle excerpt (checkpoint.json, entries.jsonl, proofs.jsonl)"}
    return verify_log(case_dir, trusted_keys)


def verify_excerpt(folder, trusted_keys=()):
    """A bundle's custody excerpt: the checkpoint, and each entry proved to be in the log it
    checkpoints. What it cannot check (the entries left out, the pins a full log holds) it
    does not claim: ``entries`` counts the entries proved."""
    out = {"ok": True, "mode": "excerpt", "entries": 0, "checkpoints": 0, "signatures_verified": 0,
           "tree_size": None, "first_bad_seq": None, "problem": None}
    bad = []                                  # (seq or None, message)

    def fail(seq, message):
        bad.append((seq, message))

    missing = [name for name in EXCERPT_FILES if not (folder / name).exists()]
    if missing:
        fail(None, "the excerpt lacks " + ", ".join(missing) + ": its entries cannot be proved "
             "against a checkpoint")
    cp = None
    if (folder / "checkpoint.json").exists():
        raw = (folder / "checkpoint.json").read_bytes()
        try:
            if not raw.endswith(b"\n") or raw.count(b"\n") != 1:
                raise ValueError("not one line")
            cp = load(raw[:-1].decode("utf-8"))
            if canonical(cp).encode() != raw[:-1]:
                raise ValueError("not canonical")
            if type(cp["tree_size"]) is not int or cp["tree_size"] < 1 or not is_hex64(cp["root"]):
                raise ValueError("no tree size or root")
            out["checkpoints"], out["tree_size"] = 1, cp["tree_size"]
            if check_checkpoint(cp, trusted_keys):
                out["signatures_verified"] = 1
                # who signed: compare with the fingerprint the examiner gave, or use --pub
                out["signer"] = cp["signer"]
                out["key_fingerprint"] = hashlib.sha256(base64.b64decode(cp["public_key"])[10:]).hexdigest()
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            fail(None, f"checkpoint.json: {exc}")
            cp = None

    entries = {}                              # seq -> (line, entry)
    path = folder / "entries.jsonl"
    data = path.read_bytes() if path.exists() else b""
    lines = data.split(b"\n")
    if lines.pop():
        fail(None, "entries.jsonl ends in a torn (incomplete) line")
    for n, line in enumerate(lines):
        try:
            seq = load(line.decode("utf-8"))["seq"]
            if type(seq) is not int or seq < 0:
                raise ValueError("no seq")
            if seq in entries:
                raise ValueError(f"seq {seq} appears twice")
            entries[seq] = (line, check_entry(line, seq))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            fail(None, f"line {n + 1} of entries.jsonl: {exc}")
    if not entries and not lines:
        fail(None, "the excerpt holds no entry: nothing in it can be proved against the checkpoint")

    proofs = {}
    path = folder / "proofs.jsonl"
    for n, line in enumerate((path.read_bytes() if path.exists() else b"").split(b"\n")[:-1]):
        try:
            p = load(line.decode("utf-8"))
            if type(p["seq"]) is not int or p["seq"] in proofs:
                raise ValueError("no seq, or a seq proved twice")
            proofs[p["seq"]] = p
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            fail(None, f"line {n + 1} of proofs.jsonl: {exc}")

    proved = 0
    for seq in sorted(entries):
        line, e = entries[seq]
        p = proofs.get(seq)
        if p is None:
            fail(seq, f"entry {seq} has no inclusion proof: it cannot be shown to be in the log")
            continue
        if cp is None:
            continue
        try:
            if p["tree_size"] != cp["tree_size"] or p["root"] != cp["root"]:
                raise ValueError("its proof is for another checkpoint")
            leaf = H(b"\x00" + line)
            if p.get("leaf_hash", leaf.hex()) != leaf.hex():
                raise ValueError("its proof is for another entry")
            if seq >= cp["tree_size"]:
                raise ValueError("lies beyond the checkpoint")
            got = inclusion_root(seq, cp["tree_size"], leaf, [bytes.fromhex(h) for h in p["proof"]])
            if got is None or got.hex() != cp["root"]:
                raise ValueError("is not in the checkpointed log (inclusion proof fails)")
        except (ValueError, KeyError, TypeError) as exc:
            fail(seq, f"entry {seq}: {exc}")
            continue
        if seq == 0 and e["prev"] != ZERO:
            fail(seq, "entry 0: prev is not zero")
        elif seq - 1 in entries and e["prev"] != entries[seq - 1][1]["hash"]:
            fail(seq, f"entry {seq}: prev does not match entry {seq - 1}")
        elif seq == cp["tree_size"] - 1 and cp.get("last_hash") != e["hash"]:
            fail(seq, f"the checkpoint names another last entry than entry {seq}")
        else:
            proved += 1
    # the excerpt carries the case's key pins: a signed checkpoint is signed by a pinned key
    pinned = set()
    for _, e in entries.values():
        if e["action"] == "examiner.key_pinned":
            try:
                pinned.add(base64.b64decode(e["details"]["public_key"])[10:])
            except (ValueError, KeyError, TypeError):
                pass
    if cp is not None and out["signatures_verified"] and pinned \
            and base64.b64decode(cp["public_key"])[10:] not in pinned:
        fail(None, "the checkpoint is signed by a key none of the excerpt's key pins names")
    for seq in sorted(set(proofs) - set(entries)):
        fail(seq, f"a proof for entry {seq}, which the excerpt does not hold")
    out["entries"] = proved
    if bad:
        first = min(bad, key=lambda b: (b[0] is not None, b[0] or 0))
        out.update(ok=False, first_bad_seq=first[0], problem=first[1])
    return out


def verify_log(case_dir, trusted_keys=()):
    out = {"ok": True, "mode": "log", "entries": 0, "checkpoints": 0, "signatures_verified": 0,
           "first_bad_seq": None, "problem": None}
    bad = []                                  # (seq, message)

    # 0. pinned keys: the examiner.key_pinned entries (seq, raw 32-byte key)
    log = case_dir / "custody.jsonl"
    data = log.read_bytes() if log.exists() else b""
    pins = []
    for n, line in enumerate(data.split(b"\n")[:-1]):
        if line.startswith(b'{"action":"examiner.key_pinned"'):
            try:
                blob = base64.b64decode(load(line.decode())["details"]["public_key"], validate=True)
                if len(blob) == 42 and blob[:2] == b"Ed":       # else not a pin: skipped
                    pins.append((n, blob[10:]))
            except (ValueError, KeyError, TypeError, RecursionError):
                pass
    signed_from = None

    # 1. checkpoints, each consistent with the one before; once one is signed, all later ones
    #    are, and by a key pinned by an entry an earlier checkpoint covers (when any is pinned)
    cps = []
    path = case_dir / "custody.checkpoints.jsonl"
    raw = path.read_bytes().split(b"\n") if path.exists() else [b""]
    torn_cp = raw.pop()
    out["checkpoints"] = len(raw)
    for i, line in enumerate(raw):
        covered = cps[-1]["tree_size"] if cps else 0
        try:
            cp = load(line)
            if canonical(cp).encode() != line:
                raise ValueError("not canonical")
            signed = check_checkpoint(cp, trusted_keys)
            old_size, old_root = (cps[-1]["tree_size"], bytes.fromhex(cps[-1]["root"])) if cps \
                else (0, H(b""))
            if cp["prev_size"] != old_size:
                raise ValueError("does not follow the checkpoint before")
            if not consistent(old_size, cp["tree_size"], old_root, bytes.fromhex(cp["root"]),
                              [bytes.fromhex(h) for h in cp["consistency"]]):
                raise ValueError("not consistent with the checkpoint before")
            if signed:
                allowed = {k for n, k in pins if n < old_size}
                if allowed and base64.b64decode(cp["public_key"])[10:] not in allowed:
                    raise ValueError("signed by a key no earlier checkpoint pinned")
                out["signatures_verified"] += 1
                signed_from = i if signed_from is None else signed_from
            elif signed_from is not None:
                raise ValueError("unsigned, but the log is signed from checkpoint "
                                 f"{signed_from} on")
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            bad.append((covered, f"checkpoint {i}: {exc}"))
            break
        cps.append(cp)
    if torn_cp and not bad:
        bad.append((cps[-1]["tree_size"] if cps else 0, "checkpoints file ends in a torn line"))
    expect = {cp["tree_size"]: cp for cp in cps}

    # 2. the case store's copy of the latest checkpoint
    db_path = case_dir / "case.db"
    if db_path.exists():
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT record FROM custody_checkpoints ORDER BY rowid DESC LIMIT 1"
                             ).fetchone()
        except sqlite3.OperationalError:
            row = None
        db.close()
        if row is not None:
            stored = load(row[0])
            last = cps[-1]["tree_size"] if cps else 0
            if row[0].encode() in raw:
                pass
            elif stored["tree_size"] > last and not bad:
                bad.append((last, "case store checkpoint is beyond the checkpoints file"))
                expect.setdefault(stored["tree_size"], stored)
            elif not bad:
                bad.append((min(stored["prev_size"], last), "case store checkpoint not in file"))

    # 3. the entries: canonical, chained, hashed; Merkle roots at checkpoint sizes
    stack, prev, seq = [], ZERO, 0
    lines = data.split(b"\n")
    torn = lines.pop()
    for line in lines:
        try:
            e = check_entry(line, seq)
            if e["prev"] != prev:
                raise ValueError("prev does not match")
        except ValueError as exc:
            bad.append((seq, f"entry {seq}: {exc}"))
            break
        push(stack, H(b"\x00" + line))
        prev, seq = e["hash"], seq + 1
        cp = expect.get(seq)
        if cp is not None and root_of(stack).hex() != cp["root"]:
            bad.append((cp["prev_size"], f"Merkle root differs from checkpoint at {seq}"))
        elif cp is not None and cp["last_hash"] != prev:
            bad.append((seq - 1, f"checkpoint at {seq} names another entry"))
    else:
        if torn:
            bad.append((seq, f"entry {seq}: torn (incomplete) last line"))
        elif expect and seq < max(expect):
            bad.append((seq, f"log has {seq} entries, a checkpoint covers {max(expect)}"))
        elif signed_from is not None and seq > (cps[-1]["tree_size"] if cps else 0):
            # in a signed log, entries after the latest checkpoint are signed by no key
            bad.append((cps[-1]["tree_size"], "entries after the latest checkpoint in a signed log"))
    out["entries"] = seq
    # entries no checkpoint covers (an unsigned log's crash, see docs/custody-log.md): chained,
    # but no Merkle root or signature vouches for them
    out["unchecked_tail"] = max(0, seq - (cps[-1]["tree_size"] if cps else 0))
    if not bad and trusted_keys and not out["signatures_verified"]:
        bad.append((0, "no checkpoint is signed by a trusted key: nothing vouches for the entries"))
    elif not bad and pins and signed_from is None:
        # the first signed command pins its key and signs its checkpoint in one commit
        bad.append((pins[0][0], f"entry {pins[0][0]} pins an examiner key, but no checkpoint is "
                                "signed: the signed checkpoints were removed"))
    if seq == 0 and not bad:
        bad.append((0, "the log holds no entry: nothing was verified (every case records "
                       "case.created when it is made)"))
    # a bundle made with --full-custody also names the checkpoint it cites
    cited = case_dir / "checkpoint.json"
    if cited.exists() and cited.read_bytes() not in {line + b"\n" for line in raw}:
        bad.append((0, "checkpoint.json is not one of the log's checkpoints"))
    if bad:
        first = min(bad, key=lambda b: b[0])
        out.update(ok=False, first_bad_seq=first[0], problem=first[1])
    return out


def main(argv):
    args = list(argv[1:])
    keys = []
    while "--pub" in args:
        i = args.index("--pub")
        text = Path(args[i + 1]).read_text().splitlines()
        keys.append(base64.b64decode([ln for ln in text if not ln.startswith("untrusted")][0]))
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    result = verify(args[0], keys)
    print(json.dumps(result))
    return 0 if result["ok"] else 4


if __name__ == "__main__":
    sys.exit(main(sys.argv))
