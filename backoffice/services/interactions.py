"""Calls with and notes about a client or a professional, and a booking cancelled on the phone:
what an agent records from a person's page. Each writes its rows (the audit trail follows the
flush); the boundary commits."""

import re
from datetime import datetime

from sqlalchemy.orm import Session

from backoffice.i18n import Refusal
from backoffice.models import (
    Client,
    Interaction,
    InteractionKind,
    Professional,
    ServiceRequest,
    StaffUser,
)
from backoffice.phones import normalise as normalise_phone
from backoffice.services import requests

DIRECTIONS = {"in": InteractionKind.CALL_IN, "out": InteractionKind.CALL_OUT}
# How a call ended: stored as the code, worded on the page (context call_outcome).
CALL_OUTCOMES = ("answered", "no_answer", "voicemail", "busy", "wrong_number", "call_back")
# Why a booking is cancelled from a person's page: the code is offered, the English words are
# stored as the booking's reason (and shown in the reader's language).
CANCEL_REASONS = {
    "client_request": "the client asked to cancel",
    "client_ill": "the client is ill",
    "client_away": "the client is away",
    "schedule_change": "the client changed the date",
    "professional_unavailable": "no professional available",
    "payment": "unpaid invoices",
    "duplicate": "booked twice",
}
BODY_MAX = 5000
DURATION_MAX_S = 6 * 3600
_DURATION = re.compile(r"(\d{1,3})(?::([0-5]\d))?")


def parse_duration(text: str | None) -> int | None:
    """Return a call's length in seconds from minutes ("3") or minutes and seconds ("2:30");
    None when nothing was typed. Raise Refusal naming the field otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    m = _DURATION.fullmatch(text)
    if m is None:
        raise Refusal("duration: write minutes (3) or minutes and seconds (2:30)")
    seconds = int(m.group(1)) * 60 + int(m.group(2) or 0)
    if seconds > DURATION_MAX_S:
        raise Refusal("duration: a call of more than six hours is not a call; check the figure")
    return seconds


def _person(client: Client | None, professional: Professional | None) -> dict:
    if (client is None) == (professional is None):
        raise Refusal("person: a call or a note is about one client or one professional")
    return {"client_id": client.id} if client is not None else {
        "professional_id": professional.id}


def _body(text: str | None, *, required: bool) -> str | None:
    text = (text or "").strip()
    if required and not text:
        raise Refusal("body: write the note")
    if len(text) > BODY_MAX:
        raise Refusal("body: at most %(n)d characters", n=BODY_MAX)
    if "\x00" in text:
        raise Refusal("body: contains a character that cannot be stored (NUL)")
    return text or None


def log_call(session: Session, *, direction: str, phone: str | None, outcome: str,
             duration_s: int | None, body: str | None, staff: StaffUser | None, now: datetime,
             client: Client | None = None, professional: Professional | None = None,
             entity: str | None = None, entity_id=None) -> Interaction:
    """Record a call with a client or a professional on their timeline."""
    person = _person(client, professional)
    if direction not in DIRECTIONS:
        raise Refusal("direction: choose incoming or outgoing")
    if outcome not in CALL_OUTCOMES:
        raise Refusal("outcome: choose how the call ended")
    if duration_s is not None and not 0 <= duration_s <= DURATION_MAX_S:
        raise Refusal("duration: a call of more than six hours is not a call; check the figure")
    phone = (phone or "").strip() or None
    if phone is not None and normalise_phone(phone) is None:
        raise Refusal("phone: %(phone)s is not a phone number", phone=phone[:40])
    call = Interaction(kind=DIRECTIONS[direction], at=now, staff_id=staff.id if staff else None,
                       phone=normalise_phone(phone) if phone else None, duration_s=duration_s,
                       outcome=outcome, body=_body(body, required=False), entity=entity,
                       entity_id=None if entity_id is None else str(entity_id), **person)
    session.add(call)
    session.flush()  # the audit trail records it with the flush
    return call


def write_note(session: Session, *, body: str | None, staff: StaffUser | None, now: datetime,
               client: Client | None = None,
               professional: Professional | None = None) -> Interaction:
    """Write a note about a client or a professional on their timeline."""
    person = _person(client, professional)
    note = Interaction(kind=InteractionKind.NOTE, at=now, staff_id=staff.id if staff else None,
                       body=_body(body, required=True), **person)
    session.add(note)
    session.flush()
    return note


def cancel_booking(session: Session, *, client: Client, request: ServiceRequest, reason: str,
                   now: datetime) -> ServiceRequest:
    """Cancel one of a client's bookings for a reason from CANCEL_REASONS (its code)."""
    if request.client_id != client.id:
        raise Refusal("booking: this booking is not one of this client's")
    if reason not in CANCEL_REASONS:
        raise Refusal("reason: choose why the booking is cancelled")
    # The flush that moves it writes the audit row: status and reason, on the client's timeline.
    return requests.cancel(session, request=request, reason=CANCEL_REASONS[reason], now=now)


def clear_email_failing(session: Session, *, person: Client | Professional,
                        ) -> Client | Professional:
    """Mark a person's address as working again (an agent checked it): mails, reminders and
    agendas go to it again. The flush writes the audit row (who cleared it, since when)."""
    if not isinstance(person, Client | Professional):
        raise Refusal("person: an address belongs to a client or a professional")
    if person.email_failing_since is None:
        raise Refusal("email: mail to this address is not marked as bouncing")
    person.email_failing_since = None
    session.flush()
    return person
