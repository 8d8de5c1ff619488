"""Two dunning passes at once on PostgreSQL, on committed data: each step happens once."""

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from backoffice import audit
from backoffice.db import make_engine, make_sessionmaker
from backoffice.models import AuditEvent, Client, OutboxMessage, Task
from billing import dunning, stripe_server
from billing.gateway import Gateway
from billing.models import (
    Invoice,
    InvoiceEvent,
    Payment,
    PaymentAttempt,
    SavedCard,
    StepRun,
)
from tests.billing.conftest import FAILS, PAYS, at

DUE = date(2026, 10, 5)
N = 40


@pytest.fixture()
def committed(database_url, is_postgres, stripe_base):
    if not is_postgres:
        pytest.skip("FOR UPDATE SKIP LOCKED and advisory locks are PostgreSQL's")
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    gw = Gateway(api_key="sk_test_x", api_base=stripe_base, max_rps=1000)
    ids, client_ids = [], []
    with factory() as s:
        for i in range(N):
            card = FAILS if i % 2 else PAYS
            c = Client(name=f"Concurrent {i}", email=f"conc{i}@example.com")
            s.add(c)
            s.flush()
            c.stripe_customer_id, pm = gw.create_customer(email=c.email, name=c.name,
                                                          card_number=card)
            s.add(SavedCard(client_id=c.id, payment_method_id=pm))
            inv = Invoice(series="C2026", number=i + 1, client_id=c.id, period_start=DUE,
                          period_end=DUE, issued_on=DUE, due_on=DUE, subtotal_cents=1000,
                          vat_cents=210, total_cents=1210)
            s.add(inv)
            s.flush()
            ids.append(inv.id)
            client_ids.append(c.id)
        s.commit()
    yield factory, gw, ids
    with factory() as s:
        for model in (InvoiceEvent, PaymentAttempt, StepRun, Payment):
            s.execute(sa.delete(model).where(model.invoice_id.in_(ids)))
        s.execute(sa.delete(OutboxMessage).where(OutboxMessage.entity == "billing_invoice",
                                                 OutboxMessage.entity_id.in_(map(str, ids))))
        s.execute(sa.delete(Task).where(Task.entity_id.in_(map(str, ids))))
        s.execute(sa.delete(Invoice).where(Invoice.id.in_(ids)))
        s.execute(sa.delete(SavedCard).where(SavedCard.client_id.in_(client_ids)))
        s.execute(sa.delete(Client).where(Client.id.in_(client_ids)))
        s.commit()
    engine.dispose()
    assert AuditEvent  # the audit trail of these rows stays: it is append-only


@pytest.mark.parametrize("with_pass_lock", [True, False])
def test_two_passes_at_once_take_each_step_once(committed, monkeypatch, with_pass_lock):
    factory, gw, ids = committed
    if not with_pass_lock:  # the row claims alone must be enough
        monkeypatch.setattr(dunning, "pass_lock", _no_lock)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            with factory() as s, audit.acting_as(audit.Actor(None, "system:test")):
                barrier.wait()
                results.append(dunning.run_pass(session=s, now=at(DUE), gateway=gw, batch=7))
                s.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with factory() as s:
        attempts = s.execute(sa.select(PaymentAttempt.invoice_id, sa.func.count())
                             .where(PaymentAttempt.invoice_id.in_(ids))
                             .group_by(PaymentAttempt.invoice_id)).all()
        assert len(attempts) == N and all(n == 1 for _, n in attempts)
        mails = s.scalars(sa.select(OutboxMessage.entity_id).where(
            OutboxMessage.entity == "billing_invoice",
            OutboxMessage.entity_id.in_(map(str, ids)))).all()
        assert len(mails) == len(set(mails)) == N // 2
        paid = s.scalar(sa.select(sa.func.count()).select_from(Payment)
                        .where(Payment.invoice_id.in_(ids)))
        assert paid == N // 2
    assert sum(r.charges for r in results) == N
    charges = sum(len(gw.client.v1.charges.list(params={"customer": c}).data)
                  for c in _customers(factory, ids))
    assert charges == N


def _customers(factory, ids):
    with factory() as s:
        return s.scalars(sa.select(Client.stripe_customer_id).join(
            Invoice, Invoice.client_id == Client.id).where(Invoice.id.in_(ids))).all()


class _no_lock:
    def __init__(self, session):
        pass

    def __enter__(self):
        return True

    def __exit__(self, *exc):
        return False


assert stripe_server.DEFAULT_BASE
