"""forensic sample-image: deterministic, real images, built only with the system tools."""
from __future__ import annotations

import hashlib
import json
import struct

import pytest
import pytsk3

from conftest import require_tools
from forensic.training.answer_key import SEARCH_KINDS

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
IMAGES = ("phone.raw", "card.raw", "extraction.zip", "answer-key.json", "answer-key.md")


def _digests(folder) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in IMAGES}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    require_tools(*TOOLS)
    from forensic.training.build import build_sample
    root = tmp_path_factory.mktemp("samples")
    out = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        build_sample(root / name, seed=seed)
        out[name] = root / name
    return out


def test_same_seed_gives_byte_identical_outputs(samples):
    a, b = _digests(samples["a"]), _digests(samples["b"])
    assert a == b


def test_other_seed_gives_other_case(samples):
    a, c = _digests(samples["a"]), _digests(samples["c"])
    assert all(a[n] != c[n] for n in IMAGES)
    ka = json.loads((samples["a"] / "answer-key.json").read_text())
    kc = json.loads((samples["c"] / "answer-key.json").read_text())
    assert (ka["seed"], kc["seed"]) == (7, 8)
    assert ka["people"] != kc["people"] or ka["journey"] != kc["journey"]


def _fs_files(fs, path="/", out=None):
    out = {} if out is None else out
    for f in fs.open_dir(path=path):
        name = f.info.name.name.decode("utf-8", "surrogateescape")      # names are bytes: one is Latin-1
        if name in (".", "..") or name.startswith("$"):
            continue
        full = path.rstrip("/") + "/" + name
        meta = f.info.meta
        deleted = bool(f.info.name.flags & pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
        if meta is not None and meta.type == pytsk3.TSK_FS_META_TYPE_DIR:
            if not deleted:
                _fs_files(fs, full, out)
        elif meta is not None:
            out[full] = (deleted, hashlib.sha256(f.read_random(0, meta.size) if meta.size else b"").hexdigest())
    return out


def test_phone_is_a_gpt_disk_with_the_files_the_key_names(samples):
    folder = samples["a"]
    key = json.loads((folder / "answer-key.json").read_text())
    img = pytsk3.Img_Info(str(folder / "phone.raw"))
    vs = pytsk3.Volume_Info(img)
    assert vs.info.vstype == pytsk3.TSK_VS_TYPE_GPT
    parts = [p for p in vs if p.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC and p.len > 0
             and b"userdata" in p.desc]
    assert len(parts) == 1
    fs = pytsk3.FS_Info(img, offset=parts[0].start * vs.info.block_size)
    assert fs.info.ftype == pytsk3.TSK_FS_TYPE_EXT4
    files = _fs_files(fs)
    files.pop("/lost+found", None)
    count = next(f for f in key["facts"] if f["kind"] == "file_count" and f["item"] == "phone")
    assert len(files) == count["expected"]["count"]
    for fact in key["facts"]:
        if fact["item"] == "phone" and fact["kind"] in ("file_present", "disguised_file", "photo_geotag",
                                                       "spoofed_name"):
            assert files[fact["expected"]["path"]] == (False, fact["expected"]["sha256"]), fact["id"]
    # the owner is Android's media_rw, not whoever built the image
    f = fs.open("/media/0/Documents/contrato_firmado.pdf")
    assert (f.info.meta.uid, f.info.meta.gid) == (1023, 1023)


def test_card_deleted_photos_are_recoverable(samples):
    folder = samples["a"]
    key = json.loads((folder / "answer-key.json").read_text())
    img = pytsk3.Img_Info(str(folder / "card.raw"))
    vs = pytsk3.Volume_Info(img)
    assert vs.info.vstype == pytsk3.TSK_VS_TYPE_DOS
    part = next(p for p in vs if p.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC and b"FAT32" in p.desc)
    fs = pytsk3.FS_Info(img, offset=part.start * vs.info.block_size)
    assert fs.info.ftype == pytsk3.TSK_FS_TYPE_FAT32
    files = _fs_files(fs)
    deleted = {sha for d, sha in files.values() if d}
    wanted = [f["expected"]["sha256"] for f in key["facts"] if f["kind"] == "deleted_file"]
    note = next(f for f in key["facts"] if f["kind"] == "keyword_hit")["expected"]
    # the two photos, and the booking note (the search case: its words, not a deleted_file fact)
    assert len(wanted) == 2 and set(wanted) | {hashlib.sha256(note["text"].encode()).hexdigest()} == deleted
    live = [p for p, (d, _) in files.items() if not d]
    count = next(f for f in key["facts"] if f["kind"] == "file_count" and f["item"] == "card")
    # six photos and the next, two deleted; the pick-up note's two parts (the --in raw case)
    assert len(live) == count["expected"]["count"] == 7
    assert {p for p in live if p.startswith("/MISC/")} == {"/MISC/NOTE1.TXT", "/MISC/NOTE2.TXT"}
    trunc = next(f for f in key["facts"] if f["kind"] == "truncated_file")["expected"]
    assert files[trunc["path"]] == (False, trunc["sha256"])


def _jpeg_segments(data: bytes) -> list[int]:
    assert data[:2] == b"\xff\xd8"
    pos, markers = 2, []
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        pos += 2 + length
        if marker == 0xDA:
            break
    scan_end = data.index(b"\xff\xd9", pos)
    scan = data[pos:scan_end]
    assert all(scan[i + 1] == 0 for i in range(len(scan) - 1) if scan[i] == 0xFF)   # stuffed
    assert scan_end == len(data) - 2
    return markers


def test_photos_are_baseline_jpegs_whose_exif_says_what_the_key_says(samples):
    import exifread
    folder = samples["a"]
    key = json.loads((folder / "answer-key.json").read_text())
    from forensic.training.build import layout
    lay = layout(7)
    photos = {("/" + rel): f.data for rel, (_, f, _) in lay.photo_files.items()}
    geotags = [f for f in key["facts"] if f["kind"] == "photo_geotag"]
    assert len(geotags) >= 10
    for fact in geotags:
        exp = fact["expected"]
        data = photos[exp["path"]]
        assert hashlib.sha256(data).hexdigest() == exp["sha256"]
        assert _jpeg_segments(data)[:5] == [0xE1, 0xDB, 0xC0, 0xC4, 0xC4]
        import io
        tags = exifread.process_file(io.BytesIO(data), details=False)
        lat = [float(x) for x in tags["GPS GPSLatitude"].values]
        value = lat[0] + lat[1] / 60 + lat[2] / 3600
        if str(tags["GPS GPSLatitudeRef"]) == "S":
            value = -value
        assert abs(value - exp["lat"]) < 1e-7
        assert str(tags["EXIF DateTimeOriginal"]) == exp["taken_local"][:19].replace("-", ":").replace("T", " ")
        assert ("EXIF OffsetTimeOriginal" in tags) == (exp["tz_source"] == "offset_tag")
        assert ("GPS GPSTimeStamp" in tags) == (exp["tz_source"] != "unknown")
    sources = {f["expected"]["tz_source"] for f in geotags}
    assert sources >= {"offset_tag", "unknown"}


def test_extraction_zip_holds_the_phone_files(samples):
    import zipfile
    folder = samples["a"]
    key = json.loads((folder / "answer-key.json").read_text())
    with zipfile.ZipFile(folder / "extraction.zip") as zf:
        names = zf.namelist()
        count = next(f for f in key["facts"] if f["kind"] == "file_count" and f["item"] == "extraction")
        assert len(names) == count["expected"]["count"]
        for fact in key["facts"]:
            if fact["item"] == "extraction" and fact["kind"] == "file_present":
                # the case lists the Dump/ tree under device paths: /data/x is member Dump/data/x
                data = zf.read("Dump" + fact["expected"]["path"])
                assert hashlib.sha256(data).hexdigest() == fact["expected"]["sha256"]


def test_chat_exports_are_in_their_applications_formats(samples, tmp_path):
    import sqlite3
    import zipfile
    from forensic.training.build import layout
    lay = layout(7)
    files = {f.rel: f.data for f in lay.phone}
    wa = next(d for r, d in files.items() if r.endswith(".txt"))
    assert b" - " in wa.splitlines()[1] and b"(archivo adjunto)" in wa
    ios = next(d for r, d in files.items() if r.endswith(".zip"))
    import io
    with zipfile.ZipFile(io.BytesIO(ios)) as zf:
        chat = zf.read("_chat.txt").decode()
        assert chat.startswith("[") and "<attached: " in chat and (" AM] " in chat or " PM] " in chat)
        assert all(n in zf.namelist() for n in [line.split("<attached: ")[1].rstrip(">")
                                                for line in chat.splitlines() if "<attached: " in line])
    fb = json.loads(next(d for r, d in files.items() if r.endswith("message_1.json")))
    raw = next(d for r, d in files.items() if r.endswith("message_1.json"))
    assert raw.isascii() and b"\\u00c3" in raw                      # mojibake, as Facebook writes it
    assert fb["messages"][0]["timestamp_ms"] > fb["messages"][-1]["timestamp_ms"]   # newest first
    tg = json.loads(next(d for r, d in files.items() if r.endswith("result.json")))
    assert tg["type"] == "personal_chat" and all("date_unixtime" in m for m in tg["messages"])
    db_bytes = next(d for r, d in files.items() if r.endswith("mmssms.db"))
    assert db_bytes.startswith(b"SQLite format 3\x00")
    (tmp_path / "mmssms.db").write_bytes(db_bytes)
    db = sqlite3.connect(tmp_path / "mmssms.db")
    try:
        rows = db.execute("SELECT thread_id, address, date, type, body FROM sms ORDER BY _id").fetchall()
    finally:
        db.close()
    sms = [c for c in lay.story.chats if c.platform == "sms"]
    # read alone, without its hot journal: the committed texts and the unfinished transaction's
    assert len(rows) == sum(len(c.messages) for c in sms) + len(lay.story.interrupted.chat.messages)
    assert {r[3] for r in rows} == {1, 2} and all(r[2] > 10**12 for r in rows)      # ms since the epoch


def test_missing_tool_is_named_with_its_package(tmp_path, monkeypatch):
    from forensic.training.build import build_sample
    from forensic.training.tools import SampleToolError
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(SampleToolError) as info:
        build_sample(tmp_path / "out", seed=1)
    assert "mke2fs" in info.value.message and "e2fsprogs" in info.value.message
    assert not (tmp_path / "out" / "phone.raw").exists()


def test_cli_missing_tool_message(forensic, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = forensic("sample-image", tmp_path / "out", expect=1)
    assert "mke2fs" in r.err and "e2fsprogs" in r.err and "apt-get install" in r.err


def test_refuses_to_overwrite_without_force(forensic, tmp_path):
    require_tools(*TOOLS)
    out = tmp_path / "s"
    first = forensic("sample-image", out, "--seed", "3", "--json").json()
    assert set(first["files"]) == set(IMAGES)
    r = forensic("sample-image", out, "--seed", "3", expect=2)
    assert "--force" in r.err
    again = forensic("sample-image", out, "--seed", "3", "--force", "--json").json()
    assert again["files"] == first["files"]


def test_e01_holds_the_phone_media_with_case_metadata(forensic, tmp_path):
    require_tools(*TOOLS, "ewfacquire")
    out = tmp_path / "s"
    forensic("sample-image", out, "--seed", "4", "--e01", "--json")
    raw_sha = hashlib.sha256((out / "phone.raw").read_bytes()).hexdigest()
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "E", "--examiner", "T")
    added = forensic("evidence", "add", out / "phone.E01", "--case", case, "--json").json()
    assert added["format"] == "e01"
    assert added["sha256"] == raw_sha
    assert added["acquisition_hash_verified"] is True
    from forensic.case import Case
    c = Case.open(case)
    try:
        headers = c.item(added["item"]).details["headers"]
    finally:
        c.close()
    text = json.dumps(headers)
    assert "SAMPLE-4" in text and "Training Examiner" in text
    key = json.loads((out / "answer-key.json").read_text())
    assert key["items"]["phone"]["sha256"] == raw_sha and key["items"]["phone"]["e01"]["file"] == "phone.E01"


def _decode_dc(data: bytes) -> list[tuple[int, int, int]]:
    """Baseline Huffman decoding (T.81 F.2) of a 3-component 4:4:4 JPEG, from the tables the
    file itself declares; returns each 8x8 block's (Y, Cb, Cr) mean value."""
    pos, tables, quant, width, height = 2, {}, {}, 0, 0
    while True:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xDB:
            quant[body[0] & 15] = body[1:65]
        elif marker == 0xC0:
            height, width = struct.unpack(">HH", body[1:5])
            assert body[0] == 8 and body[5] == 3
        elif marker == 0xC4:
            bits, vals, codes, code, k = body[1:17], body[17:], {}, 0, 0
            for n_len, n in enumerate(bits, start=1):
                for _ in range(n):
                    codes[(n_len, code)] = vals[k]
                    code, k = code + 1, k + 1
                code <<= 1
            tables[body[0] >> 4, body[0] & 15] = codes
        pos += 2 + length
        if marker == 0xDA:
            break
    raw = data[pos:data.rindex(b"\xff\xd9")].replace(b"\xff\x00", b"\xff")
    bits = "".join(f"{b:08b}" for b in raw)
    i = 0

    def symbol(table):
        nonlocal i
        code, n = 0, 0
        while True:
            code, n, i = (code << 1) | (bits[i] == "1"), n + 1, i + 1
            if (n, code) in table:
                return table[n, code]
            assert n < 16, "invalid Huffman code"

    def value(size):
        nonlocal i
        if size == 0:
            return 0
        v = int(bits[i:i + size], 2)
        i += size
        return v if v >= 1 << (size - 1) else v - (1 << size) + 1

    prev, out = [0, 0, 0], []
    for _ in range((width // 8) * (height // 8)):
        block = []
        for c in range(3):
            prev[c] += value(symbol(tables[0, 0]))
            k = 1
            while k < 64:
                rs = symbol(tables[1, 0])
                if rs == 0:
                    break
                k += (rs >> 4) + 1
                value(rs & 15)
            block.append(prev[c] * quant[0][0] // 8 + 128)
        out.append(tuple(block))
    assert set(bits[i:]) <= {"1"} and len(bits) - i < 8          # only the 1-bit padding is left
    return out


def test_jpeg_scan_decodes_to_the_planned_colours():
    from forensic.training.build import _blocks
    from forensic.training.jpeg import _ycbcr, photo
    blocks = _blocks(11, "probe")
    decoded = _decode_dc(photo(blocks, None))
    planned = [_ycbcr(rgb) for row in blocks for rgb in row]
    assert decoded == planned


def test_e01_item_counts_as_the_phone(forensic, tmp_path):
    require_tools(*TOOLS, "ewfacquire")
    out = tmp_path / "s"
    forensic("sample-image", out, "--seed", "12", "--e01", "--json")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "E", "--examiner", "T")
    forensic("evidence", "add", out / "phone.E01", "--case", case, "--id", "seized-phone", "--json")
    assert forensic("triage", "--case", case, "--json", expect=None).code in (0, 3)
    report = forensic("training", "check", out / "answer-key.json", "--case", case, "--json").json()
    assert report["items"]["phone"] == ["seized-phone"]
    bad = [f for f in report["missed"] + report["wrong"] if f["item"] == "phone"
           and f["kind"] not in ("report_finding", "pseudonymised_export", "bundle_sources", "place_export",
                                 "known_bad_file", "known_good_count", *SEARCH_KINDS)]   # no export, set, search
    assert bad == []
    assert {f["item"] for f in report["missed"]} - {"phone"} == {"card", "extraction", "card-copy", "card-qcow2",
                                                           "iphone-backup", "phone-ab", "laptop"}
