"""Invoices, their lines and payments, the dunning policy and everything dunning did."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db import Base, utcnow
from backoffice.models import Client, Timestamped, _enum


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    IN_DUNNING = "in_dunning"
    PAUSED = "paused"
    UNCOLLECTIBLE = "uncollectible"
    WRITTEN_OFF = "written_off"


# Dunning works on these; the others are closed or waiting on a person.
CHASEABLE = (InvoiceStatus.OPEN, InvoiceStatus.IN_DUNNING)


class AttemptStatus(enum.StrEnum):
    PENDING = "pending"  # recorded, Stripe not answered yet (or the answer was lost)
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class InvoiceCounter(Base):
    """The last number given in a series: Spanish invoices are numbered without gaps."""

    __tablename__ = "billing_invoice_counter"

    series: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class InvoiceFigures:
    """What an invoice owes, derived alike for an ORM invoice and a dunning pass's plain row."""

    __slots__ = ()

    @property
    def code(self) -> str:
        return f"{self.series}-{self.number:06d}"

    @property
    def due_cents(self) -> int:
        return max(self.total_cents - self.paid_cents - self.credited_cents, 0)

    @property
    def overpaid_cents(self) -> int:
        """Money received beyond what the invoice asks: finance owes it back to the client."""
        return max(self.paid_cents + self.credited_cents - self.total_cents, 0)


class Invoice(InvoiceFigures, Timestamped, Base):
    __tablename__ = "billing_invoice"
    __label_columns__ = ("series", "number")  # what __str__ (code) reads
    __audited__ = True
    __table_args__ = (
        sa.UniqueConstraint("series", "number", name="uq_billing_invoice_series_number"),
        sa.CheckConstraint("total_cents >= 0", name="total_nonnegative"),
        sa.Index("ix_billing_invoice_status_due", "status", "due_on", "id"),
        sa.Index("ix_billing_invoice_client_period", "client_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(sa.String(20))
    number: Mapped[int]
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("client.id"))
    # Whom the invoice was issued to, as issued: kept when the client's data is erased.
    bill_to_name: Mapped[str | None] = mapped_column(sa.String(120))
    bill_to_address: Mapped[str | None] = mapped_column(sa.String(255))
    period_start: Mapped[date]
    period_end: Mapped[date]
    issued_on: Mapped[date]
    due_on: Mapped[date]
    currency: Mapped[str] = mapped_column(sa.String(3), default="eur")
    subtotal_cents: Mapped[int] = mapped_column(default=0)
    vat_rate_bp: Mapped[int] = mapped_column(default=2100)  # basis points: 2100 = 21 %
    vat_cents: Mapped[int] = mapped_column(default=0)
    total_cents: Mapped[int] = mapped_column(default=0)
    paid_cents: Mapped[int] = mapped_column(default=0)
    credited_cents: Mapped[int] = mapped_column(default=0)  # refunds and credit notes
    status: Mapped[InvoiceStatus] = mapped_column(
        _enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.OPEN
    )
    dunning_day: Mapped[int | None]  # the last dunning step done
    entered_dunning_cents: Mapped[int | None]  # amount due when dunning began
    hard_declined: Mapped[bool] = mapped_column(default=False)
    last_decline_code: Mapped[str | None] = mapped_column(sa.String(40))
    paused_until: Mapped[date | None]
    pause_reason: Mapped[str | None] = mapped_column(sa.String(255))
    closed_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship()
    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.id"
    )

    rectifications: Mapped[list["RectifyingInvoice"]] = relationship(
        order_by="RectifyingInvoice.id", viewonly=True
    )

    # No version column: invoices are not edited in forms; every writer (the dunning pass,
    # webhooks, finance's actions) locks the row first, and versioned rows cannot be updated
    # in batches, which a pass over thousands of invoices needs.

    def __str__(self) -> str:
        return self.code


class InvoiceLine(Base):
    __tablename__ = "billing_invoice_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("billing_invoice.id", ondelete="CASCADE"), index=True
    )
    # A service is invoiced once.
    service_request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("service_request.id"), unique=True
    )
    description: Mapped[str] = mapped_column(sa.String(255))
    amount_cents: Mapped[int]

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class DunningStep(Base):
    """One step of the dunning policy, edited by finance: what happens N days after the due date."""

    __tablename__ = "billing_dunning_step"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[int] = mapped_column(unique=True)
    retry: Mapped[bool] = mapped_column(default=False)
    mail_template: Mapped[str | None] = mapped_column(sa.String(40))
    call_task: Mapped[bool] = mapped_column(default=False)
    hold_bookings: Mapped[bool] = mapped_column(default=False)
    close_uncollectible: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return f"day {self.day}"


class StepRun(Base):
    """A dunning step taken (or being taken) for an invoice: the row that makes it happen once."""

    __tablename__ = "billing_step_run"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "day", name="uq_billing_step_run_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("billing_invoice.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[int]
    state: Mapped[str] = mapped_column(sa.String(12))  # charging, done, skipped
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class PaymentAttempt(Base):
    """A charge through Stripe, written with its idempotency key before Stripe is called."""

    __tablename__ = "billing_payment_attempt"
    # Each pass looks for answers lost on invoices settled meanwhile: few rows, found at once.
    __table_args__ = (sa.Index("ix_billing_payment_attempt_pending", "invoice_id",
                               postgresql_where=sa.text("status = 'pending'"),
                               sqlite_where=sa.text("status = 'pending'")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("billing_invoice.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    amount_cents: Mapped[int]
    status: Mapped[AttemptStatus] = mapped_column(
        _enum(AttemptStatus, "attempt_status"), default=AttemptStatus.PENDING
    )
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    decline_code: Mapped[str | None] = mapped_column(sa.String(40))
    error: Mapped[str | None] = mapped_column(sa.Text)
    tries: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Payment(Base):
    """Money in (card, bank transfer) or back out (refund, negative), as finance sees it."""

    __tablename__ = "billing_payment"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(20))  # card, bank_transfer, refund, credit
    amount_cents: Mapped[int]
    reference: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    received_on: Mapped[date]
    dunning_day: Mapped[int | None]  # the dunning step the invoice was at: recovery by step
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RectifyingInvoice(Base):
    """A Spanish factura rectificativa: negative amounts in its own gap-free R series.

    Every credit on an invoice (a refund at Stripe, a credit finance grants) is one of these;
    the original keeps its number and amounts and its credited_cents is the sum of them.
    """

    __tablename__ = "billing_rectifying_invoice"
    __audited__ = True
    __table_args__ = (
        sa.UniqueConstraint("series", "number", name="uq_billing_rectifying_invoice_series_number"),
        sa.CheckConstraint("total_cents < 0", name="total_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(sa.String(20))
    number: Mapped[int]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id"), index=True)
    issued_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.String(255))
    subtotal_cents: Mapped[int]
    vat_rate_bp: Mapped[int]
    vat_cents: Mapped[int]
    total_cents: Mapped[int]
    reference: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    invoice: Mapped[Invoice] = relationship()

    @property
    def code(self) -> str:
        return f"{self.series}-{self.number:06d}"

    def __str__(self) -> str:
        return self.code


class InvoiceEvent(Base):
    """The invoice's timeline: every attempt, mail, call, pause and payment, in order."""

    __tablename__ = "billing_invoice_event"
    __table_args__ = (sa.Index("ix_billing_invoice_event_invoice", "invoice_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(30))
    day: Mapped[int | None]
    amount_cents: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str | None] = mapped_column(sa.String(120))


class WriteOff(Base):
    """A write-off proposed by one finance user and approved by another (four eyes)."""

    __tablename__ = "billing_write_off"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id"), unique=True)
    amount_cents: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(255))
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    approved_at: Mapped[datetime | None]


class CreditStatus(enum.StrEnum):
    PROPOSED = "proposed"  # above finance's limit: waits for a second person
    ISSUED = "issued"  # a rectifying invoice was issued for it
    CANCELLED = "cancelled"


class GoodwillCredit(Base):
    """A goodwill credit offered to a client (a complaint, a no-show): four eyes above a limit."""

    __tablename__ = "billing_goodwill_credit"
    __audited__ = True
    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id"), index=True)
    # What it answers, by id: billing never imports the case desk or the requests' rules.
    case_id: Mapped[int | None] = mapped_column(index=True)
    service_request_id: Mapped[int | None]
    amount_cents: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[CreditStatus] = mapped_column(
        _enum(CreditStatus, "credit_status"), default=CreditStatus.PROPOSED)
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    decided_at: Mapped[datetime | None]
    rectifying_invoice_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("billing_rectifying_invoice.id"))

    invoice: Mapped[Invoice] = relationship()


class BillingSetting(Base):
    """A number finance sets (the goodwill limit), kept as text by its key."""

    __tablename__ = "billing_setting"
    __audited__ = True

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(80))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """A Stripe event as received: stored raw first, processed once."""

    __tablename__ = "billing_webhook_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_id: Mapped[str] = mapped_column(sa.String(80), unique=True)
    type: Mapped[str] = mapped_column(sa.String(80))
    payload: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(sa.String(255))


class SavedCard(Base):
    """The card a client saved with Stripe, kept here so a charge is one call, not three."""

    __tablename__ = "billing_saved_card"

    client_id: Mapped[int] = mapped_column(sa.ForeignKey("client.id"), primary_key=True)
    payment_method_id: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
