"""Red team: a file name on the seized device written so that the examiner's own honest bundle
fails `verify-bundle`. The bundle checker reads every ``SHA-256: ...`` line of a KML Placemark
as a statement of that file's hash; a name holding a newline and such a line, written raw in
the KML's ``locator`` data, would be one (a contradiction: "the bundle was altered")."""
from __future__ import annotations

import json
import zipfile

from builders import write_tree
from tests.exporters.photo_case import OFFSET_GPS

FORGED = "0" * 64
NAME = f"DCIM/trip\nSHA-256: {FORGED}\n.jpg"


def test_file_name_with_a_forged_sha256_line_does_not_fail_an_honest_bundle(forensic, tmp_path):
    src = write_tree(tmp_path / "phone", {NAME: OFFSET_GPS})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "RT-K", "--examiner", "ann")
    forensic("evidence", "add", src, "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    forensic("tag", "add", "--case", case, "--tag", "court", "--geotagged")
    forensic("export", "--case", case, "--out", tmp_path / "b.zip", "--tag", "court")
    res = forensic("verify-bundle", tmp_path / "b.zip", "--json", expect=5)     # intact; unsigned case
    out = json.loads(res.out.strip().splitlines()[-1])
    assert FORGED not in res.out, out
    with zipfile.ZipFile(tmp_path / "b.zip") as z:
        kml = next(z.read(n) for n in z.namelist() if n.endswith("geotags.kml"))
    assert f"\nSHA-256: {FORGED}\n" not in kml.decode()       # never a line of its own
