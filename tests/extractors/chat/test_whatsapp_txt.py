"""WhatsApp text exports: every listed locale and layout, written here by hand, plus bad input."""
from __future__ import annotations

import io
import json
import tracemalloc
from datetime import datetime

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.whatsapp_text import parse_text
from forensic.extractors.chat.whatsapp_txt import WhatsAppTxtExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

LRM, RLM, NNBSP, NBSP = "\u200e", "\u200f", "\u202f", "\u00a0"
EX = WhatsAppTxtExtractor()


def run(text: str | bytes, name: str = "_chat.txt", path: str | None = None, **options):
    data = text.encode("utf-8") if isinstance(text, str) else text
    item = ExtractorInput(path=path or f"/export/{name}", name=name, mime="text/plain",
                          size=len(data), data=data, options=options or None)
    out = list(EX.extract(item))
    records = [r for r in out if isinstance(r, ArtifactRecord)]
    warnings = [w.message for w in out if isinstance(w, ExtractionWarning)]
    return records, warnings


def accepts(text: str | bytes, name: str = "notes.txt") -> bool:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return EX.accepts(f"/x/{name}", "text/plain", data[:4096])


# -- locales: (id, export text, expected first user message, expected flags on later lines) ----
# Each fixture: a service line, a message with a known sender/time/text, and the locale's
# media placeholder, attachment and deleted marker where the layout has them.
LOCALES = [
    ("en-android-24h",
     "14/03/2021, 21:05 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.\n"  # noqa: E501  (verbatim export text)
     "14/03/2021, 21:06 - Recruiter: Hello, are you looking for work?\n"
     "14/03/2021, 21:07 - Recruiter: <Media omitted>\n"
     "14/03/2021, 21:08 - Recruiter: IMG-20210314-WA0001.jpg (file attached)\n"
     "14/03/2021, 21:09 - Maria: This message was deleted\n",
     ("Recruiter", datetime(2021, 3, 14, 21, 6), "Hello, are you looking for work?")),
    ("en-ios-12h-nnbsp",
     f"[3/14/21, 9:05:07{NNBSP}PM] Recruiter: {LRM}Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.\n"  # noqa: E501  (verbatim export text)
     f"[3/14/21, 9:06:00{NNBSP}PM] Recruiter: Hello, are you looking for work?\n"
     f"{LRM}[3/14/21, 9:07:00{NNBSP}PM] Recruiter: {LRM}image omitted\n"
     f"{LRM}[3/14/21, 9:08:00{NNBSP}PM] Recruiter: {LRM}<attached: 00000012-PHOTO-2021-03-14-21-08-00.jpg>\n"
     f"{LRM}[3/14/21, 9:09:00{NNBSP}PM] Maria: {LRM}This message was deleted.\n",
     ("Recruiter", datetime(2021, 3, 14, 21, 6), "Hello, are you looking for work?")),
    ("es-android-12h-am-pm",
     f"14/3/21, 9:05{NNBSP}p.{NBSP}m. - Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de este chat, ni siquiera WhatsApp, puede leerlos ni escucharlos.\n"  # noqa: E501  (verbatim export text)
     f"14/3/21, 9:06{NNBSP}p.{NBSP}m. - Reclutador: Hola, ¿buscas trabajo?\n"
     f"14/3/21, 9:07{NNBSP}p.{NBSP}m. - Reclutador: <Multimedia omitido>\n"
     f"14/3/21, 9:08{NNBSP}p.{NBSP}m. - Reclutador: IMG-20210314-WA0001.jpg (archivo adjunto)\n"
     f"15/3/21, 12:09{NNBSP}a.{NBSP}m. - María: Se eliminó este mensaje\n",
     ("Reclutador", datetime(2021, 3, 14, 21, 6), "Hola, ¿buscas trabajo?")),
    ("es-ios",
     f"[14/03/21, 21:05:00] Reclutador: {LRM}Los mensajes y las llamadas están cifrados de extremo a extremo.\n"
     f"[14/03/21, 21:06:00] Reclutador: Hola, ¿buscas trabajo?\n"
     f"{LRM}[14/03/21, 21:07:00] Reclutador: {LRM}imagen omitida\n"
     f"{LRM}[14/03/21, 21:08:00] Reclutador: {LRM}<adjunto: 00000012-PHOTO-2021-03-14-21-08-00.jpg>\n"
     f"{LRM}[14/03/21, 21:09:00] María: {LRM}Se eliminó este mensaje.\n",
     ("Reclutador", datetime(2021, 3, 14, 21, 6), "Hola, ¿buscas trabajo?")),
    ("pt-android-no-comma",
     "14/03/2021 21:05 - As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta.\n"
     "14/03/2021 21:06 - Recrutador: Olá, procura trabalho?\n"
     "14/03/2021 21:07 - Recrutador: <Mídia oculta>\n"
     "14/03/2021 21:08 - Recrutador: IMG-20210314-WA0001.jpg (arquivo anexado)\n"
     "14/03/2021 21:09 - Maria: Esta mensagem foi apagada\n",
     ("Recrutador", datetime(2021, 3, 14, 21, 6), "Olá, procura trabalho?")),
    ("de-android-dots-2digit",
     "14.03.21, 21:05 - Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt.\n"
     "14.03.21, 21:06 - Anwerber: Hallo, suchst du Arbeit?\n"
     "14.03.21, 21:07 - Anwerber: <Medien ausgeschlossen>\n"
     "14.03.21, 21:08 - Anwerber: IMG-20210314-WA0001.jpg (Datei angehängt)\n"
     "14.03.21, 21:09 - Maria: Diese Nachricht wurde gelöscht\n",
     ("Anwerber", datetime(2021, 3, 14, 21, 6), "Hallo, suchst du Arbeit?")),
    ("de-android-vorm-nachm",
     f"14.03.21, 9:05{NNBSP}nachm. - Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt.\n"
     f"14.03.21, 9:06{NNBSP}nachm. - Anwerber: Hallo, suchst du Arbeit?\n"
     f"15.03.21, 7:07{NNBSP}vorm. - Anwerber: <Medien ausgeschlossen>\n"
     f"15.03.21, 7:08{NNBSP}vorm. - Anwerber: IMG-20210315-WA0001.jpg (Datei angehängt)\n"
     f"15.03.21, 12:09{NNBSP}nachm. - Maria: Du hast diese Nachricht gelöscht\n",
     ("Anwerber", datetime(2021, 3, 14, 21, 6), "Hallo, suchst du Arbeit?")),
    ("de-ios",
     f"[14.03.21, 21:05:00] Anwerber: {LRM}Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt.\n"
     f"[14.03.21, 21:06:00] Anwerber: Hallo, suchst du Arbeit?\n"
     f"{LRM}[14.03.21, 21:07:00] Anwerber: {LRM}Bild weggelassen\n"
     f"{LRM}[14.03.21, 21:08:00] Anwerber: {LRM}<Anhang: 00000012-PHOTO-2021-03-14-21-08-00.jpg>\n"
     f"{LRM}[14.03.21, 21:09:00] Maria: {LRM}Diese Nachricht wurde gelöscht.\n",
     ("Anwerber", datetime(2021, 3, 14, 21, 6), "Hallo, suchst du Arbeit?")),
    ("fr-android-a",
     "14/03/2021 à 21:05 - Les messages et les appels sont chiffrés de bout en bout.\n"
     "14/03/2021 à 21:06 - Recruteur: Bonjour, vous cherchez du travail ?\n"
     "14/03/2021 à 21:07 - Recruteur: <Médias omis>\n"
     "14/03/2021 à 21:08 - Recruteur: IMG-20210314-WA0001.jpg (fichier joint)\n"
     "14/03/2021 à 21:09 - Maria: Ce message a été supprimé\n",
     ("Recruteur", datetime(2021, 3, 14, 21, 6), "Bonjour, vous cherchez du travail ?")),
    ("fr-ios",
     f"[14/03/2021 21:05:00] Recruteur: {LRM}Les messages et les appels sont chiffrés de bout en bout.\n"
     f"[14/03/2021 21:06:00] Recruteur: Bonjour, vous cherchez du travail ?\n"
     f"{LRM}[14/03/2021 21:07:00] Recruteur: {LRM}image absente\n"
     f"{LRM}[14/03/2021 21:08:00] Recruteur: {LRM}<pièce jointe : 00000012-PHOTO-2021-03-14-21-08-00.jpg>\n"
     f"{LRM}[14/03/2021 21:09:00] Maria: {LRM}Ce message a été supprimé.\n",
     ("Recruteur", datetime(2021, 3, 14, 21, 6), "Bonjour, vous cherchez du travail ?")),
    ("it-android",
     "14/03/21, 21:05 - I messaggi e le chiamate sono crittografati end-to-end.\n"
     "14/03/21, 21:06 - Reclutatore: Ciao, cerchi lavoro?\n"
     "14/03/21, 21:07 - Reclutatore: <Media omessi>\n"
     "14/03/21, 21:08 - Reclutatore: IMG-20210314-WA0001.jpg (file allegato)\n"
     "14/03/21, 21:09 - Maria: Questo messaggio è stato eliminato\n",
     ("Reclutatore", datetime(2021, 3, 14, 21, 6), "Ciao, cerchi lavoro?")),
    ("ru-android",
     "14.03.2021, 21:05 - Сообщения и звонки защищены сквозным шифрованием.\n"
     "14.03.2021, 21:06 - Вербовщик: Привет, ищешь работу?\n"
     "14.03.2021, 21:07 - Вербовщик: <Без медиафайлов>\n"
     "14.03.2021, 21:08 - Вербовщик: IMG-20210314-WA0001.jpg (файл добавлен)\n"
     "14.03.2021, 21:09 - Мария: Данное сообщение удалено\n",
     ("Вербовщик", datetime(2021, 3, 14, 21, 6), "Привет, ищешь работу?")),
    ("ru-ios",
     f"[14.03.2021, 21:05:00] Вербовщик: {LRM}Сообщения и звонки защищены сквозным шифрованием.\n"
     f"[14.03.2021, 21:06:00] Вербовщик: Привет, ищешь работу?\n"
     f"{LRM}[14.03.2021, 21:07:00] Вербовщик: {LRM}изображение отсутствует\n"
     f"{LRM}[14.03.2021, 21:08:00] Вербовщик: {LRM}<вложение: 00000012-PHOTO-2021-03-14-21-08-00.jpg>\n"
     f"{LRM}[14.03.2021, 21:09:00] Мария: {LRM}Данное сообщение удалено.\n",
     ("Вербовщик", datetime(2021, 3, 14, 21, 6), "Привет, ищешь работу?")),
    ("ar-android-arabic-digits-12h",
     f"{RLM}١٤{RLM}/٣{RLM}/٢١ ٩:٠٥ م - الرسائل والمكالمات مشفرة تمامًا بين الطرفين.\n"
     f"{RLM}١٤{RLM}/٣{RLM}/٢١ ٩:٠٦ م - المجند: مرحبا، هل تبحث عن عمل؟\n"
     f"{RLM}١٤{RLM}/٣{RLM}/٢١ ٩:٠٧ م - المجند: <تم استبعاد الوسائط>\n"
     f"{RLM}١٤{RLM}/٣{RLM}/٢١ ٩:٠٨ م - المجند: IMG-20210314-WA0001.jpg (ملف مرفق)\n"
     f"{RLM}١٥{RLM}/٣{RLM}/٢١ ١٢:٠٩ ص - مريم: تم حذف هذه الرسالة\n",
     ("المجند", datetime(2021, 3, 14, 21, 6), "مرحبا، هل تبحث عن عمل؟")),
    ("ar-ios",
     f"[١٤{RLM}/٣{RLM}/٢٠٢١، ٩:٠٥:٠٠ م] المجند: {RLM}الرسائل والمكالمات مشفرة تمامًا بين الطرفين.\n"
     f"[١٤{RLM}/٣{RLM}/٢٠٢١، ٩:٠٦:٠٠ م] المجند: مرحبا، هل تبحث عن عمل؟\n"
     f"{RLM}[١٤{RLM}/٣{RLM}/٢٠٢١، ٩:٠٧:٠٠ م] المجند: {RLM}لم يتم إدراج الصورة\n"
     f"{RLM}[١٤{RLM}/٣{RLM}/٢٠٢١، ٩:٠٨:٠٠ م] المجند: {RLM}<المُرفق: 00000012-PHOTO-2021-03-14-21-08-00.jpg>\n"
     f"{RLM}[١٥{RLM}/٣{RLM}/٢٠٢١، ١٢:٠٩:٠٠ ص] مريم: {RLM}تم حذف هذه الرسالة.\n",
     ("المجند", datetime(2021, 3, 14, 21, 6), "مرحبا، هل تبحث عن عمل؟")),
    ("tl-android",
     "3/14/21, 9:05 PM - Ang mga mensahe at tawag ay end-to-end encrypted.\n"
     "3/14/21, 9:06 PM - Recruiter: Kumusta, naghahanap ka ba ng trabaho?\n"
     "3/14/21, 9:07 PM - Recruiter: <Hindi isinama ang media>\n"
     "3/14/21, 9:08 PM - Recruiter: IMG-20210314-WA0001.jpg (naka-attach ang file)\n"
     "3/15/21, 12:09 AM - Maria: Binura ang mensaheng ito\n",
     ("Recruiter", datetime(2021, 3, 14, 21, 6), "Kumusta, naghahanap ka ba ng trabaho?")),
    ("en-android-dashes-4digit",
     "14-03-2021 21:05 - Messages and calls are end-to-end encrypted.\n"
     "14-03-2021 21:06 - Recruiter: Hello, are you looking for work?\n"
     "14-03-2021 21:07 - Recruiter: <Media omitted>\n"
     "14-03-2021 21:08 - Recruiter: IMG-20210314-WA0001.jpg (file attached)\n"
     "14-03-2021 21:09 - Maria: You deleted this message\n",
     ("Recruiter", datetime(2021, 3, 14, 21, 6), "Hello, are you looking for work?")),
]


def text_id(text: str) -> str:
    return next(i for i, t, _ in LOCALES if t == text)


@pytest.mark.parametrize("text,first", [(t, f) for _, t, f in LOCALES], ids=[i for i, _, _ in LOCALES])
def test_locale(text, first):
    assert accepts(text)
    records, warnings = run(text)
    assert warnings == []
    assert len(records) == 5
    service, msg, media, attached, deleted = (r.fields for r in records)
    if "ios" in text_id(text):
        # iOS writes the encryption notice under the chat's name: a system line, as Android
        # writes it, with the name kept as its actor
        assert service["system"] is True and service["sender"] is None and service["app_notice"] is True
        assert service["actor"] == first[0]
    else:
        assert service["system"] is True and service["sender"] is None
    sender, local, body = first
    assert (msg["sender"], msg["body"], msg["system"]) == (sender, body, False)
    assert msg["sent_at"] == local.isoformat() and msg["sent_at_utc"] is None
    assert msg["tz_known"] is False and msg["tz_source"] == "unknown"
    assert records[1].timestamps[0].local == local and records[1].timestamps[0].utc is None
    assert msg["source"] == {"path": "/export/_chat.txt", "line": 2} and records[1].source_ref == "line 2"
    assert media["media_omitted"] is True and media["attachments"] == []
    assert len(attached["attachments"]) == 1
    assert attached["attachments"][0]["name"].endswith(".jpg")
    assert attached["attachments"][0] == {"name": attached["attachments"][0]["name"],
                                          "sha256": None, "locator": None, "missing": None}
    assert deleted["deleted"] is True and deleted["sender"] not in (None, sender)
    assert set(msg["participants"]) == {sender, deleted["sender"]}
    assert msg["recipients"] == [deleted["sender"]]
    assert not any(r.corrupted for r in records)


def test_am_pm_midnight_and_noon():
    text = ("3/14/21, 12:05 AM - A: midnight\n3/14/21, 12:05 PM - A: noon\n"
            f"15/3/21, 12:10{NNBSP}a.{NBSP}m. - B: also midnight\n")
    got = [r.fields["sent_at"] for r in run(text)[0]]
    # one file, one order: '15/3' is decisive, so the file is day-first
    assert got[2] == "2021-03-15T00:10:00"


def test_multiline_message_keeps_lines_and_cites_first():
    text = ("14/03/2021, 21:06 - Recruiter: first line\nsecond line\n\nfourth line\n"
            "14/03/2021, 21:07 - Maria: ok\n")
    records, warnings = run(text)
    assert warnings == []
    assert records[0].fields["body"] == "first line\nsecond line\n\nfourth line"
    assert records[0].fields["source"] == {"path": "/export/_chat.txt", "line": 1, "line_end": 4}
    assert records[1].fields["source"]["line"] == 5


def test_bom_and_lrm_everywhere():
    text = "\ufeff" + f"{LRM}[14/03/2021, 21:06:00] {LRM}Recruiter{LRM}: Hello\n"
    records, warnings = run(text)
    assert warnings == [] and records[0].fields["sender"] == "Recruiter"
    assert records[0].fields["body"] == "Hello"


def test_ios_tilde_sender_and_edited_suffix():
    text = (f"[14/03/2021, 21:06:00] ~{NNBSP}Boss: Come at 6 <This message was edited>\n"
            "[14/03/2021, 21:07:00] Maria: ok\n")
    records, _ = run(text)
    assert records[0].fields["sender"] == "Boss"
    assert records[0].fields["edited"] is True and records[0].fields["body"] == "Come at 6"


def test_time_first_layout():
    text = "[21:06:01, 3/14/21] Recruiter: Xin chào\n[21:07:00, 3/14/21] Maria: ok\n"
    records, warnings = run(text)
    assert warnings == [] and records[0].fields["sent_at"] == "2021-03-14T21:06:01"


def test_buddhist_and_japanese_era_years():
    be = run("[3/14/2564 BE, 21:06:01] A: hi\n[3/15/2564 BE, 21:06:01] A: hi\n")
    assert be[0][0].fields["sent_at"] == "2021-03-14T21:06:01"
    assert be[1] == ["dates use the buddhist calendar; converted to Gregorian"]
    jp = run("[3/14/R3, 21:06:01] A: hi\n")
    assert jp[0][0].fields["sent_at"] == "2021-03-14T21:06:01"


def test_title_from_file_name():
    text = "14/03/2021, 21:06 - Recruiter: Hello\n"
    assert run(text, name="WhatsApp Chat with Recruiter.txt")[0][0].fields["conversation"] == {
        "id": "/export/WhatsApp Chat with Recruiter.txt", "title": "Recruiter"}
    rec = run(text, name="_chat.txt", path="/x/WhatsApp Chat - Boss.zip/_chat.txt")[0][0]
    assert rec.fields["conversation"]["title"] == "Boss"
    assert run(text, name="Чат WhatsApp с контактом Ivan.txt")[0][0].fields["conversation"]["title"] == "Ivan"
    assert run(text, name="export.txt")[0][0].fields["conversation"]["title"] is None


def test_recognised_by_content_whatever_the_name():
    text = "14/03/2021, 21:06 - Recruiter: Hello\n14/03/2021, 21:07 - Maria: hi\n"
    assert accepts(text, name="evidence_0042.dat")
    assert EX.accepts("/x/a.txt", "image/jpeg", text.encode()) is False


# -- date order ---------------------------------------------------------------------------------

AMBIGUOUS = ("01/02/2021, 10:00 - A: one\n01/02/2021, 10:05 - B: two\n"
             "03/04/2021, 11:00 - A: three\n")


def test_date_order_decided_from_the_whole_file():
    # the only decisive date is on the last line
    text = "".join(f"0{i}/02/2021, 10:0{i} - A: m{i}\n" for i in range(1, 9)) + "02/13/2021, 10:00 - B: late\n"
    records, warnings = run(text)
    assert warnings == []
    assert records[0].fields["sent_at"] == "2021-01-02T10:01:00"      # month first
    assert records[0].fields["date_order"] == "mdy" and records[0].fields["date_order_ambiguous"] is False


def test_ambiguous_date_order_is_flagged():
    records, warnings = run(AMBIGUOUS)
    assert warnings == ["day/month order cannot be told from the dates (no field exceeds 12): "
                        "assumed day first (dmy); set --date-order to override"]
    assert all(r.fields["date_order_ambiguous"] for r in records)
    assert records[0].fields["sent_at"] == "2021-02-01T10:00:00"


def test_ambiguous_date_order_option_is_honoured():
    records, warnings = run(AMBIGUOUS, date_order="mdy")
    assert warnings == []
    assert records[0].fields["sent_at"] == "2021-01-02T10:00:00"
    assert records[0].fields["date_order"] == "mdy" and records[0].fields["date_order_ambiguous"] is True


def test_ambiguous_date_order_chronology_tiebreak():
    text = "06/03/2017, 00:45 - A: x\n08/05/2017, 01:48 - B: y\n09/04/2017, 01:50 - A: z\n"
    records, warnings = run(text)
    assert records[0].fields["date_order"] == "mdy"
    assert "chose the reading that keeps the messages in time order (mdy)" in warnings[0]


def test_year_first_dates():
    records, warnings = run("[2023/5/4, 16:13:23] A: See you!\n")
    assert warnings == [] and records[0].fields["sent_at"] == "2023-05-04T16:13:23"


def test_assume_tz():
    records, warnings = run("14/03/2021, 21:06 - A: hi\n14/07/2021, 21:06 - A: summer\n",
                            assume_tz="Europe/Madrid")
    assert warnings == []
    assert records[0].fields["sent_at"] == "2021-03-14T21:06:00+01:00"
    assert records[0].fields["sent_at_utc"] == "2021-03-14T20:06:00Z"
    assert records[1].fields["sent_at_utc"] == "2021-07-14T19:06:00Z"
    assert records[0].fields["tz_known"] is True and records[0].fields["tz_source"] == "assumed"
    assert records[0].timestamps[0].tz_source == "assumed"


def test_assume_tz_unknown_zone_warns_and_keeps_local():
    records, warnings = run("14/03/2021, 21:06 - A: hi\n", assume_tz="Mars/Olympus")
    assert records[0].fields["tz_known"] is False
    assert len(warnings) == 1 and "'Mars/Olympus' is not a known time zone" in warnings[0]


# -- bad input ----------------------------------------------------------------------------------

def test_text_that_only_looks_like_a_chat():
    looks = ("Meeting notes 14/03/2021\n"
             "14/03/2021 - call Bob: about the shipment\n"
             "2021-03-14 10:00:00 INFO: started\n"
             "14/03/2021,21:06,Bob,hello\n")
    assert not accepts(looks)
    assert run(looks)[0] == [] or all(r.corrupted for r in run(looks)[0])
    csv = "date,time,name,text\n14/03/2021,21:06,Bob,hello\n"
    assert not accepts(csv) and run(csv) == ([], [])


def test_corrupt_line_in_the_middle_is_kept_flagged():
    text = ("14/03/2021, 21:05 - A: before\n"
            "14/03/2021, 21:6_PM - A: broken header\n"
            "32/03/2021, 21:07 - B: impossible date\n"
            "14/03/2021, 21:08 - B: after\n")
    records, warnings = run(text)
    assert [r.fields["body"] for r in records] == [
        "before", "14/03/2021, 21:6_PM - A: broken header", "impossible date", "after"]
    assert [r.corrupted for r in records] == [False, True, True, False]
    assert records[1].fields["sent_at"] is None and records[1].timestamps == ()
    assert records[1].warnings == ("line starts with a date and time but is not a message header; "
                                   "sender 'A' read from the text after it",)
    assert records[1].fields["sender"] == "A"
    assert records[2].warnings[0].startswith("invalid date or time in header")
    assert records[2].fields["sender"] == "B"
    assert warnings == ["2 line(s) look like message headers but cannot be read; kept as flagged records"]


def test_mixed_line_endings():
    text = b"14/03/2021, 21:05 - A: one\r\n14/03/2021, 21:06 - B: two\nmore\r14/03/2021, 21:07 - A: three\r\n"
    records, warnings = run(text)
    assert warnings == []
    assert [(r.fields["body"], r.fields["source"]["line"]) for r in records] == [
        ("one", 1), ("two\nmore", 2), ("three", 4)]


def test_invalid_utf8_is_replaced_and_warned():
    text = b"14/03/2021, 21:05 - A: ok\n14/03/2021, 21:06 - B: bad \xff\xfe bytes\n14/03/2021, 21:07 - A: ok\n"
    records, warnings = run(text)
    assert len(records) == 3 and records[1].fields["body"] == "bad \ufffd\ufffd bytes"
    assert warnings == ["1 line(s) are not valid UTF-8 (replaced with U+FFFD), first at line(s) 2"]


def test_lines_before_the_first_header_are_kept():
    text = "stray text\n14/03/2021, 21:05 - A: hi\n"
    records, _ = run(text)
    assert records[0].corrupted and records[0].fields["body"] == "stray text"
    assert records[1].fields["body"] == "hi"


def test_empty_file_yields_nothing():
    assert run(b"") == ([], [])
    assert not accepts(b"")


def test_utf16_export():
    text = "14/03/2021, 21:05 - A: hola\n".encode("utf-16")
    records, warnings = run(text)
    assert warnings == [] and records[0].fields["body"] == "hola"


class _Generated(io.RawIOBase):
    """A chat of n messages produced on the fly (never held whole)."""

    def __init__(self, n: int) -> None:
        self.n, self.i, self.buf = n, 0, b""

    def readable(self):
        return True

    def readinto(self, b):
        while len(self.buf) < len(b) and self.i < self.n:
            i = self.i
            self.buf += (f"{1 + i % 28:02d}/03/2021, {i % 24:02d}:{i % 60:02d} - Person {i % 7}: "
                         f"message number {i} with some text\n").encode()
            if i % 5 == 0:
                self.buf += b"a continuation line\n"
            self.i += 1
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n


@pytest.mark.slow
def test_large_chat_is_streamed_with_flat_memory():
    n = 100_000
    item = ExtractorInput(path="/big/_chat.txt", name="_chat.txt", mime="text/plain",
                          size=0, data=None, reopen=lambda: io.BufferedReader(_Generated(n)))
    tracemalloc.start()
    count = 0
    for rec in EX.extract(item):
        if isinstance(rec, ArtifactRecord):
            count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    assert peak < 8 * 1024 * 1024           # the chat is ~7 MB; nothing may grow with it


# -- the pure parser ----------------------------------------------------------------------------

def test_parser_line_accounting():
    text = ("14/03/2021, 21:05 - Group created\n14/03/2021, 21:06 - A: one\ntwo\n\n"
            "14/03/2021, 21:6x - broken\n")
    p = parse_text(text)
    c = p.counts
    assert (c.message_lines, c.system_lines, c.continuation_lines, c.corrupt_lines, c.blank_lines) == (1, 1, 1, 1, 1)
    assert p.facts.layout.style == "android" and p.facts.clock == "24h"


# -- attachments linked in finalize -------------------------------------------------------------

def test_finalize_links_attachments_to_files_of_the_same_export(tmp_path):
    from forensic.case import Case
    case = Case.init(tmp_path / "case", "C1", "examiner")
    db = case.db
    db.execute("INSERT INTO items(item, source_path, format, size, sha256, md5, added_at) "
               "VALUES ('phone', '/x', 'dir', 0, '', '', 'now')")

    def add_file(path, sha):
        cur = db.execute("INSERT INTO files(item, locator, path, layers, name, kind, sha256) "
                         "VALUES ('phone', ?, ?, '[]', ?, 'file', ?) RETURNING id",
                         (f"phone › {path}", path, path.rsplit("/", 1)[-1], sha))
        return cur.fetchone()[0]

    chat_id = add_file("/exp/WhatsApp Chat with A.txt", "c" * 64)
    add_file("/exp/IMG-20210314-WA0001.jpg", "a" * 64)
    add_file("/other/IMG-20210314-WA0002.jpg", "b" * 64)     # same name pattern, other folder
    text = ("14/03/2021, 21:05 - A: IMG-20210314-WA0001.jpg (file attached)\n"
            "14/03/2021, 21:06 - A: IMG-20210314-WA0002.jpg (file attached)\n"
            "14/03/2021, 21:07 - A: no attachment\n")
    records, _ = run(text, name="WhatsApp Chat with A.txt", path="/exp/WhatsApp Chat with A.txt")
    for r in records:
        db.execute("INSERT INTO artifacts(item, file_id, record_type, extractor, source_ref, fields) "
                   "VALUES ('phone', ?, ?, ?, ?, ?)",
                   (chat_id, r.record_type, EX.ident, r.source_ref, json.dumps(r.fields)))
    warnings = _finalized(db, "phone")
    rows = [json.loads(f) for (f,) in db.execute("SELECT fields FROM artifacts ORDER BY id")]
    assert rows[0]["attachments"] == [{"name": "IMG-20210314-WA0001.jpg", "sha256": "a" * 64,
                                       "locator": "phone › /exp/IMG-20210314-WA0001.jpg", "missing": False}]
    assert rows[1]["attachments"] == [{"name": "IMG-20210314-WA0002.jpg", "sha256": None,
                                       "locator": None, "missing": True}]
    assert rows[2]["attachments"] == []
    assert [w.message for w in warnings] == [
        "attachment 'IMG-20210314-WA0002.jpg' named at line 2 of /exp/WhatsApp Chat with A.txt "
        "is not in the export's folder"]
    case.close()


def _parsed(data: bytes, block_bytes: int, fast: bool = True):
    import dataclasses

    from forensic.extractors.chat import whatsapp_text as wt
    facts, counts = wt.ChatFacts(), wt.ChatCounts()
    wt.scan_blocks(wt.iter_blocks(io.BytesIO(data), facts, block_bytes=block_bytes), None, facts, fast=fast)
    messages = wt.parse_blocks(wt.iter_blocks(io.BytesIO(data), block_bytes=block_bytes), facts, counts, fast=fast)
    return ([dataclasses.astuple(m) for m in messages], dataclasses.astuple(counts),
            dataclasses.astuple(facts), wt.facts_warnings(facts, counts))


@pytest.mark.parametrize("text", [t for _, t, _ in LOCALES], ids=[i for i, _, _ in LOCALES])
def test_block_boundaries_change_nothing(text):
    """Blocks of whole lines are read one regex at a time: any block size gives the same
    messages, line accounting and facts as the line-by-line reference, also for lines in
    another layout or with marks."""
    data = (text + "second line\n\n" + text.replace("\n", "\r\n", 2)
            + "\u200e" + text.splitlines()[1] + "\n" + "14/03/2021, 21:6x - broken\n").encode()
    expected = _parsed(data, 1 << 16, fast=False)
    for size in (1, 7, 64, 333, 1 << 16):
        assert _parsed(data, size) == expected, size


@pytest.mark.parametrize("line", [
    "14/03/2021, 21:05 - A: x", "[14/03/2021, 21:05:01] A: x", "3/14/21, 9:05 PM - A: x",
    "[3/14/21, 9:05:01\u202fPM] A: x", "14/03/2021 21:05 - A: x", "14/03/2021, 21:05: A: x",
    "14/03/2021 BE, 21:05 - A: x", "14/03/2021., 21:05 - A: x", "14/03/2021, 21:05 p.m. - A: x",
    "14/03/20211, 21:05 - A: x", "14/03/2021, 21:05 - - A", "[14:05:01, 3/14/21] A: x",
])
def test_plain_header_pattern_agrees_with_the_full_one(line):
    """Where the plain pattern matches, the layout's full pattern matches the same header,
    date and time (pass 1's and pass 2's block regexes)."""
    from forensic.extractors.chat import whatsapp_text as wt
    full = wt._GENERIC_DT.match(line) or wt._GENERIC_TD.match(line)
    if full is None:
        return
    layout = wt._layout_of(full)
    for marks in (False, True):
        plain = wt._block_regex(layout, marks, plain=True)[0].match(line)
        ref = wt._block_regex(layout, marks, plain=False)[0].match(line)
        if plain is not None and plain.group("head"):
            parts = ("head", "date", "time", "name", "text")
            assert plain.group(*parts) == ref.group(*parts)
        plain = wt._rows_regex(layout, marks, plain=True)[0].match(line)
        ref = wt._rows_regex(layout, marks, plain=False)[0].match(line)
        if plain is not None and plain.group("head"):
            assert plain.group("date", "hm", "tail", "name", "text") == ref.group("date", "hm", "tail", "name", "text")
            assert plain.group("head") == wt._raw_time(ref.group("head"))


def _finalized(db, item: str) -> list:
    """finalize() through the store's read-only view; its links stored as the pipeline stores
    them. Returns the warnings."""
    from forensic.store.artifacts import apply_links
    from forensic.store.records import Link
    from forensic.store.view import StoreView
    out = list(EX.finalize(StoreView(db), item))
    apply_links(db, item, [o for o in out if isinstance(o, Link)])
    return [o for o in out if not isinstance(o, Link)]
