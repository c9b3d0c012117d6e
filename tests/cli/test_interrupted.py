"""A triage stopped part-way, for real: SIGINT, SIGTERM, an error and SIGKILL sent to a
running ``forensic triage`` process, and failures before it starts (issue 12 item 4).

The stop lands mid-run deterministically: the fault-injection hook of
``forensic.chain_of_custody.hooks`` (FORENSIC_TEST_TRIAGE_FAULT=hold:PATH) holds the triage
right after its first batch is recorded and tells the test by creating PATH. Rules checked:
a command that fails before its work starts records nothing; one that stops midway records
``triage.interrupted`` (why, how far) and a checkpoint; the next run says so, records
``triage.resumed`` and completes the same case as an uninterrupted run; the custody log
verifies after each step; the bundle's report shows the run as interrupted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import casestore
from builders import ext4_image, tiny_jpeg
from ptyrun import run_in_pty

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]
FILES = {f"/DCIM/f{i:04d}.bin": bytes([i % 251]) * (2000 + i) for i in range(150)}
FILES.update({f"/DCIM/IMG_{i:04d}.jpg": tiny_jpeg() for i in range(10)})
BATCH = {"FORENSIC_TRIAGE_BATCH": "20"}


def cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "FORENSIC_TEST_TRIAGE_FAULT"}
    full.update(BATCH, **(env or {}))
    return subprocess.run(FORENSIC + [str(a) for a in args], env=full, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def entries(case: Path) -> list[dict]:
    return [json.loads(line) for line in (case / "custody.jsonl").read_text().splitlines()]


def triage_entries(case: Path) -> list[dict]:
    return [e for e in entries(case) if e["action"].startswith("triage.")]


def rows(case: Path) -> list[tuple]:
    with casestore.opened(case) as db:
        return sorted(tuple(r) for r in db.execute("SELECT locator, sha256 FROM files"))


def item_row(case: Path) -> dict:
    with casestore.opened(case) as db:
        row = db.execute("SELECT * FROM items WHERE item='x'").fetchone()
        return dict(zip(row.keys(), row, strict=True))


def assert_custody_verifies(case: Path) -> None:
    res = cli("custody", "verify", "--case", case, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["ok"] is True


def logs(case: Path) -> tuple[bytes, bytes]:
    return ((case / "custody.jsonl").read_bytes(), (case / "custody.checkpoints.jsonl").read_bytes())


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return ext4_image(tmp_path_factory.mktemp("img"), FILES, size_mib=8)


@pytest.fixture(scope="module")
def expected(image, tmp_path_factory) -> list[tuple]:
    """The files an uninterrupted triage stores."""
    ref = tmp_path_factory.mktemp("ref") / "case"
    assert cli("case", "init", ref, "--case-id", "R", "--examiner", "E").returncode == 0
    assert cli("evidence", "add", image, "--case", ref, "--id", "x").returncode == 0
    assert cli("triage", "--case", ref).returncode == 0
    out = rows(ref)
    assert len(out) > 160
    return out


@pytest.fixture()
def case(tmp_path, image) -> Path:
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "C", "--examiner", "E").returncode == 0
    res = cli("evidence", "add", image, "--case", case, "--id", "x")
    assert res.returncode == 0, res.stderr
    return case


def held_triage(case: Path, tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """A real triage process, held right after its first batch was recorded."""
    hold = tmp_path / "held"
    env = {k: v for k, v in os.environ.items()}
    env.update(BATCH, FORENSIC_TEST_TRIAGE_FAULT=f"hold:{hold}")
    proc = subprocess.Popen(FORENSIC + ["triage", "--case", str(case), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    while not hold.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the triage ended (exit {proc.returncode}) before it was held mid-run:\n{err}")
        time.sleep(0.01)
    return proc, hold


@pytest.mark.parametrize("signum,name", [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")])
def test_a_signal_mid_triage_is_recorded_and_the_next_run_resumes(case, tmp_path, expected, signum, name):
    proc, _ = held_triage(case, tmp_path, "--workers", "1")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err

    log = entries(case)
    triage = [e for e in log if e["action"].startswith("triage.")]
    assert [e["action"] for e in triage] == ["triage.started", "triage.interrupted"]
    stop = triage[-1]
    assert stop["seq"] == len(log) - 1 and stop["subject"] == {"item": "x"}
    assert name in stop["reason"]
    leaves = [e for e in log if e["action"] == "file.recorded"]
    assert stop["details"]["signal"] == name and stop["details"]["error"] is None
    assert stop["details"]["files_recorded"] == len(leaves) > 0
    assert stop["details"]["last_locator"] == leaves[-1]["subject"]["locator"]
    # The batch the signal stopped was rolled back; what is stored is whole.
    stored = rows(case)
    assert stop["details"]["files_stored"] == len(stored) < len(expected)
    assert set(stored) <= set(expected)
    assert item_row(case)["triaged_at"] is None
    assert_custody_verifies(case)

    again = cli("triage", "--case", case, "--json")
    assert again.returncode == 0, again.stderr
    assert f"the previous triage of x was interrupted at {stop['at']}" in again.stderr
    assert "redoing it" in again.stderr
    assert json.loads(again.stdout)["resumed"]["seq"] == stop["seq"]
    after = triage_entries(case)
    assert [e["action"] for e in after] == ["triage.started", "triage.interrupted", "triage.resumed",
                                            "triage.finished"]
    assert after[2]["details"]["resumes"] == {"seq": stop["seq"], "action": "triage.interrupted", "at": stop["at"]}
    assert rows(case) == expected
    assert_custody_verifies(case)
    # Once finished, nothing is said about the old interruption any more.
    forced = cli("triage", "--case", case, "--force")
    assert forced.returncode == 0 and "previous triage" not in forced.stderr


def test_an_error_mid_triage_is_recorded_as_interrupted(case, expected):
    res = cli("triage", "--case", case, "--workers", "1", env={"FORENSIC_TEST_TRIAGE_FAULT": "raise"})
    assert res.returncode == 1
    assert "unexpected RuntimeError" in res.stderr
    stop = triage_entries(case)[-1]
    assert stop["action"] == "triage.interrupted"
    assert stop["details"]["signal"] is None
    assert stop["details"]["error"].startswith("RuntimeError: fault injected")
    assert stop["reason"].startswith("stopped by an error: RuntimeError")
    assert_custody_verifies(case)
    again = cli("triage", "--case", case)
    assert again.returncode == 0 and "was interrupted at" in again.stderr
    assert rows(case) == expected
    assert_custody_verifies(case)


def test_a_killed_triage_is_resumed_and_says_it_never_ended(case, tmp_path, expected):
    proc, _ = held_triage(case, tmp_path, "--workers", "1")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    assert [e["action"] for e in triage_entries(case)] == ["triage.started"]   # no end: it was killed
    started = triage_entries(case)[0]
    again = cli("triage", "--case", case)
    assert again.returncode == 0, again.stderr
    assert f"started at {started['at']}, never recorded an end" in again.stderr
    after = triage_entries(case)
    assert [e["action"] for e in after] == ["triage.started", "triage.resumed", "triage.finished"]
    assert after[1]["details"]["resumes"]["seq"] == started["seq"]
    assert rows(case) == expected
    assert_custody_verifies(case)


def test_ctrl_c_at_a_terminal_mid_triage(case, tmp_path):
    hold = tmp_path / "held"
    result = run_in_pty(["triage", "--case", case], cwd=tmp_path,
                        env={**BATCH, "FORENSIC_TEST_TRIAGE_FAULT": f"hold:{hold}"},
                        when=lambda shown: hold.exists())
    assert result.code == 130, result.output
    assert "interrupted" in result.output and "Traceback" not in result.output
    assert result.cursor_restored()
    assert triage_entries(case)[-1]["action"] == "triage.interrupted"
    assert_custody_verifies(case)


# -- failures before the work starts: nothing recorded, nothing changed ------------------------
def test_a_source_removed_after_intake_records_nothing(case, image, tmp_path):
    moved = tmp_path / "moved.img"
    os.rename(image, moved)
    try:
        before = logs(case)
        res = cli("triage", "--case", case)
        assert res.returncode == 1
        assert "no longer there" in res.stderr and "Traceback" not in res.stderr
        assert logs(case) == before
        assert_custody_verifies(case)
        # Replaced by something that cannot be read as a file: the same.
        image.mkdir()
        res = cli("triage", "--case", case)
        assert res.returncode == 1 and "cannot be read" in res.stderr
        assert logs(case) == before
        image.rmdir()
    finally:
        os.rename(moved, image)


def test_a_source_that_no_longer_opens_records_nothing(tmp_path):
    img = ext4_image(tmp_path, {"/a.txt": b"a"}, size_mib=4)
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "C", "--examiner", "E").returncode == 0
    assert cli("evidence", "add", img, "--case", case, "--id", "x").returncode == 0
    img.write_bytes(b"\0" * 4096)          # still there, readable, but no file system any more
    before = logs(case)
    res = cli("triage", "--case", case)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert logs(case) == before
    assert rows(case) == []
    assert_custody_verifies(case)


def test_force_with_the_source_gone_keeps_the_earlier_results(case, image, tmp_path):
    assert cli("triage", "--case", case).returncode == 0
    stored, triaged_at = rows(case), item_row(case)["triaged_at"]
    before = logs(case)
    moved = tmp_path / "moved.img"
    os.rename(image, moved)
    try:
        res = cli("triage", "--case", case, "--force")
        assert res.returncode == 1 and "no longer there" in res.stderr
    finally:
        os.rename(moved, image)
    assert logs(case) == before
    assert rows(case) == stored and item_row(case)["triaged_at"] == triaged_at
    assert_custody_verifies(case)


# -- the prosecutor's report -------------------------------------------------------------------
def test_the_report_shows_an_interrupted_triage_as_interrupted(case, tmp_path):
    proc, _ = held_triage(case, tmp_path, "--workers", "1")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert cli("triage", "--case", case).returncode == 0
    bundle = tmp_path / "bundle.zip"
    res = cli("export", "--case", case, "--out", bundle, "--item", "x")
    assert res.returncode == 0, res.stderr
    with zipfile.ZipFile(bundle) as zf:
        name = next(n for n in zf.namelist() if n.endswith("data/report/index.html"))
        html = zf.read(name).decode("utf-8")
    runs = html[html.index("<h3>Triage runs</h3>"):]
    runs = runs[:runs.index("</table>")]
    assert runs.count("<tr>") == 3                     # header + two runs
    assert "interrupted</span>: interrupted by Ctrl-C (SIGINT)" in runs
    assert "resumed the unfinished run before it" in runs and "finished</span>" in runs
    assert "no end recorded" not in runs


def test_triage_runs_pairs_starts_with_their_ends():
    from forensic.exporters.report import triage_runs

    def entry(action, at, item="x", **details):
        return {"action": action, "at": at, "subject": {"item": item}, "details": details,
                "reason": "interrupted by SIGTERM" if action == "triage.interrupted" else None}
    runs = triage_runs([
        entry("triage.started", "t1"), {"action": "file.recorded", "subject": {"item": "x", "locator": "l"}},
        entry("triage.started", "t2", item="y"),
        entry("triage.resumed", "t3"),                   # x's first run was killed: no end
        entry("triage.interrupted", "t4", files_recorded=5, files_stored=3),
        entry("triage.finished", "t5", item="y", files=9, artifacts=1, warnings=0),
        entry("triage.resumed", "t6"),
    ])
    assert [(r["item"], r["began"], r["ended"], r["status"]) for r in runs] == [
        ("x", "t1", None, "no end recorded"), ("y", "t2", "t5", "finished"),
        ("x", "t3", "t4", "interrupted"), ("x", "t6", None, "no end recorded")]
    assert "interrupted by SIGTERM; 5 files recorded, 3 kept" in runs[2]["note"]
    assert runs[2]["note"].startswith("resumed the unfinished run before it")
    assert "still running" not in runs[0]["note"] and "still running" in runs[3]["note"]
