"""Every (from, to) pair of invoice statuses: the table allows it and it moves, or it is refused.

Both doors are walked: an Invoice through the ORM (finance's actions, webhooks) and a dunning
pass's plain row, whose batch writes it back with thousands of others in one UPDATE.
"""

import itertools
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from backoffice.i18n import Refusal
from billing import service, workflow
from billing.batch import INVOICE, Batch, select_rows
from billing.models import Invoice, InvoiceEvent, InvoiceStatus

S = InvoiceStatus
ALLOWED = {
    (S.OPEN, S.IN_DUNNING), (S.OPEN, S.PAUSED), (S.OPEN, S.PAID), (S.OPEN, S.WRITTEN_OFF),
    (S.IN_DUNNING, S.PAUSED), (S.IN_DUNNING, S.UNCOLLECTIBLE), (S.IN_DUNNING, S.PAID),
    (S.IN_DUNNING, S.WRITTEN_OFF),
    (S.PAUSED, S.OPEN), (S.PAUSED, S.IN_DUNNING), (S.PAUSED, S.PAID), (S.PAUSED, S.WRITTEN_OFF),
    (S.UNCOLLECTIBLE, S.PAID), (S.UNCOLLECTIBLE, S.WRITTEN_OFF),
    (S.WRITTEN_OFF, S.PAID),
}
PAIRS = list(itertools.product(InvoiceStatus, repeat=2))
_number = itertools.count(1)


def _kind(current: InvoiceStatus, to: InvoiceStatus) -> str:
    """Return the timeline kind finance reads for a move (the panel shows it)."""
    if to == S.PAUSED:
        return "pause"
    if current == S.PAUSED and to in (S.OPEN, S.IN_DUNNING):
        return "resume"
    return "written_off" if to == S.WRITTEN_OFF else "status"


def _invoice(session, factories, status: InvoiceStatus) -> Invoice:
    day = date(2026, 11, 2)
    inv = Invoice(series="WF2026", number=next(_number), client_id=factories.client().id,
                  period_start=day, period_end=day, issued_on=day, due_on=day,
                  subtotal_cents=4000, vat_cents=840, total_cents=4840, status=status,
                  paused_until=date(2026, 12, 1) if status == S.PAUSED else None)
    session.add(inv)
    session.flush()
    return inv


def _stored(session, inv: Invoice) -> tuple:
    status = session.execute(sa.select(INVOICE.c.status).where(INVOICE.c.id == inv.id)).scalar()
    entries = session.execute(sa.select(InvoiceEvent.kind, InvoiceEvent.detail).where(
        InvoiceEvent.invoice_id == inv.id).order_by(InvoiceEvent.id)).all()
    return InvoiceStatus(status), [tuple(e) for e in entries]


def test_the_table_is_the_one_the_code_follows():
    assert {(a, b) for a, b in PAIRS if workflow.is_legal(a, b)} == ALLOWED
    assert set(workflow.TRANSITIONS) == set(InvoiceStatus)


@pytest.mark.parametrize("current,to", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_an_invoice_moves_as_the_table_says(session, factories, current, to):
    inv = _invoice(session, factories, current)
    if (current, to) not in ALLOWED:
        with pytest.raises(Refusal) as refused:
            workflow.transition(session, invoice=inv, to=to, reason="why")
        assert str(refused.value) == f"status: an invoice cannot go from {current} to {to}"
        assert inv.status == current and not session.dirty
        assert _stored(session, inv) == (current, [])
        return
    workflow.transition(session, invoice=inv, to=to, reason="why")
    detail = "why" if _kind(current, to) != "status" else f"{current} → {to}; why"
    assert _stored(session, inv) == (to, [(_kind(current, to), detail)])
    assert (inv.closed_at is not None) == (to in (S.PAID, S.WRITTEN_OFF))


@pytest.mark.parametrize("current,to", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_a_pass_moves_its_rows_by_the_same_table(session, factories, current, to):
    inv = _invoice(session, factories, current)
    (row,) = select_rows(session, INVOICE.c.id == inv.id)
    batch = Batch(session, now=datetime(2026, 11, 2, 9))
    batch.invoices = {row.id: row}
    if (current, to) not in ALLOWED:
        with pytest.raises(Refusal, match=f"^status: an invoice cannot go from {current} to"):
            workflow.transition(session, invoice=row, to=to, day=3, at=batch.now,
                                events=batch.events)
        assert row.status == current and batch.events == [] and row.changes() == {}
        return
    workflow.transition(session, invoice=row, to=to, day=3, at=batch.now, events=batch.events)
    # Nothing reaches the database before the batch writes its rows, in one statement each.
    assert _stored(session, inv) == (current, []) and len(batch.events) == 1
    batch.write()
    status, entries = _stored(session, inv)
    assert status == to and [kind for kind, _ in entries] == [_kind(current, to)]
    if current == S.OPEN and to == S.IN_DUNNING:
        assert session.get(Invoice, inv.id).entered_dunning_cents == 4840


def test_an_unknown_status_is_refused(session, factories):
    inv = _invoice(session, factories, S.OPEN)
    with pytest.raises(Refusal, match="^status: closed is not a status of an invoice"):
        workflow.transition(session, invoice=inv, to="closed")
    assert _stored(session, inv) == (S.OPEN, [])


def test_a_logged_entry_is_in_the_database_at_once(session, factories):
    """No session hook writes the timeline later: what a service logs is stored when logged."""
    inv = _invoice(session, factories, S.OPEN)
    service.log(session, inv, "call", detail="no answer")
    with session.no_autoflush:
        assert _stored(session, inv) == (S.OPEN, [("call", "no answer")])
    assert not [k for k in session.info if "billing" in k]
