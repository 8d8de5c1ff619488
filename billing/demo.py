"""Demo invoices in every dunning state, with six weeks of history replayed day by day."""

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import Client, StaffUser
from billing import calls, dunning, invoicing, policy, service
from billing.gateway import FAILED, SUCCEEDED, ChargeResult
from billing.models import Invoice, InvoiceLine, SavedCard

# Stripe's canonical test payment methods: the local server makes them on first use.
CARDS = {"pays": "pm_card_visa", "fails": "pm_card_chargeCustomerFail", "lost": "pm_card_lost"}


class HistoryGateway:
    """Answers charges for the replayed past without a server: the card decides."""

    def charge(self, *, key: str, payment_method: str, **_) -> ChargeResult:
        if payment_method == CARDS["pays"]:
            return ChargeResult(SUCCEEDED, payment_intent_id=f"pi_demo_{key}")
        code = "lost_card" if payment_method == CARDS["lost"] else "generic_decline"
        return ChargeResult(FAILED, payment_intent_id=f"pi_demo_{key}", decline_code=code)

    def find(self, *, key: str, customer: str) -> ChargeResult | None:
        return None


def _invoice(session: Session, client: Client, *, due_on: date, cents: int, number: int,
             rng: random.Random) -> Invoice:
    vat, total = policy.split_vat(cents, 2100)
    inv = Invoice(series="D2026", number=number, client_id=client.id,
                  bill_to_name=client.name, bill_to_address=client.address,
                  period_start=due_on - timedelta(days=37), period_end=due_on - timedelta(days=8),
                  issued_on=due_on - timedelta(days=7), due_on=due_on, subtotal_cents=cents,
                  vat_cents=vat, total_cents=total)
    visits = rng.randint(1, 4)
    day = inv.period_start
    name = invoicing.service_name("cleaning", client.language)
    inv.lines = [InvoiceLine(description=f"{name} {day + timedelta(days=7 * i)} (120 min)",
                             amount_cents=cents // visits + (cents % visits if i == 0 else 0))
                 for i in range(visits)]
    session.add(inv)
    return inv


def seed_demo(session: Session, *, today: date, rng: random.Random, config) -> None:
    """Create ~60 invoices whose due dates spread over six weeks and replay their dunning."""
    clients = session.scalars(sa.select(Client).order_by(Client.id).limit(60)).all()
    plan = []  # (client, due offset in days, card)
    for i, client in enumerate(clients):
        card = ("pays", "fails", "fails", "lost")[i % 4] if i % 7 else "pays"
        plan.append((client, -rng.choice((0, 1, 3, 5, 8, 12, 16, 22, 26, 31, 38, 45)), card))
    for i, (client, _, _) in enumerate(plan[:6]):  # due today or tomorrow: the live pass
        plan[i] = (client, i % 2, "pays" if i % 3 else "fails")
    invoices = []
    for n, (client, offset, card) in enumerate(plan, start=1):
        client.stripe_customer_id = f"cus_demo{client.id:05d}"
        session.add(SavedCard(client_id=client.id, payment_method_id=CARDS[card]))
        invoices.append(_invoice(session, client, due_on=today + timedelta(days=offset),
                                 cents=rng.randrange(3000, 24000, 50), number=n, rng=rng))
    session.flush()
    gateway = HistoryGateway()
    start = min(inv.due_on for inv in invoices)
    by_email = sa.select(StaffUser).where(StaffUser.email == sa.bindparam("email"))
    carmen = session.scalar(by_email, {"email": "finance@demo.example.com"})
    jorge = session.scalar(by_email, {"email": "finance2@demo.example.com"})
    day = start
    while day < today:
        _people_act(session, invoices, day=day, today=today, rng=rng)
        dunning.run_pass(session=session, now=datetime.combine(day, time(9)), gateway=gateway,
                         commit=session.flush, workers=1)
        day += timedelta(days=1)
    uncollectible = [inv for inv in invoices if inv.status.value == "uncollectible"]
    if carmen and jorge and len(uncollectible) >= 2:
        service.propose_write_off(session, invoice=uncollectible[0], user=carmen,
                                  reason="se fue al extranjero y no contesta")
        service.approve_write_off(session, invoice=uncollectible[0], user=jorge)
        service.propose_write_off(session, invoice=uncollectible[1], user=carmen,
                                  reason="fallecido; la herencia no tiene bienes")
    calls.seed_script(session)  # the call list's script, editable in ES and EN
    session.flush()


def _people_act(session: Session, invoices: list[Invoice], *, day: date, today: date,
                rng: random.Random) -> None:
    """What clients and finance did on a day of the replay: transfers, promises, disputes."""
    for inv in invoices:
        overdue = (day - inv.due_on).days
        if inv.status.value != "in_dunning":
            continue
        if inv.id % 9 == 0 and overdue == 4:
            service.record_payment(session, invoice=inv, amount_cents=inv.due_cents,
                                   method="bank_transfer", reference=f"DEMO-TRF-{inv.id}",
                                   received_on=day)
        elif inv.id % 11 == 0 and overdue == 2:
            service.pause(session, invoice=inv, kind="dispute", until=None,
                          reason="dice que la limpiadora no vino")
        elif inv.id % 13 == 0 and overdue == 8:
            service.pause(session, invoice=inv, kind="promise",
                          until=max(day + timedelta(days=rng.randint(3, 8)), today),
                          reason="pagará a final de mes")
