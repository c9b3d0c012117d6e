"""Red team: `forensic triage --cluster` against a worker that reads other evidence and a
worker (or scheduler) that returns what it was not asked for; see docs/threat-model.md."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from forensic.cluster import PieceTask, fingerprint, read_piece
from forensic.errors import SourceError
from forensic.pipeline import TriageOptions

MIB = 1 << 20


def _card(path: Path, fill: int) -> Path:
    """An SD card's raw image as a camera formats it: an MBR, then nothing up to the first
    partition at 4 MiB; two cards of one model differ only past the first MiB."""
    mbr = bytearray(512)
    mbr[446:462] = bytes([0, 0, 0, 0, 0x0C, 0, 0, 0]) + (8192).to_bytes(4, "little") + (8192).to_bytes(4, "little")
    mbr[510:512] = b"\x55\xaa"
    with open(path, "wb") as fh:
        fh.write(mbr)
        fh.truncate(64 * MIB)                       # sparse: larger than the 16 MiB sampled
        fh.seek(4 * MIB)
        fh.write(bytes([fill]) * (4 * MIB))         # its own files, past the first MiB
    return path


def test_a_path_map_to_another_card_of_the_same_model_is_refused(tmp_path):
    """The identity check compared the size and the first MiB: a worker mapped to the image of
    another card of the same model (same size, same MBR, different photos) passed it, and the
    coordinator stored and signed that card's files as this one's."""
    mine = _card(tmp_path / "card1.dd", 0x11)
    other = _card(tmp_path / "card2.dd", 0x22)
    assert os.path.getsize(mine) == os.path.getsize(other)
    opts = TriageOptions(workers=1, extractors=[], extract_processes=0)
    task = PieceTask("card1", str(other), "raw", fingerprint(mine), opts, 0, 1)
    with pytest.raises(SourceError, match="not the evidence"):
        read_piece(task, {}, None)


def test_the_last_mib_is_checked_too(tmp_path):
    """An E01 keeps its acquisition hashes at its end: an image whose end differs (another
    acquisition, a truncated and padded copy) is other evidence."""
    mine = _card(tmp_path / "a.dd", 0x11)
    other = tmp_path / "b.dd"
    other.write_bytes(mine.read_bytes()[:-1] + b"\x01")
    assert os.path.getsize(other) > 16 * MIB
    assert fingerprint(mine) != fingerprint(other)


def test_the_same_evidence_passes(tmp_path):
    mine = _card(tmp_path / "a.dd", 0x11)
    copy = tmp_path / "copy.dd"
    copy.write_bytes(mine.read_bytes())
    assert fingerprint(mine) == fingerprint(copy)


def _case(root: Path, items: dict[str, Path]) -> Path:
    import contextlib
    import io

    from forensic.cli.main import main
    case = root / "case"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["case", "init", str(case), "--case-id", "RT4", "--examiner", "E"]) == 0
        for item, path in items.items():
            assert main(["evidence", "add", str(path), "--case", str(case), "--id", item]) == 0
    return case


def test_a_result_for_another_item_is_refused(tmp_path):
    """What a worker returns was stored as the piece asked for: a result for another item (a
    worker, or a scheduler, answering one task with another's result) was stored under this
    item's triage, its files rows keeping the other item's name: item A's triage wrote item
    B's files. The coordinator now checks the item and piece of what comes back."""
    distributed = pytest.importorskip("distributed")
    import casestore
    from builders import write_tree

    from forensic.case import Case
    from forensic.cluster import Cluster, _Submitted

    a = write_tree(tmp_path / "a", {"x.txt": b"item a\n"})
    b = write_tree(tmp_path / "b", {"y.txt": b"item b\n", "z.txt": b"more\n"})
    case_dir = _case(tmp_path, {"A": a, "B": b})
    opts = TriageOptions(workers=1, extractors=[], extract_processes=0)
    forged = read_piece(PieceTask("B", str(b), "directory", fingerprint(b), opts, 0, 1), {}, None)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", scheduler_port=0, dashboard_address=":0") as lc:
        with Cluster(lc.scheduler_address) as runner:
            case = Case.open(case_dir)
            runner.items["A"] = _Submitted([runner.client.submit(lambda: forged, pure=False)], [])
            with pytest.raises(SourceError, match="another item"):
                runner.triage_item(case, "A", opts)
    assert casestore.count(case_dir, "SELECT COUNT(*) FROM files") == 0


@pytest.mark.parametrize("address, exposed", [("tcp://127.0.0.1:8786", False), ("tcp://localhost:8786", False),
                                              ("tcp://[::1]:8786", False), ("tls://10.0.0.5:8786", False),
                                              ("tcp://0.0.0.0:8786", False), ("tcp://127.0.0.2:8786", False),
                                              ("tcp://10.0.0.5:8786", True), ("tcp://lab-sched:8786", True),
                                              ("tcp://[2001:db8::1]:8786", True)])
def test_which_addresses_are_plain_tcp_off_this_machine(address, exposed):
    from forensic.cluster import exposed as is_exposed
    assert is_exposed(address) is exposed


def test_a_plain_tcp_scheduler_on_another_machine_is_warned_of(tmp_path, monkeypatch):
    """``--cluster tcp://10.0.0.5:8786`` said nothing: Dask's messages are pickles, so the
    scheduler (or a machine posing as it) can run code on the coordinator, which holds the
    examiner's signing key, and the tasks carry an item's password in the clear."""
    import contextlib
    import io

    import forensic.cluster
    from forensic.cli.main import main
    monkeypatch.setattr(forensic.cluster, "CONNECT_TIMEOUT", 1)
    case = _case(tmp_path, {"A": _card(tmp_path / "a.dd", 1)})
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["triage", "--case", str(case), "--cluster", "tcp://192.0.2.1:9"])    # TEST-NET: no one
    assert code == 2
    text = " ".join(err.getvalue().split())
    assert "unencrypted" in text and "tls://" in text


def test_a_path_map_of_the_root_keeps_the_path_whole():
    """``--path-map /=/srv/mirror`` (the coordinator's whole tree under one folder on the
    workers) sent the workers to ``/srv/mirrormnt/...``: the root's separator was cut off."""
    from forensic.cluster import map_path, parse_path_map
    assert map_path(Path("/mnt/ev/x.img"), [parse_path_map("/=/srv/mirror")]) == Path("/srv/mirror/mnt/ev/x.img")
    assert map_path(Path("/mnt/ev"), [parse_path_map("/mnt/ev/=/srv/")]) == Path("/srv")
    assert map_path(Path("/mnt/ev/a/b.E01"), [parse_path_map("/mnt/ev=/srv")]) == Path("/srv/a/b.E01")
