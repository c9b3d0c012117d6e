"""The transporter's Android phone as an ``adb backup`` (``sample-image --e01`` writes
``phone.ab``): added as it is, its mmssms.db is read under its device path and ``training
check`` grades the SMS; a case that unpacked the .ab into a TAR first gets the feedback. The
.ab is made here from the generator's own plan (no disk image: fast)."""
from __future__ import annotations

import io
import tarfile
import zlib

import pytest

from forensic.training.answer_key import AB_FEEDBACK
from forensic.training.build import AB_SMS, PHONE_AB, layout
from training_case import item_key, triaged_case

SEED = 29


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("phone-ab")
    lay = layout(SEED)
    lay.extra_items.append(PHONE_AB)
    (out / PHONE_AB).write_bytes(lay.phone_ab)
    item_key(lay, out, "phone-ab")
    return out, lay


def test_the_ab_is_adb_s_format(sample):
    out, lay = sample
    data = (out / PHONE_AB).read_bytes()
    assert data.startswith(b"ANDROID BACKUP\n5\n1\nnone\n")
    with tarfile.open(fileobj=io.BytesIO(zlib.decompress(data[len(b"ANDROID BACKUP\n5\n1\nnone\n"):]))) as tar:
        assert tar.getnames() == [AB_SMS]
        db = tar.extractfile(AB_SMS).read()
    assert db.startswith(b"SQLite format 3\x00") and lay.story.ab_sms.messages[0].body.encode() in db
    assert layout(SEED).phone_ab == data                                  # same seed, same bytes


def test_read_in_place_it_is_graded(forensic, sample, tmp_path, capsys):
    out, _ = sample
    case = tmp_path / "case"
    triaged_case(case, "AB-29", out / PHONE_AB)
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", case, "--json", expect=None).json()
    assert report["score"] == 100 and report["checked"] == 2, report


def test_unpacked_to_a_tar_first_it_gets_the_feedback(forensic, sample, tmp_path, capsys):
    out, _ = sample
    unpacked = tmp_path / "phone.tar"
    unpacked.write_bytes(zlib.decompress((out / PHONE_AB).read_bytes()[len(b"ANDROID BACKUP\n5\n1\nnone\n"):]))
    case = tmp_path / "case"
    triaged_case(case, "AB-29b", unpacked)
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", case, "--json", expect=None).json()
    assert len(report["missed"]) == 2 and report["score"] == 0
    assert all(f["detail"].endswith("is not in the case — " + AB_FEEDBACK) for f in report["missed"])
