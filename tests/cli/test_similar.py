"""forensic similar: a camera card's original and its WhatsApp copy on a phone, end to end
through triage of two logical extractions (folders)."""
from __future__ import annotations

import hashlib

import pytest

from tests.extractors.photo_scenes import camera_jpeg, messenger_copy, scene

CHAT = ("14/03/2021, 21:05 - Recruiter: Here is the place\n"
        "14/03/2021, 21:08 - Recruiter: IMG-20210314-WA0001.jpg (file attached)\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from forensic.cli.main import main
    tmp = tmp_path_factory.mktemp("similar")
    card, phone = tmp / "card" / "DCIM" / "100CANON", tmp / "phone" / "WhatsApp"
    card.mkdir(parents=True)
    phone.mkdir(parents=True)
    originals = [camera_jpeg(scene(seed, 800, 600)) for seed in range(12)]
    for n, data in enumerate(originals, 1):
        (card / f"IMG_{n:04d}.jpg").write_bytes(data)
    copy = messenger_copy(originals[3])
    (phone / "IMG-20210314-WA0001.jpg").write_bytes(copy)
    (phone / "_chat.txt").write_text(CHAT, encoding="utf-8")
    (phone / "other.jpg").write_bytes(messenger_copy(camera_jpeg(scene(40, 800, 600))))
    (phone / "broken.jpg").write_bytes(originals[0][:500])
    (tmp / "outside.jpg").write_bytes(copy)
    case = tmp / "case"
    assert main(["case", "init", str(case), "--case-id", "C-16", "--examiner", "Ann Examiner"]) == 0
    assert main(["evidence", "add", str(tmp / "card"), "--case", str(case), "--id", "card"]) == 0
    assert main(["evidence", "add", str(tmp / "phone"), "--case", str(case), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(case)]) == 3       # broken.jpg: a warning, not a crash
    return {"case": case, "tmp": tmp, "copy_sha": hashlib.sha256(copy).hexdigest(),
            "original_sha": hashlib.sha256(originals[3]).hexdigest(), "originals": originals,
            "original_sha6": hashlib.sha256(originals[5]).hexdigest()}


def test_all_json_contract_and_chat_link(forensic, built):
    rows = forensic("similar", "--all", "--json", "--case", built["case"]).jsonl()
    assert len(rows) == 1
    pair = rows[0]
    assert list(pair) == ["a", "b", "distance", "algorithm"]
    assert pair["algorithm"] == "phash" and 0 <= pair["distance"] <= 8
    a, b = pair["a"], pair["b"]
    for side in (a, b):
        assert {"item", "locator", "sha256"} <= set(side)
    # the camera original is side a, the chat attachment made from it side b
    assert (a["item"], a["sha256"], a["camera"]) == ("card", built["original_sha"], "Canon Canon EOS 80D")
    assert a["locator"].endswith("IMG_0004.jpg") and a["messages"] == []
    assert (b["item"], b["sha256"], b["camera"]) == ("phone", built["copy_sha"], None)
    assert b["locator"].endswith("IMG-20210314-WA0001.jpg") and len(b["messages"]) == 1


def test_chat_attachment_names_its_camera_original(forensic, built):
    rows = forensic("messages", "--json", "--case", built["case"]).jsonl()
    attached = [a for m in rows for a in m["attachments"]]
    assert len(attached) == 1 and attached[0]["sha256"] == built["copy_sha"]
    original = attached[0]["camera_original"]
    assert (original["item"], original["sha256"], original["camera"], original["algorithm"]) == \
        ("card", built["original_sha"], "Canon Canon EOS 80D", "phash")
    assert original["locator"].endswith("IMG_0004.jpg") and original["distance"] <= 8


def test_file_forms_and_options(forensic, built):
    case = built["case"]
    outside = forensic("similar", built["tmp"] / "outside.jpg", "--json", "--case", case).jsonl()
    assert sorted(r["b"]["item"] for r in outside) == ["card", "phone"]
    assert {r["b"]["item"]: r["distance"] for r in outside}["phone"] == 0
    assert outside[0]["a"]["sha256"] is None and outside[0]["a"]["item"] == "(outside the case)"
    by_sha = forensic("similar", built["original_sha"], "--json", "--case", case).jsonl()
    assert [r["b"]["sha256"] for r in by_sha] == [built["copy_sha"]]
    locator = by_sha[0]["b"]["locator"]
    by_locator = forensic("similar", locator, "--json", "--case", case).jsonl()
    assert [r["b"]["sha256"] for r in by_locator] == [built["original_sha"]]
    assert forensic("similar", "--all", "--json", "--item", "nobody", "--case", case).jsonl() == []
    assert len(forensic("similar", "--all", "--json", "--item", "card", "--algorithm", "dhash",
                        "--case", case).jsonl()) == 1
    plain = forensic("similar", "--all", "--case", case).out.splitlines()
    assert len(plain) == 1 and plain[0].split("\t")[:3] == [str(by_sha[0]["distance"]), "phash", "card"]
    assert forensic("similar", "no-such-photo", "--case", case, expect=2).code == 2
    assert forensic("similar", "--case", case, expect=2).code == 2


def test_thumbnails_and_warning_stored(forensic, built):
    import base64
    import io

    from PIL import Image

    from forensic.case import Case
    from forensic.store import artifacts
    case = Case.open(built["case"])
    try:
        thumbs = list(artifacts.of_item(case.db, "card", "photo/thumbnail"))
        assert len(thumbs) == 12
        img = Image.open(io.BytesIO(base64.b64decode(thumbs[0].fields["jpeg_base64"])))
        assert img.size == (256, 192)
    finally:
        case.close()
    warnings = forensic("warnings", "--json", "--case", built["case"]).jsonl()
    assert any("broken.jpg" in str(w) and "not hashed" in str(w) for w in warnings)


def test_outside_video_key_frames_find_the_case_photo(forensic, built, tmp_path):
    """A video outside the case, made (PyAV) from a case photo after another scene: its key
    frame showing the photo finds the camera original and its chat copy, with the frame's
    time; the other scene's frame finds nothing."""
    import io

    from PIL import Image

    av = pytest.importorskip("av")
    rate = 10
    shown = Image.open(io.BytesIO(built["originals"][5])).convert("RGB").resize((320, 240))
    other = scene(77, 320, 240)
    video = tmp_path / "clip.mp4"
    with av.open(str(video), mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.gop_size = rate           # a key frame a second: one per scene
        for img in (other, shown):
            for _ in range(rate):
                for packet in stream.encode(av.VideoFrame.from_image(img)):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    rows = forensic("similar", video, "--json", "--case", built["case"]).jsonl()
    assert rows, "the key frame of the case photo was not found"
    assert {r["b"]["sha256"] for r in rows} == {built["original_sha6"]}
    assert all(r["a"]["item"] == "(outside the case)" and r["a"]["locator"] == str(video) for r in rows)
    assert all(r["a"]["frame_time_s"] is not None and r["a"]["frame_time_s"] >= 0.9 for r in rows)
    assert all(r["distance"] <= 8 for r in rows)
    plain = forensic("similar", video, "--case", built["case"]).out.splitlines()
    assert len(plain) == len(rows) and all(line.split("\t")[2] == "(outside the case)" for line in plain)
    # a file that is neither a photo nor a video FFmpeg decodes: a usage error, not a crash
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200)
    assert forensic("similar", junk, "--case", built["case"], expect=2).code == 2
