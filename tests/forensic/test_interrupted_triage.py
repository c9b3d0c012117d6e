"""A triage killed mid-way leaves a consistent case; the rerun completes it without duplicates.

The kill lands at the same point every run: the fault-injection hook of
``forensic.chain_of_custody.hooks`` (``FORENSIC_TEST_TRIAGE_FAULT=kill:N``) makes the triage
SIGKILL itself once its N-th batch is in the custody log and before that batch reaches the
case store -- the worst moment: leaves the store never kept. A kill that tears the log's last
line (it landed inside a write) is made by writing half a line after the kill, and then
needs ``custody repair`` before the rerun, as documented."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import casestore
from builders import ext4_image

FILES = {f"/DCIM/f{i:04d}.bin": os.urandom(2000 + i) for i in range(600)}
BATCH = 20
KILL_AT = 5                     # the batch the triage dies in: 4 stored, the 5th only logged


def _cli(*args, env=None, check=True):
    exe = Path(sys.executable).parent / "forensic"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, env=env, check=check)


def _rows(case):
    with casestore.opened(case) as db:
        return sorted(tuple(r) for r in db.execute("SELECT locator, sha256 FROM files"))


def _leaves(case) -> list[str]:
    return [e["subject"]["locator"] for e in map(json.loads, (case / "custody.jsonl").read_text().splitlines())
            if e["action"] == "file.recorded"]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return ext4_image(tmp_path_factory.mktemp("img"), FILES, size_mib=8)


@pytest.fixture(scope="module")
def env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FORENSIC_TEST_TRIAGE_FAULT"}
    env["FORENSIC_TRIAGE_BATCH"] = str(BATCH)
    return env


@pytest.fixture(scope="module")
def expected(image, env, tmp_path_factory) -> list[tuple]:
    ref = tmp_path_factory.mktemp("ref") / "case"
    _cli("case", "init", ref, "--case-id", "R", "--examiner", "E", env=env)
    _cli("evidence", "add", image, "--case", ref, "--id", "x", env=env)
    _cli("triage", "--case", ref, "--workers", "1", env=env)
    out = _rows(ref)
    assert len(out) > 600
    return out


def _killed(tmp_path: Path, image: Path, env: dict) -> Path:
    """A case whose triage was SIGKILLed in batch KILL_AT."""
    case = tmp_path / "case"
    if "FORENSIC_STORE" in os.environ:          # this test's store, not the module's (PostgreSQL)
        env = {**env, "FORENSIC_STORE": os.environ["FORENSIC_STORE"]}
    _cli("case", "init", case, "--case-id", "C", "--examiner", "E", env=env)
    _cli("evidence", "add", image, "--case", case, "--id", "x", env=env)
    res = _cli("triage", "--case", case, "--workers", "1", check=False,
               env={**env, "FORENSIC_TEST_TRIAGE_FAULT": f"kill:{KILL_AT}"})
    assert res.returncode == -9, res.stderr
    return case


def _rerun_completes(case: Path, env: dict, expected: list[tuple]) -> None:
    res = _cli("triage", "--case", case, "--workers", "1", env=env, check=False)
    assert res.returncode == 0, res.stderr
    assert "never recorded an end" in res.stderr
    assert _rows(case) == expected
    ver = _cli("custody", "verify", "--case", case, "--json", env=env, check=False)
    assert ver.returncode == 0, ver.stdout


def test_sigkill_then_rerun_completes_without_duplicates(tmp_path, image, env, expected):
    case = _killed(tmp_path, image, env)
    stored = _rows(case)
    # the batches before the one it died in are stored whole, each file with its hash; the
    # last one's leaves reached the log only
    assert len(stored) == (KILL_AT - 1) * BATCH < len(expected)
    assert set(stored) <= set(expected)
    assert all(h is not None for loc, h in stored if loc.endswith(".bin"))
    leaves = _leaves(case)
    assert len(leaves) == KILL_AT * BATCH
    assert {loc for loc, _ in stored} < set(leaves)
    _rerun_completes(case, env, expected)


def test_sigkill_that_tore_the_log_needs_repair_then_the_rerun_completes(tmp_path, image, env, expected):
    case = _killed(tmp_path, image, env)
    log = case / "custody.jsonl"
    last = log.read_bytes().splitlines()[-1]
    with open(log, "ab") as f:                   # the kill came inside the next line's write
        f.write(last[:len(last) // 2])
    res = _cli("triage", "--case", case, "--workers", "1", env=env, check=False)
    assert res.returncode == 4 and "repair" in res.stderr, res.stderr
    assert len(_rows(case)) == (KILL_AT - 1) * BATCH          # refused: nothing changed
    _cli("custody", "repair", "--case", case, env=env)
    _rerun_completes(case, env, expected)


def _deep(case: Path, env: dict) -> tuple[int, dict]:
    res = _cli("custody", "verify", "--deep", "--case", case, "--json", env=env, check=False)
    return res.returncode, json.loads(res.stdout)["deep"]


def test_deep_verify_after_a_kill_notes_the_rolled_back_leaves_and_holds_after_the_rerun(
        tmp_path, image, env, expected):
    """The log holds leaves of the batch the store rolled back: a note, not a failure; the
    rerun gives their ids to the same rows again, and nothing is left to note."""
    case = _killed(tmp_path, image, env)
    code, deep = _deep(case, env)
    assert code == 0 and deep["ok"], deep
    assert len(deep["notes"]) == 1 and f"{BATCH} file(s) of item x" in deep["notes"][0]
    _rerun_completes(case, env, expected)
    code, deep = _deep(case, env)
    assert code == 0 and deep["ok"] and deep["notes"] == [], deep


def test_deep_verify_catches_a_row_removed_from_an_interrupted_item(tmp_path, image, env):
    """A note is only for ids past the store's highest: a stored row removed from the middle
    of an interrupted item is a failure."""
    case = _killed(tmp_path, image, env)
    with casestore.tampered(case) as db:
        victim = db.execute("SELECT id, locator FROM files ORDER BY id LIMIT 1 OFFSET 10").fetchone()
        db.execute("DELETE FROM files WHERE id = ?", (victim[0],))
    code, deep = _deep(case, env)
    assert code == 4 and not deep["ok"]
    missing = [m for m in deep["mismatches"] if m["problem"] == "file missing"]
    assert [(m["file_id"], m["locator"]) for m in missing] == [tuple(victim)]
