"""Red team, issue 17/20: ZIP tricks against `verify-bundle` on the bundle the stock-library
writer makes. Each edit below is one a forger could make so that one ZIP reader shows other
bytes than the verifier checked; each must leave the bundle not intact."""
from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

from forensic.exporters.bundle import HIDDEN_MEMBER
import redteam.test_hostile_verifier as _hv

ROOT, verify = _hv.ROOT, _hv.verify
made = _hv.made                    # the fixture: a real case and its bundles


def _members(bundle: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(bundle) as zf:
        return [(i, zf.read(i)) for i in zf.infolist()]


def _evidence(members) -> int:
    return next(n for n, (i, _) in enumerate(members) if i.filename.startswith(ROOT + "data/evidence/"))


def test_a_duplicate_member_whose_first_copy_is_forged_is_not_intact(made, tmp_path):
    members = _members(made["unsigned"])
    n = _evidence(members)
    forged = tmp_path / "dup.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(forged, "w") as zf:
        warnings.simplefilter("ignore")                  # zipfile warns of the duplicate name
        for k, (info, data) in enumerate(members):
            if k == n:                                   # a reader keeping the first copy sees this
                zf.writestr(info.filename, b"forged " + data)
            zf.writestr(info, data)
    report = verify(forged)
    assert not report.intact and any("twice" in p for p in report.problems)


def test_a_local_header_naming_another_member_is_not_intact(made, tmp_path):
    members = _members(made["unsigned"])
    n = _evidence(members)
    honest = tmp_path / "honest.zip"
    with zipfile.ZipFile(honest, "w") as zf:
        for info, data in members:
            zf.writestr(info, data)
    with zipfile.ZipFile(honest) as zf:
        at = zf.infolist()[n].header_offset
    raw = bytearray(honest.read_bytes())
    name = members[n][0].filename.encode()
    assert raw[at + 30:at + 30 + len(name)] == name
    other = bytearray(name)
    other[-1:] = b"X" if other[-1:] != b"X" else b"Y"       # same length: only the local header changes
    raw[at + 30:at + 30 + len(name)] = other
    forged = tmp_path / "renamed.zip"
    forged.write_bytes(bytes(raw))
    assert not verify(forged).intact


def test_a_second_bag_beside_a_hidden_names_member_is_not_intact(made, tmp_path):
    members = _members(made["unsigned"])
    forged = tmp_path / "beside.zip"
    with zipfile.ZipFile(forged, "w") as zf:
        for info, data in members:
            zf.writestr(info, data)
        zf.writestr(HIDDEN_MEMBER, made["signed"].read_bytes())   # another bag "behind the password"
    report = verify(forged)
    assert not report.intact and HIDDEN_MEMBER in report.extra


# -- the stand-alone verifier on an excerpt edited line by line -----------------------------------

def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_standalone_on_an_excerpt_with_an_entry_and_its_proof_twice(made, tmp_path):
    custody = _hv.unzip(made["signed"], tmp_path)
    for name in ("entries.jsonl", "proofs.jsonl"):
        lines = _lines(custody / name)
        (custody / name).write_bytes(b"".join([*lines, lines[-1]]))
    code, out = _hv.standalone(custody, "--pub", made["pub"])
    assert code != 0 and out["ok"] is False, out


def test_standalone_reads_reordered_lines_by_their_seq(made, tmp_path):
    """Held: the order of the lines carries nothing; each entry is proved at its own seq and
    chained to seq - 1, so swapped lines verify as the same excerpt, and a swapped seq fails."""
    custody = _hv.unzip(made["signed"], tmp_path)
    honest = _hv.standalone(custody, "--pub", made["pub"])[1]["entries"]
    for name in ("entries.jsonl", "proofs.jsonl"):
        lines = _lines(custody / name)
        (custody / name).write_bytes(b"".join([lines[1], lines[0], *lines[2:]]))
    code, out = _hv.standalone(custody, "--pub", made["pub"])
    assert code == 0 and out["entries"] == honest
    lines = _lines(custody / "proofs.jsonl")         # the proofs of two entries exchanged
    a, b = json.loads(lines[0]), json.loads(lines[1])
    a["seq"], b["seq"] = b["seq"], a["seq"]
    (custody / "proofs.jsonl").write_bytes(b"".join([(json.dumps(a) + "\n").encode(), (json.dumps(b) + "\n").encode(),
                                                      *lines[2:]]))
    code, out = _hv.standalone(custody, "--pub", made["pub"])
    assert code != 0 and out["ok"] is False, out
