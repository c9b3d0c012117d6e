"""The answer key: every fact a trainee should find in the sample case.

Facts come from what the generator wrote (the plan, the files' bytes and names), never
from reading the images back with the triage code, so ``forensic training check`` can
fail. Each fact is ``{id, kind, item, description, expected: {...}}`` plus, where an
extractor is needed to find it, ``requires`` (the extractor NAME).

Fact kinds (schema ``forensic.answer-key/2``; a ``/1`` key is the same without the export kinds):
  evidence_item          the evidence file is in the case with this SHA-256
  file_count             exact number of regular, allocated files outside file-system metadata
  file_present           a key file, by path and SHA-256
  deleted_file           a deleted file whose content is recoverable (by SHA-256)
  truncated_file         a photo cut short (listed, with the SHA-256 of what is on the card)
  disguised_file         a JPEG named ``.pdf`` (content type contradicts the extension)
  photo_geotag           position, local time and what fixes the zone of a photo's time
  photo_time_unknown_zone a photo whose time has no zone in the file
  conversation           a chat: platform, the other party, number of (non-system) messages
  key_message            one message: sender, time, words it contains
  time_zones_crossed     the UTC offsets the phone's photos show along the route
  db_committed           a database found with a hot journal, read in its committed state: its
                         messages found (sender, time), none flagged uncommitted
  db_uncommitted         a message only that database's unfinished transaction holds: found,
                         and flagged ``db_state: "uncommitted"``
  spoofed_name           a file whose name holds U+202E (RIGHT-TO-LEFT OVERRIDE) so that it reads
                         as a photo: listed with its true name (the U+202E in it), its type
                         from its bytes, the extension mismatch flagged
  name_not_utf8          a file whose name is not valid UTF-8: listed, the bytes that are not
                         UTF-8 as ``\\xNN`` escapes, and the warning that says so recorded
  acquisition_damaged    an E01 item whose acquisition is not verified: chunks fail their
                         checksums, and ``checksum_errors`` names exactly these spans
  container_read         a container item (QCOW2, told apart by ``format`` from the image it holds)
                         lists that image's files, deleted ones too, with their SHA-256
  ios_attribution        an iOS WhatsApp text that starts with U+200E: its sender's message, not
                         a system line, at the local time shown, zone unknown
  minimal_export_message a message of a Telegram export that has only date_unixtime, from, text
  chat_geotag            a position shared in a chat (forensic geo: kind chat_message)
  call_identified        a call the log stores by number only, named from the contacts (the
                         address book), the same identity in WhatsApp
  group_message          a group chat's message: sender, time, words, the group's title
  encrypted_database     an encrypted app database: a warning names it and the key needed
  forwarded_message      a forwarded message of an app database (Telegram for Android's cache4.db): who
                         forwarded it (the sender), the original sender (``forwarded_from``: the channel,
                         named through ``chats``) and the original time (``forwarded_at``, UTC), its words
  reply_message          a reply: its sender, words and time, and ``reply_to`` the ``message_id`` of the
                         message it answers (that message's words given too)
  chat_attachment        a file sent in a chat as a document: the message (sender, words, time) and its
                         attachment's file name, type and size, read from the message (the file itself
                         need not be on the phone)
  carved_photo           a photo found only by carving (its directory entry reused): SHA-256,
                         ``recovery: "carved"``, its position
  deleted_message        a message deleted from a database, recovered from its free space and
                         marked ``recovered: "deleted"`` (with the page and offset); with
                         ``sender_lid`` (WhatsApp), the sender is the phone-number jid that
                         ``jid_map`` gives for the ``@lid`` it was stored under, which the record keeps
  backup_device          an iTunes/Finder backup item's device facts (``evidence list --json`` →
                         ``details.device``): IMEI, serial, iOS version, last backup (UTC), model
  backup_message         a message read from a file of a backup item, by its device path
                         (``/private/var/mobile/Library/SMS/sms.db``): sender, words, UTC time
  xmp_photo_date         a photo with no EXIF whose only date is XMP's photoshop:DateCreated (with its
                         zone): ``taken_at`` / ``taken_at_utc`` from it, ``taken_at_source`` naming it
  video_geotag           a video (``media/video``): its local time, the zone its GPS time gives, its
                         position (a GoPro clip: mvhd in local time, GPMF GPS in UTC)
  near_duplicate         a camera original and a messenger's copy of it (resized, re-compressed, no EXIF):
                         both hashed, their phash within ``max_distance`` bits (``forensic similar``),
                         the original's EXIF with the time and position
  device_location        a place an app of the phone keeps (Google Maps' saved places, ``gmm_myplaces.db``):
                         its position and saved time (UTC), a ``location/point`` record (``forensic geo``:
                         kind ``device_location``)
  video_frame_copy       a picture that is a frame of a video (sent on a messenger: resized, re-compressed, no
                         EXIF): the video's key frame at ``frame_time_s`` hashed, within ``max_distance`` bits
                         of the picture's (``forensic similar``)
  embedded_photo         a photo inside another file (appended after other data, or a document's
                         part): the container's path, the photo's SHA-256, ``recovery: "embedded"``,
                         where it lies in the container (its locator), its position
  known_bad_file         a file a known-bad hash set lists (the sample's VICS export, MD5/SHA-1 only): the
                         item checked against that set (a check recorded with its source SHA-256), the
                         file and its renamed copies matched as ``known-bad`` with the set's category
  known_good_count       how many of the item's files the sample's known-good set (an RDS v3-layout
                         SQLite) holds: the item checked against it, exactly that many matched
  suspected_known_bad    a copy of the known-bad picture altered enough to change its hashes (resized,
                         re-compressed), in no set: the item checked against the known-bad set, the copy's
                         perceptual hash within ``max_distance`` bits of the listed picture's, so that the
                         case marks it ``suspected_known_bad``
  keyword_hit            a saved search hit (``forensic search … --save``: a ``search/hit`` record) whose
                         bytes lie at this image offset: a phrase in a deleted file's clusters
                         (``where`` content of a deleted file, unallocated, or raw: ``--in raw`` reads
                         the same bytes at the same offset)
  pattern_hit            a saved hit of a built-in pattern list (``--patterns iban``) at this image offset:
                         a value in unallocated space, written in UTF-16LE
  raw_hit                a saved hit of ``forensic search … --in raw`` (``where`` raw) at this image offset,
                         naming both ``files``: a phrase whose first bytes end one file's only cluster and
                         whose rest starts the next file's, back to back (in neither file alone)
  archive_hit            a saved content hit whose locator is a ZIP member's (``…/archive.zip › member``):
                         words in a deflated member, in no raw byte of the image
  signal_message         a message of the laptop's Signal Desktop database (SQLCipher; its key sealed in
                         config.json, Linux v10): this sender, these words, this UTC time, from that file
  report_finding         (an export) a bundle the custody log records holds, in its report
                         (``data/report/index.html``), a finding named ``tag`` with the trainee's note,
                         and the group chat shown as a partial selection (``2 of 100 messages
                         (selected)``, with gap markers) holding the selected messages
  bundle_sources         (an export) a bundle of messages read from a database carries it (and the ``-wal``
                         or ``-journal`` triage read beside it): in ``data/evidence/`` with the generator's
                         SHA-256, listed in ``files.jsonl`` with ``message_source``, and each of those
                         messages' ``source.member`` naming it
  place_export           (an export) every photo taken in ``city`` tagged ``tag`` (the map's box in
                         ``forensic serve``, or ``forensic geo``) and a bundle exported with that tag:
                         its ``data/evidence/`` holds exactly the ``sha256`` set, no photo from elsewhere
  pseudonymised_export   (an export) the custody log has ``person.marked`` for the victim with role
                         victim and an ``export.created`` with ``pseudonymised: true``; in that
                         bundle, ``files.jsonl`` lists the chat file naming her withheld (reason
                         ``pseudonymised``), its messages show her as ``Victim-…``, never by name

A fact may carry ``feedback``: what a trainee who misses it (or gets it wrong) should know,
which ``forensic training check`` adds to its detail.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from forensic.training.build import (AB_SMS_DEVICE, EXTRACTION_DEVICE_PREFIX, EXTRACTION_PREFIX, GENERATOR, IOS_SMS,
                                     IPHONE_BACKUP, KNOWN_BAD_CATEGORY, LAPTOP, PHONE_AB, RDS_FILE, RLO, VICS_FILE,
                                     Layout, folder_listing_sha256, signal_dir)
from forensic.training.formats import FRAME_AT_S, local
from forensic.devicepath import ios_backup_path
from forensic.hashing import sha256_file
from forensic.timestamps import iso_utc

SCHEMA = "forensic.answer-key/2"

FILE_COUNT_SCOPE = ("regular files (kind 'file'), not deleted, directly in the item's file systems or "
                    "archive (not inside an archive found within it, nor an object found inside another file), "
                    "excluding file-system metadata: names starting with '$' (The Sleuth Kit's virtual files) and "
                    "anything under /lost+found")


EMBEDDED_FEEDBACK = ("A photo can hide inside another file: appended after other data or inside a document. "
                     "`forensic photos` flags it E / `recovery: embedded`, with its place inside the file in its "
                     "locator.")
WHATSAPP_DELETED_FEEDBACK = (
    "Deleted WhatsApp messages can survive in msgstore.db's free space. Run `forensic messages --recovered`: rows "
    "flagged R were deleted on the phone. Cite them as recovered deleted rows, with their page and offset. A sender "
    "shown by its phone number may have been stored as a privacy id (`@lid`); `sender_lid` keeps the original.")
ITUNES_FEEDBACK = (
    "An iTunes/Finder backup folder (Manifest.db, Info.plist, two-character folders of hashed names) is itself "
    "evidence: add that folder as its own item; its files then appear under their real app paths, and `evidence "
    "list` shows the phone it came from (IMEI, serial, last backup).")
AB_FEEDBACK = ("Android backups (.ab) are read in place: add the .ab as an item (with --password-file when it is "
               "encrypted); its files are listed under /data/data/….")
XMP_FEEDBACK = ("An edited or exported photo may keep its capture time only in XMP (here photoshop:DateCreated, "
                "with its zone), not in EXIF. `forensic photos` reads XMP; `taken_at_source` says which field the "
                "time came from: cite it.")
VIDEO_FEEDBACK = ("Videos carry a time and a place too: `forensic photos --videos` lists them. A GoPro writes its "
                  "clock as local time with no zone; the GPS time in its GPMF track fixes the zone (tz_source gps) "
                  "and `forensic geo` shows where it was filmed.")
SIMILAR_FEEDBACK = ("A picture sent on WhatsApp is a re-compressed copy of a camera original: `forensic similar` "
                    "links them by perceptual hash; the original's EXIF (time, place, camera) tells where the picture "
                    "was taken.")
DEVICE_LOCATION_FEEDBACK = ("The phone's own apps keep places: Google Maps' saved places (gmm_myplaces.db) put this "
                            "phone's owner at {lat:.5f}, {lon:.5f}. Look in `forensic geo` for kind device_location, "
                            "or in the timeline for 'Place saved (maps)'.")
FRAME_FEEDBACK = ("The WhatsApp picture is a frame of a video on the same phone. Run `forensic similar --all`: "
                  "video key frames are hashed like photos, and `frame_time_s` says which second of the video it "
                  "came from.")
FINDING_FEEDBACK = ("Your bundle shows only part of a {total}-message group chat: tag the messages that matter "
                    "(`forensic tag add message:ID --tag {tag} --note '…'`), export `--tag {tag}`, and check the "
                    "report says {count_text}, with the gaps marked, and that your tag's note explains why those "
                    "messages matter.")
PSEUDONYM_FEEDBACK = ("A bundle for a victim-support service must not name the victim: mark her (`forensic person mark "
                      "\"{victim}\" --role victim`) and export with --pseudonymise; the chat file that names her is "
                      "withheld, she reads as Victim-A, and the pseudonyms' key stays with you.")
PLACE_FEEDBACK = ("Open the map in `forensic serve`, drag a box around {city}, follow its places (or `forensic geo` "
                  "lists the same places) and tag them (`forensic tag add SHA256… --tag {tag}`); then `forensic "
                  "export --tag {tag}`: the bundle holds every photo taken there and none from elsewhere.")
BUNDLE_SOURCES_FEEDBACK = ("The messages you exported were read from {name}; a bundle carries it with its hash so the "
                           "prosecutor can check each message against its source.")
HOTEL_SELECTION = (10, 40)      # the group messages (0-based) the trainee tags: "(11)" and "(41)"
KNOWN_BAD_FEEDBACK = ("{name} and its renamed copy are in the known-bad set (category {category}): import "
                      "{vics} with `forensic hashset import … --kind known-bad` before triage (or run `forensic "
                      "hashset check` after: this set lists MD5/SHA-1 only, so triage must have computed them, "
                      "`--hash md5,sha1,sha256`), then `forensic files --known-bad`; view it only with "
                      "`--show-known-bad … --reason`, which the custody log records.")
KNOWN_GOOD_FEEDBACK = ("{count} of the phone's files are stock files the known-good set lists: import {rds} with "
                       "`forensic hashset import … --kind known-good` before triage (or run `forensic hashset "
                       "check` after); `forensic files --no-known-good` then leaves them out.")
SUSPECT_FEEDBACK = ("{name} is the known-bad picture re-sent on WhatsApp: resized and re-compressed, so its hashes "
                    "are in no set, but a copy altered enough to change its hash is still found by its perceptual "
                    "hash. With the known-bad set imported (before triage, or `forensic hashset check` after), "
                    "`forensic photos` flags it b (`suspected_known_bad`, the picture it resembles and the set's "
                    "category): treat it as known-bad, never view it as a picture.")
KEYWORD_FEEDBACK = ("The deleted booking note on the card names {phrase}: search unallocated space (`forensic "
                    "search \"{term}\" --unallocated --save`; a deleted file's content is searched too); a deleted "
                    "file's text survives in its clusters until overwritten. A search without --save leaves "
                    "nothing in the case: --save keeps each hit as a search/hit record, with its image offset. "
                    "`--in raw` finds the same bytes too, as a raw hit; --unallocated names where they lie "
                    "(unallocated space).")
PATTERN_FEEDBACK = ("An account number lies in the phone's unallocated space, in a payment note an app wrote in "
                    "UTF-16LE. The built-in pattern lists find what no keyword names (`forensic search --patterns "
                    "iban --unallocated --save`; `--patterns all` for every list): each candidate is checked (an "
                    "IBAN by its ISO 13616 mod-97 check digits), and every search reads both UTF-8 and UTF-16LE.")
RAW_FEEDBACK = ("The phrase is in neither file alone: the pick-up note was saved in two 512-byte parts, one "
                "cluster each, back to back, {first} ending with '{head}' and {second} starting with '{tail}'. "
                "Search the whole image with `forensic search \"{term}\" --in raw --save` (the image's every byte "
                "as one stream, as grep over the image): the hit names both files (files, crosses_fragment).")
ARCHIVE_FEEDBACK = ("The travel instructions are in {member}, inside the ZIP the phone downloaded ({archive}): "
                    "deflated, so no raw byte of the image holds their words. Archive members are searched as "
                    "content (ZIP and TAR, nested ones too, at the locators triage gave them): `forensic search "
                    "\"{term}\" --save`; the hit's locator is the member's (…/{name} › {member}).")
SIGNAL_FEEDBACK = ("The laptop's Signal Desktop database (sql/db.sqlite) is encrypted with SQLCipher; its key is "
                   "in config.json's encryptedKey, sealed by Chromium's safeStorage. On Linux without a keyring "
                   "that seal (v10) uses the built-in password 'peanuts', so the key is recovered from the evidence "
                   "alone: add the laptop with `--signal-config {config}` (or triage with it; with a keyring or a "
                   "Mac's Keychain, --signal-password-file too). Without the key the database stays sealed: triage "
                   "only warns that it is encrypted, and its messages are not read.")
CONTAINER_FEEDBACK = "A QCOW2 (or VMDK, VHDX, split raw) is read in place; never convert evidence first."
TG_CACHE = ("Telegram for Android keeps its chats in cache4.db (/data/data/org.telegram.messenger/files/): each "
            "message is a TL-serialised blob in messages_v2.data, read field by field by `forensic triage`. ")
FORWARD_FEEDBACK = TG_CACHE + (
    "The ad was not written by {forwarder}: {forwarder} forwarded it on {sent}, and its forward header names who "
    "first posted it, {origin}, on {posted}. `forensic messages --json` shows forwarded, forwarded_from and "
    "forwarded_at: cite the original author and date, and do not date the ad by its forward.")
REPLY_FEEDBACK = TG_CACHE + (
    "Her message '{body}' is a reply: its reply_to is message {target} ('{target_words}'), the forwarded ad, which "
    "ties her answer to that ad. `forensic messages --json` gives reply_to as the answered message's message_id; "
    "a list of texts without it loses the link.")
ATTACHMENT_FEEDBACK = TG_CACHE + (
    "{sender} sent the contract as a document: its file name ({name}), type and size are in the message itself "
    "(documentAttributeFilename), even though the file was never downloaded to the phone. `forensic messages "
    "--json` lists it under attachments (kind document, name, mime_type, size): cite the name as the message holds "
    "it and say the file itself was not found.")


def _offset_text(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _iso_local(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds") if dt.microsecond else dt.isoformat()


def answer_key(lay: Layout, out_dir: Path, e01_path: Path | None) -> dict:
    s = lay.story
    facts: list[dict] = []

    def fact(kind: str, item: str, description: str, expected: dict, requires: str | None = None,
             feedback: str | None = None) -> None:
        f = {"id": f"{kind}-{sum(1 for x in facts if x['kind'] == kind) + 1:02d}", "kind": kind, "item": item,
             "description": description, "expected": expected}
        if requires:
            f["requires"] = requires
        if feedback:
            f["feedback"] = feedback
        facts.append(f)

    items = {}
    for key, name, what in (("phone", "phone.raw", "the phone (GPT disk image, ext4 user-data partition)"),
                            ("card", "card.raw", "the camera's memory card (FAT32)"),
                            ("extraction", "extraction.zip", "logical extraction of the same phone")):
        path = out_dir / name
        items[key] = {"file": name, "sha256": sha256_file(path), "size": path.stat().st_size, "what": what}
    if e01_path is not None:
        items["phone"]["e01"] = {"file": e01_path.name, "segment_sha256": sha256_file(e01_path),
                                 "note": "an E01 item's SHA-256 is that of the media it holds: phone.raw's"}
    dc = lay.damaged_copy
    if dc is not None:
        items["card-copy"] = {"file": dc.file, "sha256": dc.media_sha256, "size": items["card"]["size"],
                              "what": "a second copy of the camera card (E01), one chunk damaged "
                              "after acquisition", "note": "its SHA-256 is that of the media it gives: card.raw with "
                              f"bytes {dc.start}-{dc.end - 1} read as zeros"}
    if lay.container:
        path = out_dir / lay.container
        items["card-qcow2"] = {"file": lay.container, "sha256": items["card"]["sha256"], "format": "qcow2",
                               "segment_sha256": sha256_file(path), "size": items["card"]["size"],
                               "what": "the camera card as a QCOW2 image (qemu-img convert of card.raw)",
                               "note": "a container item's SHA-256 is that of the media it holds: card.raw's"}
    ip = s.iphone
    if IPHONE_BACKUP in lay.extra_items and ip is not None:
        items[IPHONE_BACKUP] = {"file": IPHONE_BACKUP, "sha256": folder_listing_sha256(lay.iphone_backup),
                                "format": "itunes", "size": sum(len(d) for _, d in lay.iphone_backup),
                                "what": f"the handler's {ip.model}, an iTunes/Finder backup folder",
                                "note": "a folder's SHA-256 is that of its canonical listing (docs/formats.md)"}
    sd = s.signal
    if LAPTOP in lay.extra_items and sd is not None:
        items[LAPTOP] = {"file": LAPTOP, "sha256": folder_listing_sha256(lay.laptop),
                         "size": sum(len(d) for _, d in lay.laptop),
                         "what": "the recruiter's laptop (Linux): a Signal Desktop profile, its database sealed",
                         "note": "a folder's SHA-256 is that of its canonical listing (docs/formats.md); the "
                         "database's bytes (SQLCipher's salt and IVs are random) differ on every build"}
    if PHONE_AB in lay.extra_items:
        items["phone-ab"] = {"file": PHONE_AB, "sha256": sha256_file(out_dir / PHONE_AB), "format": "android-backup",
                             "size": (out_dir / PHONE_AB).stat().st_size,
                             "what": "the transporter's Android phone, an adb backup (.ab, unencrypted)"}
    damaged_feedback = None
    if dc is not None:
        damaged_feedback = (
            f"{dc.file} is a damaged acquisition: chunk {dc.chunk} (media bytes {dc.start:,}-{dc.end - 1:,}, sectors "
            f"{dc.start // 512}-{(dc.end - 1) // 512}) fails the checksum the E01 stores for it, so its bytes in that "
            "range are not what was acquired (libewf gives zeros there). Add it as delivered and triage it: "
            "'evidence add' and 'evidence verify' say DAMAGED (exit 4) with checksum_errors naming the range. Report "
            "it, do not trust what lies in that range (here the card's folders and photos: this copy shows none of "
            "them), and work from a good acquisition of the card; a re-acquired good copy is another item, not "
            "this one.")
    for key, it in items.items():
        fact("evidence_item", key, f"{it['file']} is in the case" + (", hash verified" if key != "card-copy" else
                                                                       " (damaged: its acquisition is not verified)"),
             {"file": it["file"], "sha256": it["sha256"]},
             feedback=damaged_feedback if key == "card-copy" else CONTAINER_FEEDBACK if key == "card-qcow2" else
             ITUNES_FEEDBACK if key == IPHONE_BACKUP else AB_FEEDBACK if key == "phone-ab" else
             _signal_feedback(sd.user) if key == LAPTOP and sd is not None else None)
    if IPHONE_BACKUP in items and ip is not None:
        device = {"imei": ip.imei, "serial": ip.serial, "ios_version": ip.ios_version,
                  "last_backup": iso_utc(ip.last_backup), "model": ip.model, "product_type": ip.product_type}
        fact("backup_device", IPHONE_BACKUP, f"the backup is of {ip.device_name} ({ip.model}, iOS {ip.ios_version}), "
             f"IMEI {ip.imei}, serial {ip.serial}, last backup {iso_utc(ip.last_backup)}",
             {"file": IPHONE_BACKUP, "device": device}, feedback=ITUNES_FEEDBACK)
        m = ip.message
        fact("backup_message", IPHONE_BACKUP, f"sms in the backup's sms.db: {m.sender} — {m.key}",
             {"platform": "sms", "sender": m.sender, "body_contains": m.needle, "body": m.body,
              "sent_utc": iso_utc(m.utc), "file": ios_backup_path(*IOS_SMS)}, requires="ios_sms",
             feedback=ITUNES_FEEDBACK)
    if "phone-ab" in items and s.ab_sms is not None:
        m = s.ab_sms.messages[0]
        fact("backup_message", "phone-ab", f"sms in {PHONE_AB}'s mmssms.db: {m.sender} — {m.key}",
             {"platform": "sms", "sender": m.sender, "body_contains": m.needle, "body": m.body,
              "sent_utc": iso_utc(m.utc), "file": AB_SMS_DEVICE}, requires=s.ab_sms.extractor, feedback=AB_FEEDBACK)
    if LAPTOP in items and sd is not None:
        db = f"/{signal_dir(sd.user)}/sql/db.sqlite"
        for m in sd.chat.messages:
            sender = f"{sd.chat.other} ({sd.handler_e164})" if m.incoming else OWNER
            fact("signal_message", LAPTOP, f"signal (Signal Desktop, database sealed): {m.sender} — {m.key}",
                 {"platform": "signal", "sender": sender, "sender_name": m.sender, "body_contains": m.needle,
                  "body": m.body, "sent_utc": iso_utc(m.utc), "file": db, "direction": "incoming" if m.incoming
                  else "outgoing", "config": f"/{signal_dir(sd.user)}/config.json"},
                 requires=sd.chat.extractor, feedback=_signal_feedback(sd.user))
    if lay.container:
        held = [{"path": "/" + f.rel, "sha256": f.sha256, "deleted": f.rel in lay.card_deleted} for f in lay.card]
        fact("container_read", "card-qcow2", f"{lay.container} read in place: the same {len(held)} files and "
             "hashes as card.raw (deleted ones too)",
             {"file": lay.container, "format": "qcow2", "same_as": "card", "files": held},
             feedback=CONTAINER_FEEDBACK)
    if dc is not None:
        names = ", ".join(_name(f.rel) for f in dc.holds)
        fact("acquisition_damaged", "card-copy", f"{dc.file}: acquisition not verified, checksum error at media bytes "
             f"{dc.start:,}-{dc.end - 1:,} (the card's folders and photos {names})",
             {"file": dc.file, "acquisition_hash_verified": False, "checksum_errors": [dc.span],
              "holds": [{"path": "/" + f.rel, "sha256": f.sha256, "deleted": f.role == "deleted"} for f in dc.holds]},
             feedback=damaged_feedback)

    # -- file counts (what was put in: mke2fs adds only lost+found, mkfs.vfat nothing) ----------
    fact("file_count", "phone", f"{len(lay.phone)} user files on the phone's data partition",
         {"count": len(lay.phone), "scope": FILE_COUNT_SCOPE})
    live_card = [f for f in lay.card if f.rel not in lay.card_deleted] + lay.card_split
    fact("file_count", "card", f"{len(live_card)} files on the card (plus {len(lay.card_deleted)} deleted)",
         {"count": len(live_card), "scope": FILE_COUNT_SCOPE})
    fact("file_count", "extraction", f"{len(lay.extraction_members)} files in the logical extraction",
         {"count": len(lay.extraction_members), "scope": FILE_COUNT_SCOPE})

    # -- key files --------------------------------------------------------------------------------
    key_roles = {"job offer": "the recruitment job offer", "chat export": "chat export",
                 "chat export (zip)": "WhatsApp export (.zip)", "sms database": "Android SMS database",
                 "sms database journal": "the SMS database's hot journal"}
    for f in lay.phone:
        if f.role in key_roles:
            for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
                fact("file_present", item, f"{key_roles[f.role]}: {f.rel.rsplit('/', 1)[-1]}",
                     {"path": prefix + f.rel, "sha256": f.sha256, "size": len(f.data)})
    for f in lay.phone:
        if f.role == "disguised":
            for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
                fact("disguised_file", item, f"{f.rel.rsplit('/', 1)[-1]} is a JPEG photo named .pdf",
                     {"path": prefix + f.rel, "sha256": f.sha256, "mime": "image/jpeg", "extension": "pdf"})
    for f in lay.card:
        if f.role == "deleted":
            fact("deleted_file", "card", f"deleted photo {f.rel} (recoverable)",
                 {"name": f.rel.rsplit("/", 1)[-1], "path": "/" + f.rel, "sha256": f.sha256, "size": len(f.data)})
        elif f.role == "truncated":
            fact("truncated_file", "card", f"{f.rel} is cut short ({len(f.data)} bytes, no end-of-image marker): "
                 "listed and flagged as damaged", {"path": "/" + f.rel, "sha256": f.sha256, "size": len(f.data)},
                 requires="photo_exif")

    if lay.card_carved is not None:
        p, f, spec = lay.card_carved
        fact("carved_photo", "card", f"{p.name}, deleted and its directory entry taken by the next photo: carved "
             f"from unallocated space, with its position ({p.stop.city})",
             {"name": p.name, "sha256": f.sha256, "size": len(f.data), "recovery": "carved",
              "lat": round(p.lat, 7), "lon": round(p.lon, 7),
              "alt": round(spec.alt_dm / 10, 1) if spec.alt_dm is not None else None,
              "taken_local": _iso_local(p.local), "place": f"{p.stop.city}, {p.stop.country}",
              "true_utc": iso_utc(p.utc)},
             requires="photo_exif",
             feedback=("A photo whose directory entry is gone can still be carved from unallocated space; "
                       "`forensic files --json` shows recovery: carved with the offset in its locator."))
    _hostile_name_facts(lay, fact)
    _embedded_facts(lay, fact)

    # -- photos -------------------------------------------------------------------------------------
    photo_offsets: set[int] = set()
    for rel, (p, f, spec) in sorted(lay.photo_files.items()):
        if p.write_offset:
            tz_source = "offset_tag"
        elif p.write_gps_time:
            tz_source = "gps"
        else:
            tz_source = "unknown"
        known = tz_source != "unknown"
        if known:
            photo_offsets.add(p.offset)
        expected = {"path": "/" + rel, "sha256": f.sha256, "taken_local": _iso_local(p.local),
                    "taken_utc": iso_utc(p.utc) if known else None, "tz_known": known, "tz_source": tz_source,
                    "true_utc": iso_utc(p.utc), "true_zone": p.stop.zone if p.stop else None,
                    "true_offset": _offset_text(p.offset)}
        if p.write_gps:
            expected.update({"lat": round(p.lat, 7), "lon": round(p.lon, 7), "alt": round(spec.alt_dm / 10, 1),
                             "place": f"{p.stop.city}, {p.stop.country}"})
            zone_note = {"offset_tag": "zone from OffsetTimeOriginal", "gps": "zone from the GPS time",
                         "unknown": "ZONE UNKNOWN (no offset tag, no GPS time)"}[tz_source]
            fact("photo_geotag", "phone", f"{rel.rsplit('/', 1)[-1]}: {p.stop.city}, {p.local:%Y-%m-%d %H:%M:%S} "
                 f"local, {zone_note}", expected, requires="photo_exif")
        else:
            fact("photo_time_unknown_zone", "phone", f"{rel.rsplit('/', 1)[-1]}: no position, taken "
                 f"{p.local:%Y-%m-%d %H:%M:%S} in an unknown zone", expected, requires="photo_exif")
    for rel, (p, f, _) in sorted(lay.card_photo_files.items()):
        if f.role != "card photo":
            continue
        fact("photo_time_unknown_zone", "card", f"{rel.rsplit('/', 1)[-1]}: camera clock "
             f"{p.local:%Y-%m-%d %H:%M:%S}, zone unknown",
             {"path": "/" + rel, "sha256": f.sha256, "taken_local": _iso_local(p.local), "taken_utc": None,
              "tz_known": False, "tz_source": "unknown", "true_utc": iso_utc(p.utc),
              "true_zone": p.stop.zone if p.stop else None, "true_offset": _offset_text(p.offset)},
             requires="photo_exif")
    if lay.xmp_photo is not None:
        photo_offsets.add(lay.xmp_photo[0].offset)      # its zone is in the file (XMP), as an offset tag's
    if lay.forwarded is not None:
        photo_offsets.add(lay.forwarded[0].offset)       # the original's OffsetTimeOriginal
    _media_facts(lay, fact)
    _forwarded_facts(lay, fact)
    _saved_place_facts(lay, fact)
    _clip_facts(lay, fact)
    stops = s.scenario.stops
    fact("time_zones_crossed", "phone", "time zones along the route: " +
         ", ".join(f"{st.city} {_offset_text(st.offset)}" for st in stops),
         {"offsets_minutes": sorted(photo_offsets), "zones": [st.zone for st in stops],
          "places": [f"{st.city}, {st.country}" for st in stops]}, requires="photo_exif")

    # -- conversations and key messages ---------------------------------------------------------------
    for chat, rel, style in lay.chat_files:
        count = sum(1 for m in chat.messages if not m.system)
        for item, prefix in (("phone", "/"), ("extraction", "/" + EXTRACTION_PREFIX)):
            fact("conversation", item, f"{chat.platform} ({style}) with {chat.other}: {count} messages",
                 {"platform": chat.platform, "title": chat.title, "other_party": chat.other, "messages": count,
                  "file": prefix + rel, "export_style": style}, requires=chat.extractor)
        for m in chat.messages:
            if not m.key:
                continue
            utc_known = chat.platform != "whatsapp"
            fact("key_message", "phone", f"{chat.platform}: {m.sender} — {m.key}",
                 {"platform": chat.platform, "conversation_with": chat.other, "sender": m.sender,
                  "body_contains": m.needle, "body": m.body,
                  "sent_local": local(m.utc, s.export_offset).isoformat(),
                  "sent_utc": iso_utc(m.utc) if utc_known else None, "tz_known": utc_known,
                  "true_utc": iso_utc(m.utc), "file": "/" + rel}, requires=chat.extractor)

    # -- the database found mid-transaction (hot journal) -------------------------------------------------
    if lay.hot_journal is not None:
        _hot_journal_facts(lay, fact)

    # -- apps read by the newer extractors: iOS marks, minimal Telegram, calls, Viber, WeChat ---------------
    _app_facts(lay, fact)

    # -- hash sets: a known-bad picture stored twice, stock files a known-good set lists ----------------------
    hashsets = _hashset_facts(lay, fact)

    # -- searches: a deleted file's clusters, an IBAN (UTF-16LE) in unallocated space, a phrase across two files
    # (--in raw), words in a ZIP member
    _search_facts(lay, fact)

    # -- exports: a finding with a partial selection, a pseudonymised bundle ---------------------------------
    _export_facts(lay, fact)

    return {
        "schema": SCHEMA, "generator": GENERATOR, "seed": s.seed, "scenario": s.scenario.name,
        "summary": s.scenario.description,
        "items": items,
        **({"hashsets": hashsets} if hashsets else {}),
        "people": {"phone owner (victim)": s.owner, "recruiter": f"{s.recruiter} ({s.recruiter_phone})",
                   "transporter": s.transporter, "handler": s.handler, "relative": s.relative,
                   "hotel": s.hotel, "debt": s.debt},
        "devices": {"phone": f"{s.phone_make} {s.phone_model}", "camera": f"{s.camera_make} {s.camera_model} "
                    f"serial {s.camera_serial}"},
        "journey": [{"place": f"{st.city}, {st.country}", "zone": st.zone, "offset": _offset_text(st.offset),
                     "arrived_utc": iso_utc(t)} for st, t in zip(stops, s.arrivals, strict=True)],
        "phone_zone_at_export": _offset_text(s.export_offset),
        "notes": [
            "WhatsApp exports give the phone's wall-clock time at export with no zone: here "
            f"{_offset_text(s.export_offset)} ({stops[-1].zone}); the key gives them as sent_local with "
            "tz_known false, and the true UTC for the trainer.",
            "Photo times: OffsetTimeOriginal gives the zone; without it, a GPS time fixes it; "
            "without both, the zone is unknown (true_zone says where the photo was really taken).",
            "The camera card's times are its clock's wall time (FAT stores no zone).",
        ] + ([f"{_name(lay.hot_journal.db_rel)} has a hot journal beside it: the phone died inside a transaction. "
              "Its committed messages are ordinary evidence; the texts only the unfinished transaction holds "
              "are evidence too, reported flagged db_state 'uncommitted' (facts db_committed, db_uncommitted)."]
             if lay.hot_journal is not None else []),
        "facts": facts,
    }


OWNER = "(device owner)"        # how a chat record names the device's owner (the sender of outgoing messages)


def _signal_feedback(user: str) -> str:
    return SIGNAL_FEEDBACK.format(config=f"{LAPTOP}/{signal_dir(user)}/config.json")


def _name(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def shown_as(name: str) -> str:
    """How a name with one U+202E is displayed: what follows it, reversed (enough for these names)."""
    head, _, tail = name.partition(RLO)
    return head + tail[::-1]


def _escaped(rel: str) -> str:
    """A name held with surrogate escapes, as the case lists it: each byte that is not UTF-8 as \\xNN."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _embedded_facts(lay: Layout, fact) -> None:
    """The photos inside other files, in the phone and in its extraction (which copies both files)."""
    for e in lay.embedded:
        p = e.plan
        where = f"JPEG @ offset {e.offset:#x}" if e.offset is not None else e.part
        how = f"appended after {e.offset:,} bytes of other data" if e.offset is not None else "a part of the document"
        for item, prefix in (("phone", "/"), ("extraction", "/" + EXTRACTION_PREFIX)):
            fact("embedded_photo", item, f"a photo inside {_name(e.container)} ({how}): {p.subject}, "
                 f"{p.stop.city}", {"container": prefix + e.container, "where": where, "sha256": e.sha256,
                                    "size": len(e.data), "recovery": "embedded", "lat": round(p.lat, 7),
                                    "lon": round(p.lon, 7), "alt": round(e.spec.alt_dm / 10, 1)
                                    if e.spec.alt_dm is not None else None, "taken_local": _iso_local(p.local),
                                    "place": p.subject, "true_utc": iso_utc(p.utc)},
                 requires="photo_exif", feedback=EMBEDDED_FEEDBACK)


def _media_facts(lay: Layout, fact) -> None:
    """The edited photo dated by XMP only, and the GoPro clip, in the phone and its extraction."""
    both = (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX))
    if lay.xmp_photo is not None:
        p, f, created = lay.xmp_photo
        for item, prefix in both:
            fact("xmp_photo_date", item, f"{_name(f.rel)}: no EXIF; taken {p.local:%Y-%m-%d %H:%M:%S} "
                 f"{_offset_text(p.offset)}, from XMP photoshop:DateCreated",
                 {"path": prefix + f.rel, "sha256": f.sha256, "taken_local": _iso_local(p.local),
                  "taken_utc": iso_utc(p.utc), "tz_source": "offset_tag", "raw": created,
                  "taken_at_source": "xmp:photoshop:DateCreated"}, requires="photo_exif", feedback=XMP_FEEDBACK)
    if lay.video is not None:
        v, f = lay.video
        for item, prefix in both:
            fact("video_geotag", item, f"{_name(f.rel)} (GoPro): filmed {v.local:%Y-%m-%d %H:%M:%S} local, "
                 f"{_offset_text(v.offset)} from the GPS time, at {v.subject}",
                 {"path": prefix + f.rel, "sha256": f.sha256, "taken_local": _iso_local(v.local),
                  "taken_utc": iso_utc(v.utc), "tz_source": "gps", "tz_offset_minutes": v.offset,
                  "lat": v.lat, "lon": v.lon, "alt": v.alt, "place": f"{v.stop.city}, {v.stop.country}",
                  "make": "GoPro"}, requires="video_meta", feedback=VIDEO_FEEDBACK)


def _forwarded_facts(lay: Layout, fact) -> None:
    """The camera original and its WhatsApp copy: linked by perceptual hash, the original's EXIF
    giving time, place and camera."""
    if lay.forwarded is None:
        return
    p, f, c, spec = lay.forwarded
    for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
        fact("near_duplicate", item, f"{_name(c.rel)} (sent on WhatsApp: resized, re-compressed, no EXIF) is a copy "
             f"of {_name(f.rel)}: {p.subject}, {p.stop.city}",
             {"original": {"path": prefix + f.rel, "sha256": f.sha256}, "copy": {"path": prefix + c.rel,
                                                                              "sha256": c.sha256},
              "algorithm": "phash", "max_distance": 8, "camera": f"{spec.make} {spec.model}",
              "taken_local": _iso_local(p.local), "taken_utc": iso_utc(p.utc), "lat": round(p.lat, 7),
              "lon": round(p.lon, 7), "place": f"{p.stop.city}, {p.stop.country}"},
             requires="photo_hash", feedback=SIMILAR_FEEDBACK)


def _saved_place_facts(lay: Layout, fact) -> None:
    """The place the owner saved in Google Maps: position and saved time, from the phone's own app."""
    if lay.saved_place is None:
        return
    p, f = lay.saved_place
    for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
        fact("device_location", item, f"Google Maps saved place '{p.name}' ({_name(f.rel)}): {p.subject}, "
             f"{p.stop.city}, saved {iso_utc(p.utc)}",
             {"path": prefix + f.rel, "sha256": f.sha256, "app": "google_maps", "lat": round(p.lat, 6),
              "lon": round(p.lon, 6), "saved_utc": iso_utc(p.utc), "geo_kind": "device_location",
              "place": p.subject}, requires="google_maps",
             feedback=DEVICE_LOCATION_FEEDBACK.format(lat=p.lat, lon=p.lon))


def _clip_facts(lay: Layout, fact) -> None:
    """The picture sent on WhatsApp that is a frame of a video on the phone (its second 2)."""
    if lay.clip is None:
        return
    p, f, c = lay.clip
    for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
        fact("video_frame_copy", item, f"{_name(c.rel)} (sent on WhatsApp, no EXIF) is the frame at "
             f"{FRAME_AT_S} s of {_name(f.rel)}: {p.subject}",
             {"video": {"path": prefix + f.rel, "sha256": f.sha256}, "copy": {"path": prefix + c.rel,
                                                                           "sha256": c.sha256},
              "frame_time_s": float(FRAME_AT_S), "algorithm": "phash", "max_distance": 8},
             requires="video_frames", feedback=FRAME_FEEDBACK)


def _hashset_facts(lay: Layout, fact) -> dict:
    """The stand-in known-bad picture and its renamed copy, and the stock files the known-good set
    lists, in the phone and in its extraction (which copies them all). Returns the key's
    ``hashsets`` block: the set files the sample ships, with their SHA-256 (a check records it)."""
    if not lay.known_bad or not lay.hashsets:
        return {}
    # from the bytes the generator made (build_sample writes them to VICS_FILE, RDS_FILE), never read back
    vics_sha, rds_sha = (hashlib.sha256(lay.hashsets[f]).hexdigest() for f in (VICS_FILE, RDS_FILE))
    original, *copies = lay.known_bad
    name = _name(original.rel)
    for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
        fact("known_bad_file", item, f"{name} (and its renamed copy {_name(copies[0].rel)}) in the known-bad "
             f"set, category {KNOWN_BAD_CATEGORY}",
             {"path": prefix + original.rel, "sha256": original.sha256, "hashset_kind": "known-bad",
              "category": str(KNOWN_BAD_CATEGORY), "copies": [prefix + c.rel for c in copies],
              "hashset_file": VICS_FILE, "hashset_sha256": vics_sha},
             feedback=KNOWN_BAD_FEEDBACK.format(name=name, category=KNOWN_BAD_CATEGORY, vics=f"sample/{VICS_FILE}"))
        fact("known_good_count", item, f"{len(lay.known_good)} stock files in the known-good set",
             {"count": len(lay.known_good), "paths": [prefix + f.rel for f in lay.known_good],
              "hashset_kind": "known-good", "hashset_file": RDS_FILE, "hashset_sha256": rds_sha},
             feedback=KNOWN_GOOD_FEEDBACK.format(count=len(lay.known_good), rds=f"sample/{RDS_FILE}"))
    like = lay.known_bad_like
    if like is not None:
        for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
            fact("suspected_known_bad", item, f"{_name(like.rel)}: {name} resized and re-compressed (re-sent on "
                 "WhatsApp), in no set: a suspected known-bad picture by its perceptual hash",
                 {"path": prefix + like.rel, "sha256": like.sha256, "like_sha256": original.sha256,
                  "like_paths": [prefix + f.rel for f in lay.known_bad], "algorithm": "phash", "max_distance": 8,
                  "category": str(KNOWN_BAD_CATEGORY), "hashset_kind": "known-bad", "hashset_file": VICS_FILE,
                  "hashset_sha256": vics_sha},
                 requires="photo_hash", feedback=SUSPECT_FEEDBACK.format(name=_name(like.rel)))
    return {"known-bad": {"file": VICS_FILE, "sha256": vics_sha, "format": "vics", "kind": "known-bad",
                          "note": "VICS 2.0, MD5/SHA-1 only; digests of a generated picture, never real ones"},
            "known-good": {"file": RDS_FILE, "sha256": rds_sha, "format": "nsrl", "kind": "known-good",
                           "note": "an NSRL RDS v3-layout SQLite of the phone's stock files, generated"}}


def _search_facts(lay: Layout, fact) -> None:
    """The phrase of the card's deleted booking note, the IBAN in the phone's unallocated space
    and the meeting place across the card's two note parts: at the image offsets build_sample
    found them at in the images it wrote (a layout never built has none, and no such facts);
    and the words in the phone's downloaded ZIP, at its member."""
    s = lay.story
    note, f = s.booking_note, lay.card_note
    if note is not None and f is not None and lay.note_offset is not None:
        term = note.phrase.split(",")[0]
        fact("keyword_hit", "card", f"the deleted {_name(f.rel)} on the card: '{note.phrase}' at image offset "
             f"{lay.note_offset:,} (a deleted file's clusters, unallocated)",
             {"term": term, "phrase": note.phrase, "image_offset": lay.note_offset,
              "length": len(note.phrase.encode(note.encoding)), "encoding": note.encoding, "path": "/" + f.rel,
              "deleted": True, "where": ["content", "unallocated", "raw"], "text": note.text},
             feedback=KEYWORD_FEEDBACK.format(phrase=note.phrase, term=term))
    pay = s.iban_note
    if pay is not None and lay.iban_offset is not None:
        fact("pattern_hit", "phone", f"an IBAN ({pay.phrase}) in a UTF-16LE payment note in the phone's unallocated "
             f"space, at image offset {lay.iban_offset:,}",
             {"pattern": "iban", "list": "pattern:iban", "value": pay.phrase, "image_offset": lay.iban_offset,
              "length": len(pay.phrase.encode(pay.encoding)), "encoding": pay.encoding, "where": ["unallocated"],
              "block": lay.iban_block, "text": pay.text}, feedback=PATTERN_FEEDBACK)
    sn = s.split_note
    if sn is not None and len(lay.card_split) == 2 and lay.split_offset is not None:
        first, second = lay.card_split
        head, tail = sn.term.encode()[:sn.cut].decode(), sn.term.encode()[sn.cut:].decode()
        fact("raw_hit", "card", f"the pick-up note on the card, in two parts: '{sn.term}' lies across "
             f"{_name(first.rel)} ('…{head}') and {_name(second.rel)} ('{tail}…'), at image offset "
             f"{lay.split_offset:,}, in neither file alone",
             {"term": sn.term, "phrase": sn.phrase, "image_offset": lay.split_offset,
              "length": len(sn.term.encode()), "encoding": "utf-8", "files": ["/" + first.rel, "/" + second.rel],
              "file_sha256": [first.sha256, second.sha256], "cut": sn.cut, "crosses_fragment": True,
              "where": ["raw"], "text": sn.text},
             feedback=RAW_FEEDBACK.format(first=_name(first.rel), second=_name(second.rel), head=head, tail=tail,
                                          term=sn.term))
    a, zf = s.archive_note, lay.archive
    if a is not None and zf is not None:
        fact("archive_hit", "phone", f"'{a.term}' in {a.member}, inside the downloaded {_name(zf.rel)} (deflated): "
             f"the code word {a.answer}",
             {"term": a.term, "answer": a.answer, "archive": "/" + zf.rel, "archive_sha256": zf.sha256,
              "member": a.member, "member_sha256": hashlib.sha256(a.text.encode("utf-8")).hexdigest(),
              "where": ["content"], "text": a.text},
             feedback=ARCHIVE_FEEDBACK.format(member=a.member, archive="/" + zf.rel, name=_name(zf.rel),
                                              term=a.term))


def _hostile_name_facts(lay: Layout, fact) -> None:
    """The file named to read as a photo, and the file whose name is not UTF-8."""
    for f in lay.phone:
        if f.role == "spoofed name":
            name = _name(f.rel)
            ext = name.rsplit(".", 1)[-1]
            feedback = (f"This name holds U+202E (RIGHT-TO-LEFT OVERRIDE): a file manager or a chat shows it as "
                        f"'{shown_as(name)}', a photo, but the name really ends '.{ext}' and the bytes are a PDF "
                        "(the 'debt' note). A name crafted to look like a photo: record the true name with the "
                        "U+202E in it (escaped, \\u202e, when shown; never hidden, dropped or shown as it renders), "
                        "and the type found from the content, flagged as contradicting the extension.")
            for item, prefix in (("phone", "/"), ("extraction", EXTRACTION_DEVICE_PREFIX)):
                fact("spoofed_name", item, f"{name.replace(RLO, chr(92) + 'u202e')} reads as "
                     f"'{shown_as(name)}' (U+202E) but is a PDF named .{ext}",
                     {"path": prefix + f.rel, "name": name, "shown_as": shown_as(name), "control": "U+202E",
                      "sha256": f.sha256, "mime": "application/pdf", "extension": ext}, feedback=feedback)
        elif f.role == "name not utf-8":
            raw = f.rel.rsplit("/", 1)[-1].encode("utf-8", "surrogateescape")
            name = _escaped(_name(f.rel))
            high = next(b for b in raw if b >= 0x80)
            fact("name_not_utf8", "phone", f"{name}: a name that is not valid UTF-8 (Latin-1 bytes), listed "
                 "with \\x escapes and a warning",
                 {"path": "/" + _escaped(f.rel), "name": name, "name_bytes_hex": raw.hex(), "sha256": f.sha256,
                  "warning_contains": "not valid UTF-8"},
                 feedback=(f"This file's name is not valid UTF-8: its bytes are Latin-1 ('{name}': byte "
                           f"0x{high:02x} is '{bytes([high]).decode('latin-1')}' in Latin-1). A file name on ext4 "
                           "is bytes, not text: names must be read as bytes, not as shown. A tool that decodes "
                           "it as text replaces or drops the byte, or skips the file; the case must list it "
                           "with the byte escaped and record the warning 'file name is not valid UTF-8', so "
                           "the name in a report leads back to the very bytes on the disk."))


def _hot_journal_facts(lay: Layout, fact) -> None:
    """What a case must say about the database left with a hot journal, in every item that holds
    it: its committed messages, and the texts of the transaction that never committed."""
    hj = lay.hot_journal
    db, journal = _name(hj.db_rel), _name(hj.journal_rel)
    cut = hj.interrupted
    committed = [m for chat in hj.committed for m in chat.messages]
    why = (f"{db} was found with a hot journal ({journal}): the phone died in the middle of a transaction. ")
    committed_feedback = (why + "Its committed state (the database with the journal rolled back, as SQLite and the "
                          "phone itself read it) holds these messages: ordinary evidence, with their senders and "
                          "times, not flagged uncommitted. Triage the database with its journal beside it.")
    uncommitted_feedback = (why + "It was saving texts that had just arrived, in one transaction that never "
                            "committed: this text is in the database file, but the journal rolls it back. It is "
                            "evidence too (it reached the phone; its owner may never have seen it), to be reported "
                            "flagged db_state 'uncommitted', neither as an ordinary message nor left out. Triage the "
                            "database with its journal beside it.")
    for item, prefix in (("phone", "/"), ("extraction", "/" + EXTRACTION_PREFIX)):
        fact("db_committed", item, f"{db} read in its committed state ({journal} rolled back): "
             f"its {len(committed)} messages, with senders and times",
             {"platform": "sms", "file": prefix + hj.db_rel, "companion": prefix + hj.journal_rel,
              "companion_kind": "hot journal", "db_state": "committed",
              "messages": [{"sender": m.sender if m.incoming else None, "direction": "incoming" if m.incoming
                            else "outgoing", "body_contains": m.needle or m.body, "sent_utc": iso_utc(m.utc)}
                           for m in committed]},
             requires=cut.chat.extractor, feedback=committed_feedback)
        if hj.deleted is not None:
            chat, gone = hj.deleted
            fact("deleted_message", item, f"sms: {gone.sender} — {gone.key}: deleted, recovered from {db}'s free "
                 "space", {"platform": "sms", "file": prefix + hj.db_rel, "conversation_with": chat.other,
                           "sender": gone.sender, "body_contains": gone.needle, "body": gone.body,
                           "sent_utc": iso_utc(gone.utc), "recovered": "deleted"},
                 requires=cut.chat.extractor,
                 feedback=("Deleted rows stay in a SQLite database's free pages until overwritten; `forensic "
                           "messages` marks them recovered (deleted), with the page and offset they came from."))
        for m in cut.chat.messages:
            fact("db_uncommitted", item, f"sms: {m.sender} — {m.key}: never committed, flagged uncommitted",
                 {"platform": "sms", "file": prefix + hj.db_rel, "companion": prefix + hj.journal_rel,
                  "companion_kind": "hot journal", "db_state": "uncommitted", "conversation_with": cut.chat.other,
                  "sender": m.sender, "body_contains": m.needle, "body": m.body, "sent_utc": iso_utc(m.utc),
                  "stored_utc": iso_utc(cut.stored)},
                 requires=cut.chat.extractor, feedback=uncommitted_feedback)


def _app_facts(lay: Layout, fact) -> None:
    """The app cases, in every item that holds their files (the phone and its extraction)."""
    s = lay.story
    both = (("phone", "/"), ("extraction", "/" + EXTRACTION_PREFIX))
    ios_chat = s.chats[1]
    ios_rel = next((rel for chat, rel, _ in lay.chat_files if chat is ios_chat), None)
    m = s.ios_marked
    if m is not None and ios_rel is not None:
        text = m.body.lstrip("\u200e")
        for item, prefix in both:
            fact("ios_attribution", item, f"whatsapp (iOS): {m.sender} wrote '{text}' (the text starts with U+200E)",
                 {"platform": "whatsapp", "sender": m.sender, "body": text, "body_contains": m.needle,
                  "mark": "U+200E", "sent_local": local(m.utc, s.export_offset).isoformat(), "sent_utc": None,
                  "tz_known": False, "true_utc": iso_utc(m.utc), "file": prefix + ios_rel},
                 requires=ios_chat.extractor,
                 feedback=("iOS exports put an invisible mark (U+200E) before some texts; a tool that reads such "
                           "a line as a system message loses its author. The header names "
                           f"{m.sender}: the message is theirs."))
    tg, tp = s.telegram_backup, s.telegram_place
    rel = lay.apps.get("telegram_backup")
    tg_feedback = ("Telegram exports are recognised by their messages, not by the file's name or optional fields; "
                   "a location shared in a chat is a geotag.")
    if tg is not None and tp is not None and rel:
        for item, prefix in both:
            for msg in tg.messages:
                if msg.key and msg is not tp.message:
                    fact("minimal_export_message", item, f"telegram ({_name(rel)}, minimal export): {msg.sender} "
                         f"— {msg.key}",
                         {"platform": "telegram", "sender": msg.sender, "body_contains": msg.needle, "body": msg.body,
                          "sent_utc": iso_utc(msg.utc), "fields": ["date_unixtime", "from", "text"],
                          "file": prefix + rel}, requires=tg.extractor, feedback=tg_feedback)
            fact("chat_geotag", item, f"telegram: {tp.message.sender} shared a position ({tp.place}) in "
                 f"{_name(rel)}", {"platform": "telegram", "sender": tp.message.sender, "sent_utc":
                                   iso_utc(tp.message.utc), "lat": tp.lat, "lon": tp.lon, "place": tp.place,
                                   "geo_kind": "chat_message", "file": prefix + rel},
                 requires=tg.extractor, feedback=tg_feedback)
    c = s.caller
    if c is not None and "calllog" in lay.apps:
        for item, prefix in both:
            fact("call_identified", item, f"incoming call from {c.national} ({c.name}, named by the contacts), "
                 f"{c.duration} s",
                 {"number": c.national.replace(" ", ""), "e164": c.e164, "name": c.name, "name_source": "contacts",
                  "direction": "incoming", "started_utc": iso_utc(c.call_utc), "duration_s": c.duration,
                  "country_iso": c.country, "contact_number": c.national, "whatsapp_jid": c.jid,
                  "calllog": prefix + lay.apps["calllog"], "contacts": prefix + lay.apps["contacts"],
                  "whatsapp": prefix + lay.apps["wa"]},
                 requires="android_calls",
                 feedback=("The call log stores only the number. `forensic calls` names the caller from the "
                           "contacts, marked (c) / name_source: contacts. `forensic contacts --search NUMBER` shows "
                           "the same person in the address book and in WhatsApp. Cite the number as found and say "
                           "where the name came from."))
    v, vp = s.viber, s.viber_place
    if v is not None and vp is not None and c is not None and "viber" in lay.apps:
        rel = lay.apps["viber"]
        viber_feedback = ("Viber keeps group chats in viber_messages; check the group and the position shared there.")
        for item, prefix in both:
            for msg in v.messages:
                if msg.key:
                    fact("group_message", item, f"viber group '{v.title}': {msg.sender} — {msg.key}",
                         {"platform": "viber", "group": v.title, "sender": msg.sender, "sender_number": c.e164,
                          "body_contains": msg.needle, "body": msg.body, "sent_utc": iso_utc(msg.utc),
                          "file": prefix + rel}, requires=v.extractor, feedback=viber_feedback)
            fact("chat_geotag", item, f"viber: {vp.message.sender} shared a position ({vp.place}) in the group "
                 f"'{v.title}'", {"platform": "viber", "sender": vp.message.sender, "sender_number": c.e164,
                                  "sent_utc": iso_utc(vp.message.utc), "lat": vp.lat, "lon": vp.lon,
                                  "place": vp.place, "geo_kind": "chat_message", "file": prefix + rel},
                 requires=v.extractor, feedback=viber_feedback)
    rel = lay.apps.get("wechat")
    if rel:
        for item, prefix in both:
            fact("encrypted_database", item, f"WeChat's {_name(rel)} is encrypted (SQLCipher): warned, with the key "
                 "needed (IMEI + uin)",
                 {"app": "WeChat", "path": prefix + rel, "warning_contains": ["encrypted", "IMEI", "uin"],
                  "key_needed": "the first 7 hex digits of MD5(IMEI + uin)"},
                 requires="known_apps",
                 feedback=("A WeChat database was present but encrypted — `forensic warnings` names it and the key "
                           "needed (IMEI + uin); request the device IMEI."))
    wa, rel = s.wa_group, lay.apps.get("msgstore")
    if wa is not None and rel:
        for item, prefix in both:
            for m in wa.deleted:
                fact("deleted_message", item, f"whatsapp group '{wa.title}': {m.sender} (stored as {wa.handler_lid}) "
                     f"— {m.key}: deleted, recovered from {_name(rel)}'s free space",
                     {"platform": "whatsapp", "file": prefix + rel, "conversation_with": wa.title,
                      "group": wa.title, "sender": m.sender, "sender_lid": wa.handler_lid,
                      "body_contains": m.needle, "body": m.body, "sent_utc": iso_utc(m.utc), "recovered": "deleted"},
                     requires="whatsapp_db", feedback=WHATSAPP_DELETED_FEEDBACK)
    _telegram_cache_facts(lay, fact)


def _telegram_cache_facts(lay: Layout, fact) -> None:
    """Telegram for Android's cache4.db: the forwarded ad (who forwarded it, the channel that posted
    it and when), the owner's reply to it (the id it answers), the contract's file name."""
    tc, rel = lay.story.telegram_android, lay.apps.get("telegram_android")
    if tc is None or not rel:
        return
    ad, reply, doc = tc.ad, tc.reply, tc.contract
    who = tc.chat.other
    origin = tc.channel
    for item, prefix in (("phone", "/"), ("extraction", "/" + EXTRACTION_PREFIX)):
        file = prefix + rel
        fact("forwarded_message", item, f"telegram (cache4.db): {who} forwarded the job ad first posted by the "
             f"channel '{origin}' on {iso_utc(tc.ad_posted)}",
             {"platform": "telegram", "file": file, "conversation_with": who, "sender": who,
              "sender_id": tc.recruiter_id, "body_contains": ad.needle, "body": ad.body, "sent_utc": iso_utc(ad.utc),
              "message_id": tc.mid(ad), "forwarded": True, "forwarded_from": origin,
              "forwarded_from_id": tc.channel_id, "forwarded_from_kind": "channel",
              "forwarded_at": iso_utc(tc.ad_posted)},
             requires=tc.chat.extractor,
             feedback=FORWARD_FEEDBACK.format(forwarder=who, sent=iso_utc(ad.utc), origin=f"the channel '{origin}'",
                                              posted=iso_utc(tc.ad_posted)))
        fact("reply_message", item, f"telegram (cache4.db): {lay.story.owner} replied to the forwarded ad "
             f"(message {tc.mid(ad)}) — {reply.key}",
             {"platform": "telegram", "file": file, "conversation_with": who, "sender": OWNER,
              "sender_name": lay.story.owner, "direction": "outgoing", "body_contains": reply.needle,
              "body": reply.body, "sent_utc": iso_utc(reply.utc), "message_id": tc.mid(reply),
              "reply_to": tc.mid(ad), "reply_to_contains": ad.needle},
             requires=tc.chat.extractor,
             feedback=REPLY_FEEDBACK.format(body=reply.body, target=tc.mid(ad), target_words=ad.needle))
        fact("chat_attachment", item, f"telegram (cache4.db): {who} sent the contract as a document, "
             f"{doc.attachment}",
             {"platform": "telegram", "file": file, "conversation_with": who, "sender": who,
              "sender_id": tc.recruiter_id, "body_contains": doc.needle, "body": doc.body,
              "sent_utc": iso_utc(doc.utc), "message_id": tc.mid(doc), "attachment_kind": "document",
              "file_name": doc.attachment, "mime_type": tc.contract_mime, "size": tc.contract_size},
             requires=tc.chat.extractor,
             feedback=ATTACHMENT_FEEDBACK.format(sender=who, name=doc.attachment))


def _export_facts(lay: Layout, fact) -> None:
    """What the trainee's bundles must show: graded from the custody log's ``export.created``
    entries and the bundles they name (``forensic training check``)."""
    s = lay.story
    wa = s.wa_group
    if wa is not None and lay.apps.get("msgstore"):
        picked = [wa.messages[i] for i in HOTEL_SELECTION]
        total = len(wa.messages)
        count_text = f"{len(picked)} of {total} messages (selected)"
        fact("report_finding", "phone", f"a bundle tagged 'hotel' whose report has the finding 'hotel' with a note, "
             f"and the group '{wa.title}' as {count_text}",
             {"tag": "hotel", "conversation": wa.title, "total": total, "selected": [m.body for m in picked],
              "count_text": count_text, "report": "data/report/index.html"},
             requires="whatsapp_db",
             feedback=FINDING_FEEDBACK.format(total=total, tag="hotel", count_text=count_text))
        rel = lay.apps["msgstore"]
        db = next(f for f in lay.phone if f.rel == rel)
        companions = [f for f in lay.phone if f.rel in (rel + "-wal", rel + "-journal")]
        fact("bundle_sources", "phone", f"a bundle of messages exported from {_name(rel)} carries {_name(rel)}"
             + (f" and its {', '.join(_name(c.rel) for c in companions)}" if companions else "")
             + " in data/evidence, each message's source.member naming it",
             {"source": {"path": "/" + rel, "sha256": db.sha256},
              "companions": [{"path": "/" + c.rel, "sha256": c.sha256} for c in companions],
              "conversation": wa.title, "evidence_folder": "data/evidence/"},
             requires="whatsapp_db", feedback=BUNDLE_SOURCES_FEEDBACK.format(name=_name(rel)))
    _place_export_fact(lay, fact)
    fb = next(((chat, rel) for chat, rel, _ in lay.chat_files if chat.platform == "messenger"), None)
    if fb is not None:
        chat, rel = fb
        out = next((f for f in lay.phone if f.rel == rel), None)
        said = next((m for m in chat.messages if m.sender == s.owner and m.needle), None)
        if out is not None and said is not None:
            fact("pseudonymised_export", "phone", f"{s.owner} marked victim; a --pseudonymise bundle of her Messenger "
                 f"chat with {chat.other} withholds its file and calls her Victim-A",
                 {"victim": s.owner, "role": "victim", "pseudonym_prefix": "Victim-", "tag": "victim-support",
                  "conversation": chat.title, "file": "/" + rel, "file_sha256": out.sha256,
                  "body_contains": said.needle, "withheld_reason": "pseudonymised"},
                 requires=chat.extractor, feedback=PSEUDONYM_FEEDBACK.format(victim=s.owner))


def _place_export_fact(lay: Layout, fact) -> None:
    """The photos taken in the first city of the route (where it starts: no other photo, clip or
    shared position is there): tagged with the city's name and exported with that tag, the bundle
    holds exactly their SHA-256s. The box is theirs, widened by PLACE_MARGIN degrees."""
    city = lay.story.scenario.stops[0]
    here = [(rel, f) for rel, (p, f, _) in sorted(lay.photo_files.items()) if p.write_gps and p.stop == city]
    elsewhere = {f.sha256 for p, f, _ in [*lay.photo_files.values(), *lay.card_photo_files.values()]
                 if p.write_gps and p.stop != city}
    if len(here) < 2 or not elsewhere:
        return
    lats = [lay.photo_files[rel][0].lat for rel, _ in here]
    lons = [lay.photo_files[rel][0].lon for rel, _ in here]
    tag = city.city.lower()
    fact("place_export", "phone", f"every photo taken in {city.city} ({len(here)}) tagged {tag!r} and exported with "
         f"that tag: the bundle holds exactly those, no photo taken elsewhere",
         {"city": city.city, "country": city.country, "tag": tag,
          "photos": [{"path": "/" + rel, "sha256": f.sha256} for rel, f in here],
          "sha256": sorted({f.sha256 for _, f in here}),
          "box": {"south": round(min(lats) - PLACE_MARGIN, 4), "west": round(min(lons) - PLACE_MARGIN, 4),
                  "north": round(max(lats) + PLACE_MARGIN, 4), "east": round(max(lons) + PLACE_MARGIN, 4)},
          "evidence_folder": "data/evidence/"},
         requires="photo_exif", feedback=PLACE_FEEDBACK.format(city=city.city, tag=tag))


PLACE_MARGIN = 0.05                       # degrees around the city's photos: a box drawn on the map
EXPORT_KINDS = ("report_finding", "pseudonymised_export", "bundle_sources", "place_export")
SEARCH_KINDS = ("keyword_hit", "pattern_hit", "raw_hit", "archive_hit", "suspected_known_bad")
HASHSET_KINDS = ("known_bad_file", "known_good_count")


APP_KINDS = ("deleted_message", "ios_attribution", "minimal_export_message", "chat_geotag", "call_identified",
             "group_message", "encrypted_database", "forwarded_message", "reply_message", "chat_attachment")


LATER_KINDS = ("backup_device", "backup_message", "signal_message", "xmp_photo_date", "video_geotag", "near_duplicate",
               "device_location", "video_frame_copy")


def _app_expected(f: dict) -> str:
    e = f["expected"]
    if f["kind"] == "deleted_message":
        return f"{e['sender']} at {e['sent_utc']}: {e['body']} (recovered: deleted)"
    if f["kind"] == "ios_attribution":
        return f"sender {e['sender']}, local {e['sent_local']}, zone unknown"
    if f["kind"] in ("minimal_export_message", "group_message"):
        return f"{e['sender']} at {e['sent_utc']}: {e['body']}"
    if f["kind"] == "chat_geotag":
        return f"{e['lat']:.6f}, {e['lon']:.6f} ({e['place']}), `forensic geo` kind {e['geo_kind']}"
    if f["kind"] == "forwarded_message":
        return (f"{e['sender']} at {e['sent_utc']}: forwarded, forwarded_from {e['forwarded_from']} "
                f"({e['forwarded_from_kind']} {e['forwarded_from_id']}), forwarded_at {e['forwarded_at']}: {e['body']}")
    if f["kind"] == "reply_message":
        return f"{e['sender_name']} at {e['sent_utc']}: {e['body']} (reply_to {e['reply_to']}: the forwarded ad)"
    if f["kind"] == "chat_attachment":
        return (f"{e['sender']} at {e['sent_utc']}: attachment {e['attachment_kind']} `{e['file_name']}` "
                f"({e['mime_type']}, {e['size']:,} bytes)")
    if f["kind"] == "call_identified":
        return (f"{e['direction']} {e['started_utc']}, {e['duration_s']} s, number `{e['number']}` → {e['name']} "
                f"(name_source {e['name_source']}; WhatsApp `{e['whatsapp_jid']}`)")
    return f"`{e['path']}`: warning names it encrypted, key: {e['key_needed']}"


def _lat_lon(expected: dict) -> str:
    return f"{expected['lat']:.5f}, {expected['lon']:.5f}" if "lat" in expected else "—"


def render_markdown(key: dict) -> str:
    """The answer key for people: the same facts, grouped, as tables."""
    out = [f"# Answer key — sample case (scenario `{key['scenario']}`, seed {key['seed']})", "",
           key["summary"] + ".", "", "Generated by `forensic sample-image`; every fact below comes from what the "
           "generator wrote. Check a case against it with `forensic training check answer-key.json --case DIR`.",
           "", "## Evidence", "", "| item | file | SHA-256 | size |", "|---|---|---|---|"]
    for k, it in key["items"].items():
        out.append(f"| {k} | `{it['file']}` | `{it['sha256']}` | {it['size']:,} |")
        if "e01" in it:
            out.append(f"| {k} | `{it['e01']['file']}` | (media = phone.raw) | |")
        if "note" in it:
            out.append(f"| | | {it['note']} | |")
    out += ["", "## People and devices (fictional)", ""]
    out += [f"- **{role}**: {who}" for role, who in key["people"].items()]
    out += [f"- **{d}**: {what}" for d, what in key["devices"].items()]
    out += ["", "## The journey", "", "| place | zone | UTC offset | arrived (UTC) |", "|---|---|---|---|"]
    out += [f"| {j['place']} | {j['zone']} | {j['offset']} | {j['arrived_utc']} |" for j in key["journey"]]
    facts = key["facts"]

    def section(title: str, kinds: tuple[str, ...], header: str, row) -> None:
        chosen = [f for f in facts if f["kind"] in kinds]
        if not chosen:
            return
        out.extend(["", f"## {title}", "", header])
        out.append("|" + "|".join("---" for _ in header.strip("|").split("|")) + "|")
        out.extend(row(f) for f in chosen)

    section("Files", ("evidence_item", "file_count", "file_present", "deleted_file", "truncated_file",
                      "disguised_file", "container_read", "carved_photo"), "| id | item | what | path / SHA-256 |",
            lambda f: f"| {f['id']} | {f['item']} | {f['description']} | "
                      f"{'`' + f['expected']['path'] + '`' if 'path' in f['expected'] else ''} "
                      f"{'`' + f['expected']['sha256'][:16] + '…`' if 'sha256' in f['expected'] else ''} |")
    section("Photos", ("photo_geotag", "photo_time_unknown_zone"),
            "| id | item | file | place | lat, lon | taken (local) | zone in the file | true zone |",
            lambda f: f"| {f['id']} | {f['item']} | `{f['expected']['path'].rsplit('/', 1)[-1]}` | "
                      f"{f['expected'].get('place', '—')} | "
                      f"{_lat_lon(f['expected'])} | "
                      f"{f['expected']['taken_local']} | {f['expected']['tz_source']} | "
                      f"{f['expected']['true_zone']} ({f['expected']['true_offset']}) |")
    section("Time zones crossed", ("time_zones_crossed",), "| id | places | offsets seen in photos |",
            lambda f: f"| {f['id']} | {' → '.join(f['expected']['places'])} | "
                      f"{', '.join(str(m) + ' min' for m in f['expected']['offsets_minutes'])} |")
    section("Conversations", ("conversation",), "| id | item | platform | with | messages | file |",
            lambda f: f"| {f['id']} | {f['item']} | {f['expected']['platform']} | {f['expected']['other_party']} | "
                      f"{f['expected']['messages']} | `{f['expected']['file']}` |")
    section("Key messages", ("key_message",), "| id | platform | sender | sent (as shown) | UTC | message | why |",
            lambda f: f"| {f['id']} | {f['expected']['platform']} | {f['expected']['sender']} | "
                      f"{f['expected']['sent_local']} | "
                      f"{f['expected']['sent_utc'] or 'unknown (true: ' + f['expected']['true_utc'] + ')'} | "
                      f"{f['expected']['body']} | {f['description'].split(' — ', 1)[-1]} |")
    db_facts = [f for f in facts if f["kind"] in ("db_committed", "db_uncommitted")]
    if db_facts:
        first = db_facts[0]["expected"]
        out += ["", "## A database found mid-transaction (hot journal)", "",
                f"`{first['file'].rsplit('/', 1)[-1]}` has `{first['companion'].rsplit('/', 1)[-1]}` beside it: "
                "the phone died inside a transaction. A case reads it in its committed state (the journal rolled "
                "back) and lists the rows only the unfinished transaction holds flagged `db_state: \"uncommitted\"`.",
                "", "| id | item | db_state | sender | sent (UTC) | message |", "|---|---|---|---|---|---|"]
        for f in db_facts:
            e = f["expected"]
            if f["kind"] == "db_committed":
                out.append(f"| {f['id']} | {f['item']} | committed | — | — | its {len(e['messages'])} messages "
                           "(the SMS threads above) |")
            else:
                out.append(f"| {f['id']} | {f['item']} | **uncommitted** | {e['sender']} | {e['sent_utc']} | "
                           f"{e['body']} |")
        out += ["", "Feedback a trainee gets on missing them:", ""]
        out += [f"- {kind}: {text}" for kind, text in
                {f["kind"]: f.get("feedback", "") for f in db_facts}.items()]
    hostile = [f for f in facts if f["kind"] in ("spoofed_name", "name_not_utf8")]
    if hostile:
        out += ["", "## Hostile file names", "", "Names are shown escaped: `\\u202e` is U+202E (RIGHT-TO-LEFT "
                "OVERRIDE), `\\xNN` a byte that is not UTF-8.", "",
                "| id | item | path | shown by a file manager as | what it is |", "|---|---|---|---|---|"]
        for f in hostile:
            e = f["expected"]
            if f["kind"] == "spoofed_name":
                out.append(f"| {f['id']} | {f['item']} | `{e['path'].replace(RLO, chr(92) + 'u202e')}` | "
                           f"`{e['shown_as']}` | {e['mime']} named .{e['extension']}: mismatch flagged |")
            else:
                out.append(f"| {f['id']} | {f['item']} | `{e['path']}` | (bytes {e['name_bytes_hex']}) | "
                           f"warning '{e['warning_contains']}' recorded |")
        out += ["", "Feedback a trainee gets on missing them:", ""]
        out += [f"- {kind}: {text}" for kind, text in {f["kind"]: f.get("feedback", "") for f in hostile}.items()]
    damaged = [f for f in facts if f["kind"] == "acquisition_damaged"]
    if damaged:
        out += ["", "## A damaged acquisition (E01 chunk checksum)", "", "| id | item | what | checksum_errors |",
                "|---|---|---|---|"]
        out += [f"| {f['id']} | {f['item']} | {f['description']} | " + ", ".join(
                f"bytes {c['start']}-{c['end'] - 1} (sectors {c['first_sector']}-{c['last_sector']})"
                for c in f["expected"]["checksum_errors"]) + " |" for f in damaged]
        out += ["", "Feedback a trainee gets on missing it:", "", f"- {damaged[0]['feedback']}"]
    hidden = [f for f in facts if f["kind"] == "embedded_photo"]
    if hidden:
        out += ["", "## Photos hidden inside other files", "",
                "| id | item | container | where in it | what | lat, lon | photo SHA-256 |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {f['id']} | {f['item']} | `{f['expected']['container']}` | `{f['expected']['where']}` | "
                f"{f['expected']['place']} | {_lat_lon(f['expected'])} | `{f['expected']['sha256'][:16]}…` |"
                for f in hidden]
        out += ["", "Feedback a trainee gets on missing them:", "", f"- {hidden[0]['feedback']}"]
    apps = [f for f in facts if f["kind"] in APP_KINDS]
    if apps:
        out += ["", "## Apps: a deleted SMS, iOS marks, a minimal Telegram export, calls, Viber, an encrypted "
                "database, Telegram for Android (a forward, a reply, a document)", "",
                "| id | item | what | expected |", "|---|---|---|---|"]
        out += [f"| {f['id']} | {f['item']} | {f['description']} | {_app_expected(f)} |" for f in apps]
        out += ["", "Feedback a trainee gets on missing them:", ""]
        said: dict[str, list[str]] = {}          # each feedback once, with the kinds that give it
        for f in apps:
            kinds = said.setdefault(f.get("feedback", ""), [])
            if f["kind"] not in kinds:
                kinds.append(f["kind"])
        out += [f"- {', '.join(kinds)}: {text}" for text, kinds in said.items()]
    later = [f for f in facts if f["kind"] in LATER_KINDS]
    if later:
        out += ["", "## Backups, a photo dated by XMP, a GoPro clip, a picture and its WhatsApp copy, a saved "
                "place, a video's frame sent as a picture, a laptop's sealed Signal database", "",
                "| id | item | kind | what |", "|---|---|---|---|"]
        out += [f"| {f['id']} | {f['item']} | {f['kind']} | {f['description']} |" for f in later]
        out += ["", "Feedback a trainee gets on missing them:", ""]
        said_later: dict[str, list[str]] = {}
        for f in later:
            kinds = said_later.setdefault(f.get("feedback", ""), [])
            if f["kind"] not in kinds:
                kinds.append(f["kind"])
        out += [f"- {', '.join(kinds)}: {text}" for text, kinds in said_later.items()]
    known = [f for f in facts if f["kind"] in HASHSET_KINDS]
    if known:
        sets = key.get("hashsets", {})
        out += ["", "## Hash sets: a known-bad picture stored twice, stock files a known-good set lists", "",
                "The sample ships its own sets beside the evidence (generated: never real hashes): "
                + "; ".join(f"`{v['file']}` ({v['kind']}, {v['format']}, SHA-256 `{v['sha256'][:16]}…`)"
                            for v in sets.values()) + ". A fact is graded from the hash set checks the case "
                "recorded (the set's source SHA-256) and the files they matched.", "",
                "| id | item | kind | what | files |", "|---|---|---|---|---|"]
        for f in known:
            e = f["expected"]
            paths = [e["path"], *e["copies"]] if f["kind"] == "known_bad_file" else e["paths"]
            out.append(f"| {f['id']} | {f['item']} | {f['kind']} | {f['description']} | "
                       + ", ".join(f"`{p}`" for p in paths) + " |")
        out += ["", "Feedback a trainee gets on missing them:", ""]
        out += [f"- {kind}: {text}" for kind, text in {f["kind"]: f.get("feedback", "") for f in known}.items()]
    found_by_search = [f for f in facts if f["kind"] in SEARCH_KINDS]
    if found_by_search:
        out += ["", "## Searches and an altered known-bad copy", "",
                "Graded from the hits the trainee saved (`forensic search … --save`: `search/hit` records, at "
                "these image offsets) and from the perceptual hashes and hash set checks of the case.", "",
                "| id | item | kind | what |", "|---|---|---|---|"]
        out += [f"| {f['id']} | {f['item']} | {f['kind']} | {f['description']} |" for f in found_by_search]
        out += ["", "Feedback a trainee gets on missing them:", ""]
        out += [f"- {kind}: {text}" for kind, text in {f["kind"]: f.get("feedback", "")
                                                       for f in found_by_search}.items()]
    exports = [f for f in facts if f["kind"] in EXPORT_KINDS]
    if exports:
        out += ["", "## Exports: a finding with a partial selection, a pseudonymised bundle, a city's photos", "",
                "Graded from the case's custody log (`export.created`) and the bundles it names, opened read-only "
                "(`training check --bundle-password-file` for an encrypted one; without it, what the custody log "
                "shows).", "", "| id | item | kind | what |", "|---|---|---|---|"]
        out += [f"| {f['id']} | {f['item']} | {f['kind']} | {f['description']} |" for f in exports]
        out += ["", "Feedback a trainee gets on missing them:", ""]
        out += [f"- {f['kind']}: {f.get('feedback', '')}" for f in exports]
    out += ["", "## Notes for the trainer", ""] + [f"- {n}" for n in key["notes"]] + [""]
    return "\n".join(out)
