"""The outbound call list, read from the invoices as they are now, and a call's outcome.

Nothing is frozen: each read asks which invoices a call can still act on (still owed, chased
or uncollectible, past the policy's call step), their figures and attempts today, and which
outcomes their state admits. A logged call is an Interaction on the client's timeline and an
entry on the invoice's, and each outcome goes through billing's own services: a promise
pauses (service.pause), a dispute opens one payment-dispute case, whose playbook pauses.

The case desk is optional to billing: it is imported inside the functions that need it.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.db import is_postgres, utcnow
from backoffice.i18n import Refusal, for_team
from backoffice.models import (
    Client,
    ClientStatus,
    Interaction,
    InteractionKind,
    StaffUser,
    Task,
    TaskStatus,
)
from backoffice.optional import optional_module
from backoffice.services import tasks
from billing import dunning, service, workflow
from billing.models import AttemptStatus, Invoice, InvoiceStatus, PaymentAttempt
from billing.tasks import CALL

# A call can act on an invoice still owed and chased, or closed as uncollectible (a call may
# still bring a transfer); paid, written-off and paused ones are not called about.
CALLABLE = (InvoiceStatus.IN_DUNNING, InvoiceStatus.UNCOLLECTIBLE)
OUTCOMES = ("promise", "dispute", "paid_claimed", "no_answer")
# How each outcome reads (English msgids; the call list and the tasks word them so).
OUTCOME_LABELS = {"promise": "Promise to pay", "dispute": "Dispute",
                  "paid_claimed": "Says already paid", "no_answer": "No answer"}
# What the script may say: the invoice's and the agent's placeholders of the macros.
SCRIPT_PLACEHOLDERS = frozenset({"first_name", "agent_name", "invoice_number", "invoice_amount",
                                 "amount_due", "invoice_due_date", "days_overdue"})
LIST_MAX = 200
DISPUTE = "payment_dispute"
ACTIVE_CASE_STATES = ("new", "open", "pending", "on_hold")

# Stripe's decline codes as an agent can say them on the phone (English msgids, translated).
DECLINE_REASONS = {
    "insufficient_funds": "not enough money in the account",
    "expired_card": "the card has expired",
    "card_declined": "the bank declined the card",
    "generic_decline": "the bank declined the card",
    "do_not_honor": "the bank declined the card",
    "do_not_honor_permanently": "the bank blocked payments with this card",
    "lost_card": "the card was reported lost",
    "stolen_card": "the card was reported stolen",
    "pickup_card": "the bank withdrew the card",
    "restricted_card": "the card cannot be used for this payment",
    "fraudulent": "the bank suspected fraud",
    "security_violation": "the bank suspected fraud",
    "incorrect_cvc": "the card's security code was wrong",
    "incorrect_number": "the card number was wrong",
    "invalid_account": "the card's account is closed",
    "card_not_supported": "the card does not allow this kind of payment",
    "authentication_required": "the bank asks the client to confirm the payment",
    "card_velocity_exceeded": "the card's spending limit was reached",
    "withdrawal_count_limit_exceeded": "the card's spending limit was reached",
    "processing_error": "the bank had a technical error",
    "revocation_of_authorization": "the client cancelled the card's authorisation",
    "revocation_of_all_authorizations": "the client cancelled the card's authorisation",
    "not_charged": "no charge was made",
}
UNKNOWN_DECLINE = "the bank declined the card"


def decline_reason(code: str | None) -> str:
    """Return a decline code as words an agent can say (an English msgid)."""
    return DECLINE_REASONS.get((code or "").strip().lower(), UNKNOWN_DECLINE)


@dataclass
class Attempt:
    day: int
    at: datetime
    status: str  # pending, succeeded, failed
    amount_cents: int
    reason: str | None  # a DECLINE_REASONS msgid for a failed one


@dataclass
class Card:
    """One invoice to call about, as it stands now."""

    invoice: Invoice
    client: Client
    attempts: list[Attempt] = field(default_factory=list)
    outcomes: tuple[str, ...] = ()
    dispute_case: int | None = None  # an open payment-dispute case about it
    last_call: Interaction | None = None
    task_id: int | None = None  # the open dunning_call task, if the policy made one

    @property
    def due_cents(self) -> int:
        return self.invoice.due_cents


def call_day(session: Session) -> int | None:
    """Return the first day after the due date the policy asks for a call (None: never)."""
    days = [s.day for s in dunning.load_policy(session) if s.call_task]
    return min(days) if days else None


def _owed():
    return Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents


def _open_call_task(invoice_id):
    return sa.select(Task.id).where(Task.kind == CALL, Task.status == TaskStatus.OPEN,
                                    Task.entity == "billing_invoice",
                                    Task.entity_id == sa.cast(invoice_id, sa.String))


def callable_query(session: Session):
    """Return the query of the invoices a call can act on now, oldest due first."""
    day = call_day(session)
    reached = [_open_call_task(Invoice.id).exists()]
    if day is not None:
        reached.append(Invoice.dunning_day >= day)
        reached.append(Invoice.status == InvoiceStatus.UNCOLLECTIBLE)
    return (sa.select(Invoice, Client).join(Client, Client.id == Invoice.client_id)
            .where(Invoice.status.in_(CALLABLE), _owed() > 0,
                   Client.status != ClientStatus.ERASED, sa.or_(*reached))
            .order_by(Invoice.due_on, Invoice.id))


def dispute_cases(session: Session, invoice_ids: list[int]) -> dict[int, int]:
    """Return {invoice id: its open payment-dispute case id} (none without the case desk)."""
    cases = optional_module("cases.models")
    if cases is None or not invoice_ids:
        return {}
    Case, Category, Link = cases.Case, cases.CaseCategory, cases.CaseLink
    rows = session.execute(
        sa.select(Link.entity_id, sa.func.min(Case.id))
        .join(Case, Case.id == Link.case_id).join(Category, Category.id == Case.category_id)
        .where(Link.entity == "invoice", Link.entity_id.in_([str(i) for i in invoice_ids]),
               Category.code == DISPUTE, Case.state.in_(ACTIVE_CASE_STATES))
        .group_by(Link.entity_id))
    return {int(invoice_id): case_id for invoice_id, case_id in rows}


def outcomes_for(invoice: Invoice, *, dispute_case: int | None) -> tuple[str, ...]:
    """Return the outcomes a call about invoice can have, as its state stands.

    A promise to pay pauses the reminders: only an invoice the workflow lets pause (or one
    paused already) admits it. A dispute opens a case once: not while one is open.
    """
    if InvoiceStatus(invoice.status) not in CALLABLE or invoice.due_cents <= 0:
        return ()
    can_pause = workflow.is_legal(invoice.status, InvoiceStatus.PAUSED)
    return tuple(o for o in OUTCOMES
                 if not (o == "promise" and not can_pause)
                 and not (o == "dispute" and dispute_case is not None))


def call_list(session: Session, *, limit: int = LIST_MAX) -> list[Card]:
    """Return the invoices a call can act on now, each with today's figures and outcomes."""
    rows = session.execute(callable_query(session).limit(limit)).all()
    if not rows:
        return []
    ids = [inv.id for inv, _ in rows]
    attempts: dict[int, list[Attempt]] = {}
    for a in session.scalars(sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id.in_(ids))
                             .order_by(PaymentAttempt.invoice_id, PaymentAttempt.id)):
        status = AttemptStatus(a.status).value
        attempts.setdefault(a.invoice_id, []).append(Attempt(
            a.day, a.finished_at or a.created_at, status, a.amount_cents,
            decline_reason(a.decline_code) if status == "failed" else None))
    last_calls: dict[int, Interaction] = {}
    for call in session.scalars(sa.select(Interaction).where(
            Interaction.entity == "billing_invoice",
            Interaction.entity_id.in_([str(i) for i in ids]))
            .order_by(Interaction.at, Interaction.id)):
        last_calls[int(call.entity_id)] = call
    task_ids = {int(entity_id): task_id for task_id, entity_id in session.execute(
        sa.select(Task.id, Task.entity_id).where(
            Task.kind == CALL, Task.status == TaskStatus.OPEN, Task.entity == "billing_invoice",
            Task.entity_id.in_([str(i) for i in ids])))}
    disputes = dispute_cases(session, ids)
    return [Card(inv, client, attempts.get(inv.id, []),
                 outcomes_for(inv, dispute_case=disputes.get(inv.id)), disputes.get(inv.id),
                 last_calls.get(inv.id), task_ids.get(inv.id)) for inv, client in rows]


# --- the script


def script(session: Session):
    """Return the call list's script: the active macro of the reserved kind, if any."""
    macros = optional_module("cases.macros")
    if macros is None:
        return None
    from cases.models import Macro

    return session.scalar(sa.select(Macro).where(Macro.kind == macros.DUNNING_SCRIPT,
                                                 Macro.active.is_(True)).order_by(Macro.id)
                          .limit(1))


def script_or_default(session: Session):
    """Return the call list's script, or the built-in one (not stored) until one is saved."""
    found = script(session)
    if found is not None or optional_module("cases.models") is None:
        return found
    from cases.models import Macro

    return Macro(name=SCRIPT_NAME, body_es=SCRIPT_ES, body_en=SCRIPT_EN)


def script_values(card: Card, *, lang: str, agent: StaffUser | None, today: date) -> dict:
    """Return the placeholders' values for one card, as a reader of lang reads them."""
    from cases.macros import invoice_values

    inv = card.invoice
    first = (card.client.name or "").split()
    return {"first_name": first[0] if first else "", "agent_name": agent.name if agent else "",
            **invoice_values(number=inv.code, total_cents=inv.total_cents,
                             due_cents=inv.due_cents, currency=inv.currency, due_on=inv.due_on,
                             today=today, lang=lang)}


def render_script(macro, card: Card, *, agent: StaffUser | None, today: date) -> str:
    """Render the script for one card in its client's language, or raise Refusal."""
    from cases.macros import render_with

    lang = "en" if card.client.language == "en" else "es"
    return render_with(macro=macro, values=script_values(card, lang=lang, agent=agent,
                                                         today=today), lang=lang)


def save_script(session: Session, *, body_es: str, body_en: str, user: StaffUser):
    """Write the call list's script (one macro of the reserved kind), refusing a bad body."""
    from cases import macros
    from cases.models import Macro

    if not user.has_role("ops_agent", "admin"):
        raise Refusal("script: only operations agents and admins edit the call script")
    body_es, body_en = (body_es or "").strip(), (body_en or "").strip()
    for name, body in (("body_es", body_es), ("body_en", body_en)):
        if not body:
            raise Refusal("%(field)s: this field is required", field=name)
    for name, body in (("body_es", body_es), ("body_en", body_en)):
        for placeholder in sorted(macros.placeholders(body, field=name) - SCRIPT_PLACEHOLDERS):
            raise Refusal("%(field)s: %(name)s cannot be used in this text", field=name,
                          name=placeholder)
    macro = script(session)
    if macro is None:
        macro = Macro(name=SCRIPT_NAME, kind=macros.DUNNING_SCRIPT, body_es=body_es,
                      body_en=body_en)
        session.add(macro)
    else:
        macro.body_es, macro.body_en = body_es, body_en
    session.flush()
    return macro


SCRIPT_NAME = "Llamada de cobro (lista de llamadas)"
SCRIPT_ES = (
    "Hola, ¿hablo con {{ first_name }}? Soy {{ agent_name }}, del servicio de limpieza y "
    "cuidados. Le llamo por la factura {{ invoice_number }}, vencida el {{ invoice_due_date }}: "
    "quedan pendientes {{ amount_due }}.\n"
    "- No hemos podido cobrarla en su tarjeta. ¿Puede actualizarla o pagar por transferencia?\n"
    "- Si promete pagar: anote la fecha.\n"
    "- Si hubo un problema con el servicio: es una disputa; abrimos un caso y paramos los "
    "avisos.")
SCRIPT_EN = (
    "Hello, is this {{ first_name }}? This is {{ agent_name }} from the cleaning and care "
    "service. I'm calling about invoice {{ invoice_number }}, due on {{ invoice_due_date }}: "
    "{{ amount_due }} is still unpaid.\n"
    "- We could not charge your card. Can you update it or pay by bank transfer?\n"
    "- If they promise to pay: note the date.\n"
    "- If something went wrong with the service: it is a dispute; we open a case and stop the "
    "reminders.")


def seed_script(session: Session) -> None:
    """Give the call list its script once (the demo, a new installation)."""
    macros = optional_module("cases.macros")
    if macros is None or script(session) is not None:
        return
    from cases.models import Macro

    if session.scalar(sa.select(Macro.id).where(Macro.name == SCRIPT_NAME)) is None:
        session.add(Macro(name=SCRIPT_NAME, kind=macros.DUNNING_SCRIPT, body_es=SCRIPT_ES,
                          body_en=SCRIPT_EN))
        session.flush()


# --- a call's outcome


def _lock(session: Session, invoice: Invoice) -> Invoice:
    """Read the invoice again under its row lock, as billing's other writers do."""
    return session.get(Invoice, invoice.id, populate_existing=True,
                       with_for_update=True if is_postgres(session) else None)


def _dispute(session: Session, invoice: Invoice, client: Client, *, user: StaffUser,
             note: str, seconds: int | None, now: datetime):
    """Open the payment-dispute case about the invoice (once), and pause through its playbook."""
    if optional_module("cases.service") is None:
        raise Refusal("outcome: a dispute needs the case desk, which is not installed")
    from cases import playbooks
    from cases import service as cases
    from cases.models import ArticleKind, CaseCategory, CaseChannel

    if (open_case := dispute_cases(session, [invoice.id]).get(invoice.id)) is not None:
        raise Refusal("outcome: a payment dispute case is already open for this invoice "
                      "(%(case)s)", case=f"C-{open_case:06d}")
    category = session.scalar(sa.select(CaseCategory).where(CaseCategory.code == DISPUTE))
    if category is None:
        raise Refusal("outcome: there is no payment dispute category; an admin adds it")
    case = cases.open_case(session, subject=for_team(
        "Payment dispute on invoice %(invoice)s", invoice=invoice.code),
        channel=CaseChannel.PHONE, requester=client, category=category, now=now)
    cases.link(session, case=case, entity="invoice", entity_id=invoice.id)
    cases.add_article(session, case=case, kind=ArticleKind.CALL_OUT, user=user, now=now,
                      body=note or for_team("The client disputes the invoice on the phone."),
                      call_to=(client.phone or "")[:40] or None, call_seconds=seconds,
                      call_outcome="dispute")
    if workflow.is_legal(invoice.status, InvoiceStatus.PAUSED):
        playbooks.dispute_opened(session, case=case, invoice_id=invoice.id, user=user, now=now)
    return case


def log_call(session: Session, *, invoice: Invoice, outcome: str, user: StaffUser,
             note: str | None = None, seconds: int | None = None, until: date | None = None,
             now: datetime | None = None) -> Interaction:
    """Record a call about an invoice and do what its outcome asks, or raise Refusal.

    The call goes on the client's timeline (an Interaction) and the invoice's; the open call
    task closes with the outcome unless nobody answered.
    """
    now = now or utcnow()
    note = " ".join((note or "").split())[:2000]
    invoice = _lock(session, invoice)
    client = session.get(Client, invoice.client_id)
    if outcome not in OUTCOMES:
        raise Refusal("outcome: choose an outcome")
    if seconds is not None and not 0 <= seconds <= 24 * 3600:
        raise Refusal("call_seconds: a call lasts at most 24 hours")
    disputes = dispute_cases(session, [invoice.id])
    offered = outcomes_for(invoice, dispute_case=disputes.get(invoice.id))
    if outcome not in offered:
        if outcome == "dispute" and disputes:
            raise Refusal("outcome: a payment dispute case is already open for this invoice "
                          "(%(case)s)", case=f"C-{disputes[invoice.id]:06d}")
        raise Refusal("outcome: a %(status)s invoice does not admit this outcome",
                      status=InvoiceStatus(invoice.status))
    case = None
    if outcome == "promise":
        service.pause(session, invoice=invoice, kind="promise", until=until,
                      reason=note or for_team("promised on the phone"))
    elif outcome == "dispute":
        case = _dispute(session, invoice, client, user=user, note=note, seconds=seconds,
                        now=now)
    service.log(session, invoice, "call", detail=f"{user.email}: {outcome}"
                + (f" ({case.number})" if case is not None else "") + (f" {note}" if note else ""))
    call = Interaction(at=now, kind=InteractionKind.CALL_OUT, client_id=client.id,
                       staff_id=user.id, body=note or None, phone=client.phone,
                       duration_s=seconds, outcome=outcome, entity="billing_invoice",
                       entity_id=str(invoice.id))
    session.add(call)
    session.flush()
    if outcome != "no_answer":
        _close_task(session, invoice, outcome=outcome, note=note, user=user, now=now)
    return call


def _close_task(session: Session, invoice: Invoice, *, outcome: str, note: str,
                user: StaffUser, now: datetime) -> None:
    task = session.scalar(sa.select(Task).where(
        Task.kind == CALL, Task.status == TaskStatus.OPEN, Task.entity == "billing_invoice",
        Task.entity_id == str(invoice.id)))
    if task is None:
        return  # a pause closed it already, or the policy made none
    # Whoever called closes it, finance included: the call was made.
    tasks.transition(session, task=task, to=TaskStatus.DONE, user=None, now=now,
                     outcome=for_team("Call logged: %(outcome)s",
                                      outcome=for_team(OUTCOME_LABELS[outcome]))
                     + (f" — {note}" if note else ""))
    task.assigned_to_id = user.id
    session.flush()
