"""What WhatsApp writes into its text exports, per app language.

The export is localised: system messages, media placeholders, deleted-message markers,
AM/PM markers and the export's own file name all follow the phone's language. These tables
hold the phrases seen in real exports (see ``$FORENSIC_CORPUS/chats``) plus the common
Android/iOS variants of the languages the issue lists. Matching is done on a normalised
form (:func:`norm`): case-folded, bidi marks and Arabic diacritics removed, spaces
collapsed, trailing full stop dropped.
"""
from __future__ import annotations

import re
import unicodedata

# Bidi and formatting marks WhatsApp scatters through exports (LRM, RLM, LRE..PDF, isolates,
# Arabic letter mark, BOM).
MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\ufeff"
MARKS_RX = re.compile(f"[{MARKS}]")
SPACES = " \u00a0\u202f\u2009\u2007"

_ARABIC_DIACRITICS = re.compile("[\u064b-\u0652\u0670]")
_WS = re.compile(r"[\s\u00a0\u202f\u2009\u2007]+")


def strip_marks(text: str) -> str:
    # a regex, not str.translate: translate looks every character of a non-ASCII text up in
    # the table (some ten times slower on a chat line)
    return MARKS_RX.sub("", text)


def norm(text: str) -> str:
    if not text.isascii():
        # NFC: one spelling of a letter written two ways (Devanagari 'ड़' as U+095C or as
        # U+0921 U+093C: iOS exports write the first, the tables hold the second)
        text = unicodedata.normalize("NFC", text)
    text = _ARABIC_DIACRITICS.sub("", strip_marks(text))
    text = _WS.sub(" ", text).strip().casefold()
    return text.rstrip(".。।")


# -- 12-hour clock markers (normalised: case-folded, dots and spaces removed) ----------------
AM_MARKERS = frozenset({
    "am", "a", "vorm", "ص", "sa", "上午", "午前", "πμ", "dop", "de", "fm", "ق.ظ", "قظ",
    "inthemorning", "ngumaga", "nguumaga", "umaga", "ap", "vm", "dp", "오전", "น",
})
PM_MARKERS = frozenset({
    "pm", "p", "nachm", "م", "ch", "下午", "午後", "μμ", "odp", "du", "em", "ب.ظ", "بظ",
    "intheafternoon", "intheevening", "nghapon", "nggabi", "hapon", "gabi", "ngtanghali",
    "mp", "nm", "od", "오후",
})
NIGHT_MARKERS = frozenset({"atnight", "nggabi"})   # evening hours PM, small hours AM


def ampm_key(token: str) -> str:
    return strip_marks(token).casefold().replace(".", "").replace(" ", "").replace(
        "\u00a0", "").replace("\u202f", "")


# -- deleted-message markers -----------------------------------------------------------------
DELETED = frozenset(norm(s) for s in (
    # en
    "This message was deleted", "You deleted this message", "This message was deleted by admin",
    # es
    "Se eliminó este mensaje", "Eliminaste este mensaje", "Este mensaje fue eliminado",
    "Mensaje eliminado",
    # pt
    "Esta mensagem foi apagada", "Apagou esta mensagem", "Você apagou esta mensagem",
    "Mensagem apagada", "Esta mensagem foi eliminada", "Eliminou esta mensagem",
    # de
    "Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
    # fr
    "Ce message a été supprimé", "Vous avez supprimé ce message",
    # it
    "Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
    # ru / uk
    "Данное сообщение удалено", "Вы удалили данное сообщение", "Это сообщение было удалено",
    "Вы удалили это сообщение", "Сообщение удалено",
    "Це повідомлення було видалено", "Ви видалили це повідомлення",
    # ar
    "تم حذف هذه الرسالة", "أنت حذفت هذه الرسالة", "لقد حذفت هذه الرسالة",
    # tl
    "Binura ang mensaheng ito", "Binura mo ang mensaheng ito", "Na-delete ang mensaheng ito",
    "Dinelete mo ang mensaheng ito",
    # nl, cs, id, ja, th, vi, hi, tr
    "Dit bericht is verwijderd", "Je hebt dit bericht verwijderd",
    "Tato zpráva byla smazána", "Tuto zprávu jste smazal/a",
    "Pesan ini dihapus", "Anda menghapus pesan ini",
    "このメッセージは削除されました", "このメッセージを削除しました",
    "ข้อความนี้ถูกลบแล้ว", "คุณได้ลบข้อความนี้",
    "Tin nhắn này đã bị xóa", "Bạn đã xoá tin nhắn này", "Bạn đã xóa tin nhắn này",
    "यह मैसेज डिलीट कर दिया गया है", "आपने यह मैसेज डिलीट किया",
    "Bu mesaj silindi", "Bu mesajı sildiniz",
))

# A cheap test that every text whose norm() is a deleted-message marker passes (and every
# text that is one, with trailing dots and spaces): its first three characters, case-folded,
# are a marker's first three, or its first character is a blank or an Arabic letter (norm()
# drops blanks before a text and Arabic diacritics anywhere in it). Arabic diacritics inside
# a text in another script are not looked for. With a blank as a marker's third character,
# the text may have any blank there (norm() turns a blank run into one space). BLANKS: every
# character str.isspace() takes, which are those _WS matches (a test holds both).
BLANKS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
          "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
DELETED_HEADS3 = frozenset(p[:3] for p in DELETED) | frozenset(
    p[:2] + b for p in DELETED if p[2:3] == " " for b in BLANKS)
DELETED_FIRST = frozenset(BLANKS) | frozenset(map(chr, range(0x600, 0x700)))


def maybe_deleted(text: str) -> bool:
    """False when ``text`` (without bidi marks) is surely no deleted-message marker."""
    return text[:3].casefold()[:3] in DELETED_HEADS3 or text[:1] in DELETED_FIRST


# the first four characters of the ASCII markers: a cheap test that rules out nearly every
# ASCII text (a marker is at least 14 characters long)
DELETED_ASCII_HEADS = frozenset(p[:4] for p in DELETED if p.isascii())

# -- "<This message was edited>" suffix (newer exports) -------------------------------------
EDITED = frozenset(norm(s) for s in (
    "This message was edited", "Se editó este mensaje", "Mensaje editado",
    "Esta mensagem foi editada", "Mensagem editada", "Diese Nachricht wurde bearbeitet",
    "Ce message a été modifié", "Message modifié", "Questo messaggio è stato modificato",
    "Messaggio modificato", "Это сообщение было изменено", "Сообщение изменено",
    "تم تعديل هذه الرسالة", "Na-edit ang mensaheng ito", "Dit bericht is bewerkt",
))

# -- Android "(file attached)" labels ----------------------------------------------------------
FILE_ATTACHED = frozenset(norm(s) for s in (
    "file attached", "archivo adjunto", "arquivo anexado", "ficheiro anexado",
    "Datei angehängt", "fichier joint", "file allegato", "файл добавлен", "файл додано",
    "ملف مرفق", "الملف مرفق", "naka-attach ang file", "nakalakip na file",
    "bestand bijgevoegd", "soubor byl přiložen", "file terlampir", "dosya ekli",
))

# iOS / Android media files WhatsApp names: IMG-20210301-WA0001.jpg, 00000012-PHOTO-2021-...
WA_MEDIA_NAME = re.compile(
    r"^(?:(?:IMG|VID|AUD|PTT|STK|DOC|GIF)-\d{8}-WA\d{3,}\S*"
    r"|\d{8}-(?:PHOTO|VIDEO|AUDIO|STICKER|GIF|CONTACT|DOC)-\S+|\d{8}-.+)\.[A-Za-z0-9]{1,6}$")

# Omitted-media placeholders (iOS "image omitted" etc.): words that end such a body.
OMITTED_WORDS = tuple(norm(s) for s in (
    "omitted", "omitido", "omitida", "omitidos", "weggelassen", "ausgelassen", "absente",
    "omis", "omise", "manquant", "manquante", "retiré", "omessa", "omesso", "non incluso",
    "esclusa", "escluso", "não revelado", "não revelada", "ocultado", "ocultada", "ocultos",
    "отсутствует", "не добавлен", "пропущено", "відсутнє", "відсутня", "не додано",
    "vynechán", "vynechána", "vynecháno", "tidak disertakan", "含まれていません", "省略",
    "ไม่มีรูปภาพ", "ถูกลบ", "ไม่มีไฟล์เสียง", "ที่ละเว้น", "ไม่มีสติกเกอร์", "ละเว้นเอกสาร",
    "لم يتم إدراج", "تم حذف الملصقات", "हटाई गई", "हटाई गयी", "छोड़ा गया", "weggelaten",
    "hindi isinama", "hindi kasama", "eklenmedi", "dahil edilmedi",
))
OMITTED_PREFIXES = tuple(norm(s) for s in (
    "لم يتم إدراج", "ไม่มี", "ละเว้น", "đã bỏ", "bỏ qua", "hindi isinama",
))

# Phrases that make an iOS line a service message even without the LRM newer exports put
# before generated text (on iOS every line has a "Name:" prefix): the encryption notice and
# security-code changes. Only strong phrases: a user's own words must not match.
SYSTEM_KEYWORDS = tuple(norm(s) for s in (
    "end-to-end", "encrypt", "chiffr", "cifrad", "verschlüssel", "crittograf", "шифр",
    "encript", "criptograf", "مشفرة", "مشفّرة", "versleuteld", "šifrováním", "terenkripsi",
    "暗号化", "เข้ารหัส", "mã hóa", "एन्क्रिप्टेड", "ponto a ponto", "наскрізн", "naka-encrypt",
    "security code", "código de seguridad", "código de segurança", "sicherheitsnummer",
    "code de sécurité", "codice di sicurezza", "код безопасности", "код безпеки", "رمز أمان",
    "bezpečnostní kód", "kode keamanan", "セキュリティコード", "รหัสความปลอดภัย", "mã bảo mật",
    "सुरक्षा कोड", "security number",
))


def is_deleted(body: str) -> bool:
    return len(body) <= 80 and norm(body) in DELETED


def is_system_phrase(body: str) -> bool:
    n = norm(body)
    return any(k in n for k in SYSTEM_KEYWORDS)


def is_omitted_placeholder(body: str) -> bool:
    """iOS '‎image omitted' / 'Some file.txt ‎document omitted' and their translations."""
    if len(body) > 200:
        return False
    # the placeholder is the part after the last LRM/RLM when there is one
    tail = re.split("[\u200e\u200f]", body)[-1]
    n = norm(tail)
    if not n:
        return False
    return n.endswith(OMITTED_WORDS) or n.startswith(OMITTED_PREFIXES)


# -- conversation title from the export's file name -----------------------------------------
_TITLE_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"^WhatsApp[ -]Chat (?:with|mit|con|com|avec|met|med|z|ile|dengan|sa|s uživatelem|-)\s+(?P<t>.+)$",
    r"^WhatsApp-chat (?:met|med) (?P<t>.+)$",
    r"^Chat (?:de |do )?WhatsApp (?:con|com|avec|with|s uživatelem|s|mit|z|sa|dengan)\s+(?P<t>.+)$",
    r"^Conversa (?:do |de )?WhatsApp com (?P<t>.+)$",
    r"^Discussion WhatsApp avec (?P<t>.+)$",
    r"^Conversación de WhatsApp con (?P<t>.+)$",
    r"^Чат WhatsApp с (?:контактом |группой )?(?P<t>.+)$",
    r"^Чат WhatsApp з (?:контактом |групою )?(?P<t>.+)$",
    r"^محادثة واتساب مع (?P<t>.+)$",
    r"^دردشة واتساب مع (?P<t>.+)$",
    r"^WhatsApp Chat - (?P<t>.+)$",
)]


def title_from_name(name: str) -> str | None:
    """'WhatsApp Chat with Recruiter.txt' -> 'Recruiter' (None when the name says nothing)."""
    from urllib.parse import unquote
    stem = name
    for ext in (".txt", ".zip"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    if "%20" in stem:
        stem = unquote(stem)
    stem = unicodedata.normalize("NFC", strip_marks(stem)).strip()
    for pat in _TITLE_PATTERNS:
        m = pat.match(stem)
        if m:
            return m.group("t").strip() or None
    return None
