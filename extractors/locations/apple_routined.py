"""Apple iOS ``com.apple.routined`` location caches (Core Data SQLite; schema as iLEAPP's
``routineD*`` artifacts and public SQL references read it, iOS 12 to 17):

* ``Caches/com.apple.routined/Cache.sqlite``: ``ZRTCLLOCATIONMO`` — one row per location fix
  (``ZTIMESTAMP`` Core Data seconds UTC, ``ZLATITUDE``, ``ZLONGITUDE``, ``ZHORIZONTALACCURACY``,
  ``ZALTITUDE``, ``ZVERTICALACCURACY``, ``ZSPEED``, ``ZCOURSE``);
* ``Local.sqlite``: ``ZRTLEARNEDLOCATIONOFINTERESTVISITMO`` — visits to a learned place
  (``ZENTRYDATE``, ``ZEXITDATE``, ``ZLOCATIONLATITUDE``, ``ZLOCATIONLONGITUDE``,
  ``ZLOCATIONHORIZONTALUNCERTAINTY``, ``ZCONFIDENCE``, ``ZLOCATIONOFINTEREST``), and
  ``ZRTLEARNEDLOCATIONOFINTERESTMO`` — the learned places themselves (``ZLOCATIONLATITUDE``,
  ``ZLOCATIONLONGITUDE``, ``ZLOCATIONHORIZONTALUNCERTAINTY``, ``ZPLACECREATIONDATE``).

Every row becomes a ``location/point`` record (deleted rows recovered from free space too, marked
as the chat databases' are).
"""
from __future__ import annotations

import posixpath

from forensic.extractors.chat.app_db import apple_seconds
from forensic.extractors.chat.common import SQLITE_MAGIC
from forensic.extractors.chat.sqlite_chat import SqliteChatExtractor, source
from forensic.extractors.locations.common import RECORD_TYPE, point_record
from forensic.extractors.records import ArtifactRecord

FIX = "ZRTCLLOCATIONMO"
VISIT = "ZRTLEARNEDLOCATIONOFINTERESTVISITMO"
PLACE = "ZRTLEARNEDLOCATIONOFINTERESTMO"
APP = "com.apple.routined"


class AppleRoutinedExtractor(SqliteChatExtractor):
    NAME = "apple_routined"
    VERSION = "1"
    DESCRIPTION = "iOS routined location caches (Cache.sqlite fixes, Local.sqlite visits and learned places)"
    RECORD_TYPES = (RECORD_TYPE,)
    MARKERS = (FIX.encode(), b"ZRTLEARNEDLOCATIONOFINTEREST")
    REQUIRED = (FIX, VISIT, PLACE)
    MESSAGE_TABLES = {
        FIX: ("ZTIMESTAMP", "ZLATITUDE", "ZLONGITUDE", "ZHORIZONTALACCURACY", "ZALTITUDE", "ZVERTICALACCURACY",
              "ZSPEED", "ZCOURSE"),
        VISIT: ("ZENTRYDATE", "ZEXITDATE", "ZLOCATIONLATITUDE", "ZLOCATIONLONGITUDE",
                "ZLOCATIONHORIZONTALUNCERTAINTY", "ZCONFIDENCE", "ZLOCATIONOFINTEREST"),
        PLACE: ("ZLOCATIONLATITUDE", "ZLOCATIONLONGITUDE", "ZLOCATIONHORIZONTALUNCERTAINTY", "ZPLACECREATIONDATE"),
    }

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        p = path.replace("\\", "/").lower()
        # the schema names the tables on page 1; a long schema may not fit there, the folder tells then
        return any(m in head for m in self.MARKERS) or (
            "com.apple.routined/" in p and posixpath.basename(p) in ("cache.sqlite", "local.sqlite"))

    def context(self, conn, tables, item, problems) -> list[str]:
        return problems                       # row_record notes rows left out here

    def row_record(self, table, r, ctx, item) -> ArtifactRecord | None:
        problems: list[str] = ctx
        src = source(item, table, r["_rowid"])
        ref = f"{table}:{r['_rowid']}"
        if table == FIX:
            at = apple_seconds(r["ZTIMESTAMP"], "fix", problems)
            speed = r["ZSPEED"]
            return point_record(
                latitude=r["ZLATITUDE"], longitude=r["ZLONGITUDE"], at=at, app=APP, kind="location_fix",
                source=src, source_ref=ref, accuracy_m=r["ZHORIZONTALACCURACY"], altitude=r["ZALTITUDE"],
                extra={"vertical_accuracy_m": r["ZVERTICALACCURACY"],
                       "speed_mps": speed if isinstance(speed, (int, float)) and speed >= 0 else None,
                       "course": r["ZCOURSE"] if isinstance(r["ZCOURSE"], (int, float)) and r["ZCOURSE"] >= 0
                       else None},
                problems=problems)
        if table == VISIT:
            entry = apple_seconds(r["ZENTRYDATE"], "visit_entry", problems)
            leave = apple_seconds(r["ZEXITDATE"], "visit_exit", problems)
            return point_record(
                latitude=r["ZLOCATIONLATITUDE"], longitude=r["ZLOCATIONLONGITUDE"], at=entry, app=APP, kind="visit",
                source=src, source_ref=ref, accuracy_m=r["ZLOCATIONHORIZONTALUNCERTAINTY"],
                extra={"exit_at": leave.iso_utc() if leave is not None else None,
                       "exit_at_raw": leave.raw if leave is not None else None, "confidence": r["ZCONFIDENCE"],
                       "place_id": r["ZLOCATIONOFINTEREST"]},
                problems=problems, more_times=(leave,))
        created = apple_seconds(r["ZPLACECREATIONDATE"], "place_created", problems)
        return point_record(
            latitude=r["ZLOCATIONLATITUDE"], longitude=r["ZLOCATIONLONGITUDE"], at=created, app=APP,
            kind="learned_place", source=src, source_ref=ref, accuracy_m=r["ZLOCATIONHORIZONTALUNCERTAINTY"],
            problems=problems)
