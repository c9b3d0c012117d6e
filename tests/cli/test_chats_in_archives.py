"""A _chat.txt inside 'WhatsApp Chat - NAME.zip' takes its title from the archive, and two
such exports in one item stay two conversations."""
from __future__ import annotations

import io
import zipfile

from builders import ext4_image

CHAT = ("[12/03/2024, 09:15:02] {a}: hola\n"
        "[12/03/2024, 09:16:40] {b}: the job starts monday\n").format


def _zip(a: str, b: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("_chat.txt", CHAT(a=a, b=b))
    return buf.getvalue()


def test_zipped_exports_named_by_their_archive(forensic, tmp_path):
    img = ext4_image(tmp_path, {"/Download/WhatsApp Chat - Dana Moreau.zip": _zip("Dana Moreau", "Me"),
                                "/Download/old/WhatsApp Chat - Marco Ruiz.zip": _zip("Marco Ruiz", "Me")})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", img, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    convs = forensic("conversations", "--case", case, "--json").jsonl()
    assert sorted(c["title"] for c in convs) == ["Dana Moreau", "Marco Ruiz"]
    assert len({c["conversation"] for c in convs}) == 2 and all(c["messages"] == 2 for c in convs)
