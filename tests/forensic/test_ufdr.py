"""UFDR (Cellebrite report ZIP) and vendor full-file-system zips: files under device paths,
device facts on the item, Cellebrite's decoded records kept apart as vendor/*."""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.extractors.ufdr_report import UfdrReportExtractor
from forensic.sources import detect_format, open_source
from forensic.sources.ufdr import ReportError, parse_report
from tests.extractors.chat.test_phone_dbs import IOS_SCHEMA, build, ios_rows

SMS = "/private/var/mobile/Library/SMS/sms.db"

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<project xmlns="http://pa.cellebrite.com/report/2.0" id="p1" name="Case 1" reportVersion="7.60">
  <sourceExtractions><extractionInfo id="0" name="Full File System" type="FileSystem" index="0"/></sourceExtractions>
  <metadata section="Extraction Data">
    <item name="DeviceInfoExtractionStartDateTime" sourceExtraction="0"><![CDATA[14/03/2024 09:10:11(UTC+0)]]></item>
    <item name="ExtractionType" sourceExtraction="0">Full File System</item>
  </metadata>
  <metadata section="Device Info">
    <item name="DeviceInfoDetectedModel" sourceExtraction="0">iPhone 12</item>
    <item name="IMEI" sourceExtraction="0">356789101112131</item>
    <item name="DeviceInfoOSVersion" sourceExtraction="0">16.3</item>
  </metadata>
  <taggedFiles>
    <file fs="Apple" path="/private/var/mobile/Library/SMS/sms.db" size="1" id="f1" deleted="Intact">
      <accessInfo><timestamp name="ModifyTime">2024-03-14T09:00:00+00:00</timestamp></accessInfo>
      <metadata section="File"><item name="Local Path"><![CDATA[files\\Database\\sms.db]]></item></metadata>
    </file>
    <file fs="Apple" path="/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG" id="f2">
      <metadata section="File"><item name="Local Path">files/Image/IMG_0001.JPG</item></metadata>
    </file>
  </taggedFiles>
  <decodedData>
    <modelType type="Chat">
      <model type="Chat" id="c1" deleted_state="Intact" decoding_confidence="High">
        <field name="Source" type="String"><value type="String">WhatsApp</value></field>
        <multiModelField name="Messages">
          <model type="InstantMessage" id="m1" deleted_state="Intact">
            <field name="Body" type="String"><value type="String">vendor says hello</value></field>
            <field name="TimeStamp" type="TimeStamp"><value>2024-03-14T09:01:00.000+00:00</value></field>
            <modelField name="From" type="Party"><model type="Party" id="p9">
              <field name="Identifier" type="String"><value type="String">+34600111222</value></field>
            </model></modelField>
          </model>
          <model type="InstantMessage" id="m2" deleted_state="Deleted">
            <field name="Body" type="String"><value type="String">vendor deleted one</value></field>
          </model>
        </multiModelField>
      </model>
    </modelType>
    <modelType type="Contact">
      <model type="Contact" id="k1"><field name="Name" type="String"><value>Dana Moreau</value></field></model>
    </modelType>
    <modelType type="Call">
      <model type="Call" id="x1"><field name="Direction" type="String"><value>Incoming</value></field></model>
    </modelType>
  </decodedData>
</project>
"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<project xmlns="http://pa.cellebrite.com/report/2.0"><metadata section="Device Info">
<item name="IMEI">&lol2;</item></metadata></project>
"""


def make_ufdr(path: Path, report: str, sms_db: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("report.xml", report)
        zf.writestr("files/Database/sms.db", sms_db)
        zf.writestr("files/Image/IMG_0001.JPG", b"\xff\xd8\xff\xe0 not really a photo")
        zf.writestr("files/Other/untagged.txt", b"x")
    return path


@pytest.fixture(scope="module")
def sms_db(tmp_path_factory) -> bytes:
    return build(tmp_path_factory.mktemp("db") / "sms.db", IOS_SCHEMA, ios_rows())


def test_ufdr_files_under_device_paths(tmp_path, sms_db):
    ufdr = make_ufdr(tmp_path / "phone.ufdr", REPORT, sms_db)
    assert detect_format(ufdr) == "ufdr"
    with open_source(ufdr, "ufdr", ufdr.name) as src:
        files = {e.path: str(e.locator) for e in src.entries()}
        assert src.warnings == []
        assert src.details["device"] == {
            "model": "iPhone 12", "imei": "356789101112131", "os_version": "16.3",
            "cellebrite": {"DeviceInfoDetectedModel": "iPhone 12", "IMEI": "356789101112131",
                           "DeviceInfoOSVersion": "16.3"}}
        assert src.details["extraction"]["ExtractionType"] == "Full File System"
        assert src.details["extraction"]["sources"][0]["type"] == "FileSystem"
    assert files[SMS] == "phone.ufdr › files/Database/sms.db"
    assert files["/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG"] == "phone.ufdr › files/Image/IMG_0001.JPG"
    assert files["files/Other/untagged.txt"] == "phone.ufdr › files/Other/untagged.txt"


def test_ufdr_triaged_vendor_records_apart(forensic, tmp_path, sms_db):
    ufdr = make_ufdr(tmp_path / "phone.ufdr", REPORT, sms_db)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", ufdr, "--case", case, "--id", "ufdr")
    forensic("triage", "--case", case, expect=None)
    item = forensic("evidence", "list", "--case", case, "--json").jsonl()[0]
    assert item["format"] == "ufdr" and item["device"]["imei"] == "356789101112131"
    assert item["extraction"]["ExtractionType"] == "Full File System"
    assert "iPhone 12, IMEI 356789101112131" in forensic("evidence", "list", "--case", case).err
    messages = forensic("messages", "--case", case, "--json").jsonl()
    bodies = {m["body"] for m in messages}
    assert "Hola, ¿mañana?" in bodies                         # ours, from sms.db at its device path
    assert not {"vendor says hello", "vendor deleted one"} & bodies
    assert {m["source"]["path"] for m in messages} == {SMS}
    assert "Dana Moreau" not in forensic("contacts", "--case", case, "--json").out
    assert "Incoming" not in forensic("calls", "--case", case, "--json").out
    from forensic.case import Case
    from forensic.store import artifacts
    c = Case.open(case)
    vendor = {r.record_type: r for r in artifacts.of_item(c.db, "ufdr") if r.record_type.startswith("vendor/")}
    msgs = [r for r in artifacts.of_item(c.db, "ufdr", "vendor/chat-message")]
    assert set(vendor) == {"vendor/chat", "vendor/chat-message", "vendor/contact", "vendor/call"}
    assert [m.fields["fields"]["Body"] for m in msgs] == ["vendor says hello", "vendor deleted one"]
    assert msgs[0].fields["vendor"] == "cellebrite" and msgs[0].fields["parent"]["vendor_id"] == "c1"
    assert msgs[0].fields["fields"]["From"]["Identifier"] == "+34600111222"
    assert msgs[0].fields["location"]["model_id"] == "m1" and msgs[0].locator == "phone.ufdr › report.xml"
    assert vendor["vendor/contact"].fields["fields"]["Name"] == "Dana Moreau"


def test_billion_laughs_refused(tmp_path, sms_db):
    with pytest.raises(ReportError, match="DTD or entities"):
        parse_report(io.BytesIO(LAUGHS.encode()))
    ufdr = make_ufdr(tmp_path / "evil.ufdr", LAUGHS, sms_db)
    assert detect_format(ufdr) == "ufdr"
    with open_source(ufdr, "ufdr", ufdr.name) as src:
        paths = [e.path for e in src.entries()]
        assert any("report.xml refused" in w for w in src.warnings)
    assert "files/Database/sms.db" in paths                   # listed under its member name
    data = LAUGHS.encode()
    out = list(UfdrReportExtractor().extract(ExtractorInput("report.xml", "report.xml", "text/xml", len(data), data)))
    assert [type(o) for o in out] == [ExtractionWarning] and "refused" in out[0].message


def test_huge_or_broken_report_refused(tmp_path):
    with pytest.raises(ReportError, match="larger than 1,000 bytes"):
        parse_report(io.BytesIO(REPORT.encode()), max_bytes=1000)
    with pytest.raises(ReportError, match="not well-formed"):
        parse_report(io.BytesIO(REPORT.encode()[:1500]))
    data = REPORT.encode()[: REPORT.index("<modelType type=\"Contact\">") + 40]
    out = list(UfdrReportExtractor().extract(ExtractorInput("report.xml", "report.xml", "text/xml", len(data), data)))
    records = [o for o in out if isinstance(o, ArtifactRecord)]
    # a chat's messages are yielded as they are read, the chat after them
    assert [r.record_type for r in records] == ["vendor/chat-message", "vendor/chat-message", "vendor/chat"]
    assert records[2].fields["fields"] == {"Source": "WhatsApp", "Messages": {"count": 2}}
    assert "damaged" in out[-1].message


def test_vendor_full_file_system_zip_mapped(tmp_path, sms_db):
    z = tmp_path / "graykey.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Dump/private/var/mobile/Library/SMS/sms.db", sms_db)
        zf.writestr("Dump/data/user/0/com.whatsapp/databases/wa.db", b"x")
    assert detect_format(z) == "zip"
    with open_source(z, "zip", z.name) as src:
        paths = {e.path: str(e.locator) for e in src.entries()}
    assert paths[SMS] == "graykey.zip › Dump/private/var/mobile/Library/SMS/sms.db"
    assert "/data/data/com.whatsapp/databases/wa.db" in paths
    tar = tmp_path / "ffs.tar"
    with tarfile.open(tar, "w") as tf:
        ti = tarfile.TarInfo("filesystem1/private/var/mobile/Library/SMS/sms.db")
        ti.size = len(sms_db)
        tf.addfile(ti, io.BytesIO(sms_db))
    with open_source(tar, detect_format(tar), tar.name) as src:
        assert [(e.path, str(e.locator)) for e in src.entries()] == [
            (SMS, "ffs.tar › filesystem1/private/var/mobile/Library/SMS/sms.db")]
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("photos/a.jpg", b"x")
    with open_source(plain, "zip", plain.name) as src:
        assert [e.path for e in src.entries()] == ["photos/a.jpg"]     # an ordinary zip as it was


def test_logical_extraction_folder_mapped(tmp_path, sms_db):
    db = tmp_path / "ext" / "Dump" / "data" / "user" / "0" / "com.whatsapp" / "databases" / "wa.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"x")
    (tmp_path / "ext" / "notes.txt").write_bytes(b"n")
    folder = tmp_path / "ext"
    with open_source(folder, detect_format(folder), "ext") as src:
        paths = {e.path: str(e.locator) for e in src.entries() if e.kind == "file"}
    assert paths == {"/data/data/com.whatsapp/databases/wa.db":
                     "ext › /Dump/data/user/0/com.whatsapp/databases/wa.db",
                     "/notes.txt": "ext › /notes.txt"}
    plain = tmp_path / "plain"
    (plain / "data").mkdir(parents=True)
    (plain / "data" / "a.txt").write_bytes(b"a")
    with open_source(plain, "directory", "plain") as src:
        assert [e.path for e in src.entries() if e.kind == "file"] == ["/data/a.txt"]
