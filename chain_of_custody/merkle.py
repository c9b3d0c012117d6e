"""RFC 9162 (RFC 6962) Merkle tree hashing, proofs and their verification.

* leaf hash ``SHA-256(0x00 || leaf bytes)``; node hash ``SHA-256(0x01 || left || right)``;
* the tree over ``n`` leaves splits at ``k``, the largest power of two smaller than ``n``;
* the empty tree's hash is ``SHA-256("")``.

Roots are computed streaming with a *compact range*: the list of maximal perfect subtrees
("pieces") covering a range of leaves, at most one per bit of its size, so memory stays
O(log n) however long the log. Folding the pieces of ``[0, n)`` from the right gives the
RFC tree hash. Any tree node that lies inside a range without straddling the range's ends
is a fold of that range's pieces, which is how proofs are built from compact ranges
(:class:`PieceIndex`) without keeping the leaves.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
HASH_SIZE = 32

Piece = tuple[int, int, bytes]   # (first leaf index, number of leaves (a power of 2), hash)


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def leaf_hashes(lines: Iterable[bytes]) -> list[bytes]:
    return [_sha256(b"\x00" + line).digest() for line in lines]


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_leaves(hashes: Sequence[bytes]) -> bytes:
    """Reference MTH over leaf hashes (recursive, as written in the RFC; for tests)."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = split_point(n)
    return node_hash(root_of_leaves(hashes[:k]), root_of_leaves(hashes[k:]))


# -- compact ranges --------------------------------------------------------------------------
class CompactRange:
    """Leaves ``[begin, end)`` summarised by their maximal aligned perfect subtrees."""

    __slots__ = ("begin", "end", "pieces")

    def __init__(self, begin: int = 0, pieces: Iterable[Piece] = ()) -> None:
        self.begin = begin
        self.pieces: list[Piece] = list(pieces)
        self.end = self.pieces[-1][0] + self.pieces[-1][1] if self.pieces else begin
        expected = decompose(begin, self.end)
        if [(s, z) for s, z, _ in self.pieces] != expected:
            raise ValueError(f"pieces do not form the compact range [{begin}, {self.end})")

    def append(self, leaf: bytes) -> None:
        self._push(self.end, 1, leaf)
        self.end += 1

    def _push(self, start: int, size: int, h: bytes) -> None:
        """Add the perfect subtree [start, start + size) after the pieces, merging it with
        the previous piece while the two form an aligned perfect subtree."""
        pieces = self.pieces
        while pieces:
            pstart, psize, phash = pieces[-1]
            if psize != size or pstart % (size << 1):
                break
            pieces.pop()
            h = _sha256(b"\x01" + phash + h).digest()
            start = pstart
            size <<= 1
        pieces.append((start, size, h))

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes: each aligned perfect subtree of the new span is hashed
        level by level (one list pass per level), then merged like a single piece."""
        hashes = leaves if isinstance(leaves, list) else list(leaves)
        i = 0
        for start, size in decompose(self.end, self.end + len(hashes)):
            level = hashes[i:i + size]
            i += size
            while len(level) > 1:
                level = [_sha256(b"\x01" + a + b).digest()
                         for a, b in zip(level[0::2], level[1::2], strict=True)]   # 2^k nodes
            self._push(start, size, level[0])
        self.end += len(hashes)

    @property
    def size(self) -> int:
        return self.end - self.begin

    def root(self) -> bytes:
        """RFC tree hash of ``[0, end)``; only for ranges that start at 0."""
        if self.begin != 0:
            raise ValueError("root() needs a range starting at leaf 0")
        return fold(self.pieces)

    def hashes(self) -> list[bytes]:
        return [h for _, _, h in self.pieces]


def decompose(begin: int, end: int) -> list[tuple[int, int]]:
    """The (start, size) of the maximal aligned perfect subtrees covering ``[begin, end)``."""
    out = []
    pos = begin
    while pos < end:
        size = pos & -pos if pos else 1 << (end.bit_length())
        while pos + size > end:
            size >>= 1
        out.append((pos, size))
        pos += size
    return out


def pieces_for(size: int, hashes: Sequence[bytes]) -> list[Piece]:
    """Rebuild the pieces of ``[0, size)`` from their hashes (as stored in a checkpoint)."""
    spans = decompose(0, size)
    if len(spans) != len(hashes):
        raise ValueError(f"a tree of {size} leaves has {len(spans)} pieces, not {len(hashes)}")
    return [(s, z, h) for (s, z), h in zip(spans, hashes, strict=True)]


def fold(pieces: Sequence[Piece]) -> bytes:
    """Hash of the RFC subtree made of consecutive ``pieces`` (right-to-left fold)."""
    if not pieces:
        return EMPTY_ROOT
    h = pieces[-1][2]
    for i in range(len(pieces) - 2, -1, -1):
        h = _sha256(b"\x01" + pieces[i][2] + h).digest()
    return h


class PieceIndex:
    """Answers "hash of the RFC subtree over leaves [a, b)" from compact ranges' pieces."""

    def __init__(self, *ranges: Iterable[Piece]) -> None:
        self._pieces = sorted((p for r in ranges for p in r), key=lambda p: p[0])

    def node(self, a: int, b: int) -> bytes:
        inside = [p for p in self._pieces if p[0] >= a and p[0] + p[1] <= b]
        covered = sum(p[1] for p in inside)
        if covered != b - a:
            raise ValueError(f"no pieces cover leaves [{a}, {b})")
        return fold(inside)


# -- proof generation (RFC 9162 section 2.1.3.1 / 2.1.4.1) -----------------------------------
NodeFn = Callable[[int, int], bytes]


def inclusion_proof(index: int, size: int, node: NodeFn) -> list[bytes]:
    """PATH(index, D[0:size]); ``node(a, b)`` returns MTH(D[a:b])."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    out: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:            # iterative form of the RFC's recursion, top-down
        k = split_point(hi - lo)
        if m < k:
            out.append(node(lo + k, hi))
            hi = lo + k
        else:
            out.append(node(lo, lo + k))
            lo, m = lo + k, m - k
    out.reverse()                  # the RFC lists the proof bottom-up
    return out


def consistency_proof(old_size: int, new_size: int, node: NodeFn) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]); empty when either size is 0 or they are equal."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    out: list[bytes] = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                out.append(node(lo, hi))
            break
        k = split_point(n)
        if m <= k:
            out.append(node(lo + k, hi))
            hi = lo + k
        else:
            out.append(node(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    out.reverse()
    return out


# -- proof verification (RFC 9162 section 2.1.3.2 / 2.1.4.2) ---------------------------------
def root_from_inclusion_proof(index: int, size: int, leaf: bytes,
                              proof: Sequence[bytes]) -> bytes | None:
    """The root ``proof`` leads to, or None when the proof is malformed for index/size."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> bool:
    got = root_from_inclusion_proof(index, size, leaf, proof)
    return got is not None and got == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    if old_size < 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:      # a power of two: the old root is a node itself
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def merge_ranges(left: Sequence[Piece], right: Sequence[Piece]) -> list[Piece]:
    """Pieces of ``[0, n)`` from the pieces of ``[0, m)`` and of ``[m, n)``."""
    out = list(left)
    for start, size, h in right:
        while out:
            pstart, psize, phash = out[-1]
            if psize != size or pstart % (size << 1) or pstart + psize != start:
                break
            out.pop()
            h = _sha256(b"\x01" + phash + h).digest()
            start, size = pstart, size << 1
        out.append((start, size, h))
    return out
