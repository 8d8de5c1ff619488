"""What dunning owes an invoice at a given day: pure functions over plain data."""

from dataclasses import dataclass
from datetime import date

# Decline codes after which retrying the same card is pointless or harmful (card networks
# penalise retries on these); the client is asked for a new card instead.
HARD_DECLINES = frozenset({
    "lost_card", "stolen_card", "fraudulent", "pickup_card", "restricted_card",
    "security_violation", "revocation_of_authorization", "revocation_of_all_authorizations",
    "invalid_account", "card_not_supported", "do_not_honor_permanently",
})
AGING_BUCKETS = (("current", None, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90),
                 ("over_90", 91, None))


@dataclass(frozen=True)
class Step:
    day: int
    retry: bool = False
    mail_template: str | None = None
    call_task: bool = False
    hold_bookings: bool = False
    close_uncollectible: bool = False


@dataclass(frozen=True)
class Due:
    """The step to take now, and earlier steps missed that are recorded as skipped."""

    step: Step
    skipped: tuple[int, ...] = ()


DEFAULT_POLICY = (
    Step(0, retry=True, mail_template="payment_failed"),
    Step(3, retry=True, mail_template="reminder"),
    Step(7, retry=True, mail_template="reminder"),
    Step(14, call_task=True),
    Step(21, mail_template="final_notice"),
    Step(30, hold_bookings=True, close_uncollectible=True, mail_template="account_held"),
)


def days_overdue(due_on: date, today: date) -> int:
    """Return how many days past its due date an invoice is (negative before it)."""
    return (today - due_on).days


def due_step(steps: tuple[Step, ...] | list[Step], *, due_on: date, today: date,
             done_days: set[int] | frozenset[int]) -> Due | None:
    """Return the step to take today, or None.

    A scheduler that was down catches up with only the latest step owed: the client gets one
    retry and one mail, not a burst of everything missed; the missed steps are recorded skipped.
    """
    overdue = days_overdue(due_on, today)
    owed = sorted((s for s in steps if s.day <= overdue and s.day not in done_days),
                  key=lambda s: s.day)
    if not owed:
        return None
    latest = owed[-1]
    # A step after the last one done only: never go back to an earlier step.
    last_done = max(done_days, default=-1)
    if latest.day <= last_done:
        return None
    skipped = tuple(s.day for s in owed[:-1] if s.day > last_done)
    return Due(step=latest, skipped=skipped)


def is_hard_decline(decline_code: str | None) -> bool:
    """Tell whether a decline code means the card must not be retried."""
    return decline_code in HARD_DECLINES


def aging_bucket(due_on: date, as_of: date) -> str:
    """Return the aging bucket of an unpaid invoice."""
    overdue = days_overdue(due_on, as_of)
    for name, low, high in AGING_BUCKETS:
        if (low is None or overdue >= low) and (high is None or overdue <= high):
            return name
    return "current"


def split_vat(subtotal_cents: int, rate_bp: int) -> tuple[int, int]:
    """Return (vat, total) for a subtotal at rate_bp basis points, VAT rounded half up."""
    vat = (subtotal_cents * rate_bp + 5000) // 10000
    return vat, subtotal_cents + vat
