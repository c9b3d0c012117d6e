"""``forensic triage --cluster``: a real Dask scheduler with two worker processes on
127.0.0.1 reads a multi-item case (an ext4 image split into pieces, a FAT image, a folder, a
ZIP); the coordinator stores. The case has the same files, hashes, records and warnings as
one triaged locally, its custody log verifies and names the host of every piece, and a
worker killed mid-task costs nothing but a retry: no entry is stored twice."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import casestore
from builders import ext4_image, fat_image, tiny_jpeg, write_tree, zip_file
from storecompare import differences
from tests.extractors.chat.test_phone_dbs import ANDROID_SCHEMA, android_rows, build

distributed = pytest.importorskip("distributed")
import holdtask  # noqa: E402  (imports distributed)

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]
PIECE = str(2 << 20)          # an item's bytes per piece: the 8 MiB images are read as 4 pieces each
EXT = {f"/DCIM/f{i:03d}.bin": bytes([i % 251]) * (1500 + 37 * i) for i in range(60)}
EXT.update({f"/DCIM/IMG_{i:03d}.jpg": tiny_jpeg(b"Maker", f"M{i}".encode()) for i in range(6)})
EXT["/notes/chat.txt"] = ("12/03/2023, 14:05 - Ana: see you at 6\n"
                          "12/03/2023, 14:06 - Bo: ok\n").encode()
FAT = {f"/PHOTOS/P{i:03d}.JPG": tiny_jpeg(b"FatCam", b"F1") for i in range(4)}
FAT.update({f"/DOCS/D{i:03d}.TXT": f"document {i}\n".encode() * (i + 1) for i in range(8)})


def cli(*args) -> tuple[int, str, str]:
    """A forensic command in this process (no interpreter start-up): exit code, stdout, stderr."""
    from forensic.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("evidence")
    folder = write_tree(tmp / "phone-export", {"a/readme.txt": b"hello\n", "a/b/photo.jpg": tiny_jpeg(),
                                               "WhatsApp Chat with Ana.txt": EXT["/notes/chat.txt"]})
    sms = folder / "data/data/com.android.providers.telephony/databases"    # records made in batches
    sms.mkdir(parents=True)
    build(sms / "mmssms.db", ANDROID_SCHEMA, android_rows(40))
    members = [(f"m/{i}.txt", f"member {i}\n".encode()) for i in range(12)] + [("m/p.jpg", tiny_jpeg())]
    fat = fat_image(tmp, FAT, deleted=("/DOCS/D003.TXT",), size_mib=8, fat=12)
    return [ext4_image(tmp, EXT, size_mib=8), fat, folder, zip_file(tmp / "cloud.zip", members)]


def new_case(root: Path, evidence: list[Path]) -> Path:
    case = root / "case"
    assert cli("case", "init", case, "--case-id", "C21", "--examiner", "E")[0] == 0
    for n, path in enumerate(evidence):
        code, _, err = cli("evidence", "add", path, "--case", case, "--id", f"item{n}")
        assert code == 0, err
    return case


@pytest.fixture(scope="module")
def local(evidence, tmp_path_factory) -> Path:
    """The case triaged on this machine alone: the answers to match."""
    case = new_case(tmp_path_factory.mktemp("local"), evidence)
    code, _, err = cli("triage", "--case", case)
    assert code in (0, 3), err
    return case


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two worker processes on 127.0.0.1 (ports chosen by the system); a
    piece task held (holdtask.py) once the fault folder exists."""
    fault = tmp_path_factory.mktemp("fault") / "armed"
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                      dashboard_address=":0") as lc:
        with distributed.Client(lc.scheduler_address) as client:     # the workers' imports, once
            client.run(lambda: __import__("forensic.pipeline"))
            client.register_plugin(holdtask.HoldFirstPiece(str(fault)), name="forensic-test-hold")
        yield lc.scheduler_address, fault


def custody(case: Path) -> list[dict]:
    return [json.loads(line) for line in (case / "custody.jsonl").read_text().splitlines()]


def assert_custody_verifies(case: Path) -> None:
    code, out, err = cli("custody", "verify", "--case", case, "--json")
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True


def test_a_cluster_triage_finds_what_a_local_one_does(evidence, local, cluster, tmp_path, monkeypatch):
    address, _ = cluster
    case = new_case(tmp_path, evidence)
    monkeypatch.setenv("FORENSIC_CLUSTER_PIECE_BYTES", PIECE)
    code, _, err = cli("triage", "--case", case, "--cluster", address, "--json")
    assert code in (0, 3), err
    assert differences(local, case) == []
    with casestore.opened(case) as db:
        assert db.execute("SELECT COUNT(*) FROM files").fetchone()[0] > 100
        assert db.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0] > 0
        assert db.execute("SELECT COUNT(*) FROM artifacts WHERE extractor LIKE 'android_sms@%'").fetchone()[0] >= 40
    assert_custody_verifies(case)
    log = custody(case)
    pieces = [e for e in log if e["action"] == "triage.piece"]
    by_item: dict[str, list] = {}
    for e in pieces:
        by_item.setdefault(e["subject"]["item"], []).append(e["details"])
    assert sorted(by_item) == ["item0", "item1", "item2", "item3"]
    assert [d["piece"] for d in by_item["item0"]] == [1, 2, 3, 4]        # 8 MiB in 2 MiB pieces
    spans = [d["span"] for d in by_item["item0"]]
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(e["details"]["host"] and e["details"]["worker"].startswith("tcp://127.0.0.1") for e in pieces)
    started = [e for e in log if e["action"] == "triage.started"]
    assert all(e["details"]["cluster"] == address for e in started)
    recorded = 0                # a piece's entry follows its files' leaves (it says they are stored)
    for e in log:
        if e["subject"].get("item") == "item0" and e["action"] == "file.recorded":
            recorded += 1
        elif e["subject"].get("item") == "item0" and e["action"] == "triage.piece":
            assert recorded == sum(d["files"] for d in by_item["item0"][:e["details"]["piece"]])


def test_a_worker_killed_mid_task_costs_a_retry_not_a_duplicate(evidence, local, cluster, tmp_path):
    address, fault = cluster
    case = new_case(tmp_path, evidence)
    fault.mkdir()
    try:
        env = {**os.environ, "FORENSIC_CLUSTER_PIECE_BYTES": PIECE}
        proc = subprocess.Popen(FORENSIC + ["triage", "--case", str(case), "--cluster", address], env=env,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        held = fault / "held"
        deadline = time.monotonic() + 60
        while not (held.exists() and held.read_text()):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no task was held"
            time.sleep(0.02)
        os.kill(int(held.read_text()), signal.SIGKILL)          # the worker process, mid-task
        out, err = proc.communicate(timeout=120)
    finally:
        held_pid = (fault / "held").read_text() if (fault / "held").exists() else ""
        for p in fault.iterdir():
            p.unlink()
        fault.rmdir()
    assert held_pid
    assert proc.returncode in (0, 3), err
    assert casestore.count(case, "SELECT COUNT(*) FROM (SELECT 1 FROM files GROUP BY item, locator "
                                 "HAVING COUNT(*) > 1) AS twice") == 0
    assert differences(local, case) == []
    assert_custody_verifies(case)
    hosts = [e["details"]["pid"] for e in custody(case) if e["action"] == "triage.piece"]
    assert int(held_pid) not in hosts           # the killed process stored nothing; its task ran again


def test_a_worker_that_sees_other_bytes_at_the_path_is_refused(evidence, cluster, tmp_path):
    """--path-map pointing the workers at a different file: the worker's identity check
    refuses it, nothing is stored, and the command says which item and why."""
    address, _ = cluster
    case = new_case(tmp_path, evidence[3:])
    other = tmp_path / "elsewhere"
    other.mkdir()
    zip_file(other / "cloud.zip", [("m/0.txt", b"not the seized archive\n")])
    code, _, err = cli("triage", "--case", case, "--cluster", address, "--path-map", f"{evidence[3].parent}={other}")
    assert code == 1
    assert "item0" in err and "not the evidence" in err and "--path-map" in err
    assert casestore.count(case, "SELECT COUNT(*) FROM files") == 0


def test_the_workers_path_given_at_evidence_add(evidence, local, cluster, tmp_path):
    """``evidence add --worker-path``: the workers open the item there (the custody log says
    where); other bytes there are refused as with --path-map, a copy of the same bytes serves."""
    address, _ = cluster
    archive = evidence[3]
    other = tmp_path / "elsewhere"
    other.mkdir()
    zip_file(other / "cloud.zip", [("m/0.txt", b"not the seized archive\n")])
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "C21w", "--examiner", "E")[0] == 0
    code, _, err = cli("evidence", "add", archive, "--case", case, "--id", "item0",
                       "--worker-path", other / "cloud.zip")
    assert code == 0, err
    received = [e for e in custody(case) if e["action"] == "evidence.received"]
    assert received[0]["details"]["worker_path"] == str(other / "cloud.zip")
    code, _, err = cli("triage", "--case", case, "--cluster", address)
    assert code == 1 and "item0" in err and "not the evidence" in err
    assert casestore.count(case, "SELECT COUNT(*) FROM files") == 0
    shutil.copyfile(archive, other / "cloud.zip")              # the share mounted there: the same bytes
    code, _, err = cli("triage", "--case", case, "--cluster", address)
    assert code in (0, 3), err
    assert casestore.count(case, "SELECT COUNT(*) FROM files") > 0


def test_usage_errors_before_anything_is_recorded(evidence, tmp_path, monkeypatch):
    case = new_case(tmp_path, evidence[3:])
    before = (case / "custody.jsonl").read_bytes()
    code, _, err = cli("triage", "--case", case, "--cluster", "scheduler-without-port")
    assert code == 2 and "tcp://HOST:PORT" in err
    code, _, err = cli("triage", "--case", case, "--path-map", "/a=/b")
    assert code == 2 and "--cluster" in err
    code, _, err = cli("triage", "--case", case, "--cluster", "tcp://127.0.0.1:8786", "--path-map", "/a")
    assert code == 2 and "SRC=DST" in err
    for bad in ("1G", "-5", "0"):      # checked before the scheduler is reached (none listens here)
        monkeypatch.setenv("FORENSIC_CLUSTER_PIECE_BYTES", bad)
        code, _, err = cli("triage", "--case", case, "--cluster", "tcp://127.0.0.1:9")
        assert code == 2 and "FORENSIC_CLUSTER_PIECE_BYTES" in err and "Traceback" not in err
    assert (case / "custody.jsonl").read_bytes() == before


def test_the_comparison_sees_a_difference(evidence, local, tmp_path):
    """The helper the tests above trust: a case whose items are not triaged differs."""
    found = differences(local, new_case(tmp_path, evidence[3:]))
    assert found and found[0].startswith("files:")


def test_a_coordinator_killed_mid_triage_resumes_on_the_cluster(evidence, local, cluster, tmp_path):
    """The coordinator SIGKILLed once its second batch's leaves are logged (before that batch
    is stored): the next --cluster run says so, resumes, and the case is the local one."""
    address, _ = cluster
    case = new_case(tmp_path, evidence)
    env = {**os.environ, "FORENSIC_TRIAGE_BATCH": "20", "FORENSIC_TEST_TRIAGE_FAULT": "kill:2"}
    first = subprocess.run(FORENSIC + ["triage", "--case", str(case), "--cluster", address], env=env,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert 0 < casestore.count(case, "SELECT COUNT(*) FROM files") < 40
    code, _, err = cli("triage", "--case", case, "--cluster", address)
    assert code in (0, 3), err
    assert "never recorded an end" in err
    assert differences(local, case) == []
    assert_custody_verifies(case)
    assert [e["action"] for e in custody(case) if e["action"] in ("triage.started", "triage.resumed")][:2] == \
        ["triage.started", "triage.resumed"]
