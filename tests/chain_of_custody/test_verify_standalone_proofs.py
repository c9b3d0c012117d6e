"""The stand-alone verifier's RFC 9162 inclusion-proof check (docs/verify_custody.py, written
with the standard library only) agrees with the project's own Merkle code on every leaf of
every tree up to 70 leaves, and refuses each proof with one hash changed, cut short, or given
for another leaf or tree size."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from forensic.chain_of_custody import merkle

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_custody.py"


@pytest.fixture(scope="module")
def standalone():
    spec = importlib.util.spec_from_file_location("verify_custody_standalone", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(n: int):
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]

    def node(a: int, b: int) -> bytes:
        return merkle.root_of_leaves(leaves[a:b])
    return leaves, node, merkle.root_of_leaves(leaves)


def test_every_proof_of_every_small_tree_leads_to_its_root(standalone):
    for n in range(1, 71):
        leaves, node, root = _tree(n)
        for i in range(n):
            proof = merkle.inclusion_proof(i, n, node)
            assert standalone.inclusion_root(i, n, leaves[i], proof) == root, (n, i)
            assert merkle.verify_inclusion(i, n, leaves[i], proof, root)


@pytest.mark.parametrize("n", [2, 7, 8, 33, 70])
def test_damaged_proofs_do_not_lead_to_the_root(standalone, n):
    leaves, node, root = _tree(n)
    for i in range(n):
        proof = merkle.inclusion_proof(i, n, node)
        for k in range(len(proof)):
            bad = list(proof)
            bad[k] = hashlib.sha256(bad[k]).digest()
            assert standalone.inclusion_root(i, n, leaves[i], bad) != root
        assert standalone.inclusion_root(i, n, leaves[i], proof[:-1]) != root
        assert standalone.inclusion_root(i, n, leaves[i], proof + [root]) is None
        other = (i + 1) % n
        if other != i:
            assert standalone.inclusion_root(other, n, leaves[i], proof) != root
        assert standalone.inclusion_root(i, n, leaves[i], [b"short"] + proof[1:]) is None
    assert standalone.inclusion_root(n, n, leaves[0], []) is None
    assert standalone.inclusion_root(-1, n, leaves[0], []) is None
