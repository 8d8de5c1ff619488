"""The login pages, on the auth blueprint: the password, then the second factor or its
enrolment. The panel registers the blueprint from here, so these pages are always on it.

A correct password of a user who has (or must have) a second factor opens no session: the
cookie carries a signed mark, good for MFA_PENDING_MINUTES, naming the user and the step left
(a code, or enrolment). Only a passed step opens the StaffSession, so until then every panel
page sees an anonymous visitor.
"""

import hashlib
import logging
import time

import sqlalchemy as sa
from flask import (
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from backoffice import audit, totp
from backoffice import auth_throttle as throttle
from backoffice.auth import (
    LoginForm,
    bp,
    dummy_hash,
    locked_page,
    mfa_required,
    safe_next,
    start_session,
    verify_password,
)
from backoffice.db import db
from backoffice.models import StaffUser

log = logging.getLogger("backoffice.auth")
PENDING = "mfa_pending"


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


def _fingerprint(user: StaffUser) -> str:
    # A password changed meanwhile (or by an admin) ends the pending step.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def begin(user: StaffUser, *, enrol: bool, next_url: str) -> Response:
    """Hold a login at its second step (a code, or enrolment) and send the browser there."""
    minutes = int(current_app.config.get("MFA_PENDING_MINUTES", 5))
    session.clear()
    session[PENDING] = {"uid": user.id, "until": int(time.time()) + minutes * 60,
                        "enrol": enrol, "next": next_url, "pw": _fingerprint(user)}
    return redirect(url_for("auth.totp_enrol" if enrol else "auth.login_code"))


def _pending(s: Session) -> tuple[StaffUser, dict] | None:
    mark = session.get(PENDING)
    if not isinstance(mark, dict):
        return None
    user = s.get(StaffUser, mark.get("uid")) if mark.get("until", 0) > time.time() else None
    if user is None or not user.active or _fingerprint(user) != mark.get("pw"):
        session.pop(PENDING, None)
        return None
    return user, mark


def _back_to_login() -> Response:
    session.pop(PENDING, None)
    flash(_("The login step expired. Log in again."), "info")
    return redirect(url_for("auth.login"))


def _no_store(html: str, status: int = 200) -> Response:
    response = make_response(html, status)
    # Secrets and recovery codes: not kept by the browser or a proxy; nobody is logged in yet
    # on some of these pages, so the panel's own no-store does not apply.
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, status: int = 200, **context) -> Response:
    return _no_store(render_template(template, **context), status)


def _code_refused(s: Session, form: CodeForm, user: StaffUser, template: str, **context):
    """Return the 429 page when the address or the email's code step is locked, else None."""
    ip = request.remote_addr
    limits = throttle.Limits.from_config(current_app.config)
    reason = ("address" if throttle.address_locked(s, ip=ip, limits=limits) else
              "code" if throttle.code_locked(s, email=user.email, limits=limits) else None)
    if reason is None:
        return None
    throttle.record_refusal(s, email=user.email, ip=ip, reason=reason, step=throttle.CODE)
    s.commit()
    return _no_store(*locked_page(form, form.code, reason=reason, template=template, **context))


def _code_failed(s: Session, user: StaffUser, result: str, *, where: str, count: bool) -> str:
    """Audit a wrong or reused code (and count it against the login); return the message."""
    ip = request.remote_addr
    if count:
        throttle.record_failure(s, email=user.email, ip=ip, step=throttle.CODE)
    # Before the session opens the sender is not yet known to be the user.
    actor = (audit.Actor(user.id, user.email) if g.user is not None
             else audit.Actor(None, f"anonymous@{ip}"))
    what = "code already used" if result == "replayed" else "wrong code"
    audit.record(s, action="mfa_failed", entity="staff_user", entity_id=user.id,
                 note=f"{where}: {what}", actor=actor)
    s.commit()
    log.warning("second factor refused (%s) for %s from %s", result, user.email, ip)
    if result == "replayed":
        return _("That code was already used. Wait for the next one on your phone.")
    return _("Wrong code. Check the time on your phone and try again.")


def _recovery_used(s: Session, user: StaffUser, *, where: str) -> str:
    """Audit the use of a recovery code; return the message that says how many are left."""
    left = totp.recovery_codes_left(s, user_id=user.id)
    audit.record(s, action="mfa_recovery_used", entity="staff_user", entity_id=user.id,
                 note=f"{where}; {left} recovery codes left",
                 actor=audit.Actor(user.id, user.email))
    return _("Recovery code accepted; %(n)d left. Each works once.", n=left)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on valid credentials open a session or ask for the second factor."""
    form = LoginForm()
    if getattr(g, "session_expired", False):
        flash(_("Your session expired after a period of inactivity. Please log in again."), "info")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    s = db.session
    email = form.email.data.strip().lower()
    ip = request.remote_addr
    limits = throttle.Limits.from_config(current_app.config)
    if throttle.address_locked(s, ip=ip, limits=limits):
        throttle.record_refusal(s, email=email, ip=ip, reason="address")
        s.commit()
        return locked_page(form, form.password, reason="address")
    locked = throttle.email_locked(s, email=email, limits=limits)
    if locked and throttle.address_failures(s, ip=ip, limits=limits):
        # The lock holds for an address that has itself failed: checked before the password,
        # so a guessing address learns nothing from it.
        throttle.record_refusal(s, email=email, ip=ip, reason="email")
        s.commit()
        return locked_page(form, form.password, reason="email")
    user = s.scalar(sa.select(StaffUser).where(StaffUser.email == email))
    ok = verify_password(user.password_hash if user else dummy_hash(), form.password.data)
    if not ok or not user.active:
        if locked:
            throttle.record_refusal(s, email=email, ip=ip, reason="email")
            s.commit()
            return locked_page(form, form.password, reason="email")
        throttle.record_failure(s, email=email, ip=ip)
        s.commit()
        log.warning("failed login for %s from %s", email, ip)
        form.password.errors.append(_("Wrong email or password."))
        return render_template("auth/login.html", form=form), 401
    # The password is right: even a locked email passes here from a clean address, since that
    # is its owner rather than the stranger who locked it.
    next_url = safe_next(request.args.get("next"))
    if totp.factor(s, user_id=user.id).enrolled:
        return begin(user, enrol=False, next_url=next_url)
    if mfa_required(user.role_set, exempt=user.mfa_exempt):
        return begin(user, enrol=True, next_url=next_url)
    start_session(s, user=user, ip=ip, step=throttle.PASSWORD)
    return redirect(next_url)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """Ask an enrolled user for a TOTP or recovery code, and open the session when it is right."""
    s = db.session
    had_mark = PENDING in session
    pending = _pending(s)
    if pending is None:
        return _back_to_login() if had_mark else redirect(url_for("auth.login"))
    user, mark = pending
    if mark["enrol"]:
        return redirect(url_for("auth.totp_enrol"))
    form = CodeForm()
    if not form.validate_on_submit():
        return _page("auth/code.html", form=form)
    refused = _code_refused(s, form, user, "auth/code.html")
    if refused is not None:
        return refused
    result = totp.check_code(s, user_id=user.id, code=form.code.data)
    if result not in ("totp", "recovery"):
        form.code.errors.append(_code_failed(s, user, result, where="login", count=True))
        return _page("auth/code.html", 401, form=form)
    used = _recovery_used(s, user, where="login") if result == "recovery" else None
    start_session(s, user=user, ip=request.remote_addr, step=throttle.CODE)
    if used:
        flash(used, "warning")  # after the session starts, which clears the cookie
    return redirect(safe_next(mark["next"]))


def _enrolling_user(s: Session) -> tuple[StaffUser, dict | None] | Response:
    if g.user is not None:
        return s.get(StaffUser, g.user.id), None
    had_mark = PENDING in session
    pending = _pending(s)
    if pending is None:
        if had_mark or request.method == "POST":
            return _back_to_login()
        return redirect(url_for("auth.login", next=url_for("auth.totp_enrol")))
    return pending


@bp.route("/account/two-factor", methods=["GET", "POST"])
def totp_enrol():
    """Set up a TOTP second factor: QR code and secret, a first code, then recovery codes."""
    s = db.session
    found = _enrolling_user(s)
    if isinstance(found, Response):
        return found
    user, mark = found
    stored = totp.factor(s, user_id=user.id)
    if stored.enrolled:
        if mark is not None:
            return redirect(url_for("auth.login_code"))
        return _page("auth/totp_status.html", form=CodeForm(),
                     required=mfa_required(g.user.role_set, exempt=user.mfa_exempt),
                     left=len(stored.recovery_hashes))
    secret = totp.pending_secret(s, user_id=user.id)
    s.commit()
    context = {"secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
               "qr": totp.qr_svg(totp.provisioning_uri(secret, email=user.email)),
               "pending": mark is not None}
    form = CodeForm()
    if not form.validate_on_submit():
        return _page("auth/totp_enrol.html", form=form, **context)
    if mark is not None:
        refused = _code_refused(s, form, user, "auth/totp_enrol.html", **context)
        if refused is not None:
            return refused
    codes = totp.confirm_enrolment(s, user_id=user.id, code=form.code.data,
                                   actor=audit.Actor(user.id, user.email))
    if codes is None:
        form.code.errors.append(_code_failed(s, user, "wrong", where="enrolment",
                                             count=mark is not None))
        return _page("auth/totp_enrol.html", 401 if mark else 200, form=form, **context)
    if mark is not None:
        start_session(s, user=user, ip=request.remote_addr, step=throttle.CODE)
        next_url = safe_next(mark["next"])
    else:
        s.commit()
        next_url = url_for("admin.index")
    # Shown this once, in the answer to the confirming POST: only their hashes are kept.
    return _page("auth/recovery_codes.html", codes=codes, next_url=next_url)


@bp.route("/account/two-factor/disable", methods=["POST"])
def totp_disable():
    """Turn the second factor off, with a current code, where the user's role allows it."""
    if g.user is None:
        return redirect(url_for("auth.login"))
    s = db.session
    user = s.get(StaffUser, g.user.id)
    form = CodeForm()
    if mfa_required(g.user.role_set, exempt=user.mfa_exempt):
        flash(_("Your role needs a second factor: it cannot be turned off."), "error")
    elif form.validate_on_submit():
        refused = _code_refused(s, form, user, "auth/totp_status.html", required=False,
                                left=totp.recovery_codes_left(s, user_id=user.id))
        if refused is not None:
            return refused
        result = totp.check_code(s, user_id=user.id, code=form.code.data)
        if result not in ("totp", "recovery"):
            flash(_code_failed(s, user, result, where="turning off", count=True), "error")
            return redirect(url_for("auth.totp_enrol"))
        if result == "recovery":
            _recovery_used(s, user, where="turning off")  # the factor goes: no count to show
        totp.disable(s, user_id=user.id, actor=audit.Actor(user.id, user.email),
                     note="turned off by the user")
        s.commit()
        flash(_("Second factor turned off."), "success")
    return redirect(url_for("auth.totp_enrol"))
