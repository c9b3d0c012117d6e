"""The recruiter's laptop (``sample-image --e01`` writes ``laptop/``, issue 15): a Signal Desktop
profile whose ``sql/db.sqlite`` is encrypted with SQLCipher, its key in ``config.json`` as
``encryptedKey`` sealed by Chromium's safeStorage on Linux without a keyring (``v10``, the
built-in password). Added with ``--signal-config``, its messages are read and ``training check``
grades them; added without, the database stays sealed and the trainee is told how the key is
recovered. The folder is written here from the generator's own plan (no disk image: fast)."""
from __future__ import annotations

import json

import pytest

from forensic.extractors.chat.signal_desktop import key_from_config
from forensic.training.answer_key import SIGNAL_FEEDBACK
from forensic.training.build import LAPTOP, _write_backup, laptop_files, layout, signal_dir
from training_case import cli, item_key, triaged_case

pytest.importorskip("sqlcipher3")
SEED = 29


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The laptop folder as the generator writes it, and a key asking for its facts only."""
    out = tmp_path_factory.mktemp("laptop")
    lay = layout(SEED)
    lay.laptop = laptop_files(lay.story.signal)
    lay.extra_items.append(LAPTOP)
    _write_backup(out / LAPTOP, lay.laptop, 1700000000)
    key = item_key(lay, out, LAPTOP)
    return out, lay, key


def _config(out, lay):
    return out / LAPTOP / signal_dir(lay.story.signal.user) / "config.json"


def test_the_profile_is_sealed_as_signal_desktop_seals_it(sample):
    out, lay, key = sample
    sd = lay.story.signal
    db = (out / LAPTOP / signal_dir(sd.user) / "sql" / "db.sqlite").read_bytes()
    assert not db.startswith(b"SQLite format 3") and len(db) % 4096 == 0        # SQLCipher 4: no plain header
    conf = _config(out, lay).read_bytes()
    assert json.loads(conf)["encryptedKey"].startswith(b"v10".hex())
    got, how = key_from_config(conf)                                          # Linux v10: "peanuts"
    assert got == sd.key_hex and "Linux default password" in how
    assert laptop_files(layout(SEED).story.signal)[0][1] == conf               # same seed, same config.json
    assert layout(SEED + 1).story.signal.key_hex != sd.key_hex
    assert sorted(f["kind"] for f in key["facts"]) == ["evidence_item"] + ["signal_message"] * 3
    senders = {f["expected"]["sender"] for f in key["facts"] if f["kind"] == "signal_message"}
    assert senders == {f"{sd.chat.other} ({sd.handler_e164})", "(device owner)"}


def test_added_with_its_config_the_messages_are_graded(forensic, sample, tmp_path, capsys):
    out, lay, key = sample
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "SD-29", "--examiner", "T", "--quiet") == 0
    assert cli("evidence", "add", out / LAPTOP, "--signal-config", _config(out, lay), "--case", case,
               "--quiet") == 0
    assert cli("triage", "--case", case, "--quiet") in (0, 3)
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", case, "--json", expect=None).json()
    assert report["score"] == 100 and report["checked"] == 4, report
    bodies = {m["body"] for m in forensic("messages", "--case", case, "--json").jsonl()}
    assert bodies == {m.body for m in lay.story.signal.chat.messages}


def test_without_the_key_the_database_stays_sealed_and_the_trainee_is_told(forensic, sample, tmp_path, capsys):
    out, lay, _ = sample
    case = tmp_path / "case"
    triaged_case(case, "SD-29b", out / LAPTOP)
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", case, "--json", expect=None).json()
    assert [f["kind"] for f in report["missed"]] == ["signal_message"] * 3 and report["wrong"] == []
    feedback = SIGNAL_FEEDBACK.format(config=f"{LAPTOP}/{signal_dir(lay.story.signal.user)}/config.json")
    for f in report["missed"]:
        assert " stayed sealed (triage warned: " in f["detail"] and "encrypted (SQLCipher 4)" in f["detail"]
        assert f["detail"].endswith(" — " + feedback)
    assert "'peanuts'" in feedback and "--signal-config" in feedback
