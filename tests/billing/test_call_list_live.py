"""The outbound call list, read from the invoices as they are now: who is on it, what each card
offers, and what a logged call leaves behind."""

import itertools
import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.i18n import Refusal
from backoffice.models import Interaction, InteractionKind, RequestStatus, Task, TaskStatus
from billing import actions, calls, invoicing, workflow
from billing import service as billing_service
from billing.models import AttemptStatus, Invoice, InvoiceStatus, PaymentAttempt
from cases.models import Case, CaseLink
from tests.conftest import csrf_from

NOW = datetime(2030, 3, 2, 9, 0)
_month = itertools.count(0)
URL = "/admin/billing_calls/"


def _owed(session, factories, *, name="Rosa Impagada", language="es",
          phone="600 111 222", uncollectible=False) -> Invoice:
    """An invoice at the policy's call step, its card declined for lack of funds."""
    client = factories.client(name=name, language=language, phone=phone)
    start = date(2029, 1, 1) + timedelta(days=31 * next(_month))
    factories.request(client=client, day=start, status=RequestStatus.DONE, price_cents=4000)
    inv = invoicing.issue(session, client=client, start=start, end=start + timedelta(days=27),
                          issued_on=start + timedelta(days=28))
    workflow.transition(session, invoice=inv, to=InvoiceStatus.IN_DUNNING, day=0)
    inv.dunning_day = 14
    session.add(PaymentAttempt(invoice_id=inv.id, day=0, idempotency_key=f"test-{inv.id}",
                               amount_cents=inv.total_cents, status=AttemptStatus.FAILED,
                               decline_code="insufficient_funds", finished_at=NOW))
    actions.create_call_task(session, inv, client, now=NOW)
    if uncollectible:
        workflow.transition(session, invoice=inv, to=InvoiceStatus.UNCOLLECTIBLE, day=30)
    session.flush()
    return inv


def _card(session, inv) -> calls.Card | None:
    return next((c for c in calls.call_list(session) if c.invoice.id == inv.id), None)


def _call_task(session, inv) -> Task:
    return session.scalars(sa.select(Task).where(Task.kind == "dunning_call",
                                                 Task.entity_id == str(inv.id))).one()


def test_a_card_shows_todays_figures_a_readable_reason_and_a_tel_link(client, session,
                                                                      factories, logged_in):
    inv = _owed(session, factories)
    billing_service.record_payment(session, invoice=inv, amount_cents=1000,
                                   method="bank_transfer", reference="PART-1",
                                   received_on=NOW.date())
    session.commit()
    logged_in("ops_agent")
    page = client.get(URL).get_data(as_text=True)
    card = page[page.index(f'data-invoice="{inv.code}"'):]
    card = card[:card.index("</form>")]
    assert 'href="tel:+34600111222"' in card and "Rosa Impagada" in card
    due = (inv.total_cents - 1000) / 100
    assert f"€{due:,.2f}" in card  # today's amount due, after the transfer, in euros
    assert "not enough money in the account" in card and "insufficient_funds" not in card
    assert re.findall(r'<option value="(\w+)"', card) == list(calls.OUTCOMES)


@pytest.mark.parametrize("how", ["payment", "write_off", "pause"])
def test_an_invoice_leaves_the_list_once_paid_written_off_or_paused(client, session, factories,
                                                                    logged_in, make_user, how):
    inv, stays = _owed(session, factories), _owed(session, factories, name="Otra Deudora")
    assert _card(session, inv) is not None
    if how == "payment":
        billing_service.record_payment(session, invoice=inv, amount_cents=inv.due_cents,
                                       method="bank_transfer", reference=f"T-{inv.id}",
                                       received_on=NOW.date())
    elif how == "write_off":
        billing_service.propose_write_off(session, invoice=inv, user=make_user("finance"),
                                          reason="moved abroad")
        billing_service.approve_write_off(session, invoice=inv, user=make_user("finance"))
    else:
        billing_service.pause(session, invoice=inv, kind="promise", reason="pays Friday",
                              until=NOW.date() + timedelta(days=5))
    session.commit()
    logged_in("ops_agent")
    page = client.get(URL).get_data(as_text=True)
    assert f'data-invoice="{inv.code}"' not in page
    assert f'data-invoice="{stays.code}"' in page
    assert _call_task(session, inv).status == TaskStatus.CANCELLED


def test_the_list_reads_the_invoice_not_its_task(session, factories):
    """A status changed behind the task's back (the sweep has not run yet) is already off."""
    inv = _owed(session, factories)
    session.execute(sa.update(Invoice).where(Invoice.id == inv.id).values(
        status=InvoiceStatus.PAID))
    session.expire_all()
    assert _card(session, inv) is None
    assert _call_task(session, inv).status == TaskStatus.OPEN


def test_an_invoice_resumed_after_a_pause_is_back_on_the_list(session, factories):
    inv = _owed(session, factories)
    billing_service.pause(session, invoice=inv, kind="dispute", reason="checking", until=None)
    assert _card(session, inv) is None
    billing_service.resume(session, invoice=inv)
    assert _card(session, inv) is not None  # its task was closed by the pause: the list is not


def test_outcomes_follow_the_invoices_state(session, factories, make_user):
    chased = _owed(session, factories)
    lost = _owed(session, factories, uncollectible=True, name="Incobrable")
    assert _card(session, chased).outcomes == ("promise", "dispute", "paid_claimed", "no_answer")
    # An uncollectible invoice cannot be paused: no promise to pay is offered, nor taken.
    assert _card(session, lost).outcomes == ("dispute", "paid_claimed", "no_answer")
    with pytest.raises(Refusal, match="does not admit this outcome"):
        calls.log_call(session, invoice=lost, outcome="promise", user=make_user("ops_agent"),
                       until=NOW.date() + timedelta(days=3), now=NOW)
    assert lost.status == InvoiceStatus.UNCOLLECTIBLE
    assert session.scalar(sa.select(sa.func.count()).select_from(Interaction)) == 0


def test_a_logged_call_goes_on_the_clients_timeline(client, session, factories, logged_in):
    inv = _owed(session, factories)
    session.commit()
    agent = logged_in("ops_agent")
    page = client.get(URL).get_data(as_text=True)
    resp = client.post(f"{URL}{inv.id}/outcome", data={
        "csrf_token": csrf_from(page), "result": "paid_claimed", "duration": "2:30",
        "note": "says she paid by transfer on Monday"}, follow_redirects=True)
    assert f"Call about {inv.code} recorded." in resp.get_data(as_text=True)
    call = session.scalars(sa.select(Interaction)).one()
    assert (call.kind, call.client_id, call.staff_id) == (InteractionKind.CALL_OUT,
                                                          inv.client_id, agent.id)
    assert (call.entity, call.entity_id, call.outcome, call.duration_s) == (
        "billing_invoice", str(inv.id), "paid_claimed", 150)
    assert call.body == "says she paid by transfer on Monday"
    task = _call_task(session, inv)
    assert task.status == TaskStatus.DONE and task.assigned_to_id == agent.id
    assert task.outcome == "Call logged: Says already paid — says she paid by transfer on Monday"
    page = client.get(URL).get_data(as_text=True)  # still owed: still on the list
    assert "Last call" in page and "Says already paid" in page
    timeline = billing_service.timeline(session, inv)
    assert timeline[-1].kind == "call" and "paid_claimed" in timeline[-1].detail


def test_no_answer_keeps_the_task_and_a_promise_pauses(session, factories, make_user):
    inv = _owed(session, factories)
    agent = make_user("ops_agent")
    calls.log_call(session, invoice=inv, outcome="no_answer", user=agent, now=NOW)
    assert _call_task(session, inv).status == TaskStatus.OPEN
    with pytest.raises(ValueError, match="until: a promise to pay needs the date promised"):
        calls.log_call(session, invoice=inv, outcome="promise", user=agent, now=NOW)
    calls.log_call(session, invoice=inv, outcome="promise", user=agent, note="on the 10th",
                   until=date(2030, 3, 10), now=NOW)
    assert (inv.status, inv.paused_until) == (InvoiceStatus.PAUSED, date(2030, 3, 10))
    assert inv.pause_reason == "promise: on the 10th"
    assert _card(session, inv) is None
    assert [c.outcome for c in session.scalars(sa.select(Interaction).order_by(
        Interaction.id))] == ["no_answer", "promise"]


def _dispute_cases(session, inv) -> list[Case]:
    return list(session.scalars(sa.select(Case).join(CaseLink, CaseLink.case_id == Case.id)
                                .where(CaseLink.entity == "invoice",
                                       CaseLink.entity_id == str(inv.id))))


def test_a_dispute_opens_one_case_and_its_playbook_pauses(client, session, factories,
                                                          logged_in):
    inv = _owed(session, factories)
    session.commit()
    logged_in("ops_agent")
    page = client.get(URL).get_data(as_text=True)
    token = csrf_from(page)
    for _ in range(2):  # a double click
        client.post(f"{URL}{inv.id}/outcome", data={
            "csrf_token": token, "result": "dispute", "note": "the cleaner never came"})
    session.expire_all()
    found = _dispute_cases(session, inv)
    assert len(found) == 1
    case = found[0]
    assert case.category.code == "payment_dispute" and case.client_id == inv.client_id
    assert (inv.status, inv.pause_reason) == (InvoiceStatus.PAUSED,
                                              f"dispute: dispute case {case.number}")
    assert [a.call_outcome for a in case.articles] == ["dispute"]
    assert session.scalar(sa.select(sa.func.count()).where(
        Interaction.outcome == "dispute")) == 1


def test_a_dispute_on_an_uncollectible_invoice_opens_its_case_once(session, factories,
                                                                   make_user):
    inv = _owed(session, factories, uncollectible=True)
    agent = make_user("ops_agent")
    calls.log_call(session, invoice=inv, outcome="dispute", user=agent, now=NOW)
    assert inv.status == InvoiceStatus.UNCOLLECTIBLE  # nothing to pause; the case is open
    card = _card(session, inv)
    assert card.dispute_case == _dispute_cases(session, inv)[0].id
    assert "dispute" not in card.outcomes
    with pytest.raises(Refusal, match="already open for this invoice"):
        calls.log_call(session, invoice=inv, outcome="dispute", user=agent, now=NOW)
    assert len(_dispute_cases(session, inv)) == 1


def test_the_script_is_one_macro_in_the_clients_language(client, session, factories,
                                                        logged_in, login, make_user):
    calls.seed_script(session)
    calls.seed_script(session)  # once
    es = _owed(session, factories, name="Pilar Gómez")
    en = _owed(session, factories, name="John Smith", language="en")
    session.commit()
    logged_in("ops_agent")
    page = client.get(URL).get_data(as_text=True)
    due = f"{es.due_cents // 100},{es.due_cents % 100:02d}\xa0€"
    assert "Hola, ¿hablo con Pilar? " in page and f"quedan pendientes {due}" in page
    assert "Hello, is this John? " in page and f"€{en.due_cents / 100:,.2f} is still" in page
    resp = client.post(f"{URL}script", data={
        "csrf_token": csrf_from(page), "body_es": "Hola {{ booking_date }}",
        "body_en": "Hi {{ first_name }}"}, follow_redirects=True)
    assert "body_es: booking_date cannot be used in this text" in resp.get_data(as_text=True)
    client.post(f"{URL}script", data={
        "csrf_token": csrf_from(page), "body_es": "Hola {{ first_name }}, debe {{ amount_due }}",
        "body_en": "Hi {{ first_name }}, {{ days_overdue }} days late"})
    page = client.get(URL).get_data(as_text=True)
    assert f"Hola Pilar, debe {due}" in page and "Hi John, " in page
    login(make_user("finance"))
    page = client.get(URL).get_data(as_text=True)
    assert 'name="body_es"' not in page  # finance reads the script, agents write it
    resp = client.post(f"{URL}script", data={
        "csrf_token": csrf_from(page), "body_es": "x", "body_en": "y"}, follow_redirects=True)
    assert "Your role cannot edit the call script." in resp.get_data(as_text=True)
    assert calls.script(session).body_es == "Hola {{ first_name }}, debe {{ amount_due }}"
