"""Login, logout, disabling, idle timeout and failed-login limits."""

from datetime import timedelta

import sqlalchemy as sa

from backoffice.auth import revoke_sessions
from backoffice.models import AuditEvent, LoginAttempt, StaffSession
from tests.conftest import csrf_from


def test_wrong_password_is_refused_and_logged(client, session, make_user, login):
    user = make_user("ops_agent")
    resp = login(user, password="wrong-password-1")
    assert resp.status_code == 401
    assert "Wrong email or password." in resp.get_data(as_text=True)
    attempts = session.scalars(sa.select(LoginAttempt).where(LoginAttempt.email == user.email))
    assert [a.success for a in attempts] == [False]


def test_failed_logins_are_rate_limited(client, session, make_user, login, app):
    user = make_user("ops_agent")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(user, password="wrong-password-1").status_code == 401
    resp = login(user)  # the right password, but the account is locked for a while
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert session.scalar(sa.select(sa.func.count()).where(
        AuditEvent.action == "login_locked")) == 1


def test_login_sets_hardened_cookie(app, session, make_user):
    user = make_user("finance")
    secure_app_client = app.test_client()
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        token = csrf_from(secure_app_client.get("/login").get_data(as_text=True))
        resp = secure_app_client.post("/login", data={"email": user.email,
                                                      "password": "correct-horse-battery",
                                                      "csrf_token": token})
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_cannot_be_undone_by_replaying_the_cookie(client, logged_in):
    logged_in("ops_agent")
    assert client.get("/admin/").status_code == 200
    old_cookie = client.get_cookie("backoffice_session").value
    page = client.get("/admin/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert client.get("/admin/").status_code == 302
    client.set_cookie("backoffice_session", old_cookie)
    resp = client.get("/admin/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_disabling_a_user_ends_their_sessions(client, session, logged_in):
    user = logged_in("ops_agent")
    assert client.get("/admin/client/").status_code == 200
    user.active = False
    revoke_sessions(session, user_id=user.id)
    resp = client.get("/admin/client/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_admin_disable_action_ends_sessions(app, client, session, make_user, logged_in):
    victim = make_user("ops_agent")
    other = app.test_client()
    token = csrf_from(other.get("/login").get_data(as_text=True))
    other.post("/login", data={"email": victim.email, "password": "correct-horse-battery",
                               "csrf_token": token})
    assert other.get("/admin/client/").status_code == 200
    logged_in("admin")
    page = client.get("/admin/staff_user/").get_data(as_text=True)
    client.post("/admin/staff_user/action/", data={"csrf_token": csrf_from(page),
                                                   "action": "disable", "rowid": [victim.id]})
    assert other.get("/admin/client/").status_code == 302
    assert session.scalar(sa.select(sa.func.count()).where(
        StaffSession.user_id == victim.id, StaffSession.revoked_at.is_(None))) == 0


def test_idle_session_times_out(client, session, logged_in, app):
    user = logged_in("ops_agent")
    row = session.scalar(sa.select(StaffSession).where(StaffSession.user_id == user.id))
    row.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    session.flush()
    resp = client.get("/admin/")
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "inactivity" in page


def test_spanish_interface(client, logged_in, session):
    user = logged_in("ops_agent")
    user.locale = "es"
    session.flush()
    page = client.get("/admin/").get_data(as_text=True)
    assert "Nuevas solicitudes por cubrir" in page
    assert "Clientes" in page


def test_language_switch_from_the_user_menu_is_kept(client, logged_in, session):
    user = logged_in("ops_agent")  # English
    page = client.get("/admin/").get_data(as_text=True)
    assert "Clients" in page and "Clientes" not in page
    resp = client.post("/locale/es", data={"csrf_token": csrf_from(page)},
                       headers={"Referer": "http://localhost/admin/"})
    assert resp.status_code == 302
    session.refresh(user)
    assert user.locale == "es"
    assert "Clientes" in client.get("/admin/").get_data(as_text=True)


def test_idle_check_refreshes_last_seen_once_a_minute(client, logged_in, session):
    user = logged_in("ops_agent")
    row = session.scalar(sa.select(StaffSession).where(StaffSession.user_id == user.id))
    row.last_seen_at -= timedelta(minutes=2)
    session.flush()
    before = row.last_seen_at
    assert client.get("/admin/").status_code == 200
    session.refresh(row)
    assert row.last_seen_at > before + timedelta(minutes=1)
    assert row.revoked_at is None


def test_a_login_and_its_last_login_time_are_the_users_own(client, session, make_user, login):

    user = make_user("ops_agent")
    assert login(user).status_code == 302
    rows = session.execute(sa.select(AuditEvent.action, AuditEvent.actor).where(
        AuditEvent.entity == "staff_user", AuditEvent.entity_id == str(user.id),
        AuditEvent.action.in_(("login", "update")))).all()
    assert sorted(rows) == [("login", user.email), ("update", user.email)]


def test_the_audit_log_lists_each_change_from_what_to_what(client, session, logged_in,
                                                            factories):
    from backoffice import audit

    made = factories.client(name="Rosa Antes")
    session.flush()
    audit.record(session, action="update", entity="client", entity_id=made.id,
                 changes={"name": ["Rosa Antes", "Rosa Después"]})
    session.flush()
    logged_in("admin")
    page = client.get("/admin/audit_event/?search=" + str(made.id)).get_data(as_text=True)
    assert "<li><code>name</code>: Rosa Antes &rarr; Rosa Después</li>" in page
    assert '{"name"' not in page
