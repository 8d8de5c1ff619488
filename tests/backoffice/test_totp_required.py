"""The second factor where a role requires it (MFA_REQUIRED_ROLES), and the pending login
step between password and code, which opens no session and expires."""

import time
from types import SimpleNamespace
from unittest import mock

import pyotp
import pytest
import sqlalchemy as sa

from backoffice import auth_2fa, totp
from backoffice.models import AuditEvent, StaffSession
from tests.backoffice.test_totp import (
    SECRET_RE,
    enrol,
    open_sessions,
    password_step,
    send_code,
    wrong_code,
)
from tests.conftest import csrf_from


@pytest.fixture()
def mfa_required(app):
    with mock.patch.dict(app.config, {"MFA_REQUIRED_ROLES": "admin,finance"}):
        yield


def test_an_admin_without_a_factor_enrols_before_reaching_the_panel(client, session, make_user,
                                                                     mfa_required):
    admin = make_user("admin")
    resp = password_step(client, admin)
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/account/two-factor")
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/staff_user/").status_code == 302
    assert open_sessions(session, admin) == 0
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Your role needs a second factor" in page and "<svg" in page
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    resp = send_code(client, wrong_code(secret), "/account/two-factor")
    assert resp.status_code == 401
    assert client.get("/admin/").status_code == 302
    resp = send_code(client, pyotp.TOTP(secret).now(), "/account/two-factor")
    assert resp.status_code == 200
    assert "Second factor set up" in resp.get_data(as_text=True)
    assert client.get("/admin/").status_code == 200
    assert open_sessions(session, admin) == 1


def test_finance_without_a_factor_cannot_skip_enrolment(client, make_user, mfa_required):
    user = make_user("finance")
    password_step(client, user)
    # The code step is not a way round enrolment.
    assert client.get("/login/code").headers["Location"].endswith("/account/two-factor")
    assert client.get("/admin/billing_invoice/").status_code == 302


def test_an_exempt_admin_logs_in_with_the_password(client, session, make_user, mfa_required):
    admin = make_user("admin")
    totp.set_exempt(session, user_id=admin.id, exempt=True)
    assert password_step(client, admin).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_optional_role_logs_in_without_a_factor(client, make_user, mfa_required):
    assert password_step(client, make_user("ops_agent")).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_session_older_than_the_rule_ends(client, session, logged_in, app):
    with mock.patch.dict(app.config, {"MFA_REQUIRED_ROLES": ""}):
        admin = logged_in("admin")
        assert client.get("/admin/").status_code == 200
    with mock.patch.dict(app.config, {"MFA_REQUIRED_ROLES": "admin"}):
        resp = client.get("/admin/")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
        assert open_sessions(session, admin) == 0
        page = client.get("/login").get_data(as_text=True)
        assert "Your role needs a second factor" in page


def test_the_pending_step_expires(client, session, make_user, app):
    user = make_user("admin")
    secret, _codes = enrol(session, user)
    password_step(client, user)
    token = csrf_from(client.get("/login/code").get_data(as_text=True))
    later = SimpleNamespace(time=lambda: time.time() + 5 * 60 + 1)
    with mock.patch.object(auth_2fa, "time", later):
        resp = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(),
                                                "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert "The login step expired" in client.get("/login").get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert open_sessions(session, user) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(StaffSession).where(
        StaffSession.user_id == user.id)) == 0


def test_the_pending_step_is_not_a_session_for_any_page(client, session, make_user):
    user = make_user("admin")
    _secret, _codes = enrol(session, user)
    password_step(client, user)
    for url in ("/admin/", "/admin/client/", "/admin/audit_event/"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    assert session.scalar(sa.select(sa.func.count()).where(
        AuditEvent.action == "login", AuditEvent.entity_id == str(user.id))) == 0
