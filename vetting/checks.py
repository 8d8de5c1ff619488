"""Identity, background and reference checks, and the adapter for a background-check provider."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.i18n import Refusal
from backoffice.models import StaffUser
from vetting.models import Application, Check, CheckKind, CheckStatus, Reference

MIN_REFERENCES = 2


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    external_ref: str | None = None
    notes: str | None = None


class BackgroundCheckProvider(Protocol):
    """What an external background-check service must offer to plug in here."""

    name: str

    def request(self, *, application: Application) -> str | None:
        """Ask the provider to start a check; return its reference, None if nothing to ask."""

    def fetch(self, *, external_ref: str) -> CheckResult | None:
        """Return the provider's result for a reference, None while it is still running."""


class ManualProvider:
    """Staff obtain the criminal record certificate themselves and type in the result."""

    name = "manual"

    def request(self, *, application: Application) -> str | None:
        return None

    def fetch(self, *, external_ref: str) -> CheckResult | None:
        return None


PROVIDERS: dict[str, BackgroundCheckProvider] = {"manual": ManualProvider()}


def ensure_checks(session: Session, *, application: Application,
                  provider: str = "manual") -> list[Check]:
    """Create the three pending checks of an application if missing; start the provider's."""
    have = {c.kind for c in application.checks}
    for kind in CheckKind:
        if kind not in have:
            check = Check(kind=kind, status=CheckStatus.PENDING,
                          provider=provider if kind == CheckKind.BACKGROUND else "manual")
            if kind == CheckKind.BACKGROUND:
                check.external_ref = PROVIDERS[provider].request(application=application)
            application.checks.append(check)
    session.flush()
    return application.checks


def get_check(application: Application, kind: CheckKind | str) -> Check | None:
    """Return the application's check of a kind."""
    return next((c for c in application.checks if c.kind == CheckKind(kind)), None)


def contacted_references(application: Application) -> list[Reference]:
    """Return the references somebody actually reached."""
    return [r for r in application.references if r.contacted_at is not None]


def record_check(session: Session, *, application: Application, kind: CheckKind | str,
                 status: CheckStatus | str, user: StaffUser | None, external_ref: str | None = None,
                 notes: str | None = None, now: datetime | None = None) -> Check:
    """Record the result of a check, with who recorded it and when."""
    kind, status = CheckKind(kind), CheckStatus(status)
    ensure_checks(session, application=application)
    check = get_check(application, kind)
    if status != CheckStatus.PENDING:
        if kind == CheckKind.REFERENCES and len(contacted_references(application)) < MIN_REFERENCES:
            raise Refusal("references: at least %(n)d references must be contacted and "
                          "recorded before the check has a result", n=MIN_REFERENCES)
        if kind == CheckKind.BACKGROUND and not (external_ref or check.external_ref):
            raise ValueError("external_ref: give the criminal record certificate number")
        if status == CheckStatus.CONSIDER and not notes:
            raise ValueError("notes: say what needs considering")
    old = check.status
    check.status = status
    check.external_ref = external_ref or check.external_ref
    check.notes = notes
    check.recorded_by_id = user.id if user else None
    check.recorded_by_label = user.email if user else audit.current_actor().label
    check.recorded_at = now or utcnow()
    session.flush()
    audit.record(session, action="check_recorded", entity="vetting_application",
                 entity_id=application.id, changes={kind.value: [old.value, status.value]},
                 note=notes)
    return check


def add_reference(session: Session, *, application: Application, name: str, contact: str,
                  relationship_to: str | None = None, contacted: bool = False,
                  outcome: str | None = None, notes: str | None = None,
                  user: StaffUser | None = None, now: datetime | None = None) -> Reference:
    """Record a reference, and whether it was contacted with what outcome."""
    if not (name or "").strip():
        raise ValueError("name: the reference needs a name")
    if not (contact or "").strip():
        raise ValueError("contact: give a phone or an email")
    if outcome not in (None, "", "positive", "negative"):
        raise ValueError("outcome: positive or negative")
    ref = Reference(name=name.strip(), contact=contact.strip(), relationship_to=relationship_to,
                    contacted_at=(now or utcnow()) if contacted else None, outcome=outcome or None,
                    notes=notes, recorded_by_label=user.email if user else
                    audit.current_actor().label)
    application.references.append(ref)
    session.flush()
    return ref
