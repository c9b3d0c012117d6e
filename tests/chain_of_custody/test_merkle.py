"""Merkle tree: RFC 6962 reference vectors, their mutations, and generated trees."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensic.chain_of_custody import merkle
from tests.chain_of_custody.rfc6962_vectors import (CONSISTENCY, EMPTY_TREE, INCLUSION,
                                                    LEAVES, ROOTS, SOME_HASH)

LEAF_HASHES = [merkle.leaf_hash(bytes.fromhex(x)) for x in LEAVES]
ROOT = [bytes.fromhex(r) for r in ROOTS]
EMPTY = bytes.fromhex(EMPTY_TREE)
SOME = bytes.fromhex(SOME_HASH)


def ref_node(a: int, b: int) -> bytes:
    return merkle.root_of_leaves(LEAF_HASHES[a:b])


def test_empty_tree_hash():
    assert merkle.EMPTY_ROOT == EMPTY
    assert merkle.CompactRange(0).root() == EMPTY


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_reference(n):
    rng = merkle.CompactRange(0)
    rng.extend(LEAF_HASHES[:n])
    assert merkle.root_of_leaves(LEAF_HASHES[:n]) == ROOT[n - 1]
    assert rng.root() == ROOT[n - 1]


@pytest.mark.parametrize("index,size,proof", INCLUSION)
def test_inclusion_vectors(index, size, proof):
    proof_b = [bytes.fromhex(p) for p in proof]
    assert merkle.inclusion_proof(index, size, ref_node) == proof_b
    assert merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof_b, ROOT[size - 1])


def inclusion_mutations(index, size, proof, root, leaf):
    """Every way the reference tests corrupt an inclusion proof."""
    yield "index-1", index - 1, size, leaf, proof, root
    yield "index+1", index + 1, size, leaf, proof, root
    yield "index^2", index ^ 2, size, leaf, proof, root
    yield "size*2", index, size * 2, leaf, proof, root
    yield "size/2", index, size // 2, leaf, proof, root
    yield "wrong leaf", index, size, b"WrongLeaf", proof, root
    yield "empty root", index, size, leaf, proof, EMPTY
    yield "random root", index, size, leaf, proof, SOME
    yield "trailing garbage", index, size, leaf, proof + [b""], root
    yield "trailing root", index, size, leaf, proof + [root], root
    yield "preceding garbage", index, size, leaf, [b""] + proof, root
    yield "preceding root", index, size, leaf, [root] + proof, root
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        yield f"flipped proof[{i}]", index, size, leaf, flipped, root
    if proof:
        yield "removed element", index, size, leaf, proof[:-1], root
    if len(proof) > 1:
        yield "inserted element", index, size, leaf, [proof[0], SOME] + proof[1:], root


@pytest.mark.parametrize("index,size,proof", [v for v in INCLUSION if v[2]])
def test_inclusion_mutations_rejected(index, size, proof):
    proof_b = [bytes.fromhex(p) for p in proof]
    accepted = [name for name, i, n, leaf, p, r in
                inclusion_mutations(index, size, proof_b, ROOT[size - 1], LEAF_HASHES[index])
                if merkle.verify_inclusion(i, n, leaf, p, r)]
    assert accepted == []


@pytest.mark.parametrize("old,new,proof", CONSISTENCY)
def test_consistency_vectors(old, new, proof):
    proof_b = [bytes.fromhex(p) for p in proof]
    assert merkle.consistency_proof(old, new, ref_node) == proof_b
    assert merkle.verify_consistency(old, new, ROOT[old - 1], ROOT[new - 1], proof_b)


def consistency_mutations(m, n, r1, r2, proof):
    yield "size1-1", m - 1, n, r1, r2, proof
    yield "size1+1", m + 1, n, r1, r2, proof
    yield "size1^2", m ^ 2, n, r1, r2, proof
    yield "size2*2", m, n * 2, r1, r2, proof
    yield "size2/2", m, n // 2, r1, r2, proof
    yield "wrong root1", m, n, b"WrongRoot", r2, proof
    yield "wrong root2", m, n, r1, b"WrongRoot", proof
    yield "swapped roots", m, n, r2, r1, proof
    yield "empty proof", m, n, r1, r2, []
    yield "trailing garbage", m, n, r1, r2, proof + [b""]
    yield "trailing root1", m, n, r1, r2, proof + [r1]
    yield "trailing root2", m, n, r1, r2, proof + [r2]
    yield "preceding garbage", m, n, r1, r2, [b""] + proof
    yield "preceding root1", m, n, r1, r2, [r1] + proof
    yield "preceding root2", m, n, r1, r2, [r2] + proof
    yield "preceding proof[0]", m, n, r1, r2, [proof[0]] + proof
    yield "truncated", m, n, r1, r2, proof[:-1]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        yield f"flipped proof[{i}]", m, n, r1, r2, flipped


@pytest.mark.parametrize("old,new,proof", [v for v in CONSISTENCY if v[2]])
def test_consistency_mutations_rejected(old, new, proof):
    proof_b = [bytes.fromhex(p) for p in proof]
    accepted = [name for name, m, n, r1, r2, p in
                consistency_mutations(old, new, ROOT[old - 1], ROOT[new - 1], proof_b)
                if merkle.verify_consistency(m, n, r1, r2, p)]
    assert accepted == []


def test_consistency_edge_cases():
    a, b = b"don't care 1", b"don't care 2"
    assert merkle.verify_consistency(0, 0, a, a, [])
    assert merkle.verify_consistency(0, 1, a, b, [])
    assert not merkle.verify_consistency(1, 1, a, b, [])
    assert not merkle.verify_consistency(1, 0, a, b, [])
    assert not merkle.verify_consistency(2, 1, a, b, [])
    assert not merkle.verify_consistency(1, 2, a, b, [])
    assert not merkle.verify_consistency(1, 1, EMPTY, EMPTY, [EMPTY])


def test_inclusion_edge_cases():
    for index, size in ((0, 0), (1, 0), (2, 1)):
        assert not merkle.verify_inclusion(index, size, SOME, [], EMPTY)
    data_hash = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(0, 1, data_hash, [], data_hash)
    assert not merkle.verify_inclusion(0, 1, b"", [], data_hash)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_proofs_from_compact_ranges_match_reference(n, data):
    """Proofs built from compact ranges (as the log does) equal the RFC's recursion."""
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    full = lambda a, b: merkle.root_of_leaves(leaves[a:b])  # noqa: E731
    m = data.draw(st.integers(0, n))
    left, right = merkle.CompactRange(0), merkle.CompactRange(m)
    left.extend(leaves[:m])
    right.extend(leaves[m:])
    merged = merkle.merge_ranges(left.pieces, right.pieces)
    assert merkle.fold(merged) == full(0, n)
    index = merkle.PieceIndex(left.pieces, right.pieces)
    proof = merkle.consistency_proof(m, n, index.node)
    assert proof == merkle.consistency_proof(m, n, full)
    assert merkle.verify_consistency(m, n, full(0, m) if m else merkle.EMPTY_ROOT, full(0, n), proof)
    i = data.draw(st.integers(0, n - 1))
    lo, hi = merkle.CompactRange(0), merkle.CompactRange(i + 1)
    lo.extend(leaves[:i])
    hi.extend(leaves[i + 1:])
    index = merkle.PieceIndex(lo.pieces, [(i, 1, leaves[i])], hi.pieces)
    proof = merkle.inclusion_proof(i, n, index.node)
    assert proof == merkle.inclusion_proof(i, n, full)
    assert merkle.verify_inclusion(i, n, leaves[i], proof, full(0, n))
    if proof:
        assert not merkle.verify_inclusion(i, n, leaves[i], proof[:-1], full(0, n))


@settings(max_examples=80, deadline=None)
@given(begin=st.integers(0, 300), chunks=st.lists(st.integers(0, 140), max_size=6))
def test_extend_in_chunks_equals_appending_one_by_one(begin, chunks):
    """The batched extend (subtrees hashed level by level) builds the same pieces as
    appending leaf by leaf, whatever the start and the chunking."""
    leaves = merkle.leaf_hashes(i.to_bytes(4, "big") for i in range(sum(chunks)))
    one, batched = merkle.CompactRange(begin), merkle.CompactRange(begin)
    for leaf in leaves:
        one.append(leaf)
    pos = 0
    for size in chunks:
        batched.extend(leaves[pos:pos + size])
        pos += size
    assert batched.pieces == one.pieces and batched.end == one.end == begin + len(leaves)
    if begin == 0 and leaves:
        assert batched.root() == merkle.root_of_leaves(leaves)
