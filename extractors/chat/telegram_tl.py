"""Telegram's TL serialisation as Telegram for Android stores a message in ``cache4.db``
(``messages_v2.data``): reading a ``TL_message`` blob field by field, for the Telegram Android
reader (``telegram_android``), which turns what is read here into chat records.

What is read of a blob (``decode_full``):

* the text: in every ``TL_message`` layout the ``message`` string immediately follows the
  ``date`` field, so the row's own ``date`` is looked for in the blob and the TL string
  after it is taken when it is well-formed (length-prefixed, padded to 4 bytes) strict UTF-8;
* the sender in a group: the blob's ``id`` field (the row's ``mid``) is found at offset 8
  (one flags word) or 12 (``flags2`` too, layer 177 on); when ``flags`` bit 8 is set the
  ``from_id`` Peer follows it: ``peerUser`` (layer 133 on, 64-bit id, 0x59511722; earlier
  32-bit, 0x9db1bc6d), ``peerChat``, ``peerChannel``;
* ``flags`` bit 9 says the message has media, which follows the text: a shared position
  (``messageMediaGeo``, ``messageMediaVenue`` with its title, ``messageMediaGeoLive``) is
  read into ``location``.

Then the fields are walked in their order (``walk_message``) for the ``message`` constructors
of layers 51-214 (``MESSAGE_LAYOUTS``): flags, [flags2 (177 on)], id, from_id? (flags.8: an
int before layer 119, a Peer after), [from_boosts_applied (flags.29, 174 on)], peer_id,
[saved_peer_id (flags.28, 170 on)], fwd_from? (flags.2: ``MessageFwdHeader``, seven layouts),
via_bot_id? (flags.11: int, long from 133), [via_business_bot_id (flags2.0)], reply_to?
(flags.3: the message id as an int before 119, a ``MessageReplyHeader`` after, five layouts,
or a ``messageReplyStoryHeader``), date, message, media? (flags.9). Only a walk that lands
exactly on the row's own ``date`` (and starts on its ``mid``) is trusted: it gives the
forward header (original sender, hidden sender's name, original date), the reply header
(replied-to id, its chat when another, or a story), the text, and where the media starts.
``media_attachment`` then reads that MessageMedia: its kind (photo; document, voice, audio,
video, video_message, animation, sticker from the document's attributes and, layer 170 on,
the media's voice/round/video flags; contact, poll, webpage, dice, game, invoice, story,
giveaway, paid_media, todo, unsupported; ``unknown`` with its id in hex for a constructor not
known) and for a document its file name, MIME type and size. Documents, photos, photo and
video sizes and document attributes are read for layers 51-214.

Layouts were read from Telegram's published TL schema: ``api.tl`` of every layer in Telegram
Desktop's git history (``Telegram/SourceFiles/mtproto/scheme/api.tl``, earlier
``Telegram/Resources/scheme.tl``; telegramdesktop/tdesktop, layers 51-214, to 2025). The
Android client (``TLRPC.java``, DrKLO/Telegram) keeps a class per old constructor and writes
a stored message with the constructor it was read as, so a blob's constructor names its layout.
Every read is bounded by the blob (``_Reader`` raises ``_Off`` rather than run past its end)
and by ``MAX_VECTOR``/``MAX_DATE_HITS``: the blobs come from seized, possibly hostile, data.
"""
from __future__ import annotations

import struct

from forensic.extractors.chat.common import attachment

PEERS = {0x59511722: ("user", 8), 0x9DB1BC6D: ("user", 4), 0x36C6019A: ("chat", 8), 0xBAD0E5BB: ("chat", 4),
         0xA2A5371E: ("channel", 8), 0xBDDDE532: ("channel", 4)}
FLAG_FROM, FLAG_MEDIA = 1 << 8, 1 << 9
# TL constructors of a shared position (Telegram's api.tl): messageMediaGeo, messageMediaVenue,
# messageMediaGeoLive (layer 119 on; before it without flags), and GeoPoint (layer 119 on:
# flags, long, lat, access_hash, [accuracy_radius]; layers 77-118: long, lat, access_hash;
# earlier: long, lat)
MEDIA_GEO, MEDIA_VENUE, MEDIA_GEO_LIVE, MEDIA_GEO_LIVE_OLD = 0x56E0D474, 0x2EC0533F, 0xB940C666, 0x7C3C2609
GEO_POINT, GEO_POINT_V2, GEO_POINT_V1 = 0xB2A2F663, 0x0296F104, 0x2049D70C


def tl_string(blob: bytes, pos: int) -> str | None:
    """The TL string at ``pos`` (1-byte length below 254, else 0xFE and a 3-byte length;
    padded to a multiple of 4), decoded as strict UTF-8; None if it is not one."""
    got = tl_string_end(blob, pos)
    return got[0] if got else None


def tl_string_end(blob: bytes, pos: int) -> tuple[str, int] | None:
    """(the TL string at ``pos``, the offset after it and its padding), or None."""
    if pos >= len(blob):
        return None
    n = blob[pos]
    if n < 254:
        start, head = pos + 1, 1
    elif n == 254 and pos + 4 <= len(blob):
        n = int.from_bytes(blob[pos + 1:pos + 4], "little")
        start, head = pos + 4, 4
    else:
        return None
    end = start + n
    after = end + (-(head + n) % 4)
    if after > len(blob):
        return None
    try:
        return blob[start:end].decode("utf-8"), after
    except UnicodeDecodeError:
        return None


def tl_geo(blob: bytes, pos: int) -> tuple[float, float] | None:
    """(latitude, longitude) of the GeoPoint at ``pos`` (it stores longitude first)."""
    if pos + 4 > len(blob):
        return None
    ctor = struct.unpack_from("<I", blob, pos)[0]
    at = {GEO_POINT: pos + 8, GEO_POINT_V2: pos + 4, GEO_POINT_V1: pos + 4}.get(ctor)
    if at is None or at + 16 > len(blob):
        return None
    lon, lat = struct.unpack_from("<dd", blob, at)
    return lat, lon


def tl_media_location(blob: bytes, pos: int) -> tuple[str, float, float, str | None] | None:
    """(kind, latitude, longitude, venue title) of the MessageMedia at ``pos`` when it is a
    position (messageMediaGeo, messageMediaVenue, messageMediaGeoLive); else None."""
    if pos + 4 > len(blob):
        return None
    ctor = struct.unpack_from("<I", blob, pos)[0]
    if ctor == MEDIA_GEO:
        got, kind, title = tl_geo(blob, pos + 4), "geo", None
    elif ctor == MEDIA_VENUE:
        got, kind = tl_geo(blob, pos + 4), "venue"
        title = None
        if got is not None:
            g = struct.unpack_from("<I", blob, pos + 4)[0]
            after = pos + 4 + {GEO_POINT: 32, GEO_POINT_V2: 28, GEO_POINT_V1: 20}[g]
            if g == GEO_POINT and struct.unpack_from("<I", blob, pos + 8)[0] & 1:
                after += 4                                   # accuracy_radius
            t = tl_string_end(blob, after)
            title = t[0] if t else None
    elif ctor in (MEDIA_GEO_LIVE, MEDIA_GEO_LIVE_OLD):
        got, kind, title = tl_geo(blob, pos + 8 if ctor == MEDIA_GEO_LIVE else pos + 4), "live", None
    else:
        return None
    return (kind, got[0], got[1], title) if got else None


# -- the field walk ------------------------------------------------------------------------------
# A TL_message's fields in order, per constructor (api.tl of each layer, Telegram Desktop's
# history of Telegram/SourceFiles/mtproto/scheme/api.tl, earlier Telegram/Resources/scheme.tl):
# (layers, from_id an int (before layer 119) or a Peer, via_bot_id width, reply_to an int
# (before 119) or a MessageReplyHeader, saved_peer_id (flags.28, 170 on), from_boosts_applied
# (flags.29, 174 on), flags2 (177 on; via_business_bot_id: flags2.0)).
MESSAGE_LAYOUTS: dict[int, tuple[str, bool, int, bool, bool, bool, bool]] = {
    0xC09BE45F: ("51-68", False, 4, False, False, False, False),
    0x90DDDC11: ("70-72", False, 4, False, False, False, False),
    0x44F9B43D: ("73-104", False, 4, False, False, False, False),
    0x452C0E65: ("105-118", False, 4, False, False, False, False),
    0x58AE39C9: ("119-123", True, 4, True, False, False, False),
    0xBCE383D2: ("124-132", True, 4, True, False, False, False),
    0x85D6CBE2: ("133-135", True, 8, True, False, False, False),
    0x38116EE0: ("136-169", True, 8, True, False, False, False),
    0x76BEC211: ("170-173", True, 8, True, True, False, False),
    0x1E4C8A69: ("174-175", True, 8, True, True, True, False),
    0xA66C7EFC: ("176", True, 8, True, True, True, False),
    0x2357BF25: ("177-179", True, 8, True, True, True, True),
    0xBDE09C2E: ("180", True, 8, True, True, True, True),
    0x94345242: ("181-195", True, 8, True, True, True, True),
    0x96FDBBE9: ("196-200", True, 8, True, True, True, True),
    0xEABCDD4D: ("200-205", True, 8, True, True, True, True),
    0x9815CEC8: ("206-214", True, 8, True, True, True, True),
}
FLAG_FWD, FLAG_REPLY, FLAG_VIA_BOT = 1 << 2, 1 << 3, 1 << 11
FLAG_SAVED_PEER, FLAG_BOOSTS = 1 << 28, 1 << 29
VECTOR = 0x1CB5C415
MAX_VECTOR = 10_000
# At most this many places where the row's date's 4 bytes occur are tried for the text after
# them (a blob not walked): a hostile 1 MiB blob of the date's bytes over and over made a
# million tries, 1.2 s a blob (red team); a real blob holds its date once or twice.
MAX_DATE_HITS = 64


def date_word(date) -> int | None:
    """The row's ``date`` as the 4 bytes a blob stores it as (an unsigned 32-bit word), None
    for no date or a value that is not a number (a hostile row: text, infinity)."""
    if not date:
        return None
    try:
        return int(date) & 0xFFFFFFFF
    except (TypeError, ValueError, OverflowError):
        return None


class _Off(Exception):
    """The bytes do not follow the layout being walked (unknown constructor, past the end)."""


class _Reader:
    """Little-endian TL reads over a blob that raise ``_Off`` instead of running past its end."""

    def __init__(self, blob: bytes, pos: int = 0) -> None:
        self.blob, self.pos = blob, pos

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.blob):
            raise _Off("past the end")
        got = struct.unpack_from(fmt, self.blob, self.pos)[0]
        self.pos += size
        return got

    def i32(self) -> int:
        return int(self.take("<i"))

    def u32(self) -> int:
        return int(self.take("<I"))

    def i64(self) -> int:
        return int(self.take("<q"))

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.blob):
            raise _Off("past the end")
        self.pos += n

    def raw(self) -> bytes:
        """TL ``bytes``: the string framing, any content."""
        if self.pos >= len(self.blob):
            raise _Off("past the end")
        n, head = self.blob[self.pos], 1
        if n == 254:
            if self.pos + 4 > len(self.blob):
                raise _Off("past the end")
            n, head = int.from_bytes(self.blob[self.pos + 1:self.pos + 4], "little"), 4
        elif n == 255:
            raise _Off("not a TL string")
        end = self.pos + head + n + (-(head + n) % 4)
        if end > len(self.blob):
            raise _Off("past the end")
        raw = self.blob[self.pos + head:self.pos + head + n]
        self.pos = end
        return raw

    def string(self) -> str:
        try:
            return self.raw().decode("utf-8")
        except UnicodeDecodeError:
            raise _Off("not UTF-8") from None

    def vector(self, item, min_size: int = 4) -> list:
        """A ``Vector<item>``: its constructor, a count (bounded by what the blob can hold)."""
        if self.u32() != VECTOR:
            raise _Off("not a vector")
        n = self.i32()
        if n < 0 or n > MAX_VECTOR or n * min_size > len(self.blob) - self.pos:
            raise _Off("vector count out of range")
        return [item(self) for _ in range(n)]


def _peer(r: _Reader) -> tuple[str, int]:
    """A Peer: (user | chat | channel, id); 64-bit ids from layer 133, 32-bit before."""
    kind = PEERS.get(r.u32())
    if kind is None:
        raise _Off("not a Peer")
    return kind[0], (r.i64() if kind[1] == 8 else r.i32())


def _fwd_header(r: _Reader) -> dict:
    """A MessageFwdHeader: the original sender (a Peer, or a user/channel id before layer 119),
    the hidden sender's name (``from_name``, layer 97 on), the original date and a channel
    post's signature (``post_author``; before layer 119 a signed post's ``from_id`` is its
    author's user id beside the ``channel_id``)."""
    ctor = r.u32()
    if ctor not in FWD_HEADERS:
        raise _Off("not a MessageFwdHeader")
    flags = r.u32()
    out: dict = {"from": None, "from_name": None, "date": None, "channel": None, "post_author": None}
    if ctor in (0x5F777DCE, 0x4E4DF4BB):          # layer 119 on: Peers
        if flags & 1:
            out["from"] = _peer(r)
        if flags & 1 << 5:
            out["from_name"] = r.string()
        out["date"] = r.i32()
        if flags & 1 << 2:
            r.i32()                                     # channel_post
        if flags & 1 << 3:
            out["post_author"] = r.string()
        if flags & 1 << 4:
            _peer(r)                                    # saved_from_peer
            r.i32()                                     # saved_from_msg_id
        if ctor == 0x4E4DF4BB:
            if flags & 1 << 8:
                _peer(r)                                # saved_from_id
            if flags & 1 << 9:
                r.string()                              # saved_from_name
            if flags & 1 << 10:
                r.i32()                                 # saved_date
        if flags & 1 << 6:
            r.string()                                  # psa_type
        return out
    # layers 51-118: from_id and channel_id are 32-bit ints
    if flags & 1:
        out["from"] = ("user", r.i32())
    if flags & 1 << 5 and ctor in (0xEC338270, 0x353A686B):
        out["from_name"] = r.string()
    out["date"] = r.i32()
    if flags & 1 << 1:
        out["channel"] = ("channel", r.i32())
    if flags & 1 << 2:
        r.i32()                                         # channel_post
    if flags & 1 << 3 and ctor != 0xC786DDCB:
        out["post_author"] = r.string()
    if flags & 1 << 4 and ctor not in (0xC786DDCB, 0xFADFF4AC):
        _peer(r)                                        # saved_from_peer
        r.i32()                                         # saved_from_msg_id
    if flags & 1 << 6 and ctor == 0x353A686B:
        r.string()                                      # psa_type
    return out


FWD_HEADERS = (0xC786DDCB, 0xFADFF4AC, 0x559EBE6D, 0xEC338270, 0x353A686B, 0x5F777DCE, 0x4E4DF4BB)
# MessageEntity constructors: (extra fields after offset and length)
ENTITIES = {0xBB92BA95: "", 0xFA04579D: "", 0x6F635B0D: "", 0x6CEF8AC7: "", 0x6ED02538: "", 0x64E475C2: "",
            0xBD610BC9: "", 0x826F8B60: "", 0x28A20571: "", 0x73924BE0: "s", 0x76A6D327: "s", 0xDC7B1140: "l",
            0x352DCA58: "i", 0x9B69E34B: "", 0x4C4E743F: "", 0x9C4E7E8B: "", 0xBF0693D4: "", 0x761E6AF4: "",
            0x32CA960F: "", 0xC8CF05F8: "l", 0x20DF5D0: "", 0xF1CCAAAC: "f", 0x5EEF0214: ""}


def _entity(r: _Reader) -> None:
    extra = ENTITIES.get(r.u32())
    if extra is None:
        raise _Off("not a MessageEntity")
    if extra == "f":
        r.i32()                                         # flags before offset, length
    r.skip(8)
    if extra == "s":
        r.string()
    elif extra == "l":
        r.i64()
    elif extra == "i":
        r.i32()


def _reply_header(r: _Reader) -> dict:
    """A MessageReplyHeader (layer 119 on): the replied-to message id and, for a reply into
    another chat, its Peer; a reply to a story (messageReplyStoryHeader) has no message id."""
    ctor = r.u32()
    out: dict = {"msg_id": None, "peer": None, "story": None}
    if ctor == 0x9C98BFC1:                              # messageReplyStoryHeader, layers 160-174
        out["story"] = (("user", r.i64()), r.i32())
        return out
    if ctor == 0x0E5AF939:                              # messageReplyStoryHeader, layer 174 on
        out["story"] = (_peer(r), r.i32())
        return out
    if ctor not in (0xA6D57763, 0x3D5C1693, 0x6EEBCABD, 0xAFBC09DB, 0x6917560B):
        raise _Off("not a MessageReplyHeader")
    flags = r.u32()
    if ctor == 0xA6D57763:                              # layers 119-160: the id always there
        out["msg_id"] = r.i32()
    elif flags & 1 << 4:
        out["msg_id"] = r.i32()
    if flags & 1:
        out["peer"] = _peer(r)
    if ctor != 0xA6D57763:
        if flags & 1 << 5:
            _fwd_header(r)                              # reply_from
        if flags & 1 << 8 and ctor != 0x3D5C1693:
            _media(r)                                   # reply_media
    if flags & 1 << 1:
        r.i32()                                         # reply_to_top_id
    if ctor != 0xA6D57763:
        if flags & 1 << 6:
            r.string()                                  # quote_text
        if flags & 1 << 7:
            r.vector(_entity, 12)                       # quote_entities
        if flags & 1 << 10 and ctor in (0xAFBC09DB, 0x6917560B):
            r.i32()                                     # quote_offset
        if flags & 1 << 11 and ctor == 0x6917560B:
            r.i32()                                     # todo_item_id
    return out


def walk_message(blob: bytes, mid: int | None, date: int | None) -> dict | None:
    """The fields of a ``TL_message`` blob read in their order, or None unless the walk is
    self-consistent: a known constructor, its ``id`` the row's ``mid`` and, after every
    optional field the flags announce, its ``date`` exactly the row's own date."""
    word = date_word(date)
    if not isinstance(blob, bytes) or len(blob) < 12 or mid is None or word is None:
        return None
    r = _Reader(blob)
    try:
        layout = MESSAGE_LAYOUTS.get(r.u32())
        if layout is None:
            return None
        layers, peers, bot_width, reply_header, saved_peer, boosts, has_flags2 = layout
        flags = r.u32()
        flags2 = r.u32() if has_flags2 else 0
        if r.i32() != mid:
            return None
        out: dict = {"layers": layers, "from": None, "fwd": None, "reply_to": None, "reply_peer": None,
                     "reply_story": None, "text": None, "media_at": None}
        if flags & FLAG_FROM:
            out["from"] = _peer(r) if peers else ("user", r.i32())
        if boosts and flags & FLAG_BOOSTS:
            r.i32()                                     # from_boosts_applied
        _peer(r)                                        # peer_id (to_id before layer 119)
        if saved_peer and flags & FLAG_SAVED_PEER:
            _peer(r)                                    # saved_peer_id
        if flags & FLAG_FWD:
            out["fwd"] = _fwd_header(r)
        if flags & FLAG_VIA_BOT:
            r.skip(bot_width)                           # via_bot_id
        if flags2 & 1:
            r.i64()                                    # via_business_bot_id
        if flags & FLAG_REPLY:
            if reply_header:
                head = _reply_header(r)
                out["reply_to"], out["reply_peer"], out["reply_story"] = head["msg_id"], head["peer"], head["story"]
            else:
                out["reply_to"] = r.i32()               # reply_to_msg_id
        if r.take("<I") != word:
            return None
        out["text"] = r.string()
    except _Off:
        return None
    if flags & FLAG_MEDIA:
        out["media_at"] = r.pos
    return out


# -- media ---------------------------------------------------------------------------------------
# MessageMedia constructors (api.tl, layers 51-214) -> the attachment kind; a position (geo,
# venue, live) is read into ``location`` instead; a document's kind comes from its attributes.
MEDIA_KINDS = {
    0x3DED6320: None,                                                      # messageMediaEmpty
    0x695150D7: "photo", 0xB5223B0F: "photo", 0x3D8CE53D: "photo", 0xC8C45A2A: "photo",
    0x52D8CCD9: "document", 0xDBBDF614: "document", 0xDD570BD5: "document", 0x4CF4D72D: "document",
    0x9CB070D7: "document", 0x7C4414D3: "document", 0xF3E02EA8: "document", 0x2FDA2204: "document",
    MEDIA_GEO: "location", MEDIA_VENUE: "location", 0x7912B71F: "location", MEDIA_GEO_LIVE: "location",
    MEDIA_GEO_LIVE_OLD: "location",
    0x70322949: "contact", 0xCBF24940: "contact", 0x5E7D2F39: "contact",
    0x4BD6E798: "poll", 0xA32DD600: "webpage", 0xDDF10C3B: "webpage", 0xFDB19008: "game",
    0xF6A548D3: "invoice", 0x84551347: "invoice", 0x3F7EE58B: "dice", 0x638FE46B: "dice",
    0x68CB6283: "story", 0xCBB20D88: "story", 0xC79AEE11: "story",
    0xAA073BEB: "giveaway", 0xDAAD85B0: "giveaway", 0x58260664: "giveaway", 0x4291677C: "giveaway",
    0xCEAA3EA1: "giveaway_results", 0xC6991068: "giveaway_results", 0xB11FF5A1: "giveaway_results",
    0xA8852491: "paid_media", 0x8A53B014: "todo", 0x9F84F49E: "unsupported", 0x29632A36: "unsupported",
    0xC6B68300: "audio", 0x5BCF1675: "video", 0xA2D24290: "video",
}
# messageMediaDocument with the voice/video/round flags (layer 170 on)
DOCUMENT_MEDIA_FLAGGED = (0x52D8CCD9, 0xDBBDF614, 0xDD570BD5, 0x4CF4D72D)
_FILE_LOCATIONS = {0xBC7FC6CD: "li", 0x091D11EB: "ililb", 0x53D69076: "ilil", 0x7C596B46: "lil"}


def _fields(r: _Reader, spec: str) -> None:
    """Skip fields by letter: i int, l long, d double, s string, b bytes, v Vector<int>,
    L FileLocation, S InputStickerSet."""
    for c in spec:
        if c == "i":
            r.skip(4)
        elif c in "ld":
            r.skip(8)
        elif c in "sb":
            r.raw()
        elif c == "v":
            r.vector(lambda x: x.skip(4))
        elif c == "L":
            got = _FILE_LOCATIONS.get(r.u32())
            if got is None:
                raise _Off("not a FileLocation")
            _fields(r, got)
        elif c == "S":
            _sticker_set(r)


def _sticker_set(r: _Reader) -> None:
    ctor = r.u32()
    if ctor == 0x9DE7A269:
        r.skip(16)                                      # inputStickerSetID: id, access_hash
    elif ctor in (0x861CC8A0, 0xE67F520E):
        r.raw()                                       # short name, dice emoticon
    elif ctor not in (0xFFB62B95, 0x028703C8, 0x0CDE3739, 0x79E21A53, 0x49748553, 0x29D0F5EE, 0x44C1F8E9,
                      0x04C4D4CE, 0xC88B3B02, 0x1CF671A0):
        raise _Off("not an InputStickerSet")


# PhotoSize and VideoSize constructors -> their fields (``f`` a flags word: video_start_ts
# follows when its bit 0 is set)
_PHOTO_SIZES = {0x0E17E23C: "s", 0x75C78E60: "siii", 0x77BFB61B: "sLiii", 0x021E1AD6: "siib", 0xE9A734FA: "sLiib",
                0xE0B0BC2E: "sb", 0xFA3EFB95: "siiv", 0x5AA86A51: "sLiiv", 0xD8214D41: "sb"}
_VIDEO_SIZES = {0xDE33B094: "fsiii", 0xE831C556: "fsLiii", 0x435BB987: "sLiii", 0xF85C413C: "lv",
                0x0BADB646: "slv", 0x0DA082FE: "Slv"}


def _photo_size(r: _Reader) -> None:
    spec = _PHOTO_SIZES.get(r.u32())
    if spec is None:
        raise _Off("not a PhotoSize")
    _fields(r, spec)


def _video_size(r: _Reader) -> None:
    spec = _VIDEO_SIZES.get(r.u32())
    if spec is None:
        raise _Off("not a VideoSize")
    flags = r.u32() if spec.startswith("f") else 0
    _fields(r, spec.lstrip("f"))
    if flags & 1:
        r.skip(8)                                       # video_start_ts


def _photo(r: _Reader) -> None:
    """Skip a Photo (photoEmpty; photo of layers 51-214)."""
    ctor = r.u32()
    if ctor == 0x2331B22D:
        r.skip(8)
        return
    if ctor not in (0xFB197A65, 0xD07504A5, 0x9C477DD8, 0x9288DD29, 0xCDED42FE):
        raise _Off("not a Photo")
    flags = r.u32() if ctor != 0xCDED42FE else 0
    r.skip(16)                                          # id, access_hash
    if ctor in (0xFB197A65, 0xD07504A5, 0x9C477DD8):
        r.raw()                                       # file_reference
    r.skip(4)                                           # date
    r.vector(_photo_size)
    if ctor == 0xFB197A65 and flags & 2:
        r.vector(_video_size)
    if ctor in (0xFB197A65, 0xD07504A5):
        r.skip(4)                                       # dc_id


def _attribute(r: _Reader) -> dict:
    """A DocumentAttribute: what it says of the file (name, kind, duration, title...)."""
    ctor = r.u32()
    if ctor == 0x15590068:
        return {"file_name": r.string()}
    if ctor in (0x6C37C15C,):                           # imageSize: w, h
        r.skip(8)
        return {}
    if ctor == 0x11B58939:
        return {"kind": "animation"}
    if ctor in (0x9801D2F7,):                           # hasStickers
        return {}
    if ctor == 0x99CD09AB:                              # version (layer 54)
        r.skip(4)
        return {}
    if ctor == 0x9852F9C6:                              # audio: flags, duration, [title, performer, waveform]
        flags = r.u32()
        got: dict = {"kind": "voice" if flags & 1 << 10 else "audio", "duration": r.i32()}
        if flags & 1:
            got["title"] = r.string()
        if flags & 2:
            got["performer"] = r.string()
        if flags & 4:
            r.raw()
        return got
    if ctor == 0xDED218E0:
        got = {"kind": "audio", "duration": r.i32(), "title": r.string(), "performer": r.string()}
        return got
    if ctor == 0x051448E5:
        return {"kind": "audio", "duration": r.i32()}
    if ctor in (0x43C57C48, 0x17399FAD, 0xD38FF1C2, 0xE9407793, 0x0EF02CE6, 0x5910CCCB):   # video
        flags = r.u32() if ctor != 0x5910CCCB else 0
        duration: float = r.take("<d") if ctor in (0x43C57C48, 0x17399FAD, 0xD38FF1C2) else r.i32()
        r.skip(8)                                       # w, h
        if flags & 4 and ctor not in (0x0EF02CE6, 0x5910CCCB):
            r.skip(4)                                   # preload_prefix_size
        if flags & 16 and ctor in (0x43C57C48, 0x17399FAD):
            r.skip(8)                                   # video_start_ts
        if flags & 32 and ctor == 0x43C57C48:
            r.raw()                                   # video_codec
        return {"kind": "video_message" if flags & 1 else "video", "duration": duration}
    if ctor in (0x6319D612, 0x3A556302):                # sticker: [flags], alt, stickerset, [mask_coords]
        flags = r.u32() if ctor == 0x6319D612 else 0
        alt = r.string()
        _sticker_set(r)
        if flags & 1:
            if r.u32() != 0xAED6DBB2:
                raise _Off("not a MaskCoords")
            r.skip(4 + 24)                              # maskCoords: n, x, y, zoom
        return {"kind": "sticker", "emoji": alt}
    if ctor == 0x994C9882:
        return {"kind": "sticker", "emoji": r.string()}
    if ctor == 0xFB0A5727:
        return {"kind": "sticker"}
    if ctor == 0xFD149899:                              # customEmoji: flags, alt, stickerset
        r.u32()
        alt = r.string()
        _sticker_set(r)
        return {"kind": "sticker", "emoji": alt}
    raise _Off("not a DocumentAttribute")


def _document(r: _Reader) -> dict:
    """A Document (layers 51-214): MIME type, size, and what its attributes say."""
    ctor = r.u32()
    if ctor == 0x36F8C871:                              # documentEmpty
        r.skip(8)
        return {}
    if ctor not in (0x8FD4C4D8, 0x1E87342B, 0x9BA29CC1, 0x59534E4C, 0xCA84C039, 0x87232BC7, 0xF9A39F4F):
        raise _Off("not a Document")
    flagged = ctor in (0x8FD4C4D8, 0x1E87342B, 0x9BA29CC1)
    flags = r.u32() if flagged else 0
    r.skip(16)                                          # id, access_hash
    if ctor not in (0x87232BC7, 0xF9A39F4F):
        r.raw()                                       # file_reference (layer 85 on)
    r.skip(4)                                           # date
    out: dict = {"mime_type": r.string(), "size": r.i64() if ctor == 0x8FD4C4D8 else r.i32()}
    if flagged:
        if flags & 1:
            r.vector(_photo_size)
        if flags & 2 and ctor != 0x9BA29CC1:
            r.vector(_video_size)
    else:
        _photo_size(r)                                  # thumb
    r.skip(4)                                           # dc_id
    if ctor in (0xCA84C039, 0x87232BC7):
        r.skip(4)                                       # version
    kinds = []
    for a in r.vector(_attribute):
        if "kind" in a:
            kinds.append(a.pop("kind"))
        out.update(a)
    # the most specific kind the attributes give: a sticker or voice note over its audio/image
    for k in ("sticker", "voice", "video_message", "animation", "video", "audio"):
        if k in kinds:
            out["kind"] = k
            break
    return out


def _geo_point(r: _Reader) -> None:
    """Skip a GeoPoint (geoPointEmpty; layers 51-81, 82-119, 120 on: see ``tl_geo``)."""
    ctor = r.u32()
    if ctor == GEO_POINT:
        flags = r.u32()
        r.skip(24 + (4 if flags & 1 else 0))            # long, lat, access_hash, [accuracy_radius]
    elif ctor in (GEO_POINT_V2, GEO_POINT_V1):
        r.skip(24 if ctor == GEO_POINT_V2 else 16)
    elif ctor != 0x1117DD5F:
        raise _Off("not a GeoPoint")


def _text_with_entities(r: _Reader) -> str:
    if r.u32() != 0x751F3146:
        raise _Off("not a TextWithEntities")
    text = r.string()
    r.vector(_entity, 12)
    return text


def _poll_answer(r: _Reader) -> str:
    ctor = r.u32()
    if ctor == 0x6CA9C2E9:
        text = r.string()
    elif ctor == 0xFF16E2CA:
        text = _text_with_entities(r)
    else:
        raise _Off("not a PollAnswer")
    r.raw()                                           # option
    return text


def _media(r: _Reader, whole: bool = True) -> dict:
    """A MessageMedia: its kind and what is known of it. With ``whole`` the reader ends
    after it (for a replied-to message's media inside a reply header), and any media whose
    end is not worked out raises ``_Off``; without, details are read as far as they go."""
    ctor = r.u32()
    if ctor not in MEDIA_KINDS:
        raise _Off("unknown MessageMedia")
    kind = MEDIA_KINDS[ctor]
    out: dict = {"kind": kind}
    if kind is None or ctor == 0x9F84F49E:
        return out
    if kind == "photo":
        flags = r.u32() if ctor in (0x695150D7, 0xB5223B0F) else 1
        if flags & 1:
            _photo(r)
        if ctor in (0xB5223B0F, 0x3D8CE53D) and (flags & 2 or ctor == 0x3D8CE53D):
            out["caption"] = r.string()
        if flags & 4 and ctor in (0x695150D7, 0xB5223B0F):
            out["ttl_seconds"] = r.i32()
        return out
    if kind == "document":
        flags = r.u32() if ctor in DOCUMENT_MEDIA_FLAGGED + (0x9CB070D7, 0x7C4414D3) else 1
        if flags & 1:
            out.update(_document(r))
        if ctor in DOCUMENT_MEDIA_FLAGGED:          # the media's own flags say what the file is
            for bit, k in ((8, "voice"), (7, "video_message"), (6, "video")):
                if flags & 1 << bit and out["kind"] in ("document", "audio", "video"):
                    out["kind"] = k
        if not whole:
            return out
        if ctor in (0xF3E02EA8, 0x7C4414D3) and (flags & 2 or ctor == 0xF3E02EA8):
            r.string()                                  # caption
        if flags & 1 << 5 and ctor in DOCUMENT_MEDIA_FLAGGED:
            if ctor == 0x4CF4D72D:
                _document(r)                            # alt_document
            else:
                r.vector(_document)                     # alt_documents
        if flags & 1 << 9 and ctor in (0x52D8CCD9, 0xDBBDF614):
            _photo(r)                                   # video_cover
        if flags & 1 << 10 and ctor == 0x52D8CCD9:
            r.i32()                                     # video_timestamp
        if flags & 4 and ctor != 0xF3E02EA8:
            r.i32()                                     # ttl_seconds
        return out
    if kind == "contact":
        out.update(phone_number=r.string(), first_name=r.string(), last_name=r.string())
        if ctor != 0x5E7D2F39:
            r.string()                                  # vcard
        out["contact_user_id"] = r.i64() if ctor == 0x70322949 else r.i32()
        return out
    if kind == "dice":
        out["value"] = r.i32()
        if ctor == 0x3F7EE58B:
            out["emoji"] = r.string()
        return out
    if kind == "location":
        flags = r.u32() if ctor == MEDIA_GEO_LIVE else 0
        _geo_point(r)
        if ctor in (MEDIA_VENUE, 0x7912B71F):
            _fields(r, "sssss" if ctor == MEDIA_VENUE else "ssss")   # title, address, provider, venue id[, type]
        elif ctor == MEDIA_GEO_LIVE:
            _fields(r, ("i" if flags & 1 else "") + "i" + ("i" if flags & 2 else ""))  # heading, period, radius
        elif ctor == MEDIA_GEO_LIVE_OLD:
            r.skip(4)                                   # period
        return out
    if whole:
        raise _Off(f"the end of a {kind} is not worked out")
    if kind == "poll":
        poll_ctor = r.u32()
        if poll_ctor not in (0x86E18161, 0xD5529D06, 0x58747131):
            raise _Off("not a Poll")
        r.skip(12)                                      # id, flags
        out["question"] = _text_with_entities(r) if poll_ctor == 0x58747131 else r.string()
        out["answers"] = r.vector(_poll_answer, 8)
    elif kind == "webpage" and ctor == 0xDDF10C3B:
        r.u32()                                        # the media's flags
        ctor = 0xA32DD600
    if kind == "webpage" and ctor == 0xA32DD600:
        page = r.u32()
        if page in (0xE89C45B2, 0xFA64E172, 0x5F07B4BC, 0xCA820ED7):   # flags, id, url
            r.skip(12)
            out["url"] = r.string()
    return out


def media_attachment(blob: bytes, pos: int) -> dict | None:
    """The attachment for the MessageMedia at ``pos`` (None for none or a position, which
    goes to ``location``): its kind and what could be read; an unknown constructor gives
    kind ``unknown`` with the constructor in hex."""
    if pos + 4 > len(blob):
        return attachment(None, kind="unknown", note="media in the TL blob cut short")
    ctor = struct.unpack_from("<I", blob, pos)[0]
    hexid = f"0x{ctor:08x}"
    if ctor not in MEDIA_KINDS:
        return attachment(None, kind="unknown", tl_constructor=hexid,
                          note=f"media in the TL blob of an unknown constructor {hexid}")
    kind = MEDIA_KINDS[ctor]
    if kind in (None, "location"):
        return None
    try:
        got = _media(_Reader(blob, pos), whole=False)
    except _Off as exc:
        return attachment(None, kind=kind, tl_constructor=hexid, note=f"media details not decoded ({exc})")
    name = got.pop("file_name", None)
    return attachment(name, **got, tl_constructor=hexid)


def decode_message(blob: bytes | None, mid: int | None, date: int | None) -> dict:
    """What can be read of a TL message blob: constructor, text, from peer, has media."""
    return decode_full(blob, mid, date)[0]


def decode_full(blob: bytes | None, mid: int | None, date: int | None) -> tuple[dict, dict | None]:
    """``decode_message``'s answer and the field walk (``walk_message``), None when the blob
    does not walk to its date. Where it does, its text, sender and media position are the
    walk's (the same as the search by date finds, unless a forward header's date is the
    message's own); else the search by date alone."""
    out: dict = {"constructor": None, "text": None, "from": None, "media": None, "location": None}
    if not isinstance(blob, bytes) or len(blob) < 12:
        return out, None
    out["constructor"] = f"0x{struct.unpack_from('<I', blob, 0)[0]:08x}"
    walk = walk_message(blob, mid, date)
    if walk is not None:
        out.update(text=walk["text"], media=walk["media_at"] is not None)
        out["from"] = walk["from"]
        out["location"] = tl_media_location(blob, walk["media_at"]) if walk["media_at"] is not None else None
        return out, walk
    # not walked: the sender and media flag read where the id sits, the text after the date
    flags = struct.unpack_from("<I", blob, 4)[0]
    if mid is not None:
        for at in (8, 12):
            if at + 4 <= len(blob) and struct.unpack_from("<i", blob, at)[0] == mid:
                out["media"] = bool(flags & FLAG_MEDIA)
                if flags & FLAG_FROM and at + 8 <= len(blob):
                    ctor = struct.unpack_from("<I", blob, at + 4)[0]
                    kind = PEERS.get(ctor)
                    if kind and at + 8 + kind[1] <= len(blob):
                        fmt = "<q" if kind[1] == 8 else "<i"
                        out["from"] = (kind[0], struct.unpack_from(fmt, blob, at + 8)[0])
                break
    word = date_word(date)
    if word is not None:
        needle = struct.pack("<I", word)
        pos = blob.find(needle, 8)
        for _ in range(MAX_DATE_HITS):
            if pos == -1:
                break
            got = tl_string_end(blob, pos + 4)
            if got is not None:
                out["text"] = got[0]
                if flags & FLAG_MEDIA:          # the media object follows the text
                    out["location"] = tl_media_location(blob, got[1])
                break
            pos = blob.find(needle, pos + 1)
    return out, None



def u32(blob: bytes, pos: int) -> int | None:
    """The unsigned 32-bit word at ``pos``, None past the end."""
    return struct.unpack_from("<I", blob, pos)[0] if pos + 4 <= len(blob) else None
