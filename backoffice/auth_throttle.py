"""How many failed logins an email and an address may have before they wait.

Three counts over the last LOGIN_LOCK_MINUTES:
- an email's failures since its last successful login lock that email, except for a correct
  password from an address with no failures of its own: a stranger guessing cannot keep a
  colleague out, and the guessing address stays locked;
- an address's failures across every email lock the address, so one address spraying
  passwords over many emails is slowed (a success does not reset this count: one valid
  account would otherwise wipe the spraying);
- an email's wrong second-factor codes lock its code step whatever the address, since whoever
  sent them already knew the password.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.models import LoginAttempt

log = logging.getLogger("backoffice.auth")
PASSWORD, CODE = "password", "code"


@dataclass(frozen=True)
class Limits:
    per_email: int
    per_address: int
    minutes: int

    @classmethod
    def from_config(cls, config: Mapping) -> "Limits":
        """Read the limits from an app's config."""
        return cls(per_email=config["LOGIN_MAX_FAILURES"],
                   per_address=int(config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
                   minutes=config["LOGIN_LOCK_MINUTES"])

    def since(self) -> datetime:
        return utcnow() - timedelta(minutes=self.minutes)


def _since_last_success(s: Session, email: str, since: datetime) -> datetime:
    last_success = s.scalar(
        sa.select(sa.func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, LoginAttempt.success.is_(True)
        )
    )
    return last_success if last_success and last_success > since else since


def email_failures(s: Session, *, email: str, limits: Limits, step: str | None = None) -> int:
    """Count an email's failures since its last success in the window (of one step, if given)."""
    since = _since_last_success(s, email, limits.since())
    query = sa.select(sa.func.count()).where(
        LoginAttempt.email == email, LoginAttempt.success.is_(False), LoginAttempt.at > since)
    if step is not None:
        query = query.where(LoginAttempt.step == step)
    return s.scalar(query)


def address_failures(s: Session, *, ip: str | None, limits: Limits) -> int:
    """Count an address's failures in the window, over every email."""
    if ip is None:
        return 0
    return s.scalar(sa.select(sa.func.count()).where(
        LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at > limits.since()))


def address_locked(s: Session, *, ip: str | None, limits: Limits) -> bool:
    """Tell whether an address has failed too often to try again yet."""
    return address_failures(s, ip=ip, limits=limits) >= limits.per_address


def email_locked(s: Session, *, email: str, limits: Limits) -> bool:
    """Tell whether an email has failed too often to log in without a clean address."""
    return email_failures(s, email=email, limits=limits) >= limits.per_email


def code_locked(s: Session, *, email: str, limits: Limits) -> bool:
    """Tell whether an email has sent too many wrong codes to try another yet."""
    return email_failures(s, email=email, limits=limits, step=CODE) >= limits.per_email


def record_failure(s: Session, *, email: str, ip: str | None, step: str = PASSWORD) -> None:
    """Count one failed attempt against the email and the address."""
    s.add(LoginAttempt(email=email, ip=ip, success=False, step=step))
    s.flush()


def record_refusal(
    s: Session, *, email: str, ip: str | None, reason: str, step: str = PASSWORD
) -> None:
    """Count and audit an attempt refused by a lock; reason names it (email, address, code)."""
    record_failure(s, email=email, ip=ip, step=step)
    audit.record(s, action="login_locked", entity="staff_user", entity_id=None,
                 note=f"{email} ({reason} locked)", actor=audit.Actor(None, f"anonymous@{ip}"))
    log.warning("login refused: %s locked, for %s from %s", reason, email, ip)
