"""A dunning pass's reads and writes for a batch of invoices: plain rows, a statement per table.

A pass over 10,000 invoices cannot afford an ORM object, a unit-of-work flush and an audit diff
per invoice. Here an invoice is a plain row that the dunning rules (actions.complete_step,
service.apply_payment) read and change as they would an Invoice, and a batch's changes reach the
database in one statement per table, with the audit rows the ORM would have written for them.
A row's status moves only through workflow.transition, which checks the move against the same
table as for an Invoice and logs it in the batch's list of timeline entries (events).
"""

from collections.abc import Iterator
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit, mail
from backoffice.db import is_postgres, utcnow
from backoffice.models import AuditEvent, Client, OutboxMessage
from billing import timeline
from billing.bulk import write_many
from billing.models import (
    CHASEABLE,
    AttemptStatus,
    Invoice,
    InvoiceFigures,
    Payment,
    PaymentAttempt,
    SavedCard,
    StepRun,
)

INVOICE, CLIENT, CARD = Invoice.__table__, Client.__table__, SavedCard.__table__
ATTEMPT, RUN, PAYMENT = PaymentAttempt.__table__, StepRun.__table__, Payment.__table__
OUTBOX, AUDIT = OutboxMessage.__table__, AuditEvent.__table__

_READ = ("id", "series", "number", "client_id", "due_on", "currency", "total_cents",
         "paid_cents", "credited_cents", "status", "dunning_day", "entered_dunning_cents",
         "hard_declined", "last_decline_code", "paused_until", "closed_at")
# What the dunning rules may change; written back only for invoices where something did.
TRACKED = ("paid_cents", "status", "dunning_day", "entered_dunning_cents", "hard_declined",
           "last_decline_code", "paused_until", "closed_at")
_CLIENT = ("name", "email", "language", "stripe_customer_id")
_COLUMNS = ([INVOICE.c[k] for k in _READ] + [CLIENT.c[k] for k in _CLIENT]
            + [CARD.c.payment_method_id])
_FROM = INVOICE.join(CLIENT, CLIENT.c.id == INVOICE.c.client_id).outerjoin(
    CARD, CARD.c.client_id == INVOICE.c.client_id)


class ClientRow:
    """The client fields a dunning step needs: who to mail and which card to charge."""

    __slots__ = ("id", "name", "email", "language", "stripe_customer_id", "payment_method")


class InvoiceRow(InvoiceFigures):
    """An invoice as a pass reads it, changed in memory and written back with its batch."""

    __slots__ = (*_READ, "client", "before")

    def __init__(self, row) -> None:
        for key, value in zip(_READ, row, strict=False):
            setattr(self, key, value)
        client = self.client = ClientRow()
        client.id = self.client_id
        (client.name, client.email, client.language, client.stripe_customer_id,
         client.payment_method) = row[len(_READ):]
        self.before = tuple(getattr(self, k) for k in TRACKED)

    def changes(self) -> dict[str, tuple]:
        """Return {column: (before, now)} for the tracked columns the rules changed."""
        return {k: (old, getattr(self, k)) for k, old in zip(TRACKED, self.before, strict=True)
                if getattr(self, k) != old}


def select_rows(session: Session, *criteria, lock: str | None = None,
                limit: int | None = None) -> list[InvoiceRow]:
    """Read invoices with their client and card, oldest first; lock "skip" or "wait" on PG."""
    query = sa.select(*_COLUMNS).select_from(_FROM).where(*criteria).order_by(INVOICE.c.id)
    if limit:
        query = query.limit(limit)
    if lock and is_postgres(session):
        query = query.with_for_update(skip_locked=lock == "skip", of=INVOICE)
    return [InvoiceRow(r) for r in session.connection().execute(query)]


def claims(session: Session, *, today: date, size: int) -> Iterator[list[InvoiceRow]]:
    """Yield batches of claimed invoices: first those with a lost answer, then all owed."""
    session.flush()
    settled = session.connection().execute(
        sa.select(ATTEMPT.c.invoice_id.distinct())
        .select_from(ATTEMPT.join(INVOICE, INVOICE.c.id == ATTEMPT.c.invoice_id))
        .where(ATTEMPT.c.status == AttemptStatus.PENDING,
               sa.or_(INVOICE.c.status.not_in(CHASEABLE), INVOICE.c.total_cents
                      <= INVOICE.c.paid_cents + INVOICE.c.credited_cents))
        .order_by(ATTEMPT.c.invoice_id)).scalars().all()
    for i in range(0, len(settled), size):
        yield select_rows(session, INVOICE.c.id.in_(settled[i:i + size]), lock="skip")
    last_id = 0
    while True:
        session.flush()
        rows = select_rows(session, INVOICE.c.status.in_(CHASEABLE), INVOICE.c.due_on <= today,
                           INVOICE.c.id > last_id, lock="skip", limit=size)
        if not rows:
            return
        last_id = rows[-1].id
        yield rows


class Batch:
    """The rows a batch adds and the changes it makes, written by write() in a few statements."""

    def __init__(self, session: Session, *, now: datetime) -> None:
        self.session, self.now = session, now
        self.invoices: dict[int, InvoiceRow] = {}
        self.new_runs: list[dict] = []
        self.new_attempts: list[dict] = []
        self.updates: dict[tuple, list[dict]] = {}
        self.payments: list[dict] = []
        self.mails: list[tuple[InvoiceRow, str, int, dict, str]] = []
        self.seen_references: set[str] = set()
        self.events: list[dict] = []  # timeline entries, written with the batch

    def log(self, inv: InvoiceRow, kind: str, *, day: int | None = None,
            amount_cents: int | None = None, detail: str | None = None) -> None:
        """Add an entry to an invoice's timeline at the pass's moment, written with the batch."""
        timeline.log(self.session, inv, kind, day=day, amount_cents=amount_cents, detail=detail,
                     at=self.now, events=self.events)

    def add_run(self, invoice_id: int, day: int, state: str) -> None:
        done = state != "charging"
        self.new_runs.append({"invoice_id": invoice_id, "day": day, "state": state,
                              "claimed_at": utcnow(), "done_at": utcnow() if done else None})

    def add_attempt(self, invoice_id: int, day: int, key: str, amount_cents: int) -> None:
        self.new_attempts.append({"invoice_id": invoice_id, "day": day, "idempotency_key": key,
                                  "amount_cents": amount_cents, "status": "pending",
                                  "tries": 0, "created_at": utcnow()})

    def update_run(self, invoice_id: int, day: int, **values) -> None:
        self._update(RUN, ("invoice_id", "day"), (invoice_id, day), values)

    def update_attempt(self, key: str, **values) -> None:
        self._update(ATTEMPT, ("idempotency_key",), (key,), values)

    def _update(self, table: sa.Table, keys: tuple, key_values: tuple, values: dict) -> None:
        row = {f"k_{k}": v for k, v in zip(keys, key_values, strict=True)}
        row.update(values)
        self.updates.setdefault((table.name, keys, tuple(values)), []).append(row)

    def add_payment(self, row: dict) -> None:
        """Insert a payment with the batch; its reference counts as recorded from now on."""
        if row["reference"]:
            self.seen_references.add(row["reference"])
        self.payments.append(row)

    def mail(self, inv: InvoiceRow, *, template: str, day: int, context: dict) -> None:
        """Queue a dunning mail once per invoice and step (its outbox dedup key)."""
        self.mails.append((inv, template, day, context, f"dunning:inv{inv.id}:day{day}"))

    def write(self) -> None:
        """Write everything the batch did, then let the session forget what it read before."""
        conn = self.session.connection()
        if self.new_runs:
            write_many(conn, RUN, self.new_runs)
        if self.new_attempts:
            write_many(conn, ATTEMPT, self.new_attempts)
        for (name, keys, _), rows in self.updates.items():
            write_many(conn, RUN if name == RUN.name else ATTEMPT, rows, keys=keys)
        audit_rows = self._write_invoices(conn)
        audit_rows += self._write_payments(conn)
        self._write_mails(conn)
        if audit_rows:
            write_many(conn, AUDIT, audit_rows)
        timeline.write(self.session, self.events)
        self.session.flush()  # what the rare steps did through the ORM: tasks, holds
        self._forget()

    def _write_invoices(self, conn) -> list[dict]:
        rows, audit_rows, now = [], [], utcnow()
        for inv in self.invoices.values():
            changes = inv.changes()
            if not changes:
                continue
            rows.append({"k_id": inv.id, "updated_at": now,
                         **{k: getattr(inv, k) for k in TRACKED}})
            audit_rows.append(audit.row("update", "billing_invoice", inv.id, {
                k: [audit.plain(old), audit.plain(new)] for k, (old, new) in changes.items()}))
        if rows:
            write_many(conn, INVOICE, rows, keys=("id",))
        return audit_rows

    def _write_payments(self, conn) -> list[dict]:
        if not self.payments:
            return []
        ids = write_many(conn, PAYMENT, self.payments, returning=True)
        return [audit.row("create", "billing_payment", pid, {
            k: [None, audit.plain(v)] for k, v in {"id": pid, **row}.items()
            if v is not None and k not in audit.IGNORED_FIELDS})
            for pid, row in zip(ids, self.payments, strict=True)]

    def _write_mails(self, conn) -> None:
        if not self.mails:
            return
        keys = [m[4] for m in self.mails]
        taken = set(conn.execute(sa.select(OUTBOX.c.dedup_key)
                                 .where(OUTBOX.c.dedup_key.in_(keys))).scalars())
        rows = []
        for inv, template, day, context, key in self.mails:
            if key in taken:
                continue
            taken.add(key)
            lang = inv.client.language if inv.client.language in ("es", "en") else "es"
            subject, body = mail.render(f"billing/{template}", lang, context)
            rows.append({"to_address": inv.client.email, "subject": subject, "body": body,
                         "template": f"billing/{template}", "entity": "billing_invoice",
                         "entity_id": str(inv.id), "dedup_key": key, "created_at": utcnow(),
                         "attempts": 0})
            self.log(inv, "mail", day=day, detail=f"{template} to {inv.client.email}")
        if rows:
            write_many(conn, OUTBOX, rows)

    def _forget(self) -> None:
        """Expire the session's copies of what the batch changed behind the ORM's back."""
        ids = set(self.invoices) | {r["invoice_id"] for r in self.new_runs}
        for obj in list(self.session.identity_map.values()):
            state = sa.inspect(obj)
            if isinstance(obj, Invoice):
                hit = state.identity[0] in ids
            elif isinstance(obj, PaymentAttempt | StepRun):
                hit = state.dict.get("invoice_id") in ids or not state.dict
            else:
                continue
            if hit:
                self.session.expire(obj)
