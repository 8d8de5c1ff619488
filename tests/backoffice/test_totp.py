"""TOTP second factor: enrolment with a real authenticator's code, the code step at login,
wrong and replayed codes, recovery codes."""

import re
import time

import pyotp
import sqlalchemy as sa

from backoffice import audit, totp
from backoffice.models import AuditEvent, LoginAttempt, StaffSession
from tests.conftest import PASSWORD, csrf_from

SECRET_RE = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')
CODES_RE = re.compile(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>")


def password_step(client, user, password: str = PASSWORD):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": user.email, "password": password,
                                       "csrf_token": token})


def send_code(client, code: str, url: str = "/login/code"):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"code": code, "csrf_token": token})


def wrong_code(secret: str) -> str:
    """Return a code no nearby time step of secret accepts."""
    now, otp = time.time(), pyotp.TOTP(secret)
    near = {otp.at(now + step * 30) for step in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(10**6)) if c not in near)


def actions(session, user) -> list[str]:
    return session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.entity == "staff_user", AuditEvent.entity_id == str(user.id),
        AuditEvent.action.like("mfa%")).order_by(AuditEvent.id)).all()


def open_sessions(session, user) -> int:
    return session.scalar(sa.select(sa.func.count()).where(
        StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None)))


def enrol(session, user) -> tuple[str, list[str]]:
    """Give user a confirmed factor as an authenticator would; return secret and recovery codes."""
    secret = totp.pending_secret(session, user_id=user.id)
    # Confirmed with the previous step's code, so the current one is still unused.
    codes = totp.confirm_enrolment(session, user_id=user.id, actor=audit.SYSTEM,
                                   code=pyotp.TOTP(secret).at(time.time() - 30))
    session.flush()
    return secret, codes


def test_enrolment_with_a_real_authenticator_code(client, session, logged_in):
    user = logged_in("ops_agent")
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "<svg" in page and "<script" not in page
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    # A reload shows the same secret: a code scanned a moment ago still confirms.
    assert secret in client.get("/account/two-factor").get_data(as_text=True).replace(" ", "")
    resp = send_code(client, wrong_code(secret), "/account/two-factor")
    assert "Wrong code" in resp.get_data(as_text=True)
    assert not totp.factor(session, user_id=user.id).enrolled
    resp = send_code(client, pyotp.TOTP(secret).now(), "/account/two-factor")
    assert resp.status_code == 200
    codes = CODES_RE.findall(resp.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert resp.headers["Cache-Control"] == "no-store"
    stored = totp.factor(session, user_id=user.id)
    assert stored.enrolled and len(stored.recovery_hashes) == 10
    assert not any(code in " ".join(stored.recovery_hashes) for code in codes)
    assert actions(session, user) == ["mfa_failed", "mfa_enrolled"]
    # Neither the secret nor a recovery code reaches the audit trail.
    trail = " ".join(str(r) for r in session.execute(sa.select(AuditEvent.changes,
                                                                AuditEvent.note)).all())
    assert secret not in trail and not any(code in trail for code in codes)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Unused recovery codes: 10." in page and "totp-secret" not in page


def test_login_asks_for_the_code_and_opens_no_session_before_it(client, session, make_user):
    user = make_user("ops_agent")
    secret, _codes = enrol(session, user)
    resp = password_step(client, user)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/code")
    assert client.get("/admin/").status_code == 302
    assert open_sessions(session, user) == 0
    resp = send_code(client, pyotp.TOTP(secret).now())
    assert resp.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert open_sessions(session, user) == 1


def test_a_wrong_code_is_refused_and_counted(client, session, make_user, app):
    user = make_user("ops_agent")
    secret, _codes = enrol(session, user)
    password_step(client, user)
    resp = send_code(client, wrong_code(secret))
    assert resp.status_code == 401
    assert "Wrong code" in resp.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert session.execute(sa.select(LoginAttempt.step, LoginAttempt.success).where(
        LoginAttempt.email == user.email)).all() == [("code", False)]
    assert actions(session, user) == ["mfa_enrolled", "mfa_failed"]
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert send_code(client, wrong_code(secret)).status_code == 401
    # Locked like a password: the right code now waits too.
    resp = send_code(client, pyotp.TOTP(secret).now())
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)
    assert open_sessions(session, user) == 0


def test_a_code_is_taken_once(client, session, make_user, app):
    user = make_user("ops_agent")
    secret, _codes = enrol(session, user)
    code = pyotp.TOTP(secret).now()
    password_step(client, user)
    assert send_code(client, code).status_code == 302
    other = app.test_client()
    password_step(other, user)
    resp = send_code(other, code)
    assert resp.status_code == 401
    assert "already used" in resp.get_data(as_text=True)
    assert other.get("/admin/").status_code == 302
    assert actions(session, user)[-1] == "mfa_failed"


def test_a_recovery_code_works_once(client, session, make_user, app):
    user = make_user("ops_agent")
    _secret, codes = enrol(session, user)
    password_step(client, user)
    resp = send_code(client, codes[3].upper().replace("-", " "))  # as read off paper
    assert resp.status_code == 302
    assert "Recovery code accepted; 9 left." in client.get("/admin/").get_data(as_text=True)
    assert actions(session, user)[-1] == "mfa_recovery_used"
    assert totp.recovery_codes_left(session, user_id=user.id) == 9
    other = app.test_client()
    password_step(other, user)
    assert send_code(other, codes[3]).status_code == 401
    assert other.get("/admin/").status_code == 302


def test_turning_the_factor_off_needs_a_code_and_is_audited(client, session, make_user):
    user = make_user("ops_agent")
    secret, _codes = enrol(session, user)
    password_step(client, user)
    send_code(client, pyotp.TOTP(secret).now())
    page = client.get("/account/two-factor").get_data(as_text=True)
    client.post("/account/two-factor/disable",
                data={"code": wrong_code(secret), "csrf_token": csrf_from(page)})
    assert totp.factor(session, user_id=user.id).enrolled
    client.post("/account/two-factor/disable",
                data={"code": pyotp.TOTP(secret).at(time.time() + 30),
                      "csrf_token": csrf_from(page)})
    assert not totp.factor(session, user_id=user.id).secret
    assert actions(session, user)[-2:] == ["mfa_failed", "mfa_disabled"]
    assert "<svg" in client.get("/account/two-factor").get_data(as_text=True)
