"""Login, logout, disabling, idle timeout and failed-login limits (by email and by address)."""

from datetime import timedelta
from unittest import mock

import sqlalchemy as sa

from backoffice.auth import revoke_sessions
from backoffice.models import AuditEvent, LoginAttempt, StaffSession
from tests.conftest import PASSWORD, csrf_from


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
    assert "<li>Name: Rosa Antes &rarr; Rosa Después</li>" in page
    assert '{"name"' not in page


# --- throttling by address: spraying is slowed, a stranger cannot keep a colleague out

SPRAYER, COLLEAGUE = "203.0.113.9", "198.51.100.7"


def _login_from(client, ip: str, email: str, password: str):
    env = {"REMOTE_ADDR": ip}
    token = csrf_from(client.get("/login", environ_base=env).get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token}, environ_base=env)


def test_one_address_spraying_many_emails_is_slowed(client, session, make_user, app):
    user = make_user("ops_agent")
    with mock.patch.dict(app.config, {"LOGIN_MAX_FAILURES_PER_ADDRESS": 8}):
        # Eight emails, one guess each: no email reaches its own limit of five.
        for n in range(8):
            resp = _login_from(client, SPRAYER, f"person{n}@staff.example.com", "Summer2026!")
            assert resp.status_code == 401
        resp = _login_from(client, SPRAYER, "person9@staff.example.com", "Summer2026!")
        assert resp.status_code == 429
        assert "Too many failed attempts from your network" in resp.get_data(as_text=True)
        # Even a right password waits at that address; another address is not held up.
        assert _login_from(client, SPRAYER, user.email, PASSWORD).status_code == 429
        assert client.get("/admin/").status_code == 302
        assert _login_from(app.test_client(), COLLEAGUE, user.email, PASSWORD).status_code == 302
    notes = session.scalars(sa.select(AuditEvent.note).where(
        AuditEvent.action == "login_locked")).all()
    assert notes == ["person9@staff.example.com (address locked)",
                     f"{user.email} (address locked)"]
    assert session.scalar(sa.select(sa.func.count()).where(
        LoginAttempt.ip == SPRAYER, LoginAttempt.success.is_(False))) == 10


def test_a_locked_colleague_logs_in_from_an_address_without_failures(client, session, make_user,
                                                                     app):
    victim = make_user("ops_agent")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login_from(client, SPRAYER, victim.email, "guess-guess-1").status_code == 401
    assert _login_from(client, SPRAYER, victim.email, "guess-guess-2").status_code == 429
    own = app.test_client()
    resp = _login_from(own, COLLEAGUE, victim.email, PASSWORD)
    assert resp.status_code == 302
    assert own.get("/admin/").status_code == 200


def test_the_lock_holds_for_the_address_that_failed(client, session, make_user, app):
    victim = make_user("ops_agent")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login_from(client, SPRAYER, victim.email, "guess-guess-1")
    resp = _login_from(client, SPRAYER, victim.email, PASSWORD)
    assert resp.status_code == 429
    assert "Too many failed attempts. Try again" in resp.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    # A clean address that guesses wrong while the email is locked is held too, from then on.
    other = app.test_client()
    assert _login_from(other, COLLEAGUE, victim.email, "guess-guess-3").status_code == 429
    assert _login_from(other, COLLEAGUE, victim.email, PASSWORD).status_code == 429
    # Only the addresses that failed: the owner, elsewhere, is not held.
    assert _login_from(app.test_client(), "192.0.2.44", victim.email, PASSWORD).status_code == 302
