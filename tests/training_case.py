"""A trainee's case made of one ``extraction.zip``, for the training-case tests: the sample's
files chosen by the test, the sample's answer key cut to the facts of one kind on the
extraction, the zip added as evidence and triaged through the CLI."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from forensic.training.build import EXTRACTION_PREFIX, layout


def cli(*args: object) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def item_key(lay, out: Path, item: str) -> dict:
    """The sample's answer key (of ``lay``) cut to the facts of ``item``, written to
    ``out/answer-key.json``; the sample's other sources, which the key names, stand in as
    files saying they are not in this case."""
    from forensic.training.answer_key import answer_key
    for other in ("phone.raw", "card.raw", "extraction.zip"):
        (out / other).write_bytes(f"not in this case: {other}".encode())
    key = answer_key(lay, out, None)
    key["facts"] = [f for f in key["facts"] if f["item"] == item]
    (out / "answer-key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return key


def triaged_case(case: Path, case_id: str, *evidence: Path) -> Path:
    """A new case at ``case`` with ``evidence`` added and triaged through the CLI."""
    assert cli("case", "init", case, "--case-id", case_id, "--examiner", "T", "--quiet") == 0
    for src in evidence:
        assert cli("evidence", "add", src, "--case", case, "--quiet") == 0
    assert cli("triage", "--case", case, "--quiet") in (0, 3)
    return case


def extraction_case(root: Path, name: str, files: list, kind: str, seed: int) -> Path:
    """The folder of a case whose extraction holds ``files`` (the sample's FileOuts), with
    ``answer-key.json`` (the ``kind`` facts on the extraction) and the triaged ``case``."""
    from forensic.training.answer_key import answer_key
    out = root / name
    out.mkdir()
    with zipfile.ZipFile(out / "extraction.zip", "w") as z:
        for f in files:
            z.writestr(EXTRACTION_PREFIX + f.rel, f.data)
    for other in ("phone.raw", "card.raw"):           # the key names them; this case has neither
        (out / other).write_bytes(f"not in this case: {other}".encode())
    key = answer_key(layout(seed), out, None)
    key["facts"] = [f for f in key["facts"] if f["item"] == "extraction" and f["kind"] == kind]
    (out / "answer-key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    triaged_case(out / "case", f"{kind}-{name}", out / "extraction.zip")
    return out


def place_steps(forensic, case, key_path, out, password_file=None) -> list[str]:
    """What the trainee does for place_export: the photos ``forensic geo`` places in the key's
    box (the one an examiner drags on the map) tagged with the city's tag, that tag exported.
    The SHA-256s tagged."""
    e = next(f["expected"] for f in json.loads(key_path.read_text())["facts"] if f["kind"] == "place_export")
    box = e["box"]
    shas = sorted({g["sha256"] for g in forensic("geo", "--item", "phone.raw", "--json", "--case", case).jsonl()
                   if g["kind"] == "photo" and box["south"] <= g["lat"] <= box["north"]
                   and box["west"] <= g["lon"] <= box["east"]})
    pw = ["--password-file", password_file] if password_file else []
    forensic("tag", "add", *shas, "--item", "phone.raw", "--tag", e["tag"], "--case", case)
    forensic("export", "--out", out / f"{e['tag']}.zip", "--tag", e["tag"], "--no-pdf", *pw, "--case", case)
    return shas
