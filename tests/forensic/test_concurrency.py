"""Commands on one case at once (issue 13 item 5), with real ``forensic`` processes.

Two triages of different items run together: each batch is a short ``BEGIN IMMEDIATE``
transaction, and the custody checkpoint takes the store's write lock before the log's
``flock`` (a triage holds the store's lock while it writes its batch's leaves under the
``flock``), so neither waits for the other forever; before, a triage finishing its item
took the ``flock`` and then waited for the store while the other held the store and waited
for the ``flock``: "database is locked" after 30 s, and the items left untriaged. A command
that waits long for another says so on stderr. A second triage of an item being triaged is
refused before it stores anything.

Overlaps are made certain, not timed: the second triage starts once the first's leaves are
in the custody log, and a triage is parked inside its transaction with the fault-injection
hook of ``forensic.chain_of_custody.hooks`` (``hold:PATH``)."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import casestore
from builders import ext4_image

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]
FAULT = "FORENSIC_TEST_TRIAGE_FAULT"
ENV = {"FORENSIC_TRIAGE_BATCH": "2"}      # many short transactions: the overlap is dense
SMALL = ("s1", "s2", "s3", "s4", "s5", "s6")
WAITING = "waiting for another forensic command on this case"


def _files(tag: str, n: int) -> dict[str, bytes]:
    return {f"/DCIM/{tag}_{i:04d}.bin": f"{tag}:{i}:".encode() * (1 + i % 40) for i in range(n)}


def _env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != FAULT}
    env.update(ENV, **(extra or {}))
    return env


def cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(FORENSIC + [str(a) for a in args], env=_env(env), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def start(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(FORENSIC + [str(a) for a in args], env=_env(env), text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate()
    return proc.returncode, out, err


def new_case(root: Path, images: dict[str, Path], items) -> Path:
    case = root / "case"
    assert cli("case", "init", case, "--case-id", "C-13", "--examiner", "E").returncode == 0
    for item in items:
        res = cli("evidence", "add", images[item], "--case", case, "--id", item)
        assert res.returncode == 0, res.stderr
    return case


def rows(case: Path) -> dict[str, list[tuple]]:
    with casestore.opened(case) as db:
        out: dict[str, list[tuple]] = {}
        for item, loc, digest in db.execute("SELECT item, locator, sha256 FROM files ORDER BY item, locator"):
            out.setdefault(item, []).append((loc, digest))
        return out


def triaged(case: Path) -> dict[str, bool]:
    with casestore.opened(case) as db:
        return {item: at is not None for item, at in db.execute("SELECT item, triaged_at FROM items")}


def entries(case: Path) -> list[dict]:
    return [json.loads(line) for line in (case / "custody.jsonl").read_text().splitlines()]


def leaves(case: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in entries(case):
        if e["action"] == "file.recorded":
            counts[e["subject"]["item"]] = counts.get(e["subject"]["item"], 0) + 1
    return counts


def assert_custody_verifies(case: Path) -> None:
    res = cli("custody", "verify", "--case", case, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["ok"] is True


def assert_clean(err: str) -> None:
    assert "Traceback" not in err and "database is locked" not in err and "unexpected" not in err, err


def wait_until(condition, *procs: subprocess.Popen, what: str) -> None:
    """Poll ``condition`` (a file or lock the commands leave) until it holds; fail if every
    process in ``procs`` ended first (they can no longer make it hold)."""
    while not condition():
        if procs and all(p.poll() is not None for p in procs):
            details = "\n".join(f"exit {p.returncode}: {p.stderr.read() if p.stderr else ''}" for p in procs)
            pytest.fail(f"{what} never happened\n{details}")
        time.sleep(0.005)


def has_leaf(case: Path, item: str) -> bool:
    path = case / "custody.jsonl"
    needle = b'"action":"file.recorded"'
    mark = b'"subject":{"item":' + json.dumps(item).encode()
    return path.exists() and any(needle in line and mark in line for line in path.read_bytes().splitlines())


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("images")
    out = {"big": ext4_image(d, _files("big", 2000), size_mib=16, name="big.img")}
    for item in SMALL:
        out[item] = ext4_image(d, _files(item, 40), size_mib=2, name=f"{item}.img")
    return out


@pytest.fixture(scope="module")
def expected(images, tmp_path_factory) -> dict[str, list[tuple]]:
    """What one triage at a time stores, item by item."""
    case = new_case(tmp_path_factory.mktemp("reference"), images, ["big", *SMALL])
    res = cli("triage", "--case", case, env={"FORENSIC_TRIAGE_BATCH": "2000"})
    assert res.returncode == 0, res.stderr
    return rows(case)


def test_two_triages_of_different_items_at_once_both_finish(images, expected, tmp_path):
    # The big triage pauses once its first batch is committed (holding no lock), the small
    # items' triage runs to its end meanwhile, then the big one goes on: they overlap, always.
    case = new_case(tmp_path, images, ["big", *SMALL])
    paused = tmp_path / "big-paused"
    big = start("triage", "big", "--case", case,
                env={"FORENSIC_TRIAGE_BATCH": "100", "FORENSIC_TEST_TRIAGE_FAULT": f"pause:{paused}"})
    wait_until(paused.exists, big, what="the first triage's first batch")
    small = start("triage", *SMALL, "--case", case)         # each item ends with a checkpoint
    code_small, _, err_small = finish(small)
    paused.unlink()
    code_big, _, err_big = finish(big)
    assert code_big == 0, err_big
    assert code_small == 0, err_small
    assert_clean(err_big)
    assert_clean(err_small)
    assert triaged(case) == {item: True for item in ["big", *SMALL]}
    assert rows(case) == expected
    assert leaves(case) == {item: len(r) for item, r in expected.items()}   # none lost, none twice
    assert_custody_verifies(case)
    # the overlap: leaves of the small items came between the big one's first and last
    order = [e["subject"]["item"] for e in entries(case) if e["action"] == "file.recorded"]
    first, last = order.index("big"), len(order) - 1 - order[::-1].index("big")
    assert set(order[first:last]) - {"big"} == set(SMALL)


def test_checkpoint_waits_for_the_store_before_taking_the_log(images, tmp_path):
    """The lock order, exactly: while a triage's batch holds the store's write lock (here:
    this test, as a triage would) and is about to take the custody log's ``flock`` for its
    leaves, a command ending with a checkpoint must not take the ``flock`` first and then
    wait for the store."""
    case = new_case(tmp_path, images, ["s1"])
    db = casestore.connect(case)
    log_fd = os.open(case / "custody.jsonl", os.O_RDONLY)
    try:
        db.execute("BEGIN IMMEDIATE")                          # a batch's transaction
        note = start("custody", "note", "a note written while a triage stores", "--case", case)

        def flock_taken() -> bool:
            try:
                fcntl.flock(log_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(log_fd, fcntl.LOCK_UN)
            return False
        said = bytearray()
        os.set_blocking(note.stderr.fileno(), False)

        def note_waits() -> bool:            # it took the flock, or says it waits for the store
            try:
                said.extend(os.read(note.stderr.fileno(), 1 << 16))
            except BlockingIOError:
                pass
            return flock_taken() or WAITING.encode() in said
        wait_until(note_waits, note, what="the note command reaching the case's locks")
        fcntl.flock(log_fd, fcntl.LOCK_EX)     # the batch's leaves: must not wait for the note
        fcntl.flock(log_fd, fcntl.LOCK_UN)
        db.execute("ROLLBACK")
    finally:
        os.close(log_fd)
        db.close()
    os.set_blocking(note.stderr.fileno(), True)
    code, _, err = finish(note)
    err = said.decode() + err
    assert code == 0, err
    assert WAITING in err
    assert_clean(err)
    assert [e["action"] for e in entries(case)][-1] == "custody.note"
    assert_custody_verifies(case)


def test_a_triage_waits_with_a_message_for_a_command_holding_the_case(images, expected, tmp_path):
    case = new_case(tmp_path, images, ["s1", "s2"])
    hold = tmp_path / "held"
    first = start("triage", "s1", "--case", case, env={FAULT: f"hold:{hold}"})
    wait_until(hold.exists, first, what="the first triage parking inside its transaction")
    second = start("triage", "s2", "--case", case)
    said: list[str] = []

    def says_it_waits() -> bool:
        said.append(second.stderr.readline())
        return WAITING in said[-1] or second.poll() is not None
    wait_until(says_it_waits, second, what="the second triage saying it waits")
    hold.unlink()                                                   # the first goes on
    (code1, _, err1), (code2, _, err2) = finish(first), finish(second)
    err2 = "".join(said) + err2
    assert code2 == 0, err2
    assert WAITING in err2
    assert code1 == 0, err1
    assert_clean(err1)
    assert_clean(err2)
    assert triaged(case) == {"s1": True, "s2": True}
    assert rows(case) == {k: expected[k] for k in ("s1", "s2")}
    assert_custody_verifies(case)


def test_a_second_triage_of_the_same_item_is_refused(images, expected, tmp_path):
    case = new_case(tmp_path, images, ["s1"])
    hold = tmp_path / "held"
    first = start("triage", "s1", "--case", case, env={FAULT: f"hold:{hold}"})
    wait_until(hold.exists, first, what="the first triage parking inside its transaction")
    try:
        second = cli("triage", "s1", "--case", case)
    finally:
        hold.unlink()
    code1, _, err1 = finish(first)
    assert second.returncode == 1, second.stderr
    assert "'s1' is being triaged by another forensic command" in second.stderr
    assert_clean(second.stderr)
    assert code1 == 0, err1
    # stored once, by the first: no duplicate warnings, one leaf per file, one session
    assert rows(case) == {"s1": expected["s1"]}
    with casestore.opened(case) as db:
        assert db.execute("SELECT COUNT(*) FROM warnings").fetchone()[0] == 0
    assert leaves(case) == {"s1": len(expected["s1"])}
    assert [e["action"] for e in entries(case) if e["action"].startswith("triage.")] == \
        ["triage.started", "triage.finished"]
    assert_custody_verifies(case)
    again = cli("triage", "s1", "--case", case)
    assert again.returncode == 0 and "already triaged" in again.stderr


def test_an_item_finished_by_another_command_before_the_lock_is_not_triaged_again(tmp_path):
    # The CLI looks at triaged_at before the pipeline takes the item's lock; an item another
    # command finished in between must not be stored and recorded a second time.
    from forensic.case import Case
    from forensic.errors import CaseError
    from forensic.intake import add_evidence
    from forensic.pipeline import TriageOptions, triage_item
    case = Case.init(tmp_path / "case", "R-1", "E")
    img = ext4_image(tmp_path, _files("r", 3), size_mib=4)
    add_evidence(case, img, "x", None, None)
    triage_item(case, "x", TriageOptions(workers=1))
    files = case.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    with pytest.raises(CaseError, match="was triaged by another forensic command"):
        triage_item(case, "x", TriageOptions(workers=1))
    assert case.db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == files
    triage_item(case, "x", TriageOptions(workers=1, force=True))          # --force still redoes it
    case.close()
