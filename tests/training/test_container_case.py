"""The card as a QCOW2 image (``sample-image --e01``): triaged in place as its own item, it gives
the same files and hashes as card.raw; a case that converted it to raw first does not hold
that item, and ``training check`` says why that matters."""
from __future__ import annotations

import json
import subprocess

import pytest

from conftest import require_tools
from forensic.training.answer_key import SEARCH_KINDS
from forensic.training.build import layout

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel", "ewfacquire", "qemu-img")
SEED = 13


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("container")
    assert _cli("sample-image", root / "sample", "--seed", SEED, "--e01", "--quiet") == 0
    return root


def test_the_qcow2_is_the_card_as_qemu_img_reads_it(sample, tmp_path):
    out = subprocess.run(["qemu-img", "info", "--output=json", sample / "sample" / "card.qcow2"], check=True,
                         capture_output=True, text=True).stdout
    info = json.loads(out)
    assert info["format"] == "qcow2" and info["virtual-size"] == (sample / "sample" / "card.raw").stat().st_size
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", sample / "sample" / "card.qcow2",
                    tmp_path / "back.raw"], check=True)
    assert (tmp_path / "back.raw").read_bytes() == (sample / "sample" / "card.raw").read_bytes()
    key = json.loads((sample / "sample" / "answer-key.json").read_text(encoding="utf-8"))
    item = key["items"]["card-qcow2"]
    assert item["sha256"] == key["items"]["card"]["sha256"] and item["format"] == "qcow2"
    fact = next(f for f in key["facts"] if f["kind"] == "container_read")
    lay = layout(SEED)
    assert [f["path"] for f in fact["expected"]["files"]] == ["/" + f.rel for f in lay.card]
    assert sum(f["deleted"] for f in fact["expected"]["files"]) == len(lay.card_deleted) == 2


def test_triaged_in_place_it_is_graded_and_a_converted_copy_gets_the_feedback(forensic, sample, tmp_path, capsys):
    case = tmp_path / "case"
    assert _cli("case", "init", case, "--case-id", "CQ-13", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", sample / "sample" / "card.qcow2", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    capsys.readouterr()                       # what the commands above printed
    report = forensic("training", "check", sample / "sample" / "answer-key.json", "--case", case, "--json",
                      expect=None).json()
    assert report["items"]["card-qcow2"] == ["card.qcow2"]
    bad = {f["id"] for f in report["missed"] + report["wrong"] if f["item"] == "card-qcow2"}
    assert bad == set()
    # the card's own facts are found in the container item as well
    assert not [f for f in report["missed"] + report["wrong"] if f["item"] == "card"
                and f["kind"] not in SEARCH_KINDS]                          # no search saved here

    converted = tmp_path / "card-converted.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", sample / "sample" / "card.qcow2", converted],
                   check=True)
    other = tmp_path / "case-converted"
    assert _cli("case", "init", other, "--case-id", "CQ-13b", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", converted, "--case", other, "--quiet") == 0
    assert _cli("triage", "--case", other, "--quiet") in (0, 3)
    capsys.readouterr()
    report = forensic("training", "check", sample / "sample" / "answer-key.json", "--case", other, "--json",
                      expect=None).json()
    missed = {f["kind"]: f["detail"] for f in report["missed"] if f["item"] == "card-qcow2"}
    assert set(missed) == {"evidence_item", "container_read"}
    assert all(d.endswith("— A QCOW2 (or VMDK, VHDX, split raw) is read in place; never convert evidence first.")
               for d in missed.values())


def test_the_backups_are_written_with_e01_and_graded(forensic, sample, tmp_path, capsys):
    key = json.loads((sample / "sample" / "answer-key.json").read_text(encoding="utf-8"))
    assert key["items"]["iphone-backup"]["format"] == "itunes"
    case = tmp_path / "case"
    assert _cli("case", "init", case, "--case-id", "IB-13", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", sample / "sample" / "iphone-backup", "--case", case, "--quiet") == 0
    assert _cli("evidence", "add", sample / "sample" / "phone.ab", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    capsys.readouterr()
    report = forensic("training", "check", sample / "sample" / "answer-key.json", "--case", case, "--json",
                      expect=None).json()
    assert report["items"]["iphone-backup"] == ["iphone-backup"] and report["items"]["phone-ab"] == ["phone.ab"]
    assert not [f for f in report["missed"] + report["wrong"] if f["item"] in ("iphone-backup", "phone-ab")]
    # the laptop (Signal Desktop) too, added with its config.json: its sealed database read
    laptop = sample / "sample" / "laptop"
    config = next(laptop.rglob("config.json"))
    assert _cli("evidence", "add", laptop, "--signal-config", config, "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    capsys.readouterr()
    report = forensic("training", "check", sample / "sample" / "answer-key.json", "--case", case, "--json",
                      expect=None).json()
    assert report["items"]["laptop"] == ["laptop"]
    assert not [f for f in report["missed"] + report["wrong"] if f["item"] == "laptop"]
