"""Build small QuickTime/MP4 files atom by atom: an iPhone-like MOV (Apple metadata keys), an
Android-like MP4 (``©xyz`` in ``udta``) and a GoPro-like MP4 (a ``gpmd`` GPMF track)."""
from __future__ import annotations

import struct
from datetime import datetime, timezone

EPOCH_1904 = datetime(1904, 1, 1, tzinfo=timezone.utc)


def atom(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def qt_seconds(dt: datetime) -> int:
    return int((dt - EPOCH_1904).total_seconds())


def mvhd(created: datetime, modified: datetime, timescale: int = 600, duration: int = 3000) -> bytes:
    return atom(b"mvhd", struct.pack(">B3xIIII", 0, qt_seconds(created), qt_seconds(modified), timescale, duration),
                b"\0" * 80)


def video_trak(width: int, height: int, codec: bytes = b"avc1", frames: int = 150, timescale: int = 600,
               duration: int = 3000) -> bytes:
    tkhd = atom(b"tkhd", b"\0" * 76, struct.pack(">II", width << 16, height << 16))
    mdhd = atom(b"mdhd", struct.pack(">B3xIIIIHH", 0, 0, 0, timescale, duration, 0, 0))
    hdlr = atom(b"hdlr", b"\0\0\0\0mhlrvide", b"\0" * 12, b"\0")
    stsd = atom(b"stsd", struct.pack(">II", 0, 1), atom(codec, b"\0" * 78))
    stts = atom(b"stts", struct.pack(">III", 0, 1, frames), struct.pack(">I", duration // frames))
    stbl = atom(b"stbl", stsd, stts)
    return atom(b"trak", tkhd, atom(b"mdia", mdhd, hdlr, atom(b"minf", stbl)))


def keys_meta(items: list[tuple[str, int, bytes]]) -> bytes:
    """moov/meta with Apple keys: (key, data type, value bytes)."""
    hdlr = atom(b"hdlr", b"\0\0\0\0\0\0\0\0mdta", b"\0" * 12, b"\0")
    keys = atom(b"keys", struct.pack(">II", 0, len(items)),
                *(struct.pack(">I4s", 8 + len(k.encode()), b"mdta") + k.encode() for k, _, _ in items))
    ilst = atom(b"ilst", *(atom(struct.pack(">I", i + 1), atom(b"data", struct.pack(">II", t, 0), v))
                           for i, (_, t, v) in enumerate(items)))
    return atom(b"meta", hdlr, keys, ilst)


def text_atom(kind: bytes, text: str) -> bytes:
    raw = text.encode()
    return atom(kind, struct.pack(">HH", len(raw), 0x15C7), raw)


def iphone_mov(created_utc: datetime, creationdate: str, iso6709: str, make: str = "Apple",
               model: str = "iPhone 12", software: str = "17.1") -> bytes:
    moov = atom(b"moov", mvhd(created_utc, created_utc), video_trak(1920, 1080),
                keys_meta([("com.apple.quicktime.location.ISO6709", 1, iso6709.encode()),
                           ("com.apple.quicktime.make", 1, make.encode()),
                           ("com.apple.quicktime.model", 1, model.encode()),
                           ("com.apple.quicktime.software", 1, software.encode()),
                           ("com.apple.quicktime.creationdate", 1, creationdate.encode())]))
    return atom(b"ftyp", b"qt  ", b"\0\0\0\0", b"qt  ") + atom(b"wide") + atom(b"mdat", b"\0" * 64) + moov


def android_mp4(created_utc: datetime, xyz: str, version: str = "13") -> bytes:
    udta = atom(b"udta", text_atom(b"\xa9xyz", xyz))
    moov = atom(b"moov", mvhd(created_utc, created_utc), video_trak(1280, 720, b"hvc1"),
                keys_meta([("com.android.version", 1, version.encode())]), udta)
    return atom(b"ftyp", b"mp42", b"\0\0\0\0", b"isommp42") + moov + atom(b"mdat", b"\0" * 32)


def _klv(key: bytes, type_code: bytes, size: int, values: bytes, repeat: int | None = None) -> bytes:
    repeat = repeat if repeat is not None else (len(values) // size if size else 0)
    pad = (-len(values)) % 4
    return struct.pack(">4scBH", key, type_code, size, repeat) + values + b"\0" * pad


def _nest(key: bytes, *items: bytes) -> bytes:
    body = b"".join(items)
    return struct.pack(">4scBH", key, b"\0", 1, len(body)) + body


def gpmf_sample(gpsu: str, points: list[tuple[float, float, float, float, float]], fix: int = 3) -> bytes:
    scal = (10_000_000, 10_000_000, 1000, 1000, 100)
    gps5 = b"".join(struct.pack(">5i", *(round(v * s) for v, s in zip(p, scal, strict=True))) for p in points)
    strm = _nest(b"STRM",
                 _klv(b"STNM", b"c", 1, b"GPS (Lat., Long., Alt., 2D speed, 3D speed)"),
                 _klv(b"GPSF", b"L", 4, struct.pack(">I", fix)),
                 _klv(b"GPSU", b"U", 16, gpsu.encode()),
                 _klv(b"GPSP", b"S", 2, struct.pack(">H", 250)),
                 _klv(b"SCAL", b"l", 4, struct.pack(">5i", *scal)),
                 _klv(b"GPS5", b"l", 20, gps5))
    return _nest(b"DEVC", _klv(b"DVID", b"L", 4, struct.pack(">I", 1)),
                 _klv(b"DVNM", b"c", 1, b"HERO7 Black"), strm)


def gpmf_gps9_sample(points: list[tuple[float, float, float, float, float, int, float]], fix: int = 3) -> bytes:
    """A HERO11-style sample: GPS9 points (lat, lon, alt, 2D speed, 3D speed, days since 2000,
    seconds of the day), each with its own time, as GoPro's GPMF specification lays them out."""
    scal = (10_000_000, 10_000_000, 1000, 1000, 100, 1, 1000, 100, 1)
    body = b"".join(struct.pack(">7i2H", *(round(v * s) for v, s in zip(p[:7], scal[:7], strict=True)), 150, fix)
                    for p in points)
    strm = _nest(b"STRM",
                 _klv(b"STNM", b"c", 1, b"GPS (Lat., Long., Alt., 2D, 3D, days, secs, DOP, fix)"),
                 _klv(b"SCAL", b"l", 4, struct.pack(">9i", *scal)),
                 _klv(b"TYPE", b"c", 1, b"lllllllSS"),
                 _klv(b"GPS9", b"?", 32, body))
    return _nest(b"DEVC", _klv(b"DVID", b"L", 4, struct.pack(">I", 1)),
                 _klv(b"DVNM", b"c", 1, b"HERO11 Black"), strm)


def gopro_mp4(created_local: datetime, samples: list[bytes], serial: str = "C3221324545448",
              model: str = "HERO7 Black", firmware: str = "HD7.01.01.90.00") -> bytes:
    """A GoPro-like MP4: mvhd in the camera's local time, one GPMF sample a second."""
    ftyp = atom(b"ftyp", b"mp41", b"\0\0\0\0", b"mp41")
    mdat_body = b"".join(samples)
    mdat = atom(b"mdat", mdat_body)
    offsets, pos = [], len(ftyp) + 8
    for s in samples:
        offsets.append(pos)
        pos += len(s)
    n = len(samples)
    tkhd = atom(b"tkhd", b"\0" * 84)
    mdhd = atom(b"mdhd", struct.pack(">B3xIIIIHH", 0, 0, 0, 1000, 1000 * n, 0, 0))
    hdlr = atom(b"hdlr", b"\0\0\0\0mhlrmeta", b"\0" * 12, b"\0")
    stsd = atom(b"stsd", struct.pack(">II", 0, 1), atom(b"gpmd", b"\0" * 8))
    stts = atom(b"stts", struct.pack(">III", 0, 1, n), struct.pack(">I", 1000))
    stsc = atom(b"stsc", struct.pack(">IIIII", 0, 1, 1, 1, 1))
    stsz = atom(b"stsz", struct.pack(">III", 0, 0, n), *(struct.pack(">I", len(s)) for s in samples))
    stco = atom(b"stco", struct.pack(">II", 0, n), *(struct.pack(">I", o) for o in offsets))
    trak = atom(b"trak", tkhd, atom(b"mdia", mdhd, hdlr, atom(b"minf", atom(b"stbl", stsd, stts, stsc, stsz, stco))))
    gpmf_udta = (_klv(b"FIRM", b"c", 1, firmware.encode()) + _klv(b"CASN", b"c", 1, serial.encode())
                 + _klv(b"MINF", b"c", 1, model.encode()))
    udta = atom(b"udta", atom(b"FIRM", firmware.encode()), atom(b"GPMF", gpmf_udta))
    moov = atom(b"moov", mvhd(created_local, created_local, 1000, 1000 * n), video_trak(1920, 1080), trak, udta)
    return ftyp + mdat + moov


def freegps_block(when: datetime, lat: float, lon: float, knots: float, alt: float | None = None,
                  status: bytes = b"A") -> bytes:
    """A Novatek freeGPS block of the common binary layout (positions in DDDMM.MMMM)."""
    def ddmm(v: float) -> float:
        d = int(abs(v))
        return d * 100 + (abs(v) - d) * 60
    block = bytearray(256)
    struct.pack_into(">I8s", block, 0, len(block), b"freeGPS ")
    struct.pack_into("<6I", block, 48, when.hour, when.minute, when.second, when.year - 2000, when.month, when.day)
    block[72:75] = status + (b"N" if lat >= 0 else b"S") + (b"E" if lon >= 0 else b"W")
    struct.pack_into("<4f", block, 76, ddmm(lat), ddmm(lon), knots, 90.0)
    if alt is not None:
        struct.pack_into("<d", block, 0x70, ddmm(lat))
        struct.pack_into("<d", block, 0x80, ddmm(lon))
        struct.pack_into("<d", block, 0xA0, alt)
    return bytes(block)


def novatek_mp4(created_local: datetime, blocks: list[bytes]) -> bytes:
    """A dashcam MP4: freeGPS blocks after the ftyp, listed by a 'gps ' atom in moov."""
    ftyp = atom(b"ftyp", b"avc1", b"\0\0\0\0", b"avc1isom")
    body, entries, pos = b"", [], len(ftyp)
    for b in blocks:
        entries.append(struct.pack(">II", pos, len(b)))
        body += b
        pos += len(b)
    gps = atom(b"gps ", struct.pack(">II", 0x101, len(blocks)), *entries)
    moov = atom(b"moov", mvhd(created_local, created_local), video_trak(1920, 1080), gps)
    return ftyp + body + atom(b"mdat", b"\0" * 16) + moov
