"""Issue 17 part 3: a bundle's custody excerpt holds the entries of what it exports, not the
thousands of entries of the other messages of the same chat file.

A real case: a folder holding a WhatsApp export of 300 messages and two photos, triaged with
the custody hooks; three messages and one photo tagged for court, one other message tagged
for something else. The excerpt is built as an export builds it, then checked entry by
entry, and with the stand-alone verifier (docs/verify_custody.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builders import tiny_jpeg, write_tree
from forensic.chain_of_custody.signing import Signer, write_keypair

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 300
CHAT = "".join(f"01/02/2024, {8 + i // 60:02d}:{i % 60:02d} - {'Ana' if i % 2 else 'Luis'}: message {i}\n"
               for i in range(MESSAGES)).encode()
CHAT_PATH = "/WhatsApp/WhatsApp Chat with Luis.txt"
PHOTO_PATH = "/DCIM/photo.jpg"


def cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The case, kept with a key whose name ("ann") is not the case's examiner's: every
    entry is the act of "ann". $FORENSIC_KEY is set for the module (a signed log takes no
    unsigned command)."""
    with pytest.MonkeyPatch.context() as mp:
        tmp = tmp_path_factory.mktemp("excerpt")
        key, _ = write_keypair(Signer.generate("ann"), tmp / "keys")
        mp.setenv("FORENSIC_KEY", str(key))
        yield _build(tmp)


def _build(tmp: Path) -> dict:
    from forensic.case import Case
    from forensic.store import artifacts
    folder = write_tree(tmp / "phone", {CHAT_PATH: CHAT, PHOTO_PATH: tiny_jpeg(b"Canon", b"EOS"),
                                        "/DCIM/other.jpg": tiny_jpeg(b"Nikon", b"D1")})
    root = tmp / "case"
    assert cli("case", "init", root, "--case-id", "C-EX", "--examiner", "Ann Examiner") == 0
    assert cli("evidence", "add", folder, "--id", "phone", "--case", root) == 0
    assert cli("triage", "--case", root) in (0, 3)
    c = Case.open(root)
    ids = [r.id for r in artifacts.of_item(c.db, "phone", "chat/message")]
    photo = next(r.locator for r in artifacts.of_item(c.db, "phone", "photo/exif") if r.path == PHOTO_PATH)
    assert len(ids) == MESSAGES
    court = ids[10], ids[11], ids[200]
    assert cli("tag", "add", "--case", root, "--tag", "court", photo, *(f"message:{i}" for i in court)) == 0
    assert cli("tag", "add", "--case", root, "--tag", "other", f"message:{ids[5]}") == 0
    c = Case.open(root)
    return {"root": root, "case": c, "court": set(court), "other": ids[5], "photo": photo, "tmp": tmp}


@pytest.fixture(scope="module")
def excerpt(case):
    from forensic.exporters.bundle import custody_excerpt
    from forensic.exporters.selection import SelectionSpec, resolve
    sel = resolve(case["case"], SelectionSpec(tags=("court",)))
    assert {m["artifact_id"] for m in sel.messages} == case["court"]
    return sel, custody_excerpt(case["case"], sel, None, False)


def test_the_excerpt_holds_the_exported_messages_entries_only(case, excerpt):
    sel, ex = excerpt
    entries = [ex.entries[s] for s in ex.concerned]
    messages = [e for e in entries if e["action"].startswith("artifact.")
                and e["subject"].get("record_type") == "chat/message"]
    assert {e["details"]["artifact_id"] for e in messages} == case["court"]
    assert len([e for e in ex.entries if e.get("subject", {}).get("record_type") == "chat/message"]) >= MESSAGES
    # the chat file itself, the photo and the records made of it (EXIF, thumbnail, hashes)
    recorded = {e["subject"]["locator"] for e in entries if e["action"] == "file.recorded"}
    assert recorded == {case["photo"], next(s["locator"] for s in sel.chat_sources.values())}
    photo_records = {e["subject"]["record_type"] for e in entries
                     if e["action"] == "artifact.recorded" and e["subject"]["locator"] == case["photo"]}
    assert "photo/exif" in photo_records
    # the case and the item: created, received, triaged
    actions = {e["action"] for e in entries}
    assert {"case.created", "evidence.received", "triage.started", "triage.finished"} <= actions
    # tags: the three messages and the photo; not the message tagged for something else
    tags = [e for e in entries if e["action"] == "tag.added"]
    assert {e["subject"].get("message") for e in tags} == {str(i) for i in case["court"]} | {None}
    assert len(tags) == 4
    assert len(ex.concerned) < 40 < len(ex.lines)


def test_the_files_cite_only_entries_the_excerpt_holds(excerpt):
    sel, ex = excerpt
    held = set(ex.concerned)
    assert ex.file_seqs and all(set(seqs) <= held for seqs in ex.file_seqs.values())


def test_the_excerpt_verifies_with_the_stand_alone_verifier(case, excerpt, tmp_path):
    from forensic.exporters.bundle import custody_members
    _, ex = excerpt
    for name, data in custody_members(ex, False).items():
        (tmp_path / Path(name).name).write_bytes(data)
    res = subprocess.run([sys.executable, str(REPO / "docs" / "verify_custody.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    out = json.loads(res.stdout)
    assert res.returncode == 0 and out["ok"] is True, out
    assert out["entries"] == len(ex.concerned) and out["tree_size"] == len(ex.lines)


def test_an_exported_bundle_verifies_with_the_smaller_excerpt(case, tmp_path):
    from forensic.exporters.verify import verify_bundle
    out = tmp_path / "b.zip"
    assert cli("export", "--case", case["root"], "--tag", "court", "--out", out) == 0
    rep = verify_bundle(out)
    assert rep.intact and rep.custody == "valid" and rep.problems == [], rep.problems
    assert 10 < rep.custody_entries < 40


# -- CASE/UCO: one identity per person ------------------------------------------------------------
def test_case_jsonld_has_one_identity_per_person_not_per_action(case, tmp_path):
    import zipfile
    out = tmp_path / "b.zip"
    assert cli("export", "--case", case["root"], "--tag", "court", "--out", out) == 0
    with zipfile.ZipFile(out) as zf:
        graph = json.loads(zf.read("C-EX-bundle/data/case.jsonld"))["@graph"]
    ids = [n["@id"] for n in graph]
    assert len(ids) == len(set(ids))                       # no node twice
    people = {n["@id"]: n["core:name"] for n in graph if n["@type"] == "identity:Identity"}
    assert sorted(people.values()) == ["Ann Examiner", "ann"]
    actions = [n for n in graph if n["@type"] == "investigation:InvestigativeAction"]
    assert len(actions) > 10 and all(a["action:performer"]["@id"] in people for a in actions)
    performers = [people[a["action:performer"]["@id"]] for a in actions]
    assert performers.count("ann") > 10                    # triage, tags: many actions, one node


def _message(artifact_id: int, sender: str, recipients: list[str], sender_id: str | None = None) -> dict:
    return {"artifact_id": artifact_id, "item": "phone", "withheld": False,
            "source": {"locator": "phone \u203a /chat.txt", "path": "/chat.txt", "sha256": None, "ref": None},
            "fields": {"sender": sender, "sender_id": sender_id, "recipients": recipients, "body": "hi",
                       "platform": "whatsapp", "conversation": {"id": "c1", "title": "Dana"},
                       "participants": [sender, *recipients]}}


def test_participants_resolved_to_one_person_are_one_node():
    """Dana is "Dana Moreau" in one message and her WhatsApp jid in another: the case's
    contacts (a real :class:`People` over a contact record) make them one participant, whose
    IRI is not made of her number."""
    from forensic.exporters import case_uco
    from forensic.store.people import People, PersonRecord
    dana = PersonRecord(1, "phone", "contact/entry", "android_contacts", {
        "name": "Dana Moreau", "app": "contacts", "numbers": ["+31 6 12345678"],
        "user_ids": ["Dana Moreau"]}, False, [], "/contacts2.db", "phone \u203a /contacts2.db")
    people = People([dana], {})
    info = {"case": {"case_id": "C-P", "examiner": "Ann"}, "tool": {"name": "forensic", "version": "1"},
            "items": [], "selection": {}}
    messages = [_message(1, "Dana Moreau", ["me"]), _message(2, "31612345678@s.whatsapp.net", ["me"]),
                _message(3, "Bob", ["Dana Moreau"])]
    for resolver, expected in ((None, 4), (people.resolve, 3)):
        graph = json.loads(case_uco.render(info, [], [], messages, None, None, resolver))["@graph"]
        parts = {n["@id"]: n["core:name"] for n in graph if n.get("core:description", "").startswith("chat part")}
        assert len(parts) == expected, parts
        assert not any("3161234" in i for i in parts)
        froms = [n["core:hasFacet"][0]["observable:from"]["@id"] for n in graph if n["@type"] == "observable:Message"]
        if resolver is not None:
            assert froms[0] == froms[1] and parts[froms[0]] == "Dana Moreau"


def test_a_pseudonymised_bundle_whose_chat_file_names_the_victim_verifies(case, tmp_path):
    """Luis is marked a victim: his chat file ("... with Luis.txt") is withheld and the custody
    entries naming it are left out, so its messages have no entry in the excerpt. That is the
    pseudonymisation, not a forgery: the bundle verifies."""
    from forensic.exporters.verify import verify_bundle
    from tests import casestore
    root = casestore.copy_case(case["root"], tmp_path / "case")          # its store too (PostgreSQL)
    assert cli("person", "mark", "--case", root, "--role", "victim", "Luis") == 0
    (tmp_path / "pp.txt").write_text("a passphrase for the key file\n")
    out = tmp_path / "p.zip"
    assert cli("export", "--case", root, "--tag", "court", "--out", out, "--pseudonymise",
               "--pseudonym-passphrase-file", tmp_path / "pp.txt") == 0
    rep = verify_bundle(out)
    assert rep.intact and rep.custody == "valid" and rep.problems == [], rep.problems
