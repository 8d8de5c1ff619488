"""Tasks: made by hand, taken, done with an outcome; job-made ones close when their cause goes."""

import html
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.i18n import Refusal
from backoffice.models import ProfessionalStatus, RequestStatus, Task, TaskStatus
from backoffice.services import tasks
from billing import actions, invoicing
from billing import service as billing_service
from billing.models import Invoice, InvoiceStatus
from tests.conftest import post_from
from vetting import compliance
from vetting import service as vetting_service
from vetting.models import Document, DocumentStatus

NOW = datetime(2030, 3, 2, 9, 0)


def _count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Task))


def _invoice(session, factories, **client) -> Invoice:
    customer = factories.client(**client)
    start = date(2029, 11, 1)
    factories.request(client=customer, day=start, status=RequestStatus.DONE, price_cents=4000)
    inv = invoicing.issue(session, client=customer, start=start, end=date(2029, 11, 28),
                          issued_on=date(2029, 12, 1))
    actions.create_call_task(session, inv, customer, now=NOW)
    return inv


def _call(session, inv) -> Task:
    return session.scalars(sa.select(Task).where(Task.kind == "dunning_call",
                                                 Task.entity_id == str(inv.id))).one()


# --- made by hand


def test_an_agent_makes_a_task_about_a_client_due_in_madrid_time(client, session, logged_in,
                                                                 factories):
    user = logged_in("ops_agent")
    customer = factories.client(name="Remedios Vidal")
    session.commit()
    page = post_from(client, "/admin/task/new/", "/admin/task/new/", {
        "title": "Call back about the keys", "role": "ops_agent", "assignee": str(user.id),
        "entity": "client", "entity_id": str(customer.id), "due_at": "2031-07-01T10:30",
        "details": "She asked for the afternoon"})
    task = session.scalars(sa.select(Task).where(Task.title == "Call back about the keys")).one()
    assert (task.kind, task.role, task.assigned_to_id) == ("manual", "ops_agent", user.id)
    assert (task.entity, task.entity_id) == ("client", str(customer.id))
    assert task.due_at == datetime(2031, 7, 1, 8, 30)  # Madrid in summer is UTC+2
    assert task.status == TaskStatus.OPEN
    assert "Call back about the keys" in page
    mine = client.get("/admin/task/mine/").get_data(as_text=True)
    assert "Call back about the keys" in mine and "Client: Remedios Vidal" in mine
    assert "01/07/2031 10:30" in mine  # shown as it was entered, as Spain writes dates


def test_an_invoice_and_a_case_are_found_by_the_number_people_read(session, make_user,
                                                                   factories):
    inv = _invoice(session, factories)
    task = tasks.create(session, title="Check the address", role="finance",
                        entity="billing_invoice", entity_id=inv.code.lower(),
                        user=make_user("finance"))
    assert task.entity_id == str(inv.id)


@pytest.mark.parametrize(("values", "field"), [
    ({"title": "  "}, "title"),
    ({"role": "cook"}, "role"),
    ({"entity": "client", "entity_id": "999999999"}, "entity_id"),
    ({"entity": "client", "entity_id": "abc"}, "entity_id"),
    ({"entity": "staff_user", "entity_id": "1"}, "entity"),
    ({"entity": "billing_invoice", "entity_id": "ZZ-000001"}, "entity_id"),
    ({"assignee": "999999"}, "assignee"),
    ({"assignee": "inactive"}, "assignee"),
    ({"assignee": "other_team"}, "assignee"),
    ({"due_at": datetime(2001, 1, 1)}, "due_at"),
    ({"details": "a\x00b"}, "details"),
])
def test_a_bad_value_is_refused_naming_its_field_and_nothing_is_written(session, make_user,
                                                                        values, field):
    user = make_user("ops_agent")
    if values.get("assignee") == "inactive":
        values["assignee"] = make_user("ops_agent")
        values["assignee"].active = False
    elif values.get("assignee") == "other_team":
        values["assignee"] = make_user("vetting")
    before = _count(session)
    with pytest.raises(Refusal) as refused:
        tasks.create(session, **{"title": "Call", "role": "ops_agent", "user": user, **values})
    assert str(refused.value).startswith(f"{field}: ")
    assert _count(session) == before


def test_the_form_shows_the_refusal_in_the_readers_language_and_keeps_what_was_typed(
        client, session, make_user, login):
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    before = _count(session)
    page = post_from(client, "/admin/task/new/", "/admin/task/new/", {
        "title": "Llamar a la vecina", "role": "ops_agent", "entity": "client",
        "entity_id": "999999999", "due_at": "mañana"})
    # The field named as labelled, the format as the pages write it (#18).
    assert ("Vence (hora local): “mañana” no es un día y una hora; escríbelo como "
            "dd/mm/aaaa hh:mm") in html.unescape(page)
    assert 'value="Llamar a la vecina"' in page
    page = post_from(client, "/admin/task/new/", "/admin/task/new/", {
        "title": "Llamar a la vecina", "role": "ops_agent", "entity": "client",
        "entity_id": "999999999"})
    assert "registro: no existe ese registro (999999999)" in page
    assert _count(session) == before


# --- taken, queued, done


def test_take_my_tasks_and_the_team_queue(client, session, logged_in, make_user):
    other = make_user("ops_agent")
    ours = tasks.create(session, title="Re-send the quote", role="ops_agent", user=other)
    theirs = tasks.create(session, title="Chase the ID copy", role="vetting", user=other)
    held = tasks.create(session, title="Already someone's", role="ops_agent", assignee=other,
                        user=other)
    session.commit()
    me = logged_in("ops_agent")
    queue = client.get("/admin/task/queue/").get_data(as_text=True)
    assert "Re-send the quote" in queue and "Already someone&#39;s" in queue
    assert "Chase the ID copy" not in queue
    assert "Re-send the quote" not in client.get("/admin/task/mine/").get_data(as_text=True)
    post_from(client, "/admin/task/queue/", f"/admin/task/{ours.id}/take", {"back": "queue"})
    session.refresh(ours)
    assert ours.assigned_to_id == me.id
    mine = client.get("/admin/task/mine/").get_data(as_text=True)
    assert "Re-send the quote" in mine and "Already someone" not in mine
    # Another team's task is not found, so not taken.
    assert post_from(client, "/admin/task/queue/", f"/admin/task/{theirs.id}/take", {})
    session.refresh(theirs)
    assert theirs.assigned_to_id is None
    assert held.assigned_to_id == other.id


def test_done_needs_an_outcome_and_a_closed_task_stays_closed(client, session, logged_in):
    me = logged_in("ops_agent")
    task = tasks.create(session, title="Ring the porter", role="ops_agent", user=me)
    session.commit()
    page = post_from(client, "/admin/task/mine/", f"/admin/task/{task.id}/done",
                     {"outcome": " "})
    assert "outcome: this field is required" in page
    session.refresh(task)
    assert task.status == TaskStatus.OPEN
    post_from(client, "/admin/task/mine/", f"/admin/task/{task.id}/done",
              {"outcome": "Porter has the keys"})
    session.refresh(task)
    assert (task.status, task.outcome, task.assigned_to_id) == (
        TaskStatus.DONE, "Porter has the keys", me.id)
    page = post_from(client, "/admin/task/mine/", f"/admin/task/{task.id}/cancel",
                     {"reason": "changed my mind"})
    assert "status: the task is already done" in page
    assert "Porter has the keys" in client.get(
        f"/admin/task/details/?id={task.id}").get_data(as_text=True)


def test_the_edit_form_shows_the_status_and_never_sets_it(client, session, logged_in):
    me = logged_in("ops_agent")
    task = tasks.create(session, title="Ring the porter", role="ops_agent", user=me)
    session.commit()
    url = f"/admin/task/edit/?id={task.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'name="status"' not in page and "readonly" in page
    post_from(client, url, url, {"title": "Ring the porter twice", "state": "done",
                                 "status": "done", "result": "x", "outcome": "x"})
    session.refresh(task)
    assert (task.title, task.status, task.outcome) == ("Ring the porter twice",
                                                       TaskStatus.OPEN, None)


# --- closing by themselves


def _close(session) -> dict:
    return tasks.close_resolved(session, now=NOW)["closed"]


def _at_risk(session, factories):
    pro = factories.professional(name="Pilar Suspendida")
    request = factories.request(client=factories.client(name="Aurora Gil"), professional=pro,
                                day=NOW.date() + timedelta(days=3))
    compliance.suspend(session, professional=pro, reason="expired insurance", now=NOW)
    task = session.scalars(sa.select(Task).where(Task.kind == "service_at_risk")).one()
    return request, task


def test_a_service_at_risk_is_named_and_closes_once_covered_again(session, factories):
    request, task = _at_risk(session, factories)
    assert task.title.startswith("Aurora Gil's service on ")
    assert "Pilar Suspendida was suspended" in task.details and "#" not in task.title
    assert _close(session) == {}
    request.professional_id = factories.professional(name="Lola Cubre").id
    session.flush()
    assert _close(session) == {"service_at_risk": 1}
    assert task.status == TaskStatus.CANCELLED and task.done_at == NOW
    assert task.outcome.startswith("Closed by itself: Aurora Gil's service on ")
    assert task.outcome.endswith("is covered again by Lola Cubre")


def test_a_service_at_risk_closes_when_the_service_is_cancelled(session, factories):
    request, task = _at_risk(session, factories)
    request.status = RequestStatus.CANCELLED
    session.flush()
    assert _close(session) == {"service_at_risk": 1}
    assert task.outcome.endswith("was cancelled")


@pytest.mark.parametrize(("status", "line"), [
    (InvoiceStatus.PAID, "was paid"),
    (InvoiceStatus.WRITTEN_OFF, "was written off"),
    (InvoiceStatus.PAUSED, "is paused (promise: Friday)"),
])
def test_the_sweep_closes_a_call_about_an_invoice_no_longer_chased(session, factories, status,
                                                                   line):
    inv = _invoice(session, factories)
    call = _call(session, inv)
    assert _close(session) == {}
    session.execute(sa.update(Invoice).where(Invoice.id == inv.id).values(
        status=status, pause_reason="promise: Friday"))
    assert _close(session) == {"dunning_call": 1}
    assert call.outcome == f"Closed by itself: invoice {inv.code} {line}"
    assert call.status == TaskStatus.CANCELLED


def test_a_payment_a_pause_and_a_write_off_close_the_call_at_once(session, factories,
                                                                  make_user):
    paid, paused, lost = (_invoice(session, factories) for _ in range(3))
    billing_service.record_payment(session, invoice=paid, amount_cents=paid.total_cents,
                                   method="bank_transfer", reference="TR-1",
                                   received_on=NOW.date())
    billing_service.pause(session, invoice=paused, kind="dispute", reason="never came",
                          until=None)
    billing_service.propose_write_off(session, invoice=lost, user=make_user("finance"),
                                      reason="moved abroad")
    billing_service.approve_write_off(session, invoice=lost, user=make_user("finance"))
    assert _call(session, paid).outcome == f"Closed by itself: invoice {paid.code} was paid"
    assert _call(session, paused).outcome == (
        f"Closed by itself: invoice {paused.code} is paused (dispute: never came)")
    assert _call(session, lost).outcome == (
        f"Closed by itself: invoice {lost.code} was written off")
    assert _close(session) == {}


def test_a_document_reminder_closes_once_the_renewal_is_accepted(session, factories):
    pro = factories.professional(name="Marta Renueva")
    old = Document(professional_id=pro.id, doc_type="insurance", status=DocumentStatus.ACCEPTED,
                   expires_on=NOW.date() + timedelta(days=10))
    session.add(old)
    session.flush()
    compliance.check_documents(session, now=NOW)
    task = session.scalars(sa.select(Task).where(Task.kind == "document_expiring")).one()
    renewal = Document(professional_id=pro.id, doc_type="insurance",
                       expires_on=NOW.date() + timedelta(days=400))
    session.add(renewal)
    session.flush()
    assert _close(session) == {}  # sent, not yet accepted
    vetting_service.review_document(session, document=renewal, accept=True, user=None, now=NOW)
    assert _close(session) == {"document_expiring": 1}
    assert task.outcome.startswith("Closed by itself: Marta Renueva's renewed ")
    assert task.outcome.endswith(" was accepted")
    assert pro.status == ProfessionalStatus.APPROVED


def test_a_task_made_by_hand_never_closes_by_itself(session, factories, make_user):
    customer = factories.client()
    task = tasks.create(session, title="Visit", role="ops_agent", entity="client",
                        entity_id=str(customer.id), user=make_user("ops_agent"))
    customer.status = "erased"
    session.flush()
    _close(session)
    assert task.status == TaskStatus.OPEN


# --- what a task is about, by name, linked where the reader may open it


def test_about_names_the_record_and_links_only_where_the_role_may_open_it(
        client, session, logged_in, factories, make_user, login):
    inv = _invoice(session, factories, name="Inés Factura")
    request = factories.request(client=factories.client(name="Rosa Servicio"),
                                day=date(2030, 5, 6))
    maker = make_user("admin")
    for role, entity, entity_id in (("ops_agent", "service_request", request.id),
                                    ("finance", "billing_invoice", inv.id)):
        tasks.create(session, title=f"About {entity}", role=role, entity=entity,
                     entity_id=str(entity_id), user=maker)
    session.commit()
    logged_in("ops_agent", "finance")
    page = client.get("/admin/task/").get_data(as_text=True)
    assert (f'<a href="/admin/service_request/details/?id={request.id}">'
            "Service request: 06/05 09:00, Rosa Servicio</a>") in page
    assert (f'<a href="/admin/billing_invoice/details/?id={inv.id}">'
            f"Invoice: {inv.code}</a>") in page
    login(make_user("ops_agent"))
    page = client.get("/admin/task/").get_data(as_text=True)
    # An agent reads which invoice, with no link their role would be refused.
    assert f"Invoice: {inv.code}" in page
    assert "/admin/billing_invoice/details/" not in page
    assert "Call Inés Factura about" in page


def test_the_edit_form_saved_as_shown_changes_nothing(client, session, logged_in):
    from tests.backoffice.test_forms import _form_values

    me = logged_in("ops_agent")
    task = tasks.create(session, title="Ring the porter", role="ops_agent", user=me)
    session.commit()
    url = f"/admin/task/edit/?id={task.id}"
    resp = client.post(url, data=_form_values(client.get(url).get_data(as_text=True)))
    assert resp.status_code == 302
    session.refresh(task)
    assert (task.title, task.details, task.status) == ("Ring the porter", None, TaskStatus.OPEN)


def test_the_scheduler_sweeps_every_minute_with_every_domains_checker():
    """The scheduler process loads each domain's jobs, and with them the checkers it sweeps."""
    import subprocess
    import sys

    code = ("from backoffice.scheduler import job_specs; from backoffice.services import tasks; "
            "specs = {f.__name__: (t, a) for f, t, a in job_specs()}; "
            "print(specs['close_resolved_tasks'], sorted(tasks.CHECKERS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == ("('interval', {'minutes': 1}) "
                           "['document_expiring', 'dunning_call', 're_review', 'replan', "
                           "'service_at_risk']")


def test_a_tasks_state_agrees_with_the_word_task_in_spanish(client, session, make_user, login):
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    for title, status in (("Llamar a Ana", TaskStatus.OPEN),
                          ("Llamar a Luis", TaskStatus.CANCELLED)):
        session.add(Task(kind="manual", role="ops_agent", title=title, status=status))
    session.commit()
    page = html.unescape(client.get("/admin/task/").get_data(as_text=True))
    assert ">abierta<" in page and ">cancelada<" in page and ">cancelado<" not in page
