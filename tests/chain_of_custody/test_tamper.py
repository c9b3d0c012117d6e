"""Any flip, deletion, insertion, duplication, reordering or truncation of the log is caught,
and first_bad_seq names the entry (truncation: against the stored checkpoint)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensic.chain_of_custody.log import CHECKPOINTS_NAME, LOG_NAME, CustodyLog
from forensic.chain_of_custody.verify import verify_log
from forensic.case import Case
from tests.chain_of_custody.helpers import build_case, copy_case

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    case = build_case(tmp_path_factory.mktemp("good") / "case")
    case.close()
    return case.root


def lines_of(root: Path) -> list[bytes]:
    return (root / LOG_NAME).read_bytes().split(b"\n")[:-1]


def check(good: Path, data: bytes, expected_seq: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_case(good, Path(tmp) / "c", data)
        report = verify_log(root, None)
    assert not report.ok
    assert report.first_bad_seq == expected_seq, report.problem


def test_good_log_verifies(good):
    case = Case.open(good)
    report = verify_log(good, case.db, case_id="CASE-1")
    case.close()
    assert report.ok, report.problems
    assert report.entries == 20 and report.checkpoints == 5 and report.first_bad_seq is None
    assert report.warnings == ["5 of 5 checkpoints are unsigned (no --key / $FORENSIC_KEY was given)"]


@SETTINGS
@given(data=st.data())
def test_byte_flip(good, data):
    raw = (good / LOG_NAME).read_bytes()
    pos = data.draw(st.integers(0, len(raw) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = raw[:pos] + bytes([raw[pos] ^ mask]) + raw[pos + 1:]
    check(good, tampered, raw[:pos].count(b"\n"))


@SETTINGS
@given(data=st.data())
def test_delete_insert_duplicate_reorder(good, data):
    lines = lines_of(good)
    n = len(lines)
    op = data.draw(st.sampled_from(["delete", "insert_copy", "insert_garbage", "swap"]))
    k = data.draw(st.integers(0, n - 1))
    if op == "delete":
        new, expected = lines[:k] + lines[k + 1:], k
    elif op == "insert_copy":
        j = data.draw(st.integers(0, n - 1))
        new, expected = lines[:k] + [lines[j]] + lines[k:], (k + 1 if j == k else k)
    elif op == "insert_garbage":
        junk = data.draw(st.binary(max_size=40).filter(lambda b: b"\n" not in b))
        new, expected = lines[:k] + [junk] + lines[k:], k
    else:
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != k))
        new = list(lines)
        new[k], new[j] = new[j], new[k]
        expected = min(j, k)
    check(good, b"".join(x + b"\n" for x in new), expected)


@SETTINGS
@given(data=st.data())
def test_truncation(good, data):
    raw = (good / LOG_NAME).read_bytes()
    cut = data.draw(st.integers(0, len(raw) - 1))
    check(good, raw[:cut], raw[:cut].count(b"\n"))


def test_truncating_log_and_checkpoints_is_caught_by_case_store(good, tmp_path):
    root = copy_case(good, tmp_path / "c")
    lines = lines_of(root)
    (root / LOG_NAME).write_bytes(b"".join(x + b"\n" for x in lines[:15]))
    cps = (root / CHECKPOINTS_NAME).read_bytes().split(b"\n")[:-1]
    (root / CHECKPOINTS_NAME).write_bytes(b"".join(x + b"\n" for x in cps[:3]))   # up to 9
    case = Case.open(root)
    report = verify_log(root, case.db)
    assert report.ok is False and report.first_bad_seq == 15
    assert "cut off" in report.problem
    with pytest.raises(Exception, match="cut off"):
        CustodyLog(root, case.db, "CASE-1", actor="x").commit()
    case.close()


def test_rewritten_history_with_recomputed_chain_is_caught(good, tmp_path):
    """Change entry 7 and recompute every hash after it: chain ok, Merkle root is not."""
    from forensic.chain_of_custody.entry import LineBuilder, ZERO_HASH  # noqa: F401
    import json
    from forensic.chain_of_custody.canonical import encode
    import hashlib
    lines = [json.loads(x) for x in lines_of(good)]
    lines[7]["subject"]["locator"] = "E1/elsewhere.jpg"
    prev = lines[6]["hash"]
    out = []
    for e in lines[:7]:
        out.append(encode(e))
    for e in lines[7:]:
        e["prev"] = prev
        e.pop("hash")
        e["hash"] = prev = hashlib.sha256(encode(e).encode()).hexdigest()
        out.append(encode(e))
    root = copy_case(good, tmp_path / "c", "".join(x + "\n" for x in out).encode())
    report = verify_log(root, None)
    assert not report.ok
    assert report.first_bad_seq == 6          # the checkpoint covering 6..14 fails
    assert "Merkle root" in report.problem


def test_checkpoint_tampering_is_caught(good, tmp_path):
    root = copy_case(good, tmp_path / "c")
    cps = (root / CHECKPOINTS_NAME).read_bytes().split(b"\n")[:-1]
    cps[2] = cps[2].replace(b'"tree_size":9', b'"tree_size":8')
    (root / CHECKPOINTS_NAME).write_bytes(b"".join(x + b"\n" for x in cps))
    report = verify_log(root, None)
    assert not report.ok and report.first_bad_seq == 6 and "checkpoint 2" in report.problem
