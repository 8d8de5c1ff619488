"""Words and dates of the notices in the reader's language, and the mails they become."""

import functools
from datetime import date, datetime

from notifications import ical

# The mail templates exist in Spanish and English; other languages read Spanish.
MAIL_LANGUAGES = ("es", "en")
SKILL_NAMES = {
    "es": {"cleaning": "limpieza", "ironing": "plancha", "elderly_care": "cuidado de mayores",
           "childcare": "cuidado infantil", "gardening": "jardinería"},
    "en": {"cleaning": "cleaning", "ironing": "ironing", "elderly_care": "elderly care",
           "childcare": "childcare", "gardening": "gardening"},
}


def lang_of(language: str | None) -> str:
    """Return the language a person's mails are written in."""
    return language if language in MAIL_LANGUAGES else "es"


def skill_name(skill: str, lang: str) -> str:
    return SKILL_NAMES[lang].get(skill, skill)


@functools.lru_cache(maxsize=512)
def day_text(day: date, lang: str) -> str:
    """Return a day spelled out in lang ('martes, 8 de diciembre de 2026')."""
    from babel.dates import format_date

    return format_date(day, "full", locale=lang)


def hour(moment: datetime | None) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}" if moment else ""


def booking_context(*, lang: str, name: str, request_id: int, skill: str, start: datetime,
                    end: datetime, professional: str | None, address: str | None) -> dict:
    """Return what every client notice about one service says."""
    return {"name": name, "number": request_id, "service": skill_name(skill, lang),
            "day": day_text(start.date(), lang), "start": hour(start), "end": hour(end),
            "professional": professional or "", "address": address or ""}


def client_mail(*, template: str, to: str, lang: str, context: dict, request_id: int,
                event: ical.Event, method: str, stamp: datetime, dedup_key: str) -> dict:
    """Return one client notice as a mail for backoffice.mail.enqueue_many."""
    return {"to": to, "template": f"notifications/{template}", "lang": lang,
            "context": context, "entity": "service_request", "entity_id": request_id,
            "dedup_key": dedup_key,
            "calendar": ical.part(method, [event], stamp=stamp, attendee=to)}


def pro_item(*, kind: str, lang: str, request_id: int, skill: str, start: datetime,
             end: datetime, client: str | None, address: str | None,
             old_start: datetime | None = None) -> dict:
    """Return one line of a professional's list (changes or agenda)."""
    return {"kind": kind, "number": request_id, "service": skill_name(skill, lang),
            "day": day_text(start.date(), lang), "start": hour(start), "end": hour(end),
            "client": client or "", "address": address or "", "old_start": hour(old_start)}


def pro_mail(*, template: str, to: str, lang: str, context: dict, professional_id: int,
             events: list[ical.Event], stamp: datetime, dedup_key: str) -> dict:
    """Return one professional's list as a mail; its calendar part carries every service in it.

    METHOD:PUBLISH, the one method that may carry several services (several UIDs) at once;
    each event says CONFIRMED or CANCELLED."""
    return {"to": to, "template": f"notifications/{template}", "lang": lang,
            "context": context, "entity": "professional", "entity_id": professional_id,
            "dedup_key": dedup_key,
            "calendar": ical.part("PUBLISH", events, stamp=stamp)}
