"""The fictional case a sample image tells, planned from one seed.

Everything here is invented: people and hotels from small name pools, phone numbers in
obviously fictional ranges, pictures that are flat colour blocks. Only the cities are real
(their coordinates and time zones make the time-zone exercise meaningful).

The plan is made before any file is written, with ``random.Random(seed)`` as the only
source of variation and fixed dates (no clock is read), so one seed gives one story. A part
of the story added later draws from its own ``random.Random(f"{seed}/<part>")``, so that the
story told before it came stays the same for every seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class Stop:
    city: str
    country: str
    zone: str              # IANA name
    offset: int            # minutes east of UTC in January/February (no DST in the plan's dates)
    lat: float
    lon: float
    alt: float             # metres
    roaming_sms: str       # the carrier's welcome text on arrival


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    stops: tuple[Stop, ...]
    origin_cc: str          # calling code of the victim's home country
    transport: str          # how the victim travels


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("balkan-route", "recruited in Tbilisi for a 'hotel job' in Spain; moved by bus through "
             "Istanbul, Sofia and Belgrade, flown to Barcelona",
             (Stop("Tbilisi", "Georgia", "Asia/Tbilisi", 240, 41.7151, 44.8271, 490.0,
                   "Welcome home! Your tariff applies."),
              Stop("Istanbul", "Turkey", "Europe/Istanbul", 180, 41.0082, 28.9784, 39.0,
                   "Welcome to Turkey! Calls 1.99/min, data 9.99/MB."),
              Stop("Sofia", "Bulgaria", "Europe/Sofia", 120, 42.6977, 23.3219, 550.0,
                   "Welcome to Bulgaria! Roam like at home does not apply to your plan."),
              Stop("Belgrade", "Serbia", "Europe/Belgrade", 60, 44.7866, 20.4489, 117.0,
                   "Welcome to Serbia! Data 7.99/MB."),
              Stop("Barcelona", "Spain", "Europe/Madrid", 60, 41.3874, 2.1686, 12.0,
                   "Welcome to Spain! Data 5.99/MB.")),
             "+995", "bus"),
    Scenario("atlantic-route", "recruited in Caracas for a 'hotel job' in Spain; flown through Bogota "
             "and Lisbon to Madrid",
             (Stop("Caracas", "Venezuela", "America/Caracas", -240, 10.4806, -66.9036, 900.0,
                   "Bienvenido a casa."),
              Stop("Bogota", "Colombia", "America/Bogota", -300, 4.7110, -74.0721, 2640.0,
                   "Bienvenido a Colombia. Datos 9.99/MB."),
              Stop("Lisbon", "Portugal", "Europe/Lisbon", 0, 38.7223, -9.1393, 45.0,
                   "Bem-vindo a Portugal! Dados 5.99/MB."),
              Stop("Madrid", "Spain", "Europe/Madrid", 60, 40.4168, -3.7038, 657.0,
                   "Bienvenido a España. Datos 5.99/MB.")),
             "+58", "plane"),
)}
DEFAULT_SCENARIO = "balkan-route"

_FIRST = ["Elena", "Nadia", "Irina", "Lucía", "Mariam", "Sofía", "Tamar", "Daniela", "Ana", "Nino"]
_LAST = ["Rusu", "Beridze", "Moreno", "Kapanadze", "Duarte", "Petrova", "Salinas", "Gelashvili"]
_RECRUITER = ["Marco Ruiz", "Javier Soler", "Andrés Vidal", "Óscar Llorente"]
_TRANSPORTER = ["Dana Moreau", "Kris Vale", "Alex Doran", "Sam Ilic"]
_HANDLER = ["Viktor", "Boss K", "Roman", "Teo"]
_HOTELS = ["Hotel Mirador Azul", "Hotel Costa Serena", "Hostal Las Palmeras", "Hotel Brisa Marina"]
_STATIONS = ["the central bus station", "gate 4 of the north terminal", "the old railway station"]


@dataclass(slots=True)
class Message:
    sender: str
    utc: datetime
    body: str
    attachment: str | None = None          # file name of the media sent with it
    key: str | None = None                 # why a trainee must find it (None: background)
    needle: str | None = None              # distinctive part of the body for the check
    system: bool = False
    incoming: bool = True                  # for SMS: received (type 1) or sent (type 2)


@dataclass(slots=True)
class Chat:
    platform: str                          # whatsapp | telegram | messenger | sms
    extractor: str                         # extractor NAME expected to read it
    title: str | None
    other: str                             # the other party (name or number)
    messages: list[Message] = field(default_factory=list)
    thread_id: int | None = None           # SMS thread


@dataclass(slots=True)
class PhotoPlan:
    name: str
    stop: Stop | None
    local: datetime                        # wall clock in the zone where it was taken
    offset: int                            # true offset (minutes) of that wall clock
    write_offset: bool                     # OffsetTimeOriginal written
    write_gps: bool                        # position written
    write_gps_time: bool                   # GPSDateStamp/GPSTimeStamp written
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    subject: str = ""

    @property
    def utc(self) -> datetime:
        return (self.local - timedelta(minutes=self.offset)).replace(tzinfo=UTC)


@dataclass(slots=True)
class Interrupted:
    """Texts the phone was saving, in one SQLite transaction, when it died: a new SMS thread
    (its address, thread row and messages) written into ``mmssms.db`` but never committed, so
    the database's hot ``-journal`` rolls it back."""

    chat: Chat                             # sent by the other party while the phone was off
    stored: datetime                       # when the phone, back on the network, wrote them (sms.date, UTC)
    died: datetime                         # when it died inside the transaction (the files' times)


@dataclass(slots=True)
class SharedPlace:
    """A position shared in a chat (a geotag of that message)."""

    message: Message
    lat: float
    lon: float
    place: str


@dataclass(slots=True)
class Caller:
    """A person in the phone's address book (national number), in WhatsApp (as a jid) and in
    the call log, where the call is stored with the number only (no cached name)."""

    name: str
    national: str                          # as the address book and the call log hold it
    e164: str
    country: str                           # the call log's countryiso: where the phone was
    call_utc: datetime
    duration: int                          # seconds

    @property
    def jid(self) -> str:
        return self.e164.lstrip("+") + "@s.whatsapp.net"


@dataclass(slots=True)
class WaGroup:
    """A WhatsApp group in ``msgstore.db`` (current schema): the handler writes under a privacy
    id (``lid``, mapped by ``jid_map`` to their phone-number jid), two of their messages are
    then deleted (rows left in free space)."""

    title: str
    group_jid: str
    handler_jid: str                       # the phone-number jid (also in wa.db)
    handler_lid: str                       # the @lid jid the messages were stored under
    member_jid: str                        # another member, by phone number
    messages: list[Message] = field(default_factory=list)   # sender: a jid, or the owner (not incoming)
    deleted: list[Message] = field(default_factory=list)    # of ``messages``: deleted after they were written


@dataclass(slots=True)
class IphoneBackup:
    """The handler's iPhone as an iTunes/Finder backup: the device facts its Info.plist holds
    (fictional IMEI and serial) and, in its ``sms.db``, a text from the recruiter."""

    device_name: str
    model: str
    product_type: str
    ios_version: str
    build_version: str
    imei: str
    serial: str
    udid: str
    last_backup: datetime                  # UTC
    message: Message                       # sender: the recruiter's number (E.164)


def luhn_digit(digits: str) -> str:
    """The Luhn check digit an IMEI ends with."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


@dataclass(slots=True)
class Note:
    """A few lines of text left in space a file system no longer uses: found only by searching
    the raw bytes (a keyword, a built-in pattern), never by a file listing of live files."""

    name: str                              # the file it was (deleted), or what it was part of
    text: str
    phrase: str                            # the part of ``text`` a trainee must find
    written: datetime                      # UTC
    encoding: str = "utf-8"


def iban(country: str, bban: str) -> str:
    """An IBAN (ISO 13616) with its two check digits: 98 - (BBAN + country + "00") mod 97,
    letters as 10..35. Grouped by four, as people write it."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    full = f"{country}{98 - int(digits) % 97:02d}{bban}"
    return " ".join(full[i:i + 4] for i in range(0, len(full), 4))


NOTE_PART = 512                             # the card's notes app: a note saved in parts of this many bytes


@dataclass(slots=True)
class SplitNote:
    """A note a notes app saved in two parts of ``NOTE_PART`` bytes (``names``), the second
    written right after the first: ``term`` lies across the cut (its first ``cut`` bytes end
    the first part), so it is in neither file alone, only in the card's bytes read in order."""

    names: tuple[str, str]
    text: str                              # the whole note (UTF-8): its first NOTE_PART bytes, the first part
    term: str                              # the meeting place: what a trainee searches
    phrase: str                            # the line of the note that names it
    cut: int                               # bytes of ``term`` in the first part
    written: datetime                      # UTC

    @property
    def parts(self) -> tuple[bytes, bytes]:
        data = self.text.encode("utf-8")
        return data[:NOTE_PART], data[NOTE_PART:]


@dataclass(slots=True)
class ArchiveNote:
    """A text file inside a ZIP the phone downloaded (deflated: its words are in no raw byte of
    the image): found only when the archive's members are searched as content."""

    archive: str                           # the ZIP's name (in media/0/Download)
    member: str                            # the text file in it
    text: str
    term: str                              # the words a trainee searches
    answer: str                            # what they lead to (the code word)
    written: datetime                      # UTC


@dataclass(slots=True)
class SignalDesktop:
    """The recruiter's laptop (Linux): Signal Desktop's profile, its ``sql/db.sqlite`` encrypted
    with SQLCipher under ``key_hex``, which ``config.json`` holds as ``encryptedKey`` sealed by
    Chromium's safeStorage without a keyring (``v10``, the built-in password)."""

    user: str                              # the laptop's account: /home/<user>/.config/Signal
    key_hex: str                           # the database key (64 hex digits)
    handler_e164: str
    handler_service_id: str
    chat: Chat                             # with the handler; outgoing: the recruiter (the owner)


@dataclass(slots=True)
class TelegramCache:
    """Telegram for Android's ``cache4.db`` on the phone: the recruiter's private chat with the
    owner. He forwards a job ad a channel posted days before (the forward keeps the channel and
    its time), she replies to the ad (a reply names the message it answers), and he sends the
    contract as a PDF (a document: its file name is in the message, the file never downloaded)."""

    chat: Chat                             # with the recruiter; incoming False: the owner's own
    owner_id: int                          # Telegram user ids (64-bit, as layer 133 on stores them)
    recruiter_id: int
    recruiter_username: str
    channel_id: int
    channel: str                           # the channel that first posted the ad (its title)
    channel_post: int                      # the ad's message id in that channel
    ad: Message                            # forwarded by the recruiter
    ad_posted: datetime                    # when the channel posted it (UTC): the forward header's date
    reply: Message                         # the owner's answer: a reply to ``ad``
    contract: Message                      # the recruiter's message with the PDF
    contract_mime: str
    contract_size: int
    first_id: int                          # the chat's message ids: first_id, first_id + 1, ... in order

    def mid(self, m: Message) -> int:
        """The message id (``messages_v2.mid``) of one of the chat's messages."""
        return self.first_id + next(i for i, x in enumerate(self.chat.messages) if x is m)


@dataclass(slots=True)
class Story:
    seed: int
    scenario: Scenario
    owner: str
    owner_phone: str
    recruiter: str
    recruiter_phone: str
    transporter: str
    handler: str
    relative: str
    hotel: str
    debt: int
    start: datetime                        # departure (UTC)
    arrivals: list[datetime]               # arrival at each stop (UTC)
    export_offset: int                     # the phone's zone when the chats were exported
    export_utc: datetime
    phone_make: str
    phone_model: str
    phone_serial: str
    camera_make: str
    camera_model: str
    camera_serial: str
    photos: list[PhotoPlan] = field(default_factory=list)
    card_photos: list[PhotoPlan] = field(default_factory=list)
    chats: list[Chat] = field(default_factory=list)
    relative_phone: str = ""
    interrupted: Interrupted | None = None  # the SMS database's unfinished transaction
    ios_marked: Message | None = None       # an iOS WhatsApp text that starts with U+200E
    telegram_backup: Chat | None = None     # a minimal Telegram export (date_unixtime, from, text)
    telegram_place: SharedPlace | None = None
    caller: Caller | None = None            # a call the log names by number only
    viber: Chat | None = None               # a Viber group chat
    viber_place: SharedPlace | None = None
    deleted_sms: Message | None = None      # a threat in the SMS thread with the unknown number, deleted
    carved_photo: PhotoPlan | None = None   # a card photo with GPS, deleted, its entry then reused:
    slot_taker: PhotoPlan | None = None     # the next photo, whose directory entry took its slot
    hidden_photo: PhotoPlan | None = None   # a photo with GPS appended after other data (notes.bin)
    document_photo: PhotoPlan | None = None  # a photo with GPS inside a .docx: the place of work
    wa_group: WaGroup | None = None         # WhatsApp msgstore.db: a group, the handler by LID, 2 rows deleted
    iphone: IphoneBackup | None = None      # the handler's iPhone, backed up (iTunes/Finder folder)
    ab_sms: Chat | None = None              # the transporter's Android phone, adb backup (phone.ab): one SMS
    xmp_photo: PhotoPlan | None = None      # an edited photo whose only date is XMP photoshop:DateCreated
    gopro: PhotoPlan | None = None          # a GoPro clip: mvhd in local time, GPMF GPS (UTC) with a position
    forwarded: PhotoPlan | None = None      # a camera original, and its WhatsApp copy (resized, re-compressed)
    saved_place: PhotoPlan | None = None    # a Google Maps saved place (gmm_myplaces.db): the flat, saved
    clip: PhotoPlan | None = None           # a phone clip, and a frame of it sent on WhatsApp as a picture
    booking_note: Note | None = None        # the card: a deleted text file naming the hotel and room
    iban_note: Note | None = None           # the phone: a UTF-16LE payment note in unallocated space
    iban: str = ""                          # the handler's account in it (checksum-valid, fictional)
    signal: SignalDesktop | None = None     # the recruiter's laptop: Signal Desktop, database sealed
    split_note: SplitNote | None = None     # the card: a note in two files, the meeting place across them
    archive_note: ArchiveNote | None = None  # the phone: travel instructions in a downloaded ZIP
    telegram_android: TelegramCache | None = None  # cache4.db: a forwarded ad, a reply to it, a PDF contract


def _phone(rnd: random.Random, cc: str) -> str:
    # x55-01xx numbers: the fictional range convention, kept recognisable in every country plan
    return f"{cc} 555 01{rnd.randrange(100):02d} {rnd.randrange(1000):03d}"


def plan(seed: int, scenario_name: str = DEFAULT_SCENARIO) -> Story:
    scenario = SCENARIOS[scenario_name]
    rnd = random.Random(seed)
    owner = f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}"
    relative = f"{rnd.choice([f for f in _FIRST if f not in owner])} {owner.split()[-1]}"
    year = rnd.choice([2023, 2024, 2025])
    month = rnd.choice([1, 2])
    # from the 15th: every chat then has a day above 12, so its date order (d/m or m/d) is
    # decidable; all before the end-of-March DST changes
    start = datetime(year, month, rnd.randrange(15, 20), rnd.randrange(5, 9), 0, tzinfo=UTC)
    arrivals, t = [], start
    for i, _ in enumerate(scenario.stops):
        if i:
            t = t + timedelta(hours=rnd.randrange(20, 40), minutes=rnd.randrange(60))
        arrivals.append(t)
    final = scenario.stops[-1]
    export_utc = arrivals[-1] + timedelta(days=3, hours=rnd.randrange(2, 10), minutes=rnd.randrange(60))
    story = Story(
        seed=seed, scenario=scenario, owner=owner, owner_phone=_phone(rnd, scenario.origin_cc),
        recruiter=rnd.choice(_RECRUITER), recruiter_phone=_phone(rnd, "+34"),
        transporter=rnd.choice(_TRANSPORTER), handler=rnd.choice(_HANDLER), relative=relative,
        hotel=rnd.choice(_HOTELS), debt=rnd.choice([2500, 3000, 3500, 4000]),
        start=start, arrivals=arrivals, export_offset=final.offset, export_utc=export_utc,
        phone_make="Nexa", phone_model=rnd.choice(["N7 Pro", "N5 Lite", "Orion 8"]),
        phone_serial=f"NX{rnd.randrange(10**9):09d}",
        camera_make="Altura", camera_model=rnd.choice(["AX-5", "AX-7 Mark II"]),
        camera_serial=f"{rnd.randrange(10**7):07d}",
    )
    _plan_photos(story, rnd)
    _plan_card(story, rnd)
    _plan_chats(story, rnd)
    _plan_apps(story)
    return story


def _local(utc: datetime, offset: int) -> datetime:
    return (utc + timedelta(minutes=offset)).replace(tzinfo=None)


def _plan_photos(story: Story, rnd: random.Random) -> None:
    """Two or three geotagged photos per stop; the zone of every stop stays derivable from
    at least one photo (offset tag or GPS time), and at least two photos have no zone at all."""
    stops = story.scenario.stops
    unknown_left = 2
    for i, stop in enumerate(stops):
        arrive = story.arrivals[i]
        n = 3 if i in (0, len(stops) - 1) else 2
        for k in range(n):
            utc = arrive + timedelta(hours=1 + k * 3 + rnd.randrange(2), minutes=rnd.randrange(60),
                                     seconds=rnd.randrange(60), milliseconds=rnd.randrange(1000))
            if k == 0:
                mode = "offset"                       # every stop: a photo that states its zone
            elif unknown_left and (i >= len(stops) - unknown_left or rnd.random() < 0.5):
                mode = "unknown"
                unknown_left -= 1
            else:
                mode = rnd.choice(["offset", "gps_time"])
            local = _local(utc, stop.offset)
            story.photos.append(PhotoPlan(
                name=f"IMG_{local:%Y%m%d_%H%M%S}.jpg", stop=stop, local=local, offset=stop.offset,
                write_offset=mode == "offset", write_gps=True, write_gps_time=mode != "unknown",
                lat=round(stop.lat + rnd.uniform(-0.01, 0.01), 6), lon=round(stop.lon + rnd.uniform(-0.01, 0.01), 6),
                alt=round(stop.alt + rnd.uniform(-5, 5), 1), subject=f"{stop.city} ({mode})"))
    # a photo of a document taken indoors, location off: no position, no zone
    final = stops[-1]
    utc = story.arrivals[-1] + timedelta(days=1, hours=2, minutes=rnd.randrange(60), seconds=rnd.randrange(60))
    local = _local(utc, final.offset)
    story.photos.append(PhotoPlan(name=f"IMG_{local:%Y%m%d_%H%M%S}.jpg", stop=final, local=local,
                                  offset=final.offset, write_offset=False, write_gps=False,
                                  write_gps_time=False, subject="document, location off"))


def _plan_card(story: Story, rnd: random.Random) -> None:
    """Six camera photos at the destination: no GPS, no zone (the camera clock's zone is unknown)."""
    final = story.scenario.stops[-1]
    t = story.arrivals[-1] + timedelta(days=2, hours=3)
    for n in range(1, 7):
        t = t + timedelta(minutes=rnd.randrange(5, 50), seconds=rnd.randrange(60), milliseconds=rnd.randrange(1000))
        story.card_photos.append(PhotoPlan(name=f"ALT_{n:04d}.JPG", stop=final, local=_local(t, final.offset),
                                           offset=final.offset, write_offset=False, write_gps=False,
                                           write_gps_time=False, subject="room photo"))


def _at(base: datetime, rnd: random.Random, minutes: tuple[int, int], whole_minute: bool = False) -> datetime:
    t = base + timedelta(minutes=rnd.randrange(*minutes))
    if whole_minute:
        return t.replace(second=0, microsecond=0)
    return t.replace(second=rnd.randrange(60), microsecond=0)


def _plan_chats(story: Story, rnd: random.Random) -> None:
    s = story
    stops = s.scenario.stops
    me = s.owner.split()[0]           # the name the phone's owner has in her own exports

    # 1. WhatsApp with the recruiter: Android export, Spanish, minute precision
    wa = Chat("whatsapp", "whatsapp_txt", s.recruiter, s.recruiter)
    t = (s.start - timedelta(days=6)).replace(hour=15, minute=0, second=0, microsecond=0)
    wa.messages.append(Message("", t, "Los mensajes y las llamadas están cifrados de extremo a extremo. "
                               "Nadie fuera de este chat, ni siquiera WhatsApp, puede leerlos ni escucharlos.",
                               system=True))
    script = [
        (s.recruiter, "Hola {me}, soy {r}. Me pasó tu número una amiga.", None, None),
        (me, "Hola, ¿qué trabajo es?", None, None),
        (s.recruiter, "Trabajo en el {hotel} de {city}: 1.500 € al mes, alojamiento y viaje pagados.",
         "the job offer (recruitment)", "alojamiento y viaje pagados"),
        (s.recruiter, "", "photo", None),
        (me, "¿Y los papeles?", None, None),
        (s.recruiter, "Yo me encargo de todo. Cuando llegues me das el pasaporte, yo lo guardo.",
         "passport retention", "me das el pasaporte, yo lo guardo"),
        (me, "Vale. ¿Cuándo salgo?", None, None),
        (s.recruiter, "El {day}. Te escribirá {t} con los detalles del viaje.", None, None),
        (s.recruiter, "", "photo", None),
    ]
    t = t + timedelta(minutes=2)
    for sender, body, role, needle in script:
        t = _at(t, rnd, (1, 40), whole_minute=True)
        wa.messages.append(_msg(sender, t, body, role, needle, s, me))
    t = (s.arrivals[-1] + timedelta(days=2)).replace(second=0, microsecond=0)
    for sender, body, role, needle in [
        (me, "¿Cuándo me devuelves el pasaporte?", "victim asks for her passport", "devuelves el pasaporte"),
        (s.recruiter, "Primero pagas la deuda del viaje: {debt} €.", "debt bondage", "deuda del viaje"),
        (me, "Eso no es lo que dijiste.", None, None),
    ]:
        t = _at(t, rnd, (3, 90), whole_minute=True)
        wa.messages.append(_msg(sender, t, body, role, needle, s, me))
    s.chats.append(wa)

    # 2. WhatsApp with the transporter: iOS export (.zip), English, 12-hour clock
    ios = Chat("whatsapp", "whatsapp_txt", s.transporter, s.transporter)
    t = (s.start - timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    ios.messages.append(Message(s.transporter, t, "Messages and calls are end-to-end encrypted. No one outside "
                                "of this chat, not even WhatsApp, can read or listen to them.", system=True))
    station = rnd.choice(_STATIONS)
    script = [
        (s.transporter, "Hi {me}, {r} gave me your number. I take you to {city}.", None, None),
        (me, "Hello. What do I bring?", None, None),
        (s.transporter, "Only one bag. Leave at {dep} from " + station + ". Don't tell anyone where you go.",
         "travel instructions, secrecy", "Don't tell anyone where you go"),
        (s.transporter, "", "photo", None),
        (me, "Ok", None, None),
    ]
    for sender, body, role, needle in script:
        t = _at(t, rnd, (5, 120))
        ios.messages.append(_msg(sender, t, body, role, needle, s, me))
    t = s.arrivals[1] - timedelta(hours=3)
    for sender, body, role, needle in [
        (s.transporter, "At the border you say you are a tourist. I keep the tickets.",
         "coaching for the border crossing", "say you are a tourist"),
        (me, "Ok, understood", None, None),
    ]:
        t = _at(t, rnd, (2, 30))
        ios.messages.append(_msg(sender, t, body, role, needle, s, me))
    s.chats.append(ios)

    # 3. Telegram with the handler at the destination (Telegram Desktop export)
    tg = Chat("telegram", "telegram_json", s.handler, s.handler)
    t = s.arrivals[-1] + timedelta(hours=5)
    for sender, body, role, needle in [
        (s.handler, "You are {me}? I am your boss now.", None, None),
        (s.handler, "You work from tomorrow. Address: {hotel}, service entrance. No phone calls.",
         "handler assigns work, control of communication", "No phone calls"),
        (me, "When do I get paid?", None, None),
        (s.handler, "When your debt is paid. Send me a photo of your room.", None, None),
        (me, "", "photo", None),
        (me, "I want to go home", "victim wants to leave", "I want to go home"),
    ]:
        t = _at(t, rnd, (3, 240))
        tg.messages.append(_msg(sender, t, body, role, needle, s, me))
    s.chats.append(tg)

    # 4. Messenger with a relative at home (Facebook export: mojibake-escaped JSON)
    fb = Chat("messenger", "facebook_json", s.relative, s.relative)
    t = s.start - timedelta(days=1, hours=5)
    for sender, body, role, needle in [
        (s.relative, "¿Estás segura de ese trabajo? Ten cuidado.", None, None),
        (s.owner, "Sí, es un hotel. Te escribo cuando llegue.", None, None),
        ("@later", "", None, None),
        (s.owner, "Estoy en {city}. Me quitaron el pasaporte y no sé en qué calle estoy.",
         "victim tells family her passport was taken", "Me quitaron el pasaporte"),
        (s.relative, "¡Llama a la policía! ¿Dónde estás exactamente?", None, None),
    ]:
        if sender == "@later":
            t = s.arrivals[-1] + timedelta(days=2, hours=8)
            continue
        t = _at(t, rnd, (5, 180))
        fb.messages.append(_msg(sender, t, body, role, needle, s, me))
    s.chats.append(fb)

    # 5. SMS: one thread per sender; roaming welcomes on arrival in each country, and a threat
    threads = []
    carrier = Chat("sms", "android_sms", None, "ROAMING", thread_id=1)
    for i, stop in enumerate(stops[1:], start=1):
        carrier.messages.append(Message("ROAMING", s.arrivals[i] + timedelta(minutes=rnd.randrange(3, 15),
                                                                             seconds=rnd.randrange(60)),
                                        stop.roaming_sms))
    threads.append(carrier)
    unknown = _phone(rnd, "+34")
    threat = Chat("sms", "android_sms", None, unknown, thread_id=2)
    t = s.arrivals[-1] + timedelta(days=2, hours=20)
    for body, role, needle, incoming in [
        ("Recuerda: debes {debt} €. Paga el viernes o tu familia lo sabrá.", "threat against the family",
         "tu familia lo sabrá", True),
        ("No tengo dinero", None, None, False),
        ("Entonces trabajas más horas.", None, None, True),
    ]:
        t = _at(t, rnd, (2, 60))
        m = _msg(unknown if incoming else me, t, body, role, needle, s, me)
        m.incoming = incoming
        threat.messages.append(m)
    threads.append(threat)
    s.chats.extend(threads)
    _plan_interrupted(s, me)


def _plan_interrupted(s: Story, me: str) -> None:
    """The relative's texts that reached the phone when it was switched on again, its battery
    almost flat, and that it died saving (one transaction, never committed)."""
    rnd = random.Random(f"{s.seed}/hot-journal")      # its own stream: the rest of the story is unchanged
    s.relative_phone = _phone(rnd, s.scenario.origin_cc)
    chat = Chat("sms", "android_sms", None, s.relative_phone, thread_id=3)
    t = s.export_utc + timedelta(hours=rnd.randrange(2, 8), minutes=rnd.randrange(60))
    for body, role, needle in [
        ("{me}, ¿dónde estás? No contestas en Messenger.", "relative asks where she is", "No contestas en Messenger"),
        ("He hablado con la policía. Necesitan la dirección del hotel.", "relative has alerted the police",
         "He hablado con la policía"),
        ("Si no puedes hablar, manda solo el nombre de la calle.", "relative asks for the street name",
         "manda solo el nombre de la calle"),
    ]:
        t = _at(t, rnd, (4, 25))
        chat.messages.append(_msg(s.relative_phone, t, body, role, needle, s, me))
    stored = t + timedelta(minutes=rnd.randrange(30, 90), seconds=rnd.randrange(60))
    s.interrupted = Interrupted(chat, stored, stored + timedelta(seconds=rnd.randrange(2, 9)))


def _msg(sender: str, t: datetime, body: str, role: str | None, needle: str | None, s: Story, me: str) -> Message:
    if role == "photo":
        return Message(sender, t, "", attachment="photo")
    body = body.format(me=me, r=s.recruiter, hotel=s.hotel, city=s.scenario.stops[-1].city,
                       debt=f"{s.debt:,}".replace(",", "."), t=s.transporter, day=f"{s.start:%d/%m}",
                       dep=f"{s.start:%H}:00")
    return Message(sender, t, body, key=role, needle=needle)


def _plan_apps(s: Story) -> None:
    """The cases of the apps read by newer extractors, each from its own stream: an iOS WhatsApp
    text that starts with U+200E, a minimal Telegram export with a shared position, a call from
    a number the contacts name, a Viber group with a shared position."""
    me = s.owner.split()[0]
    dest = s.scenario.stops[-1]
    # 1. iOS WhatsApp: a text that starts with the invisible mark iOS puts before some texts
    ios = s.chats[1]
    rnd = random.Random(f"{s.seed}/ios-mark")
    marked = Message(s.transporter, (s.start - timedelta(minutes=rnd.randrange(60, 120))).replace(
        second=rnd.randrange(60), microsecond=0), "\u200eI'll pick you up at the station",
        needle="I'll pick you up at the station")   # no key: its own fact (ios_attribution), not a key_message
    ios.messages.append(marked)
    ios.messages.sort(key=lambda m: m.utc)
    s.ios_marked = marked

    # a threat the owner deleted from the SMS thread with the unknown number (recoverable)
    rnd = random.Random(f"{s.seed}/deleted-sms")
    threat = s.chats[5]
    first, second = threat.messages[0].utc, threat.messages[1].utc
    when = first + timedelta(seconds=max(1, int((second - first).total_seconds()) * rnd.randrange(30, 70) // 100))
    s.deleted_sms = Message(threat.other, when, "Si hablas con la policía, tu familia paga por ti. Borra este mensaje.",
                            key="threat, deleted by the owner", needle="Si hablas con la policía")

    # a photo the camera (GPS from its phone link) took of the other address, deleted; the next
    # photo's directory entry took its slot, so only carving finds it
    rnd = random.Random(f"{s.seed}/carved")
    t = s.card_photos[-1].utc + timedelta(hours=rnd.randrange(3, 9), minutes=rnd.randrange(60),
                                          seconds=rnd.randrange(60))
    n = len(s.card_photos)
    s.carved_photo = PhotoPlan(name=f"ALT_{n + 1:04d}.JPG", stop=dest, local=_local(t, dest.offset),
                               offset=dest.offset, write_offset=False, write_gps=True, write_gps_time=False,
                               lat=round(dest.lat + rnd.uniform(-0.02, 0.02), 6),
                               lon=round(dest.lon + rnd.uniform(-0.02, 0.02), 6),
                               alt=round(dest.alt + rnd.uniform(-5, 5), 1), subject="the other address (carved)")
    t = t + timedelta(minutes=rnd.randrange(20, 90), seconds=rnd.randrange(60), milliseconds=rnd.randrange(1000))
    s.slot_taker = PhotoPlan(name=f"ALT_{n + 2:04d}.JPG", stop=dest, local=_local(t, dest.offset),
                             offset=dest.offset, write_offset=False, write_gps=False, write_gps_time=False,
                             subject="room photo")

    # 2. a minimal Telegram export: the transporter's meeting point, shared as a position
    rnd = random.Random(f"{s.seed}/telegram-backup")
    stop = s.scenario.stops[1]
    tg = Chat("telegram", "telegram_json", None, s.transporter)
    t = s.arrivals[1] - timedelta(hours=6, minutes=rnd.randrange(60))
    for sender, body, key, needle in [
        (s.transporter, "Meeting point at " + stop.city + ": the car park behind the station. Bring your passport.",
         "meeting point, passport", "Bring your passport"),
        (s.transporter, "", "meeting point shared as a position", None),
        (me, "Ok, I will be there", None, None),
    ]:
        t = t + timedelta(minutes=rnd.randrange(2, 30), seconds=rnd.randrange(60))
        tg.messages.append(Message(sender, t, body, key=key, needle=needle))
    s.telegram_backup = tg
    s.telegram_place = SharedPlace(tg.messages[1], round(stop.lat + rnd.uniform(-0.01, 0.01), 6),
                                   round(stop.lon + rnd.uniform(-0.01, 0.01), 6), f"{stop.city}, {stop.country}")

    # 3. the handler calls; the call log keeps the number only, the contacts name it
    rnd = random.Random(f"{s.seed}/caller")
    digits = f"65501{rnd.randrange(10)}{rnd.randrange(1000):03d}"     # a Spanish mobile in the 55-01 range
    s.caller = Caller(s.handler, f"{digits[:3]} {digits[3:6]} {digits[6:]}", "+34" + digits, "ES",
                      s.arrivals[-1] + timedelta(hours=rnd.randrange(2, 5), minutes=rnd.randrange(60),
                                                 seconds=rnd.randrange(60)), rnd.randrange(20, 200))

    # 4. Viber: the hotel's staff group, where the handler shares the address for tonight
    rnd = random.Random(f"{s.seed}/viber")
    group = Chat("viber", "viber_db", f"{s.hotel} - turnos", f"{s.hotel} - turnos")
    t = s.arrivals[-1] + timedelta(days=1, hours=rnd.randrange(2, 6), minutes=rnd.randrange(60))
    for sender, body, key, needle in [
        (s.handler, "Tonight everyone works at the other address. No phones at work.",
         "handler moves the workers, no phones", "No phones at work"),
        (s.handler, "Address for tonight", "the place shared in the group", "Address for tonight"),
        (me, "Ok", None, None),
    ]:
        t = t + timedelta(minutes=rnd.randrange(1, 20), seconds=rnd.randrange(60), milliseconds=rnd.randrange(1000))
        group.messages.append(Message(sender, t, body, key=key, needle=needle, incoming=sender != me))
    s.viber = group
    s.viber_place = SharedPlace(group.messages[1], round(dest.lat + rnd.uniform(-0.02, 0.02), 6),
                                round(dest.lon + rnd.uniform(-0.02, 0.02), 6), f"{dest.city}, {dest.country}")

    # 5. photos hidden inside other files: the flat where the passports are kept, which the
    # owner photographed and hid after other data in an innocuous file; and the hotel's service
    # entrance (the place of work), a photo inside the shift rota the handler sent as a .docx
    rnd = random.Random(f"{s.seed}/embedded")
    t = s.arrivals[-1] + timedelta(days=2, hours=rnd.randrange(1, 6), minutes=rnd.randrange(60),
                                   seconds=rnd.randrange(60))
    s.hidden_photo = PhotoPlan(name="passports", stop=dest, local=_local(t, dest.offset), offset=dest.offset,
                               write_offset=False, write_gps=True, write_gps_time=False,
                               lat=round(dest.lat + rnd.uniform(-0.02, 0.02), 6),
                               lon=round(dest.lon + rnd.uniform(-0.02, 0.02), 6),
                               alt=round(dest.alt + rnd.uniform(-5, 5), 1),
                               subject="the flat where the passports are kept")
    t = s.arrivals[-1] + timedelta(hours=rnd.randrange(8, 20), minutes=rnd.randrange(60), seconds=rnd.randrange(60))
    s.document_photo = PhotoPlan(name="work", stop=dest, local=_local(t, dest.offset), offset=dest.offset,
                                 write_offset=False, write_gps=True, write_gps_time=False,
                                 lat=round(dest.lat + rnd.uniform(-0.02, 0.02), 6),
                                 lon=round(dest.lon + rnd.uniform(-0.02, 0.02), 6),
                                 alt=round(dest.alt + rnd.uniform(-5, 5), 1),
                                 subject=f"{s.hotel}, service entrance (the place of work)")

    # 6. WhatsApp: the hotel's logistics group in msgstore.db, where the handler (stored under a
    # privacy id, @lid) gives orders; two of them deleted afterwards, left in the free space
    rnd = random.Random(f"{s.seed}/wa-msgstore")
    c = s.caller
    member = f"346550{rnd.randrange(20, 30)}{rnd.randrange(1000):03d}@s.whatsapp.net"   # the 55-02 range
    wa = WaGroup(f"{s.hotel} - logística", f"1203630{rnd.randrange(10**11, 10**12)}@g.us", c.jid,
                 f"{rnd.randrange(10**14, 10**15)}@lid", member)
    filler = ["ok", "Who is on tonight?", "The van is late", "Room 12 done", "Need more sheets",
              "On my way", "Shift starts at 6", "Keys are at reception", "Done", "Where are you?"]
    t = s.arrivals[-1] + timedelta(hours=rnd.randrange(6, 10), minutes=rnd.randrange(60))
    orders = {58: ("Leave the package at the north gate, 23:00", "package at the north gate"),
              59: ("Nobody leaves the flat without me. Passports stay in the safe.", "passports kept by the handler")}
    for i in range(100):
        t = t + timedelta(minutes=rnd.randrange(2, 9), seconds=rnd.randrange(60), milliseconds=rnd.randrange(1000))
        if i in orders:
            body, key = orders[i]
            m = Message(c.jid, t, body, key=key, needle=body.split(",")[0].split(".")[0])
            wa.deleted.append(m)
        else:
            sender = (c.jid, member, me)[i % 3]
            m = Message(sender, t, f"{filler[rnd.randrange(len(filler))]} ({i + 1})", incoming=sender != me)
        wa.messages.append(m)
    s.wa_group = wa

    # 7. the handler's iPhone, backed up to a laptop (an iTunes/Finder backup folder): in its
    # sms.db, the recruiter announces the next arrivals
    rnd = random.Random(f"{s.seed}/iphone-backup")
    body = "Two more girls arrive on Friday. Keep their passports with the others."
    t = s.arrivals[-1] + timedelta(days=2, hours=rnd.randrange(1, 12), minutes=rnd.randrange(60),
                                   seconds=rnd.randrange(60))
    tac = "35" + "".join(str(rnd.randrange(10)) for _ in range(6))
    imei = tac + "".join(str(rnd.randrange(10)) for _ in range(6))
    alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    s.iphone = IphoneBackup(
        f"iPhone de {s.handler.split()[0]}", "iPhone 14 Pro", "iPhone15,2", "17.4.1", "21E236",
        imei + luhn_digit(imei), "".join(alnum[rnd.randrange(len(alnum))] for _ in range(12)),
        f"00008120-{rnd.randrange(16**16):016X}", (s.export_utc + timedelta(days=2, hours=rnd.randrange(1, 10),
                                                                            minutes=rnd.randrange(60))).replace(
            microsecond=0),
        Message(s.recruiter_phone.replace(" ", ""), t, body, key="next arrivals, passports kept",
                needle="Keep their passports"))

    # 8. the transporter's Android phone, backed up with adb (phone.ab): one SMS from the handler
    rnd = random.Random(f"{s.seed}/android-backup")
    t = s.arrivals[-2] + timedelta(hours=rnd.randrange(1, 8), minutes=rnd.randrange(60), seconds=rnd.randrange(60))
    ab = Chat("sms", "android_sms", None, c.e164, thread_id=1)
    ab.messages.append(Message(c.e164, t, "Bus tickets for the new girls are paid. Their passports travel with you.",
                               key="the handler pays the journey, passports with the transporter",
                               needle="Their passports travel with you"))
    s.ab_sms = ab

    # 9. an edited photo (cropped in an app that drops EXIF): its only date is XMP's
    # photoshop:DateCreated, with the zone; no position
    rnd = random.Random(f"{s.seed}/xmp-photo")
    t = s.arrivals[-1] + timedelta(days=1, hours=rnd.randrange(10, 14), minutes=rnd.randrange(60),
                                   seconds=rnd.randrange(60))
    s.xmp_photo = PhotoPlan(name="IMG_edit_0001.jpg", stop=dest, local=_local(t, dest.offset), offset=dest.offset,
                            write_offset=True, write_gps=False, write_gps_time=False,
                            subject="the workers' room, cropped (edited)")

    # 10. a GoPro clip the transporter shared, on the owner's phone: the camera's clock (mvhd,
    # no zone) is local time; its GPS (GPMF, UTC) fixes the zone and gives the place
    rnd = random.Random(f"{s.seed}/gopro")
    stop = s.scenario.stops[1]
    t = s.arrivals[1] + timedelta(hours=rnd.randrange(1, 5), minutes=rnd.randrange(60), seconds=rnd.randrange(60))
    s.gopro = PhotoPlan(name=f"GX01{rnd.randrange(10000):04d}.MP4", stop=stop, local=_local(t, stop.offset),
                        offset=stop.offset, write_offset=False, write_gps=True, write_gps_time=True,
                        lat=round(stop.lat + rnd.uniform(-0.02, 0.02), 5),
                        lon=round(stop.lon + rnd.uniform(-0.02, 0.02), 5),
                        alt=round(stop.alt + rnd.uniform(-5, 5), 1), subject=f"the bus station, {stop.city}")

    # 11. a photo the owner took of the van at the hotel's back gate and sent on WhatsApp: the
    # camera original (EXIF: time, zone, place, camera) and the copy WhatsApp made of it
    rnd = random.Random(f"{s.seed}/forwarded")
    t = s.arrivals[-1] + timedelta(days=2, hours=rnd.randrange(12, 18), minutes=rnd.randrange(60),
                                   seconds=rnd.randrange(60))
    s.forwarded = PhotoPlan(name=f"IMG_{_local(t, dest.offset):%Y%m%d_%H%M%S}.jpg", stop=dest,
                            local=_local(t, dest.offset), offset=dest.offset, write_offset=True, write_gps=True,
                            write_gps_time=False, lat=round(dest.lat + rnd.uniform(-0.02, 0.02), 6),
                            lon=round(dest.lon + rnd.uniform(-0.02, 0.02), 6),
                            alt=round(dest.alt + rnd.uniform(-5, 5), 1), subject="the van at the hotel's back gate")

    # 12. the flat where the passports are kept, saved by the owner in Google Maps (the phone's
    # own record of a place: gmm_myplaces.db, position in millionths of a degree, time in ms UTC)
    if s.hidden_photo is not None:
        rnd = random.Random(f"{s.seed}/maps")
        h = s.hidden_photo
        t = h.utc + timedelta(hours=rnd.randrange(1, 4), minutes=rnd.randrange(60), seconds=rnd.randrange(60),
                              milliseconds=rnd.randrange(1000))
        s.saved_place = PhotoPlan(name="Flat", stop=dest, local=_local(t, dest.offset), offset=dest.offset,
                                  write_offset=False, write_gps=True, write_gps_time=False, lat=h.lat, lon=h.lon,
                                  subject=h.subject)

    # 13. a clip the owner filmed from the van at the destination; a frame of it (second 2),
    # sent on WhatsApp as a picture: the picture has no EXIF, the video on the phone dates it
    rnd = random.Random(f"{s.seed}/clip")
    t = s.arrivals[-1] + timedelta(days=1, hours=rnd.randrange(8, 20), minutes=rnd.randrange(60),
                                   seconds=rnd.randrange(60))
    s.clip = PhotoPlan(name=f"VID_{_local(t, dest.offset):%Y%m%d_%H%M%S}.mp4", stop=dest,
                       local=_local(t, dest.offset), offset=dest.offset, write_offset=False, write_gps=False,
                       write_gps_time=False, subject="the street outside the hotel, filmed from the van")

    # 14. a booking note the camera's owner kept on the card and deleted: its clusters still
    # hold the text (a keyword search of deleted files or unallocated space finds it)
    rnd = random.Random(f"{s.seed}/booking-note")
    written = s.card_photos[-1].utc + timedelta(hours=rnd.randrange(1, 3), minutes=rnd.randrange(60),
                                                seconds=rnd.randrange(60))
    night = (s.arrivals[-1] + timedelta(days=rnd.randrange(4, 7))).date()
    phrase = "Hotel Astoria, room 14"
    s.booking_note = Note("BOOKING.TXT", f"Booking: {phrase}\r\n{night:%d/%m/%Y} 22:00, {rnd.randrange(2, 5)} nights, "
                          f"paid cash\r\nFor {s.handler}: two new girls. Passports stay in the room safe.\r\n",
                          phrase, written)

    # 15. the account the debt is paid into: a payment note an app wrote in UTF-16LE, its file
    # deleted long ago and its inode reused; the bytes lie in the phone's free blocks
    rnd = random.Random(f"{s.seed}/iban")
    s.iban = iban("ES", "".join(str(rnd.randrange(10)) for _ in range(20)))
    written = s.arrivals[-1] + timedelta(days=2, hours=rnd.randrange(1, 10), minutes=rnd.randrange(60))
    s.iban_note = Note("payment note", f"Transferencia semanal ({s.debt} EUR de deuda)\r\nIBAN {s.iban}\r\n"
                       f"Beneficiario: {s.handler}\r\n", s.iban, written, "utf-16le")

    # 16. the recruiter's laptop (Linux): Signal Desktop with the handler; the database sealed by
    # SQLCipher, its key in config.json sealed the Linux way without a keyring (v10, "peanuts")
    rnd = random.Random(f"{s.seed}/signal-desktop")
    chat = Chat("signal", "signal_desktop", s.handler, s.handler)
    t = s.arrivals[-1] - timedelta(days=1, hours=rnd.randrange(1, 8), minutes=rnd.randrange(60))
    for sender, body, key, needle in [
        (s.handler, "Is the new one on her way? The hotel wants her passport number.", "the handler asks for "
         "the new arrival's passport", "wants her passport number"),
        (s.recruiter, f"She lands tomorrow. I keep her passport until you pay me the {s.debt} EUR.",
         "the recruiter keeps the passport until paid", "I keep her passport"),
        (s.handler, "Paid. Bring the passport to the Astoria, room 14.", "payment, the passport to room 14",
         "Bring the passport to the Astoria"),
    ]:
        t = t + timedelta(minutes=rnd.randrange(2, 40), seconds=rnd.randrange(60), milliseconds=rnd.randrange(1000))
        chat.messages.append(Message(sender, t, body, key=key, needle=needle, incoming=sender != s.recruiter))
    user = _slug_user(s.recruiter)
    s.signal = SignalDesktop(user, rnd.randbytes(32).hex(), s.caller.e164 if s.caller else _phone(rnd, "+34"),
                             "%08x-%04x-4%03x-a%03x-%012x" % (rnd.getrandbits(32), rnd.getrandbits(16),
                                                              rnd.getrandbits(12), rnd.getrandbits(12),
                                                              rnd.getrandbits(48)), chat)

    # 17. the handler's pick-up note on the card, saved by a notes app in two 512-byte parts
    # (NOTE1.TXT, NOTE2.TXT, one cluster each, back to back): the meeting place is cut in two
    s.split_note = _split_note(s)

    # 18. the recruiter's travel instructions, downloaded as a ZIP: the code word for the hotel's
    # reception is in a deflated member, found only when archive members are searched
    rnd = random.Random(f"{s.seed}/archive-note")
    code = rnd.choice(_CODE_WORDS)
    written = s.start - timedelta(days=rnd.randrange(2, 5), hours=rnd.randrange(1, 10), minutes=rnd.randrange(60))
    s.archive_note = ArchiveNote(
        "instrucciones_viaje.zip", "instrucciones.txt",
        f"Instrucciones para el viaje\r\n\r\n1. En el control di que vas de turista. No hables del trabajo.\r\n"
        f"2. No lleves el contrato. Dinero solo en efectivo.\r\n3. {s.transporter} te recoge en "
        f"{s.scenario.stops[1].city}.\r\n4. En el {s.hotel} di en recepcion la palabra clave: {code}\r\n"
        f"5. El pasaporte se lo das a {s.handler} al llegar.\r\n", "palabra clave", code, written)

    # 19. Telegram for Android (cache4.db): the recruiter forwards a channel's job ad, the owner
    # replies to it, he sends the contract as a PDF
    s.telegram_android = _telegram_cache(s, me)


_CHANNELS = ("Empleo España Hoy", "Trabajo Hostelería Europa", "Ofertas de Empleo UE", "Empleos Costa Sol")


def _telegram_cache(s: Story, me: str) -> TelegramCache:
    """The recruiter's Telegram chat with the owner, a day after his first WhatsApp message: a
    channel's ad forwarded (posted 10-30 days before), her reply to it, the contract as a PDF."""
    rnd = random.Random(f"{s.seed}/telegram-android")
    city = s.scenario.stops[-1].city
    chat = Chat("telegram", "telegram_android", s.recruiter, s.recruiter)
    t = (s.start - timedelta(days=5)).replace(hour=rnd.randrange(9, 13), minute=rnd.randrange(60),
                                               second=rnd.randrange(60), microsecond=0)
    contract = "Contrato_" + "_".join(s.hotel.split()) + ".pdf"
    script = [
        (s.recruiter, f"Hola {me}, esta es la oferta de la que te hablé.", None, None),
        (s.recruiter, f"SE BUSCA personal de limpieza y recepción para el {s.hotel} ({city}). 1.500 €/mes, "
         "viaje y alojamiento incluidos. Sin experiencia, sin papeles. Escribe por privado.",
         "the job ad, forwarded from a channel", "Sin experiencia, sin papeles"),
        (me, "¿Es de verdad? No tengo permiso de trabajo allí.", "the victim answers the ad (a reply to it)",
         "No tengo permiso de trabajo"),
        (s.recruiter, "Sí, es legal. Firma el contrato y me lo devuelves. El pasaporte me lo das en el viaje.",
         "the contract, sent as a PDF", "Firma el contrato y me lo devuelves"),
        (me, "Vale, lo leo esta noche.", None, None),
    ]
    for sender, body, key, needle in script:
        t = t + timedelta(minutes=rnd.randrange(1, 25), seconds=rnd.randrange(60))
        chat.messages.append(Message(sender, t, body, key=key, needle=needle, incoming=sender != me))
    ad, reply, sent = chat.messages[1], chat.messages[2], chat.messages[3]
    sent.attachment = contract
    posted = (ad.utc - timedelta(days=rnd.randrange(10, 30), hours=rnd.randrange(24), minutes=rnd.randrange(60),
                                 seconds=rnd.randrange(60)))
    user = _slug_user(s.recruiter)
    return TelegramCache(chat, owner_id=rnd.randrange(5_000_000_000, 7_000_000_000),
                         recruiter_id=rnd.randrange(5_000_000_000, 7_000_000_000),
                         recruiter_username=f"{user}_empleo", channel_id=rnd.randrange(1_500_000_000, 2_100_000_000),
                         channel=rnd.choice(_CHANNELS), channel_post=rnd.randrange(200, 3000), ad=ad, ad_posted=posted,
                         reply=reply, contract=sent, contract_mime="application/pdf",
                         contract_size=rnd.randrange(40_000, 250_000), first_id=rnd.randrange(20, 400))


_MEETING_PLACES = ("Gasolinera El Pinar", "Gasolinera Los Olivos", "Gasolinera La Venta", "Gasolinera San Roque")
_CODE_WORDS = ("GAVIOTA", "AMAPOLA", "CORMORAN", "LUCERO", "VERBENA")


def _split_note(s: Story) -> SplitNote:
    """The note, its first part exactly ``NOTE_PART`` bytes, cut inside the meeting place's first
    word (spaces pad the line before the place: the parts are fixed-size, the cut falls where it may)."""
    rnd = random.Random(f"{s.seed}/split-note")
    place = rnd.choice(_MEETING_PLACES)
    first = place.split()[0]
    cut = rnd.randrange(2, len(first) - 1)
    day = s.arrivals[-1] + timedelta(days=rnd.randrange(7, 10))
    phrase = f"Pick-up: {place}, exit {rnd.randrange(11, 40)}, {rnd.randrange(21, 24)}:{rnd.choice(('00', '30'))}"
    head = (f"For {s.transporter}, from {s.handler}\r\n{day:%d/%m/%Y}\r\n"
            "Two new girls from the Astoria. Small bags only. Passports stay with me.\r\n"
            "Do not stop at the border if there is a check: wait for my call.\r\n"
            "If asked, they are going to work at a hotel. Phones off on the road.\r\n"
            "Take the van, not the car. Cash for fuel in the glove box.")
    lead = "\r\n" + phrase[:phrase.index(place)] + place[:cut]
    pad = NOTE_PART - len(head.encode("utf-8")) - len(lead)
    if pad < 0:
        raise ValueError(f"the split note's first part is {-pad} bytes too long")
    text = head + " " * pad + lead + place[cut:] + phrase[phrase.index(place) + len(place):] + (
        f"\r\nCall {s.handler} when you are there. Burn this note.\r\n")
    written = s.card_photos[-1].utc + timedelta(hours=rnd.randrange(3, 6), minutes=rnd.randrange(60),
                                                seconds=rnd.randrange(60))
    return SplitNote(("NOTE1.TXT", "NOTE2.TXT"), text, place, phrase, cut, written)


def _slug_user(name: str) -> str:
    """A Linux account name from a person's name: 'Óscar Llorente' -> 'ollorente'."""
    import unicodedata
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().split()
    return ascii_[0][0] + ascii_[-1]
