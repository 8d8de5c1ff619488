"""The queue with its SLA, bulk moves that respect the table, the funnel and the home figures."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from backoffice.models import AuditEvent, ServiceRequest
from tests.conftest import csrf_from, post_from
from vetting import reports, workflow
from vetting.models import Application, Stage


def test_working_days_skip_weekends():
    friday = datetime(2026, 11, 20, 17)
    assert reports.working_days_between(friday, datetime(2026, 11, 23, 9)) == 1  # Monday
    assert reports.working_days_between(friday, datetime(2026, 11, 25, 9)) == 3
    assert reports.working_days_between(friday, datetime(2026, 11, 26, 9)) == 4


def test_queue_highlights_applications_past_the_sla(client, session, logged_in, vet):
    logged_in("vetting")
    now = datetime.now()
    late = vet.applicant(now=now - timedelta(days=10), name="Late Applicant")
    fresh = vet.applicant(now=now, name="Fresh Applicant")
    session.commit()
    html = client.get("/admin/vetting/?stage=applied").get_data(as_text=True)
    assert f'<tr class="table-danger" data-application="{late.id}">' in html
    assert f'<tr class="" data-application="{fresh.id}">' in html
    assert html.index("Late Applicant") < html.index("Fresh Applicant")


def test_bulk_advance_respects_the_rules(client, session, logged_in, vet):
    user = logged_in("vetting")
    ready = vet.bring_to(vet.applicant(), Stage.DOCUMENTS, user)
    vet.all_documents(ready.professional)
    not_ready = vet.bring_to(vet.applicant(), Stage.DOCUMENTS, user)
    session.commit()
    html = post_from(client, "/admin/vetting/", "/admin/vetting/bulk",
                     {"op": "advance", "ids": [ready.id, not_ready.id]})
    assert "1 applications moved." in html
    assert f"#{not_ready.id}: documents: missing, not accepted or expired" in html
    session.expire_all()
    assert session.get(Application, ready.id).stage == Stage.CHECKS
    assert session.get(Application, not_ready.id).stage == Stage.DOCUMENTS
    bulk = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "bulk_advance"))
    assert bulk.changes == {"moved": [ready.id], "refused": [f"#{not_ready.id}"]}


def test_bulk_reject_without_reason_moves_nothing(client, session, logged_in, vet):
    logged_in("vetting")
    a = vet.applicant()
    session.commit()
    page = client.get("/admin/vetting/").get_data(as_text=True)
    html = client.post("/admin/vetting/bulk", data={"csrf_token": csrf_from(page), "op": "reject",
                                                    "ids": [a.id]}, follow_redirects=True
                       ).get_data(as_text=True)
    assert "reason: choose a rejection reason" in html
    session.expire_all()
    assert session.get(Application, a.id).stage == Stage.APPLIED


def test_application_page_and_refused_approval(client, session, logged_in, vet):
    user = logged_in("vetting")
    app = vet.bring_to(vet.applicant(name="Nuria Soler"), Stage.DECISION, user)
    session.commit()
    page = client.get(f"/admin/vetting/application/{app.id}").get_data(as_text=True)
    assert "Nuria Soler" in page and 'data-stage="decision"' in page
    assert "You prepared this decision" in page
    html = client.post(f"/admin/vetting/application/{app.id}/transition", data={
        "csrf_token": csrf_from(page), "to": "approved"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "four eyes" in html and 'data-stage="decision"' in html


def test_funnel_page_shows_figures(client, session, logged_in, vet, factories, make_user):
    logged_in("vetting")
    preparer, approver = make_user("vetting"), make_user("vetting")
    now = datetime.now() - timedelta(days=3)
    app = vet.bring_to(vet.applicant(now=now), Stage.DECISION, preparer, now=now)
    workflow.transition(session, application=app, to=Stage.APPROVED, user=approver,
                        now=now + timedelta(days=2))
    rejected = vet.applicant(now=now)
    workflow.transition(session, application=rejected, to=Stage.REJECTED, user=preparer,
                        reason="withdrawn", now=now)
    factories.request(zone="Benimaclet", skill="childcare")
    figures = reports.funnel(session, today=datetime.now().date())
    assert figures["rejections"] == [("withdrawn", 1)]
    assert figures["median_days_to_approve"] == 2.0
    assert figures["conversion"][0] == {"from": "applied", "to": "documents", "reached": 1,
                                        "rate": 0.5}
    html = client.get("/admin/vetting/funnel").get_data(as_text=True)
    assert "2.0 days" in html
    gaps = reports.coverage_gaps(session, today=datetime.now().date())
    assert {"skill": "childcare", "zone": "Benimaclet", "uncovered": 1, "approved": 0,
            "in_pipeline": 0} in gaps
    assert session.scalar(sa.select(sa.func.count(ServiceRequest.id))) >= 1


def test_home_shows_vetting_figures(client, session, logged_in):
    logged_in("vetting")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="vetting-figures"' in html and "Past the 3-working-day SLA" in html


def test_incident_form_opens_a_re_review(client, session, logged_in, factories, app, monkeypatch):
    monkeypatch.setitem(app.config, "VETTING_INCIDENT_THRESHOLD", 0)
    logged_in("ops_agent")
    pro = factories.professional()
    session.commit()
    page = client.get("/admin/vetting_incident/new/").get_data(as_text=True)
    resp = client.post("/admin/vetting_incident/new/", data={
        "csrf_token": csrf_from(page), "professional": str(pro.id), "kind": "no_show",
        "occurred_on": "2026-11-20", "note": "did not come"})
    assert resp.status_code == 302
    app_row = session.scalar(sa.select(Application).where(Application.professional_id == pro.id))
    assert (app_row.kind, app_row.stage) == ("re_review", Stage.APPLIED)


def test_ops_agent_cannot_open_the_queue(client, session, logged_in):
    logged_in("ops_agent")
    assert client.get("/admin/vetting/").status_code == 403
    assert client.get("/admin/vetting_document/").status_code == 403


def test_documents_export_as_csv(client, session, logged_in, vet):
    logged_in("vetting")
    vet.document(vet.applicant(name="Export Person").professional, "identity")
    session.commit()
    resp = client.get("/admin/vetting_document/export/csv/")
    assert resp.status_code == 200
    assert "Export Person" in resp.get_data(as_text=True)
