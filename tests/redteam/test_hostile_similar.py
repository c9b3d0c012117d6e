"""Red team: near-duplicate links (`forensic similar`, a chat attachment's camera original)
steered by a planted picture; see docs/threat-model.md."""
from __future__ import annotations

import hashlib
import io

from PIL import Image

from tests.extractors.photo_scenes import camera_jpeg, messenger_copy, scene

CHAT = ("14/03/2021, 21:05 - Recruiter: Here is the place\n"
        "14/03/2021, 21:08 - Recruiter: IMG-20210314-WA0001.jpg (file attached)\n")


def test_a_planted_nearer_original_does_not_hide_the_real_one(forensic, tmp_path):
    """The suspect's camera took the photo sent in the chat. Someone plants, on another
    device of the case, the chat copy re-saved with EXIF naming another camera (an iPhone):
    it is as near to the copy as the real original (both distance 0) and first in order, so the message's
    ``camera_original`` named the planted "iPhone" alone and the real camera vanished from
    `forensic messages`. The other originals within the distance are listed beside it."""
    card, phone, planted = tmp_path / "card" / "DCIM", tmp_path / "phone" / "WhatsApp", tmp_path / "backup" / "DCIM"
    for d in (card, phone, planted):
        d.mkdir(parents=True)
    original = camera_jpeg(scene(7, 800, 600))
    copy = messenger_copy(original)
    (card / "IMG_0001.jpg").write_bytes(original)
    (phone / "IMG-20210314-WA0001.jpg").write_bytes(copy)
    (phone / "_chat.txt").write_text(CHAT, encoding="utf-8")
    (planted / "IMG_9999.jpg").write_bytes(camera_jpeg(Image.open(io.BytesIO(copy)), "Apple", "iPhone 12"))
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    for name in ("card", "phone", "backup"):   # backup sorts first: it wins a tie
        forensic("evidence", "add", tmp_path / name, "--case", case, "--id", name)
    forensic("triage", "--case", case, expect=None)
    attached = [a for m in forensic("messages", "--json", "--case", case).jsonl() for a in m["attachments"]]
    assert len(attached) == 1
    link = attached[0]["camera_original"]
    named = [(link["item"], link["camera"])] + [(o["item"], o["camera"]) for o in link.get("other_originals", [])]
    assert ("card", "Canon Canon EOS 80D") in named and ("backup", "Apple iPhone 12") in named
    real = next(o for o in [link] + link.get("other_originals", []) if o["item"] == "card")
    assert real["sha256"] == hashlib.sha256(original).hexdigest() and real["distance"] <= 8
