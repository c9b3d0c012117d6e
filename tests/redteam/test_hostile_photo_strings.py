"""Red team: camera strings written by a hostile device (EXIF make/model, XMP creator) in the
terminal listing of `forensic photos`; see docs/threat-model.md."""
from __future__ import annotations

import os

from tests.extractors.photo_scenes import camera_jpeg, scene
from tests.ptyrun import run_in_pty

HOSTILE = "[bold red]Canon[/]\x1b[2J\nSHA-256: 0000"      # EXIF Make is ASCII: no U+202E


def test_hostile_camera_strings_are_escaped_in_the_photo_table(forensic, tmp_path):
    """A photo whose EXIF make is rich markup, an ANSI clear-screen and a newline with a forged hash:
    in the terminal table (a real pty) no escape sequence from the evidence reaches the
    screen and the markup is shown as text; `--json` keeps the value."""
    card = tmp_path / "card"
    card.mkdir()
    (card / "IMG_0001.jpg").write_bytes(camera_jpeg(scene(3, 320, 240), HOSTILE, "EOS"))
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", card, "--case", case, "--id", "card")
    forensic("triage", "--case", case, expect=None)
    row, = forensic("photos", "--json", "--case", case).jsonl()
    assert row["make"] == HOSTILE
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORENSIC_")}
    shown = run_in_pty(["photos", "--case", str(case)], cwd=tmp_path, env=env, columns=200).output
    assert "\x1b[2J" not in shown and "[bold red]" in shown
    assert not any(line.lstrip("│| ").startswith("SHA-256: 0000") for line in shown.splitlines())
