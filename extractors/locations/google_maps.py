"""Google Maps for Android (``com.google.android.apps.maps``): ``databases/gmm_myplaces.db``,
the saved ("starred") places, table ``sync_item`` (``key_string``, ``timestamp`` Unix ms UTC,
``latitude`` and ``longitude`` in millionths of a degree, ``sync_item`` a protobuf), as ALEAPP's
Google Maps scripts read it (``latitude*.000001``). The protobuf's place name is not decoded;
its printable text is not guessed at. Each row becomes a ``location/point`` record (kind
``saved_place``).

Not read: ``gmm_storage.db`` (search history): its rows are protobuf blobs whose coordinates
have no public schema.
"""
from __future__ import annotations

from forensic.extractors.chat.app_db import unix_millis
from forensic.extractors.chat.sqlite_chat import SqliteChatExtractor, source
from forensic.extractors.locations.common import RECORD_TYPE, point_record
from forensic.extractors.records import ArtifactRecord

APP = "com.google.android.apps.maps"
E6 = 1_000_000


class GoogleMapsExtractor(SqliteChatExtractor):
    NAME = "google_maps"
    VERSION = "1"
    DESCRIPTION = "Google Maps Android saved places (gmm_myplaces.db sync_item)"
    RECORD_TYPES = (RECORD_TYPE,)
    FILE_NAMES = ("gmm_myplaces.db",)
    REQUIRED = ("sync_item",)
    MESSAGE_TABLES = {"sync_item": ("key_string", "timestamp", "latitude", "longitude", "corpus")}

    def context(self, conn, tables, item, problems) -> list[str]:
        return problems

    def row_record(self, table, r, ctx, item) -> ArtifactRecord | None:
        problems: list[str] = ctx
        lat, lon = r["latitude"], r["longitude"]
        if not isinstance(lat, int) or not isinstance(lon, int) or isinstance(lat, bool):
            problems.append(f"sync_item: row {r['_rowid']} has no position in millionths of a degree "
                            f"({lat!r}, {lon!r}); left out")
            return None
        return point_record(
            latitude=lat / E6, longitude=lon / E6, at=unix_millis(r["timestamp"], "saved", problems), app=APP,
            kind="saved_place", source=source(item, table, r["_rowid"]), source_ref=f"{table}:{r['_rowid']}",
            extra={"key": r["key_string"], "corpus": r["corpus"], "latitude_raw": lat, "longitude_raw": lon},
            problems=problems)
