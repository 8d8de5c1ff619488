"""Staff login with server-side sessions, roles, idle timeout and rate-limited failures.

The login pages (password, then the second factor) are in auth_2fa, on this module's blueprint;
the factor's rules in totp, the failure limits in auth_throttle."""

import functools
import hashlib
import secrets
from datetime import timedelta
from functools import wraps

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import EmailField, Field, PasswordField
from wtforms.validators import DataRequired

from backoffice import audit, totp
from backoffice.db import db, utcnow
from backoffice.models import ROLES, LoginAttempt, StaffSession, StaffUser
from backoffice.redirects import safe_referrer, safe_target

bp = Blueprint("auth", __name__)
_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """Return a hash to verify against when the email is unknown, so timing does not reveal
    which emails exist; made on first use, not at import (it costs a fifth of a second)."""
    return _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    """Return an argon2id hash of password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether password matches password_hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session, *, email: str, name: str, password: str, roles: list[str], locale="es",
    mfa_exempt: bool = False,
) -> StaffUser:
    """Create a staff user with the given roles; mfa_exempt is for the CLI and seeds only."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(
            f"roles: unknown role {sorted(unknown)[0]!r}; choose from {', '.join(ROLES)}"
        )
    if len(password) < 10:
        raise ValueError("password: must be at least 10 characters")
    user = StaffUser(
        email=email.strip().lower(),
        name=name,
        password_hash=hash_password(password),
        roles=",".join(r for r in ROLES if r in roles),
        locale=locale,
        mfa_exempt=mfa_exempt,
    )
    session.add(user)
    session.flush()
    return user


def revoke_sessions(session: Session, *, user_id: int) -> int:
    """End every open session of a user (on disable, password change)."""
    result = session.execute(
        sa.update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CurrentUser:
    """The logged-in staff user as g.user: the columns pages read, without an ORM instance.

    Built from one plain row before every page; code that changes the user loads the StaffUser
    row by id."""

    __slots__ = ("id", "email", "name", "roles", "locale", "role_set")

    def __init__(self, id: int, email: str, name: str, roles: str, locale: str):
        self.id, self.email, self.name, self.roles, self.locale = id, email, name, roles, locale
        self.role_set = frozenset(r for r in roles.split(",") if r)

    def has_role(self, *roles: str) -> bool:
        return not self.role_set.isdisjoint(roles)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<CurrentUser {self.id} {self.email}>"


# One round trip for the session and its user, as plain columns: this runs before every page,
# so the statement is built once and no ORM instances are made.
_session_t, _user_t = StaffSession.__table__, StaffUser.__table__
_SESSION_AND_USER = (
    sa.select(_session_t.c.id, _session_t.c.last_seen_at, _session_t.c.revoked_at,
              _user_t.c.id.label("user_id"), _user_t.c.email, _user_t.c.name, _user_t.c.roles,
              _user_t.c.locale, _user_t.c.active, _user_t.c.mfa_exempt,
              _user_t.c.totp_enrolled_at)
    .select_from(_session_t.outerjoin(_user_t, _user_t.c.id == _session_t.c.user_id))
    .where(_session_t.c.token_hash == sa.bindparam("token_hash"))
)
_TOUCH_SESSION = (
    sa.update(_session_t).where(_session_t.c.id == sa.bindparam("session_id"))
    .values(last_seen_at=sa.bindparam("now"))
)
_REVOKE_SESSION = (
    sa.update(_session_t).where(_session_t.c.id == sa.bindparam("session_id"))
    .values(revoked_at=sa.bindparam("now"))
)


def load_user() -> None:
    """Resolve g.user from the session cookie; an idle, revoked or disabled session is ended."""
    g.user = None
    audit.set_actor(audit.SYSTEM)
    token = session.get("sid")
    if not token:
        return
    s = db.session
    row = s.execute(_SESSION_AND_USER, {"token_hash": _token_hash(token)}).first()
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if row is None or row.revoked_at is not None:
        session.clear()
        return
    if row.user_id is None or not row.active or now - row.last_seen_at > idle:
        s.execute(_REVOKE_SESSION, {"session_id": row.id, "now": now})
        s.commit()
        session.clear()
        if row.user_id is not None and row.active:
            g.session_expired = True
        return
    user = CurrentUser(row.user_id, row.email, row.name, row.roles, row.locale)
    if row.totp_enrolled_at is None and mfa_required(user.role_set, exempt=row.mfa_exempt):
        # A session opened before the user's role needed a second factor, or before their
        # factor was reset: it ends, and the next login leads through enrolment.
        s.execute(_REVOKE_SESSION, {"session_id": row.id, "now": now})
        s.commit()
        session.clear()
        flash(_("Your role needs a second factor. Log in to set it up."), "info")
        return
    if now - row.last_seen_at > timedelta(seconds=60):
        s.execute(_TOUCH_SESSION, {"session_id": row.id, "now": now})
        s.commit()
    g.user = user
    audit.set_actor(audit.Actor(row.user_id, row.email))


def mfa_required(roles: set[str] | frozenset[str], *, exempt: bool) -> bool:
    """Tell whether a user with these roles must pass a second factor in this app."""
    return totp.required(roles=roles, exempt=exempt,
                         required_roles=current_app.config.get("MFA_REQUIRED_ROLES",
                                                               "admin,finance"))


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def safe_next(target: str | None) -> str:
    """Return target if it is a path on this site, else the panel's home."""
    return safe_target(target) or url_for("admin.index")


def start_session(s: Session, *, user: StaffUser, ip: str | None, step: str) -> None:
    """Log user in: record the success, open a server-side session and set its cookie."""
    token = secrets.token_urlsafe(32)
    s.add(LoginAttempt(email=user.email, ip=ip, success=True, step=step))
    s.add(StaffSession(token_hash=_token_hash(token), user_id=user.id, ip=ip,
                       user_agent=(request.user_agent.string or "")[:255]))
    actor = audit.Actor(user.id, user.email)
    with audit.acting_as(actor):  # the last login written is the user's own change
        user.last_login_at = utcnow()
        audit.record(s, action="login", entity="staff_user", entity_id=user.id, actor=actor)
        s.commit()
    session.clear()  # whatever the browser held before (a pending second step) ends here
    session["sid"] = token
    session.permanent = True


def locked_page(form: FlaskForm, field: Field, *, reason: str,
                template: str = "auth/login.html", **context) -> tuple[str, int]:
    """Render the 429 page of a refused attempt, in the reader's language."""
    minutes = current_app.config["LOGIN_LOCK_MINUTES"]
    if reason == "address":
        message = _("Too many failed attempts from your network. Try again in %(minutes)d "
                    "minutes.", minutes=minutes)
    else:
        message = _("Too many failed attempts. Try again in %(minutes)d minutes.",
                    minutes=minutes)
    field.errors.append(message)
    return render_template(template, form=form, **context), 429


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session server-side, so replaying the old cookie does not log back in."""
    token = session.get("sid")
    if token:
        s = db.session
        s.execute(
            sa.update(StaffSession)
            .where(StaffSession.token_hash == _token_hash(token))
            .values(revoked_at=utcnow())
        )
        s.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/locale/<code>", methods=["POST"])
def set_locale(code: str):
    """Switch the interface language of the logged-in user."""
    if g.user is None:
        return redirect(url_for("auth.login"))
    if code not in ("es", "en"):
        abort(400)
    db.session.get(StaffUser, g.user.id).locale = code
    db.session.commit()
    return redirect(safe_referrer() or url_for("admin.index"))


def roles_required(*roles: str):
    """Refuse anonymous visitors (redirect to login) and other roles (403); admin passes."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if not g.user.has_role("admin", *roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
