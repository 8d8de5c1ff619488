"""An invoice's timeline: entries inserted at once, or kept in a list that a pass writes at once.

No session hook writes them: a one-off caller's entry is inserted when it is logged, and a
dunning pass, which logs thousands, passes its own list (events=) and writes it with write_many
at its own flush point.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from billing.bulk import write_many
from billing.models import InvoiceEvent

EVENT = InvoiceEvent.__table__


def to_utc(moment: datetime) -> datetime:
    """Return a moment as the naive UTC stored in every column (naive means the system clock's)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def log(session: Session, invoice, kind: str, *, day: int | None = None,
        amount_cents: int | None = None, detail: str | None = None, at: datetime | None = None,
        events: list[dict] | None = None) -> None:
    """Add an entry to an invoice's timeline: now, or to events for the caller to write.

    at is a local wall-clock moment, like a dunning pass's now; it is stored in UTC.
    """
    # Plain rows, not ORM objects: a pass writes thousands and objects cost a third of its CPU.
    row = {"invoice_id": invoice.id, "kind": kind, "day": day, "amount_cents": amount_cents,
           "detail": detail, "at": to_utc(at) if at else utcnow(),
           "actor": audit.current_actor().label}
    if events is not None:
        events.append(row)
    else:
        session.connection().execute(sa.insert(EVENT), [row])


def write(session: Session, events: list[dict]) -> None:
    """Insert the entries a pass collected, in one statement, and empty the list."""
    if events:
        write_many(session.connection(), EVENT, events)
        events.clear()


def entries(session: Session, invoice) -> list[InvoiceEvent]:
    """Return the invoice's entries in the order they happened."""
    return list(session.scalars(
        sa.select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice.id)
        .order_by(InvoiceEvent.id)))
