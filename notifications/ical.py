"""The calendar part of a booking notice, as the outbox carries it.

The outbox keeps the part as data (method and events, times in UTC) and backoffice.mail makes
it into iCalendar text with the icalendar library when the mail is sent: making 1,600
calendars costs about a second, which a publish that moves 1,000 services must not wait for,
while the sender, bound by SMTP, does not notice half a millisecond per mail.

One UID per service request, so a calendar program updates the event it already has; SEQUENCE
goes one up with each change told; times are written in UTC (converted from the bookings'
Europe/Madrid wall-clock times), which every program reads without a VTIMEZONE.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MADRID = ZoneInfo("Europe/Madrid")
# The organizer of the invitations: the address our mails come from (backoffice.config).
ORGANIZER = os.environ.get("MAIL_FROM", "backoffice@example.com")


@dataclass(frozen=True)
class Event:
    """One service as a calendar event."""

    request_id: int
    start: datetime  # local wall-clock time, as service_request.start_at
    end: datetime
    sequence: int
    summary: str
    location: str | None = None
    cancelled: bool = False


def uid(request_id: int) -> str:
    """Return the event UID of a service request: the same for every notice about it."""
    return f"service-request-{request_id}@backoffice"


def to_utc(local: datetime) -> datetime:
    """Return a Madrid wall-clock time as an aware UTC moment."""
    return local.replace(tzinfo=MADRID).astimezone(UTC)


def part(method: str, events: list[Event], *, stamp: datetime,
         attendee: str | None = None) -> dict:
    """Return a calendar part (REQUEST, CANCEL or PUBLISH) as OutboxMessage.calendar holds it."""
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    invite = method != "PUBLISH"  # an invitation names who invites and who is invited
    return {"method": method, "events": [
        {"uid": uid(e.request_id), "dtstamp": stamp.isoformat(),
         "dtstart": to_utc(e.start).isoformat(), "dtend": to_utc(e.end).isoformat(),
         "sequence": e.sequence, "summary": e.summary, "location": e.location,
         "status": "CANCELLED" if e.cancelled else "CONFIRMED",
         "organizer": f"mailto:{ORGANIZER}" if invite else None,
         "attendee": f"mailto:{attendee}" if invite and attendee else None}
        for e in events]}
