"""``forensic export --pseudonymise``: a victim's name, numbers, e-mail address and user id
are in no byte of any member of the bundle (plain and encrypted), her pseudonym is, the
bundle verifies, the custody log says so, and the key file beside it decrypts back to her.

A real case (tests/phone_dbs.py: Ana Lima in the Android and iPhone address books, WhatsApp's
wa.db, a WhatsApp message and calls; a WhatsApp text export with her number and e-mail in the
messages; a photo), triaged for real; real ZIPs, real AES-GCM."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

import phone_dbs as P
from builders import tiny_jpeg, write_tree

PASS = "correct horse battery staple"
BUNDLE_PASS = "bundle password 123"
CHAT = ("14/03/2021, 21:00 - Ana Lima: he took my phone again\n"
        "14/03/2021, 21:01 - Bruno: give me your new number\n"
        "14/03/2021, 21:02 - Ana Lima: it is still 06-12 34 56 78, or mail ana@example.org\n"
        "14/03/2021, 21:03 - Bruno: Ana, answer me\n").encode()
# every form of her the bundle must not hold (bytes, as grep would look for them)
NEEDLES = [b"Ana Lima", b"ANA LIMA", b"ana lima", b"Ana L.", b"+31612345678", b"31612345678", b"0612345678",
           b"06 12 34 56 78", b"06-12 34 56 78", b"+31 6 12345678", b"ana@example.org", b"81234567890123@lid",
           "Ana Lima".encode("utf-16-le"), b"Ana Lima".hex().encode()]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from forensic.cli.main import main
    tmp = tmp_path_factory.mktemp("pseudo")
    android = tmp / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    P.calllog(android / "data/com.android.providers.contacts/databases/calllog.db")
    P.wa(android / "data/com.whatsapp/databases/wa.db")
    P.msgstore_calls(android / "data/com.whatsapp/databases/msgstore.db")
    write_tree(android, {"WhatsApp/WhatsApp Chat with Ana Lima.txt": CHAT,
                         "WhatsApp/Chat with B.txt": CHAT.replace(b"Ana Lima", b"A. L."),
                         "DCIM/photo.jpg": tiny_jpeg(b"Canon", b"EOS"),
                         "Documents/plain.txt": b"nothing about anyone\n"})
    iphone = tmp / "iphone"
    P.addressbook(iphone / "mobile/Library/AddressBook/AddressBook.sqlitedb")
    P.wa_ios_contacts(iphone / "mobile/Containers/Shared/AppGroup/A1/ContactsV2.sqlite")
    case = tmp / "case"
    assert main(["case", "init", str(case), "--case-id", "PSEUDO-1", "--examiner", "E. Xaminer"]) == 0
    assert main(["evidence", "add", str(android), "--case", str(case), "--id", "android",
                 "--description", "Ana Lima's phone, handed in by her"]) == 0
    assert main(["evidence", "add", str(iphone), "--case", str(case), "--id", "iphone"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    (tmp / "pass.txt").write_text(PASS + "\n")
    (tmp / "bundle-pass.txt").write_text(BUNDLE_PASS + "\n")
    return case


def _members(bundle: Path, password: bytes | None = None) -> dict[str, bytes]:
    """Every member's bytes, inner archives opened (names hidden), decrypted with ``password``."""
    import pyzipper
    out: dict[str, bytes] = {}
    with pyzipper.AESZipFile(bundle) as zf:
        if password:
            zf.setpassword(password)
        for info in zf.infolist():
            data = zf.read(info)
            out[info.filename] = data
            if info.filename.endswith(".zip"):
                out.update({f"{info.filename}!{k}": v for k, v in _members_bytes(data).items()})
    return out


def _members_bytes(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _leaks(members: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(name, n) for name, data in members.items() for n in NEEDLES
            if n.lower() in data.lower() or n.lower() in name.encode().lower()]


def _export(forensic, case: Path, out: Path, *extra) -> dict:
    return forensic("export", "--case", case, "--item", "android", "--item", "iphone", "--out", out,
                    "--json", *extra).json()


@pytest.fixture(scope="module")
def marked(case):
    from forensic.cli.main import main
    # a tag whose note names her: its custody entries cannot be rewritten (signed), so they are
    # left out of a pseudonymised bundle's excerpt
    assert main(["tag", "add", "--item", "android", "--from", "2000-01-01", "--tag", "threats",
                 "--note", "messages Ana Lima received", "--case", str(case)]) == 0
    assert main(["person", "mark", P.ANA_E164, "--role", "victim", "--case", str(case),
                 "--note", "reported the threats"]) == 0
    assert main(["person", "mark", "+447700900999", "--role", "suspect", "--case", str(case)]) == 0
    return case


def test_without_the_flag_her_name_and_number_are_in_the_bundle(forensic, marked, tmp_path):
    summary = _export(forensic, marked, tmp_path / "plain.zip")
    assert summary["pseudonymised"] is False
    found = {n for _, n in _leaks(_members(tmp_path / "plain.zip"))}
    assert {b"Ana Lima", b"ana@example.org", b"31612345678"} <= found
    assert not (tmp_path / "plain.zip.pseudonyms.key").exists()


@pytest.mark.parametrize("encrypted", [False, True, "hidden"], ids=["plain", "encrypted", "names-hidden"])
def test_a_pseudonymised_bundle_names_her_nowhere(forensic, marked, tmp_path, encrypted):
    out = tmp_path / "pseudo.zip"
    extra = ["--password-file", marked.parent / "bundle-pass.txt"] if encrypted else []
    extra += ["--hide-names"] if encrypted == "hidden" else []
    summary = _export(forensic, marked, out, "--pseudonymise", "--pseudonym-passphrase-file",
                      marked.parent / "pass.txt", *extra)
    assert summary["pseudonymised"] is True and summary["pseudonyms"]["pseudonyms"] == ["Victim-A"]
    assert summary["pseudonyms"]["custody_entries_left_out"] >= 1        # the tag note naming her
    members = _members(out, BUNDLE_PASS.encode() if encrypted else None)
    assert len(members) > 10
    assert _leaks(members) == []
    text = b"".join(members.values())
    assert b"Victim-A" in text
    msgs = [json.loads(line) for name, data in members.items() if name.endswith("data/messages.jsonl")
            for line in data.splitlines()]
    bodies = [m["fields"].get("body") for m in msgs]
    assert "it is still Victim-A, or mail Victim-A" in bodies          # her number and e-mail in a message
    assert "Victim-A, answer me" in bodies                              # her first name alone
    assert any(m["fields"].get("sender") == "Victim-A@s.whatsapp.net" for m in msgs)
    # evidence naming her is withheld, listed with its hash and the reason; the rest is exported
    files = [json.loads(line) for name, data in members.items() if name.endswith("data/files.jsonl")
             for line in data.splitlines()]
    withheld = {f["name"]: f for f in files if f.get("withheld_reason") == "pseudonymised"}
    assert {"contacts2.db", "wa.db", "msgstore.db", "calllog.db", "AddressBook.sqlitedb",
            "ContactsV2.sqlite", "WhatsApp Chat with Victim-A.txt"} <= set(withheld)
    assert all(f["sha256"] and f["withheld"] and f["bag_path"] is None for f in withheld.values())
    exported = {f["name"] for f in files if not f["withheld"]}
    assert {"photo.jpg", "plain.txt"} <= exported
    assert any(name.endswith("/photo.jpg") for name in members)
    # the bundle verifies
    verify = ["--password-file", marked.parent / "bundle-pass.txt"] if encrypted else []
    report = forensic("verify-bundle", out, *verify, "--json", expect=5).json()
    assert report["intact"] is True and report["custody"] == "valid", report
    # the custody log records the export as pseudonymised, without her identity
    [entry] = [e for e in forensic("custody", "log", "--case", marked, "--json", "--action", "export.created").jsonl()
               if e["subject"]["bundle"] == out.name][-1:]
    assert entry["details"]["pseudonymised"] is True
    assert entry["details"]["pseudonyms"]["key_file"] == "pseudo.zip.pseudonyms.key"
    assert P.ANA_E164 not in json.dumps(entry) and "Ana" not in json.dumps(entry)
    # the key, beside the bundle and not in it, decrypts back to her
    key = tmp_path / "pseudo.zip.pseudonyms.key"
    assert key.exists() and key.stat().st_mode & 0o077 == 0
    assert b"Ana" not in key.read_bytes() and b"31612345678" not in key.read_bytes()
    doc = forensic("person", "reveal", key, "--passphrase-file", marked.parent / "pass.txt", "--json").json()
    [ana] = doc["persons"]
    assert ana["pseudonym"] == "Victim-A" and ana["identity"] == P.ANA_E164 and "Ana Lima" in ana["names"]
    assert "ana@example.org" in ana["emails"] and doc["bundle_sha256"] == summary["sha256"]


def test_pseudonyms_are_stable_across_exports(forensic, marked, tmp_path):
    first = _export(forensic, marked, tmp_path / "a.zip", "--pseudonymise", "--pseudonym-passphrase-file",
                    marked.parent / "pass.txt")
    second = _export(forensic, marked, tmp_path / "b.zip", "--pseudonymise", "--pseudonym-passphrase-file",
                     marked.parent / "pass.txt")
    assert first["pseudonyms"]["pseudonyms"] == second["pseudonyms"]["pseudonyms"] == ["Victim-A"]
    # the messages of the chat named after her are tied to the log by artifact.pseudonymised
    # entries (their own entries name her): recorded once, naming nobody
    ties = forensic("custody", "log", "--case", marked, "--json", "--action", "artifact.pseudonymised").jsonl()
    assert ties and len({t["details"]["artifact_id"] for t in ties}) == len(ties)
    assert all(t["subject"]["locator"].endswith("WhatsApp Chat with Victim-A.txt") and t["details"]["entries"]
               for t in ties)
    assert "Ana" not in json.dumps(ties) and "612345678" not in json.dumps(ties)


def test_the_key_file_needs_its_passphrase(forensic, marked, tmp_path):
    _export(forensic, marked, tmp_path / "k.zip", "--pseudonymise", "--pseudonym-passphrase-file",
            marked.parent / "pass.txt")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase at all\n")
    res = forensic("person", "reveal", tmp_path / "k.zip.pseudonyms.key", "--passphrase-file", wrong, expect=2)
    assert "could not be decrypted" in res.err
    key = tmp_path / "k.zip.pseudonyms.key"
    doc = json.loads(key.read_text())
    doc["bundle"] = "other.zip"                  # the clear header is bound to the ciphertext
    key.write_text(json.dumps(doc))
    forensic("person", "reveal", key, "--passphrase-file", marked.parent / "pass.txt", expect=2)


def test_refusals(forensic, marked, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("short\n")
    res = forensic("export", "--case", marked, "--item", "android", "--out", tmp_path / "s.zip", "--pseudonymise",
                   "--pseudonym-passphrase-file", short, expect=2)
    assert "at least 12 characters" in res.err and not (tmp_path / "s.zip").exists()
    res = forensic("export", "--case", marked, "--item", "android", "--out", tmp_path / "f.zip", "--pseudonymise",
                   "--pseudonym-passphrase-file", marked.parent / "pass.txt", "--full-custody", expect=2)
    assert "--full-custody" in res.err and not (tmp_path / "f.zip").exists()
    res = forensic("export", "--case", marked, "--item", "android", "--out", tmp_path / "r.zip", "--pseudonymise",
                   "--pseudonym-passphrase-file", marked.parent / "pass.txt", "--recipient", "Ana's lawyer", expect=2)
    assert "--recipient" in res.err and not (tmp_path / "r.zip").exists()


def test_the_forms_a_person_is_found_in():
    """Evidence bytes: every written form of her number, UTF-16 text, upper case; bounded (the
    check of generated members) only where no letter or digit adjoins, as the text is rewritten."""
    from forensic.exporters.pseudonyms import Person, Pseudonyms
    p = Pseudonyms([Person("Victim-A", "victim", P.ANA_E164, names=["Ana Lima", "Sofía"], numbers=[P.ANA_E164],
                           emails=["ana@example.org"], user_ids=["81234567890123@lid"])])
    for data in [b"xx 06-12 34 56 78 yy", b"+31 (0)6 12345678", b"0031612345678", P.ANA_JID.encode(),
                 "Ana Lima".encode("utf-16-le"), "Sofía".encode("utf-16-le"), "SOFÍA".encode(), b"ANA@EXAMPLE.ORG",
                 b"\x01\x02Ana Limaana@example.org\x03"]:
        assert p.found_in(data), data
    for data in [b"1612345678", b"06123456789", b"Ana Lim", b"nothing here"]:
        assert not p.found_in(data), data
    assert p.found_in(b"banana limas") and not p.found_in(b"banana limas", bounded=True)
    assert p.text("call 0031 6 1234 5678, Ana, or ana@example.org") == "call Victim-A, Victim-A, or Victim-A"
    assert p.text("ticket 1612345678") == "ticket 1612345678"


def test_the_chat_database_a_message_came_from_is_withheld(forensic, marked, tmp_path):
    """Exported by tag (messages only): the source database beside them names her, so it is
    listed with its hash and the reason, not exported; the bundle names her nowhere."""
    out = tmp_path / "tagged.zip"
    summary = forensic("export", "--case", marked, "--tag", "threats", "--out", out, "--pseudonymise",
                       "--pseudonym-passphrase-file", marked.parent / "pass.txt", "--json").json()
    assert summary["messages"] >= 1
    members = _members(out)
    assert _leaks(members) == []
    files = [json.loads(line) for name, data in members.items() if name.endswith("data/files.jsonl")
             for line in data.splitlines()]
    sources = [f for f in files if f.get("message_source")]
    assert sources and all(f["withheld_reason"] == "pseudonymised" and f["sha256"] for f in sources)
    forensic("verify-bundle", out, expect=5)


def test_a_push_name_only_the_messages_give_is_replaced_too():
    from forensic.exporters.pseudonyms import Person, Pseudonyms, _names_in_messages
    ana = Person("Victim-A", "victim", P.ANA_E164, names=["Ana Lima"], numbers=[P.ANA_E164])
    _names_in_messages([ana], [{"fields": {"sender": P.ANA_JID, "sender_name": "Pinky 🌸"}},
                               {"fields": {"sender": "447700900999@s.whatsapp.net", "sender_name": "Carl"},
                                "participant_names": {}}])
    assert ana.names == ["Ana Lima", "Pinky 🌸"]
    p = Pseudonyms([ana])
    assert p.text("Pinky 🌸 wrote to Carl") == "Victim-A wrote to Carl"
    assert p.found_in("Pinky 🌸".encode("utf-16-le"))


def test_names_without_accents_and_joined_as_in_file_names():
    """A Facebook export folder 'facebook-sofia_moreno': the name unaccented, its words joined
    by an underscore, is hers too."""
    from forensic.exporters.pseudonyms import Person, Pseudonyms
    p = Pseudonyms([Person("Victim-A", "victim", "name:Sofía Moreno", names=["Sofía Moreno"])])
    assert p.text("Download/facebook-sofia_moreno/inbox") == "Download/facebook-Victim-A/inbox"
    assert p.text("Hola Sofía, ¿qué tal? SOFIA MORENO") == "Hola Victim-A, ¿qué tal? Victim-A"
    assert p.found_in(b"facebook-sofia_moreno", bounded=True) and p.found_in("Sofía Moreno".encode("latin-1"))
    assert p.text("Sofiamoreno") == "Victim-A"          # joined, as in a handle or a file name (red team)
