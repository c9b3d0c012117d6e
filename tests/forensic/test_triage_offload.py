"""Extraction in worker processes (Extractor.OFFLOAD): the same results as in the reading
threads, and a worker that raises, dies or hangs costs a warning for that file only."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import multiprocessing
from pathlib import Path

import pytest

from builders import tiny_jpeg, zip_file
from forensic.extractors.base import Extractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.case import Case
from forensic.intake import add_evidence
from forensic.pipeline import TriageOptions, triage_item
from tests.extractors import fixtures_photo as F

MAIN_PID = os.getpid()
HANG_MARKS: list[Path] = []     # where a hanging worker says it began and, were it let, ended

PHOTOS = {
    "good.jpg": F.good_jpeg(),
    "loop.jpg": F.exif_ifd_loop(),
    "truncated.jpg": F.exif_truncated_ifd(),
    "gps_zero.jpg": F.gps_zero_denominator(),
    "garbage.jpg": F.garbage_strings(),
    "noise.jpg": F.random_bytes_named_jpg(),
    "scan_cut.jpg": F.jpeg_truncated_scan(),
    "big_dims.png": F.png_huge_dimensions(),
    "photo.tif": F.good_tiff_file(),
    "empty.jpg": b"",
    "notes.txt": b"not a photo\n",
}


def _tree(root: Path, copies: int = 3) -> Path:
    for n in range(copies):                       # several batches' worth, folders in between
        d = root / f"DCIM{n}"
        d.mkdir(parents=True)
        for name, data in PHOTOS.items():
            (d / name).write_bytes(data)
        for i in range(40):
            (d / f"IMG_{i:03d}.jpg").write_bytes(tiny_jpeg(b"Cam", f"M{i}".encode()))
    zip_file(root / "sent.zip", [("a/good.jpg", PHOTOS["good.jpg"]), ("a/loop.jpg", PHOTOS["loop.jpg"]),
                                 ("a/readme.txt", b"hello")])
    return root


def _triage(tmp: Path, src: Path, name: str, **options):
    case = Case.init(tmp / name, f"C-{name}", "E")       # a case id each: on PostgreSQL, a schema each
    add_evidence(case, src, "x", None, None)
    stats = triage_item(case, "x", TriageOptions(workers=2, **options))
    return case, stats


def _dump(case: Case) -> dict:
    db = case.db
    files = [tuple(r) for r in db.execute(
        "SELECT id, locator, sha256, mime, magic, extension_mismatch, warnings FROM files ORDER BY id")]
    arts = [tuple(r) for r in db.execute(
        "SELECT a.id, f.locator, a.record_type, a.extractor, a.fields, a.corrupted, a.warnings "
        "FROM artifacts a JOIN files f ON f.id = a.file_id ORDER BY a.id")]
    stamps = [tuple(r) for r in db.execute(
        "SELECT artifact_id, file_id, label, utc, local, tz_known, tz_source, raw FROM timestamps ORDER BY rowid")]
    warns = [tuple(r) for r in db.execute("SELECT locator, stage, message FROM warnings ORDER BY id")]
    return {"files": files, "artifacts": arts, "timestamps": stamps, "warnings": warns}


def _children() -> list[int]:
    return [p.pid for p in multiprocessing.active_children()]


def test_worker_process_gives_the_same_case_as_the_reading_threads(tmp_path):
    src = _tree(tmp_path / "src")
    threads, s1 = _triage(tmp_path, src, "threads", extract_processes=0)
    procs, s2 = _triage(tmp_path, src, "procs", extract_processes=1)
    a, b = _dump(threads), _dump(procs)
    assert len(a["artifacts"]) > 3 * len(PHOTOS) + 100 and a["warnings"]
    assert a == b
    assert (s1.files, s1.artifacts, s1.warnings) == (s2.files, s2.artifacts, s2.warnings)
    assert _children() == []


def test_worker_process_with_assumed_zone_and_serial_reads(tmp_path):
    src = _tree(tmp_path / "src", copies=1)
    opts = {"extractor_options": {"assume_tz": "Europe/Madrid"}}
    a = _dump(_triage(tmp_path, src, "threads", extract_processes=0, **opts)[0])
    b = _dump(_triage(tmp_path, src, "procs", extract_processes=2, **opts)[0])
    assert a == b
    case = Case.init(tmp_path / "serial", "C-serial", "E")           # --workers 1, a process asked for
    add_evidence(case, src, "x", None, None)
    triage_item(case, "x", TriageOptions(workers=1, extract_processes=1, extractor_options=opts["extractor_options"]))
    assert _dump(case) == a


# -- hostile extractors -----------------------------------------------------------------
class _Probe(Extractor):
    """An OFFLOAD extractor that misbehaves on chosen names (only ever in a worker process)."""

    NAME, VERSION, OFFLOAD = "probe", "1", True

    def accepts(self, path, mime, head):
        return path.endswith(".jpg")

    def extract(self, item):
        if os.getpid() != MAIN_PID:
            if item.name.startswith("kill"):
                os.kill(os.getpid(), signal.SIGKILL)
            if item.name.startswith("hang"):
                began, woke = HANG_MARKS
                began.write_text(str(os.getpid()))
                time.sleep(60)
                woke.touch()
            if item.name.startswith("exit"):
                raise SystemExit(3)
        if item.name.startswith("raise"):
            raise RuntimeError(f"cannot parse {item.name}")
        if item.name.startswith("unpicklable"):
            yield ArtifactRecord("probe/x", {"n": len(item.data)}, source_ref=_Unpicklable())
            return
        yield ArtifactRecord("probe/x", {"n": len(item.data), "name": item.name})
        yield ExtractionWarning(self.NAME, f"looked at {item.name}")


class _Unpicklable(str):
    def __reduce__(self):
        raise TypeError("no pickling")


def _probe_tree(root: Path, bad: list[str], n: int = 120) -> Path:
    root.mkdir()
    for i in range(n):
        (root / f"IMG_{i:04d}.jpg").write_bytes(b"x" * (i + 1))
    for name in bad:
        (root / name).write_bytes(b"bad")
    return root


def _arts_and_warnings(case: Case) -> tuple[dict, dict]:
    arts = {r[0]: r[1] for r in case.db.execute(
        "SELECT f.name, a.fields FROM artifacts a JOIN files f ON f.id = a.file_id")}
    warns: dict[str, list[str]] = {}
    for name, message in case.db.execute(
            "SELECT f.name, w.message FROM warnings w JOIN files f ON f.locator = w.locator"):
        warns.setdefault(name, []).append(message)
    return arts, warns


def test_an_extractor_raising_in_the_worker_is_a_warning_as_in_threads(tmp_path):
    src = _probe_tree(tmp_path / "src", ["raise_1.jpg", "raise_2.jpg"])
    a = _dump(_triage(tmp_path, src, "threads", extract_processes=0, extractors=[_Probe()])[0])
    b = _dump(_triage(tmp_path, src, "procs", extract_processes=1, extractors=[_Probe()])[0])
    assert a == b
    messages = [m for _, _, m in b["warnings"]]
    assert "extractor failed: RuntimeError: cannot parse raise_1.jpg" in messages


@pytest.mark.parametrize("bad,why", [
    (["kill_me.jpg"], "exit code -9"),
    (["exit_now.jpg"], "exit code 3"),
    (["kill_a.jpg", "kill_b.jpg", "kill_c.jpg"], "exit code -9"),
])
def test_a_worker_that_dies_costs_a_warning_for_that_file_only(tmp_path, bad, why):
    src = _probe_tree(tmp_path / "src", bad)
    case, stats = _triage(tmp_path, src, "c", extract_processes=1, extractors=[_Probe()])
    arts, warns = _arts_and_warnings(case)
    for name in bad:
        assert name not in arts
        assert warns[name] == [f"extractor process failed on this file ({why}); not extracted"]
    assert len(arts) == 120                                      # every other file extracted
    assert all(w == [f"looked at {n}"] for n, w in warns.items() if n not in bad)
    assert stats.files == 120 + len(bad)
    assert _children() == []                                     # replaced and cleaned up


def test_a_worker_that_hangs_is_killed_after_the_timeout(tmp_path, monkeypatch):
    """The hung worker is killed, not waited for: it never wakes from its 60 s sleep."""
    began, woke = tmp_path / "hang.began", tmp_path / "hang.woke"
    monkeypatch.setitem(globals(), "HANG_MARKS", [began, woke])      # the forked worker inherits it
    src = _probe_tree(tmp_path / "src", ["hang.jpg"], n=40)
    case, _ = _triage(tmp_path, src, "c", extract_processes=1, extract_timeout=1.0, extractors=[_Probe()])
    arts, warns = _arts_and_warnings(case)
    assert warns["hang.jpg"] == ["extractor process failed on this file (no result after 1 s); not extracted"]
    assert len(arts) == 40
    assert _children() == []
    hung = int(began.read_text())
    assert hung != MAIN_PID and not _alive(hung) and not woke.exists()


def test_an_output_that_cannot_cross_to_the_parent_is_a_warning(tmp_path):
    src = _probe_tree(tmp_path / "src", ["unpicklable.jpg"], n=5)
    case, _ = _triage(tmp_path, src, "c", extract_processes=1, extractors=[_Probe()])
    arts, warns = _arts_and_warnings(case)
    assert len(arts) == 5 and "unpicklable.jpg" not in arts
    assert warns["unpicklable.jpg"][0].startswith("extractor output not transferable: TypeError")
    assert _children() == []


def test_worker_exits_when_the_triage_is_killed(tmp_path):
    """SIGKILL of the triage: its worker process sees the pipe close and ends (no orphan).
    The kill lands mid-run every time: the triage is held once its first batch is recorded
    (the fault-injection hook, hold:PATH), its worker process running."""
    src = tmp_path / "src"
    src.mkdir()
    photo = F.good_jpeg()
    for i in range(200):
        (src / f"IMG_{i:05d}.jpg").write_bytes(photo)
    exe = Path(sys.executable).parent / "forensic"
    case = tmp_path / "case"
    subprocess.run([str(exe), "case", "init", str(case), "--case-id", "C", "--examiner", "E"], check=True,
                   capture_output=True)
    subprocess.run([str(exe), "evidence", "add", str(src), "--case", str(case), "--id", "x"], check=True,
                   capture_output=True)
    hold = tmp_path / "held"
    env = dict(os.environ, FORENSIC_TRIAGE_BATCH="20", FORENSIC_TEST_TRIAGE_FAULT=f"hold:{hold}")
    proc = subprocess.Popen([str(exe), "triage", "--case", str(case), "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not hold.exists():
        if proc.poll() is not None:
            pytest.fail(f"the triage ended (exit {proc.returncode}) before it was held:\n{proc.stderr.read()}")
        time.sleep(0.01)
    children = _child_pids(proc.pid)
    assert children, "the triage started no worker process"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    deadline = time.monotonic() + 60                  # only how long to wait for them to go
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def _child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
