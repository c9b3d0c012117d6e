"""The same case on both store backends (issue 21, "the same answers"): one multi-item case
(an ext4 image, a FAT image with a deleted file, a phone folder with an SMS database, a ZIP,
a damaged photo) triaged once into a SQLite store and once into a PostgreSQL one gives the
same files, hashes, records (``record_sha256``), timestamps and warnings, and the custody
log of each verifies, deep, and vouches for the same rows. Runs in either test run (it makes
its SQLite case and its PostgreSQL case itself)."""
from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from forensic.case import Case
from forensic.store import artifacts as store_artifacts, files as store_files, warnings as store_warnings
from tests import casestore
from tests.builders import ext4_image, fat_image, tiny_jpeg, write_tree, zip_file
from tests.cluster.storecompare import differences
from tests.extractors.chat.test_phone_dbs import ANDROID_SCHEMA, android_rows, build


def cli(*args) -> tuple[int, str, str]:
    from forensic.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("evidence")
    ext = {f"/DCIM/IMG_{i:03d}.jpg": tiny_jpeg(b"Maker", f"M{i}".encode()) for i in range(5)}
    ext.update({f"/docs/f{i:02d}.bin": bytes([i]) * (700 + 31 * i) for i in range(20)})
    ext["/DCIM/broken.jpg"] = tiny_jpeg()[:60]                     # a photo cut short: a warning
    fat = {"/DOCS/A.TXT": b"alpha\n", "/DOCS/B.TXT": b"beta\n" * 40, "/PHOTOS/P1.JPG": tiny_jpeg(b"FatCam", b"F1")}
    phone = write_tree(tmp / "phone", {"notes/readme.txt": b"hello\n", "Pictures/not-a-photo.jpg": b"%PDF-1.4\n",
                                       "WhatsApp Chat with Ana.txt": b"12/03/2023, 14:05 - Ana: see you at 6\n"})
    sms = phone / "data/data/com.android.providers.telephony/databases"
    sms.mkdir(parents=True)
    build(sms / "mmssms.db", ANDROID_SCHEMA, android_rows(12))
    members = [(f"m/{i}.txt", f"member {i}\n".encode()) for i in range(6)] + [("m/p.jpg", tiny_jpeg())]
    return [ext4_image(tmp, ext, size_mib=8), fat_image(tmp, fat, deleted=("/DOCS/A.TXT",), size_mib=8, fat=12),
            phone, zip_file(tmp / "cloud.zip", members)]


def triaged(root: Path, evidence: list[Path], *store: str) -> Path:
    case = root / "case"
    code, _, err = cli("case", "init", case, "--case-id", "BOTH-1", "--examiner", "E", *store)
    assert code == 0, err
    for n, path in enumerate(evidence):
        code, _, err = cli("evidence", "add", path, "--case", case, "--id", f"item{n}")
        assert code == 0, err
    code, _, err = cli("triage", "--case", case)
    assert code in (0, 3), err
    return case


@pytest.fixture(scope="module")
def cases(evidence, tmp_path_factory, pg_server) -> dict[str, Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("FORENSIC_STORE", raising=False)
        sqlite = triaged(tmp_path_factory.mktemp("sqlite"), evidence)
        postgresql = triaged(tmp_path_factory.mktemp("postgresql"), evidence, "--store", pg_server.new_database())
    assert not casestore.is_postgres(sqlite) and casestore.is_postgres(postgresql)
    return {"sqlite": sqlite, "postgresql": postgresql}


def answers(case: Path) -> dict:
    """What the store holds, by location (ids and times of the run left out)."""
    c = Case.open(case)
    try:
        files = {(f.item, f.locator): (f.sha256, f.md5, f.size, f.mime, f.deleted, f.extension_mismatch)
                 for f in store_files.listing(c.db)}
        records = sorted((item, rtype, locator, digest, row, times)
                         for _, item, rtype, locator, digest, row, times in store_artifacts.record_hashes(c.db))
        rows = sorted((item, locator, row) for _, item, locator, _, _, row in store_artifacts.file_hashes(c.db))
        warnings = sorted((w.item, w.locator, w.stage, w.message) for w in store_warnings.listing(c.db))
        return {"files": files, "records": records, "rows": rows, "warnings": warnings}
    finally:
        c.close()


def vouched(case: Path) -> list:
    """What the custody log says was stored: each leaf's action, subject and hashes."""
    out = []
    for line in (case / "custody.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["action"] in ("file.recorded", "artifact.recorded", "artifact.linked"):
            out.append((e["action"], json.dumps(e["subject"], sort_keys=True), e["sha256"],
                        json.dumps({k: v for k, v in e["details"].items() if k != "artifact_id"}, sort_keys=True)))
    return sorted(out)


def test_both_backends_find_the_same(cases):
    a, b = answers(cases["sqlite"]), answers(cases["postgresql"])
    assert len(a["files"]) > 40 and len(a["records"]) >= 12 and a["warnings"]
    assert any(loc and loc.endswith("broken.jpg") for _, loc, _, _ in a["warnings"])
    assert {r[1] for r in a["records"]} >= {"photo/exif", "chat/message"}
    assert a == b
    assert differences(cases["sqlite"], cases["postgresql"]) == []


def test_both_custody_logs_verify_deep_and_vouch_for_the_same_rows(cases):
    for case in cases.values():
        code, out, err = cli("custody", "verify", "--case", case, "--deep", "--json")
        assert code == 0, out + err
        assert json.loads(out)["ok"] is True
    assert vouched(cases["sqlite"]) == vouched(cases["postgresql"])
    assert len(vouched(cases["sqlite"])) > 50


@pytest.mark.parametrize("listing", [("files", "--json"), ("photos", "--json"), ("warnings", "--json"),
                                     ("evidence", "list", "--json")])
def test_listings_say_the_same(cases, listing):
    def lines(case: Path) -> list[dict]:
        code, out, err = cli(*listing, "--case", case)
        assert code in (0, 3), err
        rows = [json.loads(x) for x in out.splitlines()]
        for r in rows:
            for key in ("id", "file_id", "artifact_id", "added_at", "triaged_at", "at", "source_path", "source"):
                r.pop(key, None)
        return rows
    assert lines(cases["sqlite"]) == lines(cases["postgresql"])


# what differs from one run to the next: times, and the hashes and ids made from them
_RUN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?|\b[0-9a-f]{64}\b"
                  r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# the bundle's data that no time reaches: the same bytes
_SAME_BYTES = ("data/evidence/", "data/report/thumbnails/", "data/files.jsonl", "data/messages.jsonl",
               "data/timeline.csv", "data/geotags.")


def bundle(case: Path, out: Path) -> dict[str, bytes]:
    """Tag the photos of both images (the damaged one too), export that tag; the bundle's
    members, by name inside the bundle's folder."""
    files = [json.loads(x) for x in cli("files", "--case", case, "--json")[1].splitlines()]
    wanted = [f["locator"] for f in files if f["path"].startswith(("/DCIM/", "/PHOTOS/"))]
    assert len(wanted) == 7
    code, _, err = cli("tag", "add", "--case", case, "--tag", "court", *wanted, "--note", "found <here>")
    assert code == 0, err
    code, _, err = cli("export", "--case", case, "--out", out, "--tag", "court", "--no-pdf",
                       "--recipient", "Prosecutor P")
    assert code in (0, 3), err
    code, _, err = cli("verify-bundle", out)
    assert code == 5, err            # intact; unsigned, so no examiner's key to check it against
    with zipfile.ZipFile(out) as z:
        return {name.split("/", 1)[1]: z.read(name) for name in z.namelist()}


def custody_said(excerpt: bytes) -> list[dict]:
    """The excerpt's entries without what the run gives them (times, hashes, host, tool) and
    without the case's store (recorded at case init, on PostgreSQL)."""
    out = []
    for line in excerpt.splitlines():
        e = json.loads(line)
        for key in ("at", "hash", "prev", "host", "tool"):
            e.pop(key)
        e["details"].pop("seconds", None)
        e["details"].pop("store", None)
        out.append(json.loads(_RUN.sub("T", json.dumps(e))))
    return out


def test_both_backends_export_the_same_bundle(cases, tmp_path):
    """The bundle's data is the same bytes on both backends but for times and the hashes that
    cover them (the custody excerpt's chain, the manifests, the bundle's digests)."""
    a = bundle(cases["sqlite"], tmp_path / "sqlite.zip")
    b = bundle(cases["postgresql"], tmp_path / "postgresql.zip")
    assert sorted(a) == sorted(b)
    same = [n for n in a if n.startswith(_SAME_BYTES)]
    assert len([n for n in same if n.startswith("data/evidence/")]) == 7 and "data/files.jsonl" in same
    assert [n for n in same if a[n] != b[n]] == []
    assert custody_said(a["data/custody/entries.jsonl"]) == custody_said(b["data/custody/entries.jsonl"])
    rest = set(a) - set(same) - {"data/custody/entries.jsonl", "data/custody/checkpoint.json", "bag-info.txt"}
    assert {"data/report/index.html", "data/case.jsonld", "data/bundle.json"} <= rest
    assert [n for n in sorted(rest) if _RUN.sub("T", a[n].decode()) != _RUN.sub("T", b[n].decode())] == []
