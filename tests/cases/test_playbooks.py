"""The payment-dispute playbook: a case pauses its invoice's dunning until it is solved; each
step is audited, undone by the other action, and refused with the reason when the invoice's
state does not admit it."""

import html
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice import audit
from backoffice.i18n import Refusal
from backoffice.models import RequestStatus
from billing import invoicing
from billing import service as billing
from billing.models import InvoiceStatus
from cases import playbooks, service, workflow
from cases.models import CaseState
from tests.conftest import post_from

NOW = datetime(2026, 6, 2, 10)


@pytest.fixture()
def disputed(session, factories, make_case, category):
    """Return a payment-dispute case linked to an open invoice of its client."""
    client = factories.client()
    start = date(2029, 1, 1)
    factories.request(client=client, day=start, status=RequestStatus.DONE, price_cents=5000)
    inv = invoicing.issue(session, client=client, start=start, end=start + timedelta(days=27),
                          issued_on=start + timedelta(days=28))
    case = make_case(requester=client, category=category("payment_dispute"), team="finance")
    service.link(session, case=case, entity="invoice", entity_id=inv.id)
    return case, inv


def _actions(session, case) -> list[str]:
    return [row.action for row in audit.history(session, "case", case.id)]


def test_the_case_pauses_dunning_until_it_is_solved(session, disputed, make_user):
    case, inv = disputed
    agent = make_user("finance")
    playbooks.dispute_opened(session, case=case, invoice_id=inv.id, user=agent, now=NOW)
    assert inv.status == InvoiceStatus.PAUSED
    assert inv.pause_reason == f"dispute: dispute case {case.number}"
    workflow.transition(session, case=case, to=CaseState.SOLVED, user=agent, now=NOW)
    assert inv.status == InvoiceStatus.OPEN and inv.pause_reason is None
    assert {"playbook_pause_dunning", "playbook_resume_dunning"} <= set(_actions(session, case))
    kinds = [e.kind for e in billing.timeline(session, inv)]
    assert kinds[-2:] == ["pause", "resume"]


def test_each_step_is_undone_by_the_other(session, disputed, make_user):
    case, inv = disputed
    agent = make_user("finance")
    playbooks.dispute_opened(session, case=case, invoice_id=inv.id, user=agent, now=NOW)
    playbooks.resume_dunning(session, case=case, invoice_id=inv.id, user=agent, now=NOW)
    assert inv.status == InvoiceStatus.OPEN
    playbooks.dispute_opened(session, case=case, invoice_id=inv.id, user=agent, now=NOW)
    assert inv.status == InvoiceStatus.PAUSED


def test_solving_leaves_a_pause_the_case_did_not_make(session, disputed):
    case, inv = disputed
    billing.pause(session, invoice=inv, kind="promise", reason="pays on Friday",
                  until=date(2029, 3, 1))
    with pytest.raises(Refusal, match="paused already"):
        playbooks.dispute_opened(session, case=case, invoice_id=inv.id, user=None, now=NOW)
    workflow.transition(session, case=case, to=CaseState.SOLVED, now=NOW)
    assert inv.status == InvoiceStatus.PAUSED and inv.pause_reason.startswith("promise")


@pytest.mark.parametrize("why", ["paid", "not linked", "other category", "not paused"])
def test_a_step_the_state_does_not_admit_is_refused_with_the_reason(
        session, disputed, category, why):
    case, inv = disputed
    step, message = playbooks.dispute_opened, None
    if why == "paid":
        billing.record_payment(session, invoice=inv, amount_cents=inv.total_cents,
                               method="bank_transfer", reference="tr-1",
                               received_on=date(2029, 2, 1))
        message = "status: a paid invoice cannot be paused"
    elif why == "not linked":
        service.unlink(session, case=case, entity="invoice", entity_id=inv.id)
        message = "invoice: link the invoice to the case first"
    elif why == "other category":
        case.category = category("other")
        message = "category: only a payment dispute case pauses an invoice's dunning"
    else:
        step, message = playbooks.resume_dunning, "status: the invoice's dunning is not paused"
    status = inv.status
    with pytest.raises(Refusal) as refused:
        step(session, case=case, invoice_id=inv.id, user=None, now=NOW)
    assert str(refused.value).startswith(message)
    assert inv.status == status
    assert not {"playbook_pause_dunning", "playbook_resume_dunning"} & set(
        _actions(session, case))


def test_the_case_page_pauses_and_resumes(client, session, disputed, logged_in):
    case, inv = disputed
    logged_in("finance")
    page_url = f"/admin/cases/{case.id}"
    page = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "Pause dunning while disputed" in page
    page = html.unescape(post_from(client, page_url, f"{page_url}/dunning",
                                   {"invoice_id": str(inv.id), "op": "pause"}))
    assert "Resume dunning" in page
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAUSED
    post_from(client, page_url, f"{page_url}/dunning", {"invoice_id": str(inv.id),
                                                         "op": "resume"})
    session.refresh(inv)
    assert inv.status == InvoiceStatus.OPEN
    page = html.unescape(post_from(client, page_url, f"{page_url}/dunning",
                                   {"invoice_id": str(inv.id), "op": "resume"}))
    assert "not paused by this case" in page


def test_other_cases_solve_without_touching_billing(session, make_case, category):
    case = make_case(category=category("other"))
    workflow.transition(session, case=case, to=CaseState.SOLVED, now=NOW)
    assert case.state == CaseState.SOLVED
    assert session.scalar(sa.select(sa.func.count()).select_from(
        sa.table("billing_invoice_event"))) == 0
