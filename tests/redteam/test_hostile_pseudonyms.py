"""Red team, issue 17: a marked victim's name and number written the ways evidence and people
write them (joined "AnaLima", NFD from a Mac's file names, fullwidth, zero-width characters,
Cyrillic look-alikes, Unicode dashes, digits after a name) must be replaced in what a
pseudonymised bundle generates, and found in evidence bytes (which are then withheld); the key
file is a new 0600 file, bound to its header, with a fresh salt and nonce each time.

Real parts only: the real :class:`Pseudonyms`, real scrypt and AES-GCM."""
from __future__ import annotations

import base64
import json
import os
import stat
import unicodedata

import pytest

from forensic.errors import UsageError
from forensic.exporters.pseudonyms import Person, Pseudonyms, read_key, write_key

ANA = "+34612345678"


@pytest.fixture(scope="module")
def p() -> Pseudonyms:
    return Pseudonyms([Person("Victim-A", "victim", ANA, names=["Ana Lima", "Sofía Moreno"], numbers=[ANA],
                              emails=["ana@example.org"], user_ids=["analima77"])])


def _no_trace(p: Pseudonyms, shown: str) -> None:
    folded = unicodedata.normalize("NFKC", shown).casefold()
    for word in ("ana", "lima", "sofia", "sofía", "moreno", "612345678", "612", "example.org"):
        assert word not in folded.replace(" ", ""), (shown, word)


@pytest.mark.parametrize("written", [
    "AnaLima.jpg", "@AnaLima hi", "ANALIMA", "sofiamoreno",                  # joined, as in file names, handles
    "ana.lima1990@gmail.com", "Moreno2021", "Ana%20Lima",                    # digits right after a name
    unicodedata.normalize("NFD", "Sofía Moreno"),                              # a Mac's file names are NFD
    unicodedata.normalize("NFD", "Sofía"),
    "Ａｎａ Ｌｉｍａ", "ａｎａ＠ｅｘａｍｐｌｅ．ｏｒｇ",                              # fullwidth
    "A\u200bna Li\u200dma", "Ana\u00adLima", "Ana\u2060Lima",                 # zero-width, soft hyphen
    "\u0410na Lima", "Ana Li\u043c\u0430",                                     # Cyrillic look-alikes
    "+34 612\u2013345\u2013678", "612_345_678", "６１２３４５６７８",               # en dash, underscore, fullwidth
    "\u0666\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",                  # Arabic-Indic digits
], ids=lambda s: s.encode("unicode_escape").decode()[:30])
def test_a_disguised_trace_is_replaced(p, written):
    shown = p.text(f"from {written} today")
    assert "Victim-A" in shown
    _no_trace(p, shown)


def test_replacing_leaves_other_text_alone(p):
    """Folding only where it reveals a person: an emoji's joiners, other Cyrillic words,
    fullwidth text about someone else, a name inside a longer one stay as written."""
    for text in ["👨\u200d👩\u200d👧 family", "Анастасия", "Ｂｒｕｎｏ", "Anabel Limas", "ticket 1612345678",
                 "bananalima"]:
        assert p.text(text) == text


@pytest.mark.parametrize("data", [
    b"IMG_AnaLima_2021.jpg", "Sofía Moreno".encode("utf-8"), unicodedata.normalize("NFD", "Sofía Moreno").encode(),
    "+34 612\u2013345\u2013678".encode(), b"612_345_678", "612\u00a0345\u00a0678".encode(),
], ids=lambda b: b.decode("utf-8", "replace")[:20])
def test_evidence_bytes_holding_a_disguised_trace_are_found(p, data):
    assert p.found_in(data)


def test_the_check_of_generated_members_finds_a_joined_name(p):
    assert p.found_in(b'{"name": "AnaLima.jpg"}', bounded=True)


# -- the key file ------------------------------------------------------------------------------------

PASS = b"correct horse battery staple"


def _key(tmp_path, p, name="b.zip"):
    path = tmp_path / (name + ".pseudonyms.key")
    write_key(path, p, PASS, "C-1", tmp_path / name, "ab" * 32, "2026-01-01T00:00:00Z")
    return path


def test_the_key_file_is_new_private_and_fresh_each_time(tmp_path, p):
    one, two = _key(tmp_path, p, "one.zip"), _key(tmp_path, p, "two.zip")
    assert stat.S_IMODE(os.stat(one).st_mode) == 0o600
    a, b = json.loads(one.read_bytes()), json.loads(two.read_bytes())
    assert a["nonce"] != b["nonce"] and a["kdf"]["salt"] != b["kdf"]["salt"]      # no nonce or key reuse
    assert b"Ana" not in one.read_bytes() and b"612345678" not in one.read_bytes()
    with pytest.raises((UsageError, FileExistsError, OSError)):
        write_key(one, p, PASS, "C-1", tmp_path / "one.zip", "ab" * 32, "x")        # never overwritten
    assert read_key(one, PASS)["persons"][0]["names"] == ["Ana Lima", "Sofía Moreno"]


@pytest.mark.parametrize("edit", ["case_id", "bundle_sha256", "bundle", "ciphertext", "salt"])
def test_an_edited_key_file_does_not_decrypt(tmp_path, p, edit):
    path = _key(tmp_path, p)
    doc = json.loads(path.read_bytes())
    if edit == "ciphertext":
        raw = bytearray(base64.b64decode(doc["ciphertext"]))
        raw[0] ^= 1
        doc["ciphertext"] = base64.b64encode(raw).decode()
    elif edit == "salt":
        doc["kdf"]["salt"] = base64.b64encode(b"\x00" * 16).decode()
    else:
        doc[edit] = doc[edit] + "0"
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError):
        read_key(path, PASS)


def test_a_hostile_key_file_cannot_ask_for_gigabytes(tmp_path, p):
    """scrypt needs 128 * r * n bytes: a key file asking n=2**20, r=32 (4 GiB) is refused
    before anything is derived."""
    path = _key(tmp_path, p)
    doc = json.loads(path.read_bytes())
    doc["kdf"].update(n=2 ** 20, r=32, p=16)
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="out of range"):
        read_key(path, PASS)


@pytest.mark.parametrize("damage", ["truncated", "not json", "a list", "kdf a string", "no nonce", "empty"])
def test_a_damaged_key_file_is_a_clear_error(tmp_path, p, damage):
    """A key file cut short in a copy, overwritten, or hand-edited into another shape: a usage
    error naming the file, never a traceback or a decryption attempt on garbage."""
    path = _key(tmp_path, p)
    data = path.read_bytes()
    doc = json.loads(data)
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not json":
        path.write_bytes(b"\x00\xff" * 64)
    elif damage == "a list":
        path.write_text(json.dumps([doc]))
    elif damage == "kdf a string":
        doc["kdf"] = "scrypt"
        path.write_text(json.dumps(doc))
    elif damage == "no nonce":
        del doc["nonce"]
        path.write_text(json.dumps(doc))
    else:
        path.write_bytes(b"")
    with pytest.raises(UsageError, match="not a readable pseudonym key file"):
        read_key(path, PASS)


# -- a real pseudonymised export of disguised traces ----------------------------------------------

def test_a_pseudonymised_bundle_holds_no_disguised_trace(forensic, tmp_path):
    """A real case: her joined name in a photo's file name, her surname fullwidth in a folder,
    her name in a photo's EXIF Make, her number with en dashes and her name with a zero-width
    space in a chat export's messages. No member of the bundle (inner archives opened, the PDF's
    text read back by pdftotext) holds her, read as a reader would (NFKC, invisible characters
    dropped)."""
    import io
    import re
    import subprocess
    import zipfile

    import phone_dbs as P
    from builders import need, tiny_jpeg, write_tree
    from forensic.cli.main import main
    android = tmp_path / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    chat = ("14/03/2021, 21:00 - Bruno: where is A\u200bna Lima now\n"
            "14/03/2021, 21:01 - Bruno: call her on 06\u201312\u201334\u201356\u201378\n"
            "14/03/2021, 21:02 - Bruno: or write to \uff41\uff4e\uff41\uff20example.org\n").encode()
    write_tree(android, {"DCIM/IMG_AnaLima_2021.jpg": tiny_jpeg(b"Canon", b"EOS"),
                         "DCIM/make.jpg": tiny_jpeg(b"Ana Lima", b"EOS"),
                         "Documents/\uff2c\uff49\uff4d\uff41/plain.txt": b"nothing\n",
                         "WhatsApp/WhatsApp Chat with Bruno.txt": chat,
                         "DCIM/photo.jpg": tiny_jpeg(b"Nikon", b"D50")})
    case = tmp_path / "case"
    assert main(["case", "init", str(case), "--case-id", "RT-PSEUDO", "--examiner", "E. Xaminer"]) == 0
    assert main(["evidence", "add", str(android), "--case", str(case), "--id", "android"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    assert main(["person", "mark", P.ANA_E164, "--role", "victim", "--case", str(case)]) == 0
    forensic("files", "--case", case, expect=None)          # drains what the setup printed
    (tmp_path / "pass.txt").write_text(PASS.decode() + "\n")
    out = tmp_path / "b.zip"
    summary = forensic("export", "--case", case, "--item", "android", "--out", out, "--json", "--pseudonymise",
                       "--pseudonym-passphrase-file", tmp_path / "pass.txt").json()
    assert summary["pseudonymised"] is True
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(out) as zf:
        for info in zf.infolist():
            members[info.filename] = zf.read(info)
            if info.filename.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(members[info.filename])) as inner:
                    members.update({f"{info.filename}!{i.filename}": inner.read(i) for i in inner.infolist()})
    pdfs = [n for n in members if n.endswith(".pdf")]
    for name in pdfs:
        need("pdftotext")
        (tmp_path / "r.pdf").write_bytes(members[name])
        members[name + "!text"] = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], check=True,
                                                 capture_output=True).stdout
    wanted = re.compile(r"ana ?lima|analima|lima|612345678|ana@example", re.IGNORECASE)
    leaks = []
    for name, data in members.items():
        for text in (name, data.decode("utf-8", "replace"), data.decode("utf-16-le", "replace")):
            read = unicodedata.normalize("NFKC", re.sub("[\u200b-\u200f\u2060\u00ad]", "", text))
            read = re.sub(r"[\s\-\u2010-\u2015./()_]", "", read) if "612" in read else read
            if wanted.search(read):
                leaks.append((name, wanted.search(read).group()))
                break
    assert leaks == []
    files = [json.loads(line) for name, data in members.items() if name.endswith("data/files.jsonl")
             for line in data.splitlines()]
    withheld = {f["name"] for f in files if f.get("withheld_reason") == "pseudonymised"}
    assert {"Victim-A_2021.jpg", "make.jpg", "plain.txt"} <= {n.replace("IMG_", "") for n in withheld} | withheld
    assert any(n.endswith("/photo.jpg") for n in members)


@pytest.mark.parametrize("data", ["A\u200bna Lima".encode(), "Ana\u00adLima".encode(),
                                  "\uff21\uff4e\uff41 Lima".encode(), "\uff10\uff16 12 34 56 78".encode(),
                                  "\ufeffAna Lima".encode()],
                         ids=["zwsp", "shy", "fullwidth", "fullwidth-digits", "bom"])
def test_evidence_bytes_hiding_a_name_from_grep_are_found(data):
    p = Pseudonyms([Person("Victim-A", "victim", "+31612345678", names=["Ana Lima"], numbers=["+31612345678"])])
    assert p.found_in(data)


@pytest.mark.parametrize("where", ["case-id", "item-id"])
def test_a_case_or_item_id_naming_her_is_refused(forensic, tmp_path, where):
    """The case id names every member (ANA-LIMA-01-bundle/...), the footer of every PDF page
    and every signed custody entry; an evidence item's id names its folder and is kept as it
    is (ids are never rewritten): a pseudonymised export that would carry one is refused,
    nothing written."""
    import phone_dbs as P
    from builders import tiny_jpeg, write_tree
    android = tmp_path / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    write_tree(android, {"DCIM/photo.jpg": tiny_jpeg(b"Nikon", b"D50")})
    case = tmp_path / "case"
    case_id, item = ("ANA-LIMA-01", "phone") if where == "case-id" else ("C-7", "ana-lima-phone")
    forensic("case", "init", case, "--case-id", case_id, "--examiner", "E. Xaminer")
    forensic("evidence", "add", android, "--case", case, "--id", item)
    forensic("triage", "--case", case, expect=None)
    forensic("person", "mark", P.ANA_E164, "--role", "victim", "--case", case)
    (tmp_path / "pass.txt").write_text(PASS.decode() + "\n")
    res = forensic("export", "--case", case, "--item", item, "--out", tmp_path / "b.zip", "--pseudonymise",
                   "--pseudonym-passphrase-file", tmp_path / "pass.txt", expect=None)
    assert res.code != 0 and ("case id" in res.err if where == "case-id" else "evidence item" in res.err)
    assert not (tmp_path / "b.zip").exists() and not (tmp_path / "b.zip.pseudonyms.key").exists()


def test_the_check_finds_her_name_joined_by_a_hyphen_or_dot():
    p = Pseudonyms([Person("Victim-A", "victim", "name:Ana Lima", names=["Ana Lima"])])
    assert p.found_in(b"ANA-LIMA-01-bundle/data", bounded=True) and p.found_in(b"x ana.lima y", bounded=True)


def test_the_bundle_password_cannot_be_the_key_passphrase(forensic, tmp_path):
    """The recipient gets the bundle's password; the key file lies beside the bundle (a folder
    copied whole carries both): the same secret for both would let the recipient reveal her."""
    import phone_dbs as P
    from builders import tiny_jpeg, write_tree
    android = tmp_path / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    write_tree(android, {"DCIM/photo.jpg": tiny_jpeg(b"Nikon", b"D50")})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-8", "--examiner", "E. Xaminer")
    forensic("evidence", "add", android, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    forensic("person", "mark", P.ANA_E164, "--role", "victim", "--case", case)
    (tmp_path / "pass.txt").write_text(PASS.decode() + "\n")
    res = forensic("export", "--case", case, "--item", "phone", "--out", tmp_path / "b.zip", "--pseudonymise",
                   "--pseudonym-passphrase-file", tmp_path / "pass.txt", "--password-file", tmp_path / "pass.txt",
                   expect=None)
    assert res.code != 0 and "passphrase" in res.err
    assert not (tmp_path / "b.zip").exists() and not (tmp_path / "b.zip.pseudonyms.key").exists()


@pytest.mark.parametrize("member", [
    json.dumps({"name": "Sofía Moreno"}).encode(),                     # ensure_ascii: "Sof\\u00eda"
    b"<td>Sof&iacute;a Moreno</td>", b"<td>Ana&#32;Lima</td>", b"<td>&#x41;na Lima</td>",
], ids=["json-escape", "html-named", "html-decimal", "html-hex"])
def test_the_last_check_reads_escaped_json_and_html(p, member):
    """The last check before anything is written reads a member as its reader would: a name
    escaped by JSON or HTML is still her name."""
    with pytest.raises(UsageError, match="would still name a marked person"):
        p.check({"data/x": member})


def test_a_document_naming_her_inside_its_compressed_parts_is_withheld(forensic, tmp_path):
    """A .docx (a ZIP of deflated XML) naming her: the bytes of the file hold no trace of her,
    its parts do. It is withheld, like a plain text naming her; a ZIP naming no one is not."""
    import io
    import zipfile

    import phone_dbs as P
    from builders import write_tree

    def docx(text: str) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("word/document.xml", f"<w:document><w:t>{text}</w:t></w:document>" + " " * 2000)
        return buf.getvalue()

    assert b"Ana Lima" not in docx("Statement of Ana Lima")
    android = tmp_path / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    write_tree(android, {"Documents/statement.docx": docx("Statement of Ana Lima, 06 12 34 56 78"),
                         "Documents/other.docx": docx("Minutes of the meeting")})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-9", "--examiner", "E. Xaminer")
    forensic("evidence", "add", android, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    forensic("person", "mark", P.ANA_E164, "--role", "victim", "--case", case)
    (tmp_path / "pass.txt").write_text(PASS.decode() + "\n")
    out = tmp_path / "b.zip"
    forensic("export", "--case", case, "--item", "phone", "--out", out, "--pseudonymise",
             "--pseudonym-passphrase-file", tmp_path / "pass.txt")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        files = [json.loads(line) for n in names if n.endswith("data/files.jsonl")
                 for line in zf.read(n).splitlines()]
    withheld = {f["name"] for f in files if f.get("withheld_reason") == "pseudonymised"}
    assert "statement.docx" in withheld and "other.docx" not in withheld
    assert not any(n.endswith("statement.docx") for n in names) and any(n.endswith("other.docx") for n in names)


def test_a_tagged_document_naming_her_inside_is_withheld(forensic, tmp_path):
    """Exported by tag, the .docx alone is selected (not its inner files): its parts are read
    all the same."""
    import hashlib
    import io
    import zipfile

    import phone_dbs as P
    from builders import write_tree
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", "<w:t>Statement of Ana Lima</w:t>" + " " * 2000)
    doc = buf.getvalue()
    android = tmp_path / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    write_tree(android, {"Documents/statement.docx": doc})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-10", "--examiner", "E. Xaminer")
    forensic("evidence", "add", android, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    forensic("tag", "add", hashlib.sha256(doc).hexdigest(), "--tag", "doc", "--case", case)
    forensic("person", "mark", P.ANA_E164, "--role", "victim", "--case", case)
    (tmp_path / "pass.txt").write_text(PASS.decode() + "\n")
    out = tmp_path / "b.zip"
    forensic("export", "--case", case, "--tag", "doc", "--out", out, "--pseudonymise",
             "--pseudonym-passphrase-file", tmp_path / "pass.txt")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        files = [json.loads(line) for n in names if n.endswith("data/files.jsonl")
                 for line in zf.read(n).splitlines()]
    assert [f["withheld_reason"] for f in files if f["name"] == "statement.docx"] == ["pseudonymised"]
    assert not any(n.endswith("statement.docx") for n in names)
