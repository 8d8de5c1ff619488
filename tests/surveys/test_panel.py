"""The panel's survey list: read-only, for ops and the admin, with status, score and who is
rated; never a token or its hash."""

import sqlalchemy as sa

from backoffice.db import utcnow
from surveys import service
from surveys.models import Survey


def test_ops_read_the_list_without_tokens(client, session, logged_in, sent_survey, make_user):
    agent = make_user("ops_agent")
    answered, token, case = sent_survey(agent=agent)
    service.answer(session, survey=answered, score=2, comment="Nadie me llamó",
                   reason="not_solved", now=utcnow())
    pending, other_token, _ = sent_survey()
    hashes = session.scalars(sa.select(Survey.token_hash)).all()
    user = logged_in("ops_agent")
    session.execute(sa.text("UPDATE staff_user SET locale = 'es' WHERE id = :id"), {"id": user.id})
    resp = client.get("/admin/survey/")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"Caso {case.number}" in page and agent.name in page
    assert "respondida" in page and "enviada" in page
    assert "Mi problema no se resolvió" in page and "Nadie me llamó" in page
    for secret in (token, other_token, *hashes):
        assert secret not in page
    # Read-only: no create, edit or delete, not even by the admin.
    assert client.get("/admin/survey/new/").status_code in (302, 403)
    assert client.get(f"/admin/survey/edit/?id={pending.id}").status_code in (302, 403)
    assert client.get(f"/admin/survey/details/?id={pending.id}").status_code in (302, 403, 404)


def test_a_cancelled_survey_says_why(client, session, logged_in, sent_survey):
    from cases import workflow
    from cases.models import CaseState

    survey, _, case = sent_survey()
    _, _, still_sent = sent_survey()
    workflow.transition(session, case=case, to=CaseState.OPEN, now=utcnow())
    logged_in("admin")
    page = client.get("/admin/survey/?flt0_status_equal=CANCELLED").get_data(as_text=True)
    assert "The case was reopened" in page and f"Case {case.number}" in page
    assert f"Case {still_sent.number}" not in page


def test_other_teams_cannot_open_it(client, logged_in):
    logged_in("finance")
    assert client.get("/admin/survey/").status_code == 403
