"""One dunning pass: claim what is owed in the database, charge Stripe concurrently, record it.

A pass commits in three phases per batch so that a crash or a lost Stripe answer never charges
twice: (1) claim the invoices (row locks) and write the step and the attempt with its
idempotency key; commit. (2) call Stripe from a bounded thread pool, no database work.
(3) record each answer; commit. An attempt whose answer was lost stays pending and the next pass
looks it up at Stripe before charging again with the same key.
"""

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from backoffice.db import utcnow
from billing import actions, policy, service
from billing.gateway import ERROR, FAILED, SUCCEEDED, ChargeResult, Gateway
from billing.models import (
    CHASEABLE,
    AttemptStatus,
    DunningStep,
    Invoice,
    Payment,
    PaymentAttempt,
    SavedCard,
    StepRun,
)

PASS_LOCK_KEY = 0x0B111_D0E  # pg advisory lock id of the dunning pass
STALE_CLAIM = timedelta(minutes=10)  # a pass that claimed and died longer ago than this


@dataclass
class PassResult:
    steps: int = 0
    charges: int = 0
    paid: int = 0
    failed: int = 0
    errors: int = 0
    skipped_locked: bool = False
    resumed: int = 0
    per_invoice_s: list[float] = field(default_factory=list)
    queued_s: list[float] = field(default_factory=list)
    stripe_s: float = 0.0  # summed over calls (they overlap)
    stripe_wait_s: float = 0.0  # wall time the pass spent waiting for Stripe's answers
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k not in ("per_invoice_s", "queued_s")}


@dataclass
class _Charge:
    invoice_id: int
    attempt_id: int
    day: int
    key: str
    amount_cents: int
    currency: str
    customer: str
    payment_method: str
    look_up_first: bool
    run_id: int | None = None
    tries: int = 0
    find_only: bool = False  # the amount due changed since: never re-send the old amount


def load_policy(session: Session) -> tuple[policy.Step, ...]:
    """Return finance's active dunning steps (the default policy if none were set up)."""
    rows = session.scalars(sa.select(DunningStep).where(DunningStep.active.is_(True))
                           .order_by(DunningStep.day)).all()
    if not rows:
        return policy.DEFAULT_POLICY
    return tuple(policy.Step(r.day, r.retry, r.mail_template, r.call_task, r.hold_bookings,
                             r.close_uncollectible) for r in rows)


@contextlib.contextmanager
def pass_lock(session: Session):
    """Hold PostgreSQL's advisory lock for the pass on its own connection; yield False if taken."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        yield True  # SQLite: BEGIN IMMEDIATE serialises the claims
        return
    engine = getattr(bind, "engine", bind)
    # A pooled connection of its own: the pass commits many times and the session's
    # connection may change between transactions, but the lock must stay held.
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT pg_try_advisory_lock(%s)", (PASS_LOCK_KEY,))
        got = bool(cur.fetchone()[0])
        raw.commit()
        try:
            yield got
        finally:
            if got:
                cur.execute("SELECT pg_advisory_unlock(%s)", (PASS_LOCK_KEY,))
                raw.commit()
    finally:
        raw.close()


def run_pass(*, session: Session, now: datetime, gateway: Gateway,
             commit: Callable[[], None] | None = None, batch: int = 200,
             workers: int = 16) -> PassResult:
    """Take every dunning step owed at now, each exactly once, and commit as it goes."""
    commit = commit or session.commit
    result = PassResult()
    started = time.perf_counter()
    with pass_lock(session) as got:
        if not got:
            result.skipped_locked = True
            return result
        today = now.date()
        result.resumed = service.resume_expired_pauses(session, today=today)
        commit()
        steps = load_policy(session)
        call = partial(_call, gateway)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stripe") as pool:
            # A pipeline: while Stripe answers one batch, the next is claimed and written.
            last_id, inflight = 0, None
            while True:
                invoices = _claim(session, today=today, after_id=last_id, limit=batch)
                ahead = None
                if invoices:
                    last_id = invoices[-1].id
                    t0 = time.perf_counter()
                    charges = _prepare(session, invoices, steps=steps, now=now, result=result)
                    commit()
                    share = (time.perf_counter() - t0) / max(len(charges), 1)
                    ahead = (charges, [pool.submit(call, c) for c in charges], share)
                if inflight is not None:
                    _record(session, *inflight, now=now, steps=steps, result=result)
                    commit()
                inflight = ahead
                if not invoices:
                    break
    result.wall_s = time.perf_counter() - started
    return result


def _claim(session: Session, *, today: date, after_id: int, limit: int) -> list[Invoice]:
    query = (
        sa.select(Invoice)
        .where(Invoice.status.in_(CHASEABLE), Invoice.due_on <= today, Invoice.id > after_id)
        .order_by(Invoice.id)
        .limit(limit)
        .options(selectinload(Invoice.client))
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Invoice)
    return list(session.scalars(query))


def _prepare(session: Session, invoices: list[Invoice], *, steps, now: datetime,
             result: PassResult) -> list[_Charge]:
    ids = [inv.id for inv in invoices]
    runs: dict[int, dict[int, StepRun]] = {}
    for run in session.scalars(sa.select(StepRun).where(StepRun.invoice_id.in_(ids))):
        runs.setdefault(run.invoice_id, {})[run.day] = run
    pending = {a.invoice_id: a for a in session.scalars(
        sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id.in_(ids),
                                        PaymentAttempt.status == AttemptStatus.PENDING))}
    cards = dict(session.execute(
        sa.select(SavedCard.client_id, SavedCard.payment_method_id)
        .where(SavedCard.client_id.in_({inv.client_id for inv in invoices}))).all())
    charges: list[_Charge] = []
    fresh: list[tuple[Invoice, PaymentAttempt]] = []
    stale_before = utcnow() - STALE_CLAIM
    for inv in invoices:
        if inv.due_cents == 0:
            continue
        inv_runs = runs.get(inv.id, {})
        unfinished = [r for r in inv_runs.values() if r.state in ("charging", "retry")]
        if unfinished:
            run = unfinished[0]
            attempt = pending.get(inv.id)
            if run.state == "charging" and run.claimed_at > stale_before:
                continue  # another pass is charging it right now
            if attempt is None:
                run.state = "done"
                continue
            run.state, run.claimed_at = "charging", utcnow()
            charge = _charge_for(inv, attempt, cards, look_up_first=True, run=run)
            charge.find_only = attempt.amount_cents != inv.due_cents
            charges.append(charge)
            continue
        due = policy.due_step(steps, due_on=inv.due_on, today=now.date(),
                              done_days=set(inv_runs))
        if due is None:
            continue
        result.steps += 1
        for day in due.skipped:
            session.add(StepRun(invoice_id=inv.id, day=day, state="skipped", done_at=utcnow()))
            service.log(session, inv, "step_skipped", day=day, at=now,
                        detail="missed while dunning was not running")
        step = due.step
        customer = inv.client.stripe_customer_id
        can_charge = step.retry and not inv.hard_declined and customer and inv.client_id in cards
        if not can_charge:
            session.add(StepRun(invoice_id=inv.id, day=step.day, state="done", done_at=utcnow()))
            reason = None
            if step.retry:
                reason = ("hard decline: no retry" if inv.hard_declined
                          else "no saved card at Stripe")
            actions.complete_step(session, inv, step, now=now, charge=None, note=reason)
            continue
        key = f"inv{inv.id}-day{step.day}"
        attempt = PaymentAttempt(invoice_id=inv.id, day=step.day, idempotency_key=key,
                                 amount_cents=inv.due_cents)
        session.add(attempt)
        run = StepRun(invoice_id=inv.id, day=step.day, state="charging")
        session.add(run)
        fresh.append((inv, attempt, run))
    session.flush()  # once per batch: the attempts get their ids
    charges.extend(_charge_for(inv, a, cards, look_up_first=False, run=r) for inv, a, r in fresh)
    return charges


def _charge_for(inv: Invoice, attempt: PaymentAttempt, cards: dict, *, look_up_first: bool,
                run: StepRun) -> _Charge:
    return _Charge(inv.id, attempt.id, attempt.day, attempt.idempotency_key,
                   attempt.amount_cents, inv.currency, inv.client.stripe_customer_id or "",
                   cards.get(inv.client_id, ""), look_up_first, run.id, attempt.tries)


def _call(gateway: Gateway, c: _Charge) -> ChargeResult:
    if c.find_only:
        found = gateway.find(key=c.key, customer=c.customer)
        return found or ChargeResult(FAILED, decline_code="not_charged",
                                     message="amount due changed; the next step charges it")
    return gateway.charge(key=c.key, amount_cents=c.amount_cents, currency=c.currency,
                          customer=c.customer, payment_method=c.payment_method,
                          invoice_id=c.invoice_id, look_up_first=c.look_up_first)


def _record(session: Session, charges: list[_Charge], futures: list, share: float, *, now,
            steps, result: PassResult) -> None:
    if not charges:
        return
    waited = time.perf_counter()
    outcomes = [f.result() for f in futures]
    result.stripe_wait_s += time.perf_counter() - waited
    by_day = {s.day: s for s in steps}
    query = (sa.select(Invoice).where(Invoice.id.in_([c.invoice_id for c in charges]))
             .options(selectinload(Invoice.client))
             .execution_options(populate_existing=True))  # what a webhook changed meanwhile
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Invoice)  # a webhook for the same invoice waits
    invoices = {inv.id: inv for inv in session.scalars(query)}
    # Attempts and step runs change in two executemany UPDATEs, not one ORM update each.
    attempts: list[dict] = []
    runs: list[dict] = []
    paid_refs = [o.payment_intent_id for o in outcomes
                 if o.status == SUCCEEDED and o.payment_intent_id]
    seen = set(session.scalars(sa.select(Payment.reference).where(
        Payment.reference.in_(paid_refs)))) if paid_refs else set()
    later: list = []
    with session.no_autoflush:
        for c, outcome in zip(charges, outcomes, strict=True):
            _record_one(session, c, outcome, invoices, attempts, runs, by_day, now=now,
                        result=result, share=share, later=later, seen=seen)
    session.execute(sa.update(PaymentAttempt), attempts)
    session.execute(sa.update(StepRun), runs)
    for model, rows in ((PaymentAttempt, attempts), (StepRun, runs)):
        for row in rows:  # copies in the session would otherwise show the old state
            obj = session.identity_map.get(identity_key(model, row["id"]))
            if obj is not None:
                session.expire(obj)
    session.flush()
    with service.log_in_one_insert(session):
        for mail_it in later:
            mail_it()


def _record_one(session, c: _Charge, outcome: ChargeResult, invoices, attempts, runs, by_day, *,
                now, result: PassResult, share: float, later: list, seen: set) -> None:
    """Record one charge's answer and finish its step."""
    t0 = time.perf_counter()
    result.charges += 1
    result.stripe_s += outcome.stripe_seconds
    inv = invoices[c.invoice_id]
    done = outcome.status != ERROR
    attempts.append({
        "id": c.attempt_id, "tries": c.tries + 1,
        "status": (AttemptStatus.PENDING if not done else AttemptStatus.SUCCEEDED
                   if outcome.status == SUCCEEDED else AttemptStatus.FAILED),
        "payment_intent_id": outcome.payment_intent_id, "decline_code": outcome.decline_code,
        "error": outcome.message, "finished_at": utcnow() if done else None,
    })
    # An answer lost on the way: the next pass looks the charge up, then retries it.
    runs.append({"id": c.run_id, "state": "done" if done else "retry",
                 "done_at": utcnow() if done else None})
    if not done:
        result.errors += 1
        service.log(session, inv, "attempt_error", day=c.day, amount_cents=c.amount_cents,
                    at=now, detail=f"{outcome.message}; retried on the next pass")
    else:
        result.paid += outcome.status == SUCCEEDED
        result.failed += outcome.status != SUCCEEDED
        step = by_day.get(c.day) or policy.Step(c.day, retry=True)
        actions.complete_step(session, inv, step, now=now, charge=outcome,
                              amount_cents=c.amount_cents, later=later, seen_references=seen)
    # Latency of one invoice: Stripe's answer and our work, not the queue for a rate-limit slot.
    result.per_invoice_s.append(outcome.stripe_seconds - outcome.queued_seconds + share
                                + time.perf_counter() - t0)
    result.queued_s.append(outcome.queued_seconds)
