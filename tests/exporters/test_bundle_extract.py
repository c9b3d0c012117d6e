"""verify-bundle --extract: only a verified bundle is extracted, and no member leaves the folder."""
from __future__ import annotations

import zipfile

import pytest

from forensic.exporters.verify import extract_bundle
from forensic.errors import IntegrityError, UsageError


def test_extract_refuses_names_that_leave_the_folder(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("bag/data/ok.txt", b"ok")
        zf.writestr("../escape.txt", b"bad")
    with pytest.raises(IntegrityError):
        extract_bundle(z, None, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_extract_writes_a_plain_bundle(tmp_path):
    z = tmp_path / "b.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("data/report/index.html", b"<html></html>")
    assert extract_bundle(z, None, tmp_path / "out") == 1
    assert (tmp_path / "out" / "data" / "report" / "index.html").read_bytes() == b"<html></html>"
    with pytest.raises(UsageError, match="already exists"):
        extract_bundle(z, None, tmp_path / "out")     # never over an existing folder
