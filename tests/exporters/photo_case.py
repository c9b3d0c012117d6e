"""A case built with real tools for the photo, geo and timeline tests.

Item ``phone`` is an ext4 image (mke2fs -d) holding five photos written by
``tests/extractors/fixtures_photo.py``, each named for its time-zone situation:

* ``offset_gps.jpg``  — OffsetTimeOriginal +02:00 and a GPS fix (Eiffel Tower): ``offset_tag``;
* ``gps_time_only.jpg`` — no OffsetTime*, GPS time 2 h behind the local time (Madrid), and a
  Make holding ``<script>&``: zone inferred from GPS (``gps``);
* ``no_zone.jpg``     — no offset, no GPS: zone ``unknown`` (``assumed`` after
  ``triage --force --assume-tz Europe/Madrid``);
* ``gps_null_island.jpg`` — GPS 0/0 (invalid): listed by ``photos``, never in ``geo``;
* ``garbage_strings.jpg`` — a Make that is not UTF-8 and a Model holding BEL/ESC (terminal
  escape) characters, with a valid GPS fix: it must reach KML and the terminal harmless.

``no_zone.jpg`` also holds DateTimeDigitized 2021-06-30 20:00:00 (zone unknown), used to
test the ``--from``/``--to`` rule for zoneless times at the bounds. The item also holds
``/WhatsApp/WhatsApp Chat with Luis.txt``: two chat messages (local times, zone unknown).

Item ``card`` is a FAT32 image (mkfs.vfat + mcopy): its file times are local, zone unknown.
"""
from __future__ import annotations

from calendar import timegm
from pathlib import Path

from builders import ext4_image, fat_image
from tests.extractors import fixtures_photo as F

HOSTILE_MAKE = "<script>&Evil \"Cam\""

OFFSET_GPS = F.jpeg(F.good_tiff_block()[0])
GPS_TIME_ONLY = F.jpeg(F.good_tiff_block(
    ifd0=[F.ascii_(0x010F, HOSTILE_MAKE), F.ascii_(0x0110, "X100"), F.short(0x0112, 1)],
    exif=F.good_exif(offset=None, taken="2021:07:04 09:00:00"),
    gps=F.good_gps(lat=((40, 1), (25, 1), (0, 1)), lat_ref="N", lon=((3, 1), (42, 1), (0, 1)), lon_ref="W",
                   time=((7, 1), (0, 1), (0, 1)), date="2021:07:04"))[0])
NO_ZONE = F.jpeg(F.build_tiff(
    [F.ascii_(0x010F, "Nokia"), F.ascii_(0x0110, "Lumia 920")],
    [F.ascii_(0x9003, "2021:08:10 23:45:00"), F.ascii_(0x9004, "2021:06:30 20:00:00")])[0])
NULL_ISLAND = F.gps_null_island()
# a WhatsApp (Android) export: local times, zone unknown
CHAT = ("25/06/2021, 14:35 - Ana: Hola, ¿dónde estás?\n"
        "25/06/2021, 14:36 - Luis: En la torre <b>&\n").encode()

PHONE_FILES = {
    "/DCIM/Camera/offset_gps.jpg": OFFSET_GPS,
    "/DCIM/Camera/gps_time_only.jpg": GPS_TIME_ONLY,
    "/DCIM/Camera/no_zone.jpg": NO_ZONE,
    "/DCIM/Camera/gps_null_island.jpg": NULL_ISLAND,
    "/DCIM/Camera/garbage_strings.jpg": F.garbage_strings(),
    "/notes.txt": b"shopping list\n",
    "/WhatsApp/WhatsApp Chat with Luis.txt": CHAT,
}
CARD_FILES = {
    "/DCIM/100CANON/card.jpg": OFFSET_GPS,
    "/readme.txt": b"card\n",
}

# offset_gps.jpg: DateTimeOriginal 2021:06:01 14:30:15, sub-seconds 25, OffsetTimeOriginal +02:00
TAKEN_UTC = "2021-06-01T12:30:15.250000Z"
TAKEN_US = timegm((2021, 6, 1, 12, 30, 15)) * 1_000_000 + 250_000


def cli(*args, expect: int | None = 0) -> int:
    """Run the CLI in-process (for module-scoped fixtures, where capsys is not available)."""
    from forensic.cli.main import main
    code = main([str(a) for a in args])
    assert expect is None or code == expect, f"forensic {args}: exit {code}, expected {expect}"
    return code


GEOTAGGED = {("card", "/DCIM/100CANON/card.jpg"), ("phone", "/DCIM/Camera/offset_gps.jpg"),
             ("phone", "/DCIM/Camera/gps_time_only.jpg"), ("phone", "/DCIM/Camera/garbage_strings.jpg")}
PHOTO_COUNT = 6


def build_case(forensic, tmp: Path) -> Path:
    case = tmp / "case"
    forensic("case", "init", case, "--case-id", "C-4", "--examiner", "Ann Examiner")
    phone = ext4_image(tmp, PHONE_FILES, name="phone.img")
    card = fat_image(tmp, CARD_FILES, name="card.img")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("evidence", "add", card, "--case", case, "--id", "card")
    # exit 3: the null-island photo's warning is recorded
    forensic("triage", "--case", case, expect=3)
    return case
