"""Hostile file names in the sample: a PDF whose name holds U+202E (RIGHT-TO-LEFT OVERRIDE) so
that it reads as a photo, and a file whose name is Latin-1 bytes, not UTF-8. The phone image
holds both names as bytes; triage lists them (the U+202E kept, the byte escaped, a warning);
``training check`` grades them and, when a case lacks them, says what was missed and why."""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import pytest
import pytsk3

from conftest import require_tools
from forensic.training.answer_key import shown_as
from forensic.training.build import (EXTRACTION_DEVICE_PREFIX, EXTRACTION_PREFIX, NOT_UTF8_NAME, RLO, SPOOFED_NAME,
                                     layout)

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SPOOFED_BYTES = b"foto_pasaporte\xe2\x80\xaegpj.exe"
DOWNLOAD = "media/0/Download/"


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def test_the_layout_has_both_names_and_the_extraction_only_the_spoofed_one():
    lay = layout(5)
    by_role = {f.role: f for f in lay.phone}
    spoofed, latin = by_role["spoofed name"], by_role["name not utf-8"]
    assert spoofed.rel == DOWNLOAD + SPOOFED_NAME and SPOOFED_NAME.encode() == SPOOFED_BYTES
    assert shown_as(SPOOFED_NAME) == "foto_pasaporteexe.jpg"
    assert spoofed.data.startswith(b"%PDF-1.4") and spoofed.data.rstrip().endswith(b"%%EOF")
    assert latin.rel.encode("utf-8", "surrogateescape") == DOWNLOAD.encode() + NOT_UTF8_NAME
    with pytest.raises(UnicodeDecodeError):
        NOT_UTF8_NAME.decode("utf-8")
    members = {m[0] for m in lay.extraction_members}
    assert EXTRACTION_PREFIX + spoofed.rel in members
    assert not any("recibo" in m for m in members)     # a ZIP without the UTF-8 flag reads names as cp437


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory):
    """A sample (seed 5): its phone and extraction triaged; and a second case of an extraction
    whose tool read names as text: the U+202E dropped, the Latin-1 name transcoded to UTF-8."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("hostile-names")
    sample, case = root / "sample", root / "case"
    assert _cli("sample-image", sample, "--seed", "5", "--quiet") == 0
    assert _cli("case", "init", case, "--case-id", "HN-5", "--examiner", "T", "--quiet") == 0
    for name in ("phone.raw", "extraction.zip"):
        assert _cli("evidence", "add", sample / name, "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)

    lay = layout(5)
    latin = next(f for f in lay.phone if f.role == "name not utf-8")
    as_text = root / "extraction-names-as-text.zip"
    with zipfile.ZipFile(sample / "extraction.zip") as src, zipfile.ZipFile(as_text, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            info.filename = info.filename.replace(RLO, "")
            dst.writestr(info, data)
        dst.writestr(EXTRACTION_PREFIX + DOWNLOAD + NOT_UTF8_NAME.decode("latin-1"), latin.data)
    texty = root / "case-names-as-text"
    assert _cli("case", "init", texty, "--case-id", "HN-5b", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", as_text, "--case", texty, "--quiet") == 0
    assert _cli("triage", "--case", texty, "--quiet") in (0, 3)
    key = json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))
    key["items"]["extraction"]["sha256"] = hashlib.sha256(as_text.read_bytes()).hexdigest()
    # the Latin-1 file, asked of this extraction too (the real one leaves it out)
    fact = next(f for f in key["facts"] if f["kind"] == "name_not_utf8")
    in_zip = EXTRACTION_DEVICE_PREFIX + fact["expected"]["path"][1:]   # as the case lists the extraction
    key["facts"].append(dict(fact, id="name_not_utf8-99", item="extraction",
                             expected=dict(fact["expected"], path=in_zip)))
    texty_key = root / "answer-key-names-as-text.json"
    texty_key.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return {"sample": sample, "case": case, "texty": texty, "texty_key": texty_key, "as_text": as_text}


def test_the_phone_image_holds_both_names_as_bytes(sample_case):
    lay = layout(5)
    want = {f.rel.rsplit("/", 1)[-1].encode("utf-8", "surrogateescape"): f.sha256 for f in lay.phone
            if f.role in ("spoofed name", "name not utf-8")}
    img = pytsk3.Img_Info(str(sample_case["sample"] / "phone.raw"))
    vs = pytsk3.Volume_Info(img)
    part = next(p for p in vs if b"userdata" in p.desc)
    fs = pytsk3.FS_Info(img, offset=part.start * vs.info.block_size)
    found = {}
    for f in fs.open_dir(path="/" + DOWNLOAD):
        raw = f.info.name.name
        if raw in want:
            found[raw] = hashlib.sha256(f.read_random(0, f.info.meta.size)).hexdigest()
            meta = f.info.meta                       # debugfs reached them by their bytes too
            assert (meta.uid, meta.gid) == (1023, 1023) and meta.atime == meta.ctime == meta.crtime, raw
    assert found == want and set(want) == {SPOOFED_BYTES, NOT_UTF8_NAME}
    with zipfile.ZipFile(sample_case["sample"] / "extraction.zip") as z:
        info = z.getinfo(EXTRACTION_PREFIX + DOWNLOAD + SPOOFED_NAME)
        assert info.flag_bits & 0x800                      # the name is flagged UTF-8: read as written


def test_the_answer_key_escapes_the_override_and_names_the_bytes(sample_case):
    text = (sample_case["sample"] / "answer-key.json").read_text(encoding="utf-8")
    md = (sample_case["sample"] / "answer-key.md").read_text(encoding="utf-8")
    assert RLO not in text and RLO not in md and "\\u202e" in md
    key = json.loads(text)
    spoofed = [f for f in key["facts"] if f["kind"] == "spoofed_name"]
    assert [f["item"] for f in spoofed] == ["phone", "extraction"]
    assert spoofed[0]["expected"]["path"] == "/" + DOWNLOAD + SPOOFED_NAME           # U+202E in the name
    assert spoofed[0]["expected"]["shown_as"] == "foto_pasaporteexe.jpg"
    latin = [f for f in key["facts"] if f["kind"] == "name_not_utf8"]
    assert [f["item"] for f in latin] == ["phone"]
    assert latin[0]["expected"]["path"] == "/" + DOWNLOAD + "recibo_dep\\xf3sito.txt"
    assert bytes.fromhex(latin[0]["expected"]["name_bytes_hex"]) == NOT_UTF8_NAME
    assert "| name_not_utf8-01 | phone | `/media/0/Download/recibo_dep\\xf3sito.txt` |" in md


def _results(case_dir, key_path) -> dict:
    from forensic.case import Case
    from forensic.training.check import check_case, load_key
    case = Case.open(case_dir)
    try:
        report = check_case(case, load_key(key_path), str(key_path))
    finally:
        case.close()
    return {r.fact["id"]: r for r in report.results}


def test_check_finds_both_on_a_correct_triage(forensic, sample_case):
    results = _results(sample_case["case"], sample_case["sample"] / "answer-key.json")
    mine = {i: r for i, r in results.items() if r.fact["kind"] in ("spoofed_name", "name_not_utf8")}
    assert {i: r.status for i, r in mine.items()} == {"spoofed_name-01": "found", "spoofed_name-02": "found",
                                                      "name_not_utf8-01": "found"}
    assert mine["spoofed_name-01"].detail == ("/media/0/Download/foto_pasaporte\\u202egpj.exe: application/pdf, "
                                              "extension .exe contradicts it")
    assert mine["name_not_utf8-01"].detail == ("/media/0/Download/recibo_dep\\xf3sito.txt: warning 'not valid "
                                               "UTF-8' recorded")
    # what the trainee sees: the names escaped, the warning listed
    files = forensic("files", "--case", sample_case["case"]).out
    assert RLO not in files and "foto_pasaporte\\u202egpj.exe" in files and "recibo_dep\\xf3sito.txt" in files
    warnings = forensic("warnings", "--case", sample_case["case"], "--json").jsonl()
    walk = [w["message"] for w in warnings if w["stage"] == "walk"]
    assert walk == ["file name is not valid UTF-8 (shown with \\x escapes)"]


def test_check_fails_both_when_names_were_read_as_text(forensic, sample_case):
    report = forensic("training", "check", sample_case["texty_key"], "--case", sample_case["texty"], "--json",
                      expect=None).json()
    wrong = {w["id"]: w for w in report["wrong"]}
    spoofed = wrong["spoofed_name-02"]["detail"]
    assert spoofed.startswith("the content is listed as /data/media/0/Download/foto_pasaportegpj.exe, "
                              "without the U+202E: the true name is "
                              "/data/media/0/Download/foto_pasaporte\\u202egpj.exe — ")
    assert "a file manager or a chat shows it as 'foto_pasaporteexe.jpg', a photo" in spoofed
    assert "A name crafted to look like a photo" in spoofed
    latin = wrong["name_not_utf8-99"]["detail"]
    assert latin.startswith("the content is listed as /data/media/0/Download/recibo_depósito.txt: the name "
                            "read as text, not as its bytes")
    assert "names must be read as bytes, not as shown" in latin
    text = forensic("training", "check", sample_case["texty_key"], "--case", sample_case["texty"],
                    expect=None).out
    assert RLO not in text
    line = next(x for x in text.splitlines() if x.startswith("WRONG    spoofed_name-02 "))
    # the trainer guide quotes that line (wrapped): it is what the check says
    guide = (Path(__file__).resolve().parents[2] / "docs" / "trainer-guide.md").read_text(encoding="utf-8")
    quoted = re.search(r"```\n(WRONG    spoofed_name-02 .*?)```", guide, re.S).group(1)
    assert " ".join(quoted.split()) == " ".join(line.split())


def test_check_misses_the_spoofed_file_when_it_is_not_in_the_evidence(forensic, sample_case, tmp_path):
    stripped = tmp_path / "extraction-without-it.zip"
    with zipfile.ZipFile(sample_case["sample"] / "extraction.zip") as src, zipfile.ZipFile(stripped, "w") as dst:
        for info in src.infolist():
            if RLO not in info.filename:
                dst.writestr(info, src.read(info))
    case = tmp_path / "case"
    assert _cli("case", "init", case, "--case-id", "HN-5c", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", stripped, "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    key = json.loads((sample_case["sample"] / "answer-key.json").read_text(encoding="utf-8"))
    key["items"]["extraction"]["sha256"] = hashlib.sha256(stripped.read_bytes()).hexdigest()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    results = _results(case, path)
    r = results["spoofed_name-02"]
    assert r.status == "missed"
    assert r.detail.startswith("no file /data/media/0/Download/foto_pasaporte\\u202egpj.exe (content SHA-256 ")
    assert "A name crafted to look like a photo" in r.detail


def test_check_says_when_the_name_warning_was_not_recorded(sample_case, tmp_path):
    key = json.loads((sample_case["sample"] / "answer-key.json").read_text(encoding="utf-8"))
    fact = next(f for f in key["facts"] if f["kind"] == "name_not_utf8")
    fact["expected"]["warning_contains"] = "a warning no tool writes"
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    r = _results(sample_case["case"], path)["name_not_utf8-01"]
    assert r.status == "wrong" and r.detail.startswith("/media/0/Download/recibo_dep\\xf3sito.txt listed, but no "
                                                       "warning that its name is a warning no tool writes — ")
    assert "names must be read as bytes, not as shown" in r.detail
