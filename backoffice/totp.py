"""Staff second factor: TOTP secrets, codes taken once, recovery codes kept as hashes.

Every write here is a Core statement on staff_user, not an ORM change: the audit listener
records ORM changes with their values, and a secret or a hash must never reach the audit
trail. Each function that changes a factor writes its own audit row instead, without values.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.models import StaffUser

ISSUER = "Back office"
RECOVERY_CODES = 10
# No 0/o, 1/l/i: a code read off paper is typed back without guessing.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_users = StaffUser.__table__


@dataclass(frozen=True)
class Factor:
    """A user's second factor as stored: the secret (also while enrolment is unconfirmed)."""

    secret: str | None
    enrolled_at: datetime | None
    last_counter: int | None
    recovery_hashes: tuple[str, ...]

    @property
    def enrolled(self) -> bool:
        return self.enrolled_at is not None


def required(*, roles: set[str] | frozenset[str], exempt: bool, required_roles: str) -> bool:
    """Tell whether a user with these roles must pass a second factor to log in."""
    wanted = {r.strip() for r in required_roles.split(",") if r.strip()}
    return not exempt and bool(wanted & set(roles))


def factor(session: Session, *, user_id: int) -> Factor:
    """Return the stored second factor of a user."""
    row = session.execute(
        sa.select(_users.c.totp_secret, _users.c.totp_enrolled_at, _users.c.totp_last_counter,
                  _users.c.totp_recovery_hashes).where(_users.c.id == user_id)
    ).one()
    return Factor(row.totp_secret, row.totp_enrolled_at, row.totp_last_counter,
                  tuple((row.totp_recovery_hashes or "").split()))


def pending_secret(session: Session, *, user_id: int) -> str:
    """Return the secret of an enrolment in progress, made on first call and kept on reload."""
    current = factor(session, user_id=user_id)
    if current.enrolled:
        raise ValueError("totp: already enrolled; disable the factor first")
    if current.secret:
        # Kept across reloads so a code scanned a moment ago still confirms.
        return current.secret
    secret = pyotp.random_base32()
    session.execute(sa.update(_users).where(_users.c.id == user_id)
                    .values(totp_secret=secret, totp_last_counter=None))
    return secret


def provisioning_uri(secret: str, *, email: str) -> str:
    """Return the otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """Return the QR code of uri as inline SVG: paths only, no script or style."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff"))


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_counter(secret: str, code: str, now: float) -> int | None:
    # One step either side: a phone clock a little off, a code typed as it turned.
    totp = pyotp.TOTP(secret)
    current = totp.timecode(int(now))
    for counter in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _take_counter(session: Session, *, user_id: int, counter: int) -> bool:
    # Compare-and-set: of two requests with the same code, only one moves the counter on.
    result = session.execute(
        sa.update(_users)
        .where(_users.c.id == user_id,
               sa.or_(_users.c.totp_last_counter.is_(None),
                      _users.c.totp_last_counter < counter))
        .values(totp_last_counter=counter)
    )
    return result.rowcount == 1


def _check_totp(session: Session, *, user_id: int, secret: str, code: str, now: float | None
                ) -> str:
    counter = _matching_counter(secret, code, time.time() if now is None else now)
    if counter is None:
        return "wrong"
    return "totp" if _take_counter(session, user_id=user_id, counter=counter) else "replayed"


def check_code(session: Session, *, user_id: int, code: str, now: float | None = None) -> str:
    """Take a TOTP or recovery code once; return "totp", "recovery", "replayed" or "wrong"."""
    stored = factor(session, user_id=user_id)
    code = _normal(code)
    if not stored.enrolled:
        return "wrong"
    if code.isdigit() and len(code) == 6:
        return _check_totp(session, user_id=user_id, secret=stored.secret, code=code, now=now)
    if _take_recovery(session, user_id=user_id, code=code, stored=stored):
        return "recovery"
    return "wrong"


def _hash(code: str) -> str:
    # Recovery codes carry 50 random bits each: a plain hash is enough, a slow one would make
    # each check cost a tenth of a second per stored code.
    return hashlib.sha256(_normal(code).encode()).hexdigest()


def _take_recovery(session: Session, *, user_id: int, code: str, stored: Factor) -> bool:
    digest = _hash(code)
    if not any(hmac.compare_digest(digest, h) for h in stored.recovery_hashes):
        return False
    left = " ".join(h for h in stored.recovery_hashes if h != digest)
    # Compare-and-set on the whole list: a code used twice at once is taken only once.
    result = session.execute(
        sa.update(_users)
        .where(_users.c.id == user_id,
               _users.c.totp_recovery_hashes == " ".join(stored.recovery_hashes))
        .values(totp_recovery_hashes=left)
    )
    return result.rowcount == 1


def recovery_codes_left(session: Session, *, user_id: int) -> int:
    """Return how many unused recovery codes a user has."""
    return len(factor(session, user_id=user_id).recovery_hashes)


def _new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def confirm_enrolment(
    session: Session, *, user_id: int, code: str, actor: audit.Actor, now: float | None = None
) -> list[str] | None:
    """Finish enrolment with a first code; return the recovery codes, or None if it is wrong."""
    stored = factor(session, user_id=user_id)
    code = _normal(code)
    if stored.enrolled or not stored.secret or not (code.isdigit() and len(code) == 6):
        return None
    if _check_totp(session, user_id=user_id, secret=stored.secret, code=code, now=now) != "totp":
        return None
    codes = _new_recovery_codes()
    session.execute(
        sa.update(_users).where(_users.c.id == user_id)
        .values(totp_enrolled_at=utcnow(),
                totp_recovery_hashes=" ".join(_hash(c) for c in codes))
    )
    audit.record(session, action="mfa_enrolled", entity="staff_user", entity_id=user_id,
                 note=f"{len(codes)} recovery codes issued", actor=actor)
    return codes


def disable(session: Session, *, user_id: int, actor: audit.Actor, note: str | None = None) -> None:
    """Remove a user's second factor (their own choice, or an admin's reset for a lost phone)."""
    session.execute(
        sa.update(_users).where(_users.c.id == user_id)
        .values(totp_secret=None, totp_enrolled_at=None, totp_last_counter=None,
                totp_recovery_hashes=None)
    )
    audit.record(session, action="mfa_disabled", entity="staff_user", entity_id=user_id,
                 note=note, actor=actor)


def set_exempt(session: Session, *, user_id: int, exempt: bool) -> None:
    """Exempt a user from a required second factor (the CLI and seeds only: not in the panel)."""
    user = session.get(StaffUser, user_id)
    user.mfa_exempt = exempt  # through the ORM on purpose: the audit row shows the change
    session.flush()
