"""Red team: phone acquisitions (UFDR, Android .ab backups, vendor full-file-system archives)
built by a hostile owner or insider. Each test is one attack; see docs/threat-model.md."""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from forensic.sources import detect_format, open_source
from tests.forensic.test_android_backup import make_ab

NS = "http://pa.cellebrite.com/report/2.0"


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1_700_000_000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _paths(path: Path) -> tuple[dict[str, str], list[str]]:
    with open_source(path, detect_format(path), path.name) as src:
        files = {e.path: str(e.locator) for e in src.entries()}
        return files, list(src.warnings)


def test_a_ufdr_tagged_path_cannot_forge_lines_or_climb(tmp_path):
    """A device file whose name holds a newline (legal on Android and iOS) and U+202E, and a
    tagged path with ``..``: the report's path becomes the entry's path, so it must be as
    safe as any member name (control characters escaped) and normalised (no ``..``)."""
    report = f"""<?xml version="1.0" encoding="utf-8"?>
<project xmlns="{NS}"><taggedFiles>
  <file path="/sdcard/DCIM/a&#10;SHA-256: 0000&#13;\u202egpj.exe" id="f1">
    <metadata section="File"><item name="Local Path">files/a.bin</item></metadata></file>
  <file path="/private/var/mobile/Media/../../../../etc/passwd" id="f2">
    <metadata section="File"><item name="Local Path">files/b.bin</item></metadata></file>
</taggedFiles></project>"""
    ufdr = tmp_path / "phone.ufdr"
    with zipfile.ZipFile(ufdr, "w") as zf:
        zf.writestr("report.xml", report)
        zf.writestr("files/a.bin", b"a")
        zf.writestr("files/b.bin", b"b")
    files, _ = _paths(ufdr)
    by_member = {loc.rsplit(" › ", 1)[-1]: path for path, loc in files.items()}
    a, b = by_member["files/a.bin"], by_member["files/b.bin"]
    assert not any(ord(c) < 32 for c in a) and "\\x0a" in a and "\u202e" in a      # escaped, kept
    assert b == "/etc/passwd"                       # normalised: no ".." left to be re-read later
    assert ".." not in b


def test_an_ab_member_cannot_pass_for_another_apps_file(tmp_path):
    """A forged .ab (anyone can write one) where ``apps/com.evil/f/../../com.whatsapp/...``
    climbs out of its own package: normalised, it was listed as WhatsApp's msgstore.db, and
    WhatsApp's extractor read it as the victim's chats. Such a member keeps its member name."""
    ab = tmp_path / "phone.ab"
    ab.write_bytes(make_ab(_tar({
        "apps/com.evil/f/../../com.whatsapp/db/msgstore.db": b"SQLite format 3\x00forged",
        "apps/com.evil/f/../../../../data/data/com.whatsapp/databases/wa.db": b"forged",
        "shared/0/../../data/data/com.whatsapp/databases/axolotl.db": b"forged",
        "apps/com.whatsapp/db/msgstore.db": b"SQLite format 3\x00genuine",
    })))
    files, _ = _paths(ab)
    owned = {p: loc for p, loc in files.items() if "com.whatsapp" in p and p.startswith("/data/data/")}
    assert owned == {"/data/data/com.whatsapp/databases/msgstore.db": "phone.ab › apps/com.whatsapp/db/msgstore.db"}


def test_hostile_device_facts_are_escaped_in_the_terminal_and_intact_in_json(forensic, tmp_path):
    """A UFDR whose Device Info names the model ``[bold red]iPhone[/]``, a newline and a forged
    ``SHA-256:`` line, U+202E: on the terminal (stderr) the markup is shown as text and no line
    is forged; `--json` keeps the value as written."""
    model = "[bold red]iPhone 12[/]&#10;SHA-256: 0000\u202e"
    report = f"""<?xml version="1.0" encoding="utf-8"?>
<project xmlns="{NS}"><metadata section="Device Info">
<item name="DeviceInfoDetectedModel">{model}</item><item name="IMEI">356789101112131</item></metadata>
</project>"""
    ufdr = tmp_path / "phone.ufdr"
    with zipfile.ZipFile(ufdr, "w") as zf:
        zf.writestr("report.xml", report)
        zf.writestr("files/a.bin", b"a")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    added = forensic("evidence", "add", ufdr, "--case", case, "--id", "u")
    listed = forensic("evidence", "list", "--case", case)
    for err in (added.err, listed.err):
        assert "[bold red]iPhone 12[/]\\x0aSHA-256: 0000\\u202e" in err       # markup shown, controls escaped
        assert not any(line.lstrip().startswith("SHA-256: 0000") for line in err.splitlines())
    item, = forensic("evidence", "list", "--case", case, "--json").jsonl()
    assert item["device"]["model"] == "[bold red]iPhone 12[/]\nSHA-256: 0000\u202e"


def test_an_ab_member_named_twice_hides_neither(tmp_path):
    """A TAR may hold two members of one name (extracting it, the second overwrites the first):
    a forged .ab with two ``msgstore.db`` could hide the one the examiner reads. Both are
    listed, at the same device path, each with its own locator and content, the second with a
    warning."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for data in (b"first", b"second"):
            ti = tarfile.TarInfo("apps/com.whatsapp/db/msgstore.db")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    ab = tmp_path / "phone.ab"
    ab.write_bytes(make_ab(buf.getvalue()))
    with open_source(ab, detect_format(ab), ab.name) as src:
        got = [(e.path, str(e.locator), e.open().read(), e.warnings) for e in src.entries()]
    assert [g[0] for g in got] == ["/data/data/com.whatsapp/databases/msgstore.db"] * 2
    assert len({g[1] for g in got}) == 2 and [g[2] for g in got] == [b"first", b"second"]
    assert got[1][3] == ["duplicate member name (occurrence 2)"]


def test_vendor_records_stay_out_of_the_timeline(forensic, tmp_path):
    """Cellebrite's decoded records (a UFDR's report.xml, written by whoever made the file)
    are not our extraction: a vendor chat message must not enter `forensic timeline` as if
    one of our extractors had read it from the evidence."""
    from tests.extractors.chat.test_phone_dbs import IOS_SCHEMA, build, ios_rows
    from tests.forensic.test_ufdr import REPORT, make_ufdr
    ufdr = make_ufdr(tmp_path / "phone.ufdr", REPORT, build(tmp_path / "sms.db", IOS_SCHEMA, ios_rows()))
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", ufdr, "--case", case, "--id", "u")
    forensic("triage", "--case", case, expect=None)
    out = forensic("timeline", "--case", case, "--json").out
    assert "Hola" in out and "vendor says hello" not in out and "2024-03-14T09:01" not in out


def test_a_report_of_many_unknown_elements_is_read_in_flat_memory():
    """A report.xml padded with elements no reader uses (100,000 ``<x/>`` in
    ``sourceExtractions``: 1 MB): both readers kept every one in the tree (33 bytes of memory
    for each byte of report, so a 4 GB report, the cap, would need ~130 GB). Elements read or
    of no use are dropped from the tree as they end."""
    import tracemalloc

    from forensic.extractors.base import ExtractorInput
    from forensic.extractors.ufdr_report import UfdrReportExtractor
    from forensic.sources.ufdr import parse_report
    doc = (f'<project xmlns="{NS}"><sourceExtractions>' + '<x a="1"/>' * 100_000
           + '</sourceExtractions><metadata section="Device Info"><item name="IMEI">356789101112131</item>'
           '</metadata></project>').encode()
    tracemalloc.start()
    try:
        _mapping, device, _extraction, _problems = parse_report(io.BytesIO(doc))
        parsed_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        records = list(UfdrReportExtractor().extract(ExtractorInput("report.xml", "report.xml", "text/xml",
                                                                    len(doc), doc)))
        extracted_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert device == {"IMEI": "356789101112131"} and records == []
    assert parsed_peak < 8 << 20 and extracted_peak < 8 << 20, (parsed_peak, extracted_peak)
