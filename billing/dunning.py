"""One dunning pass: claim what is owed in the database, charge Stripe concurrently, record it.

A pass commits in three phases per batch so that a crash or a lost Stripe answer never charges
twice: (1) claim the invoices (row locks) and write the step and the attempt with its
idempotency key; commit. (2) call Stripe from a bounded thread pool, no database work.
(3) record each answer; commit. An attempt whose answer was lost stays pending and the next pass
looks it up at Stripe before charging again with the same key; if the invoice was settled
another way meanwhile, the pass only looks it up and records what really happened.

Invoices travel through a pass as plain rows written in one statement per table and batch
(billing.batch): the ORM's per-object bookkeeping was most of a pass's CPU.
"""

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import chain

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from billing import actions, policy, service
from billing.batch import ATTEMPT, INVOICE, PAYMENT, RUN, Batch, InvoiceRow, claims, select_rows
from billing.gateway import ERROR, FAILED, NOT_CHARGED, SUCCEEDED, ChargeResult, Gateway
from billing.models import CHASEABLE, AttemptStatus, DunningStep

PASS_LOCK_KEY = 0x0B111_D0E  # pg advisory lock id of the dunning pass
STALE_CLAIM = timedelta(minutes=10)  # a pass that claimed and died longer ago than this


@dataclass
class PassResult:
    steps: int = 0
    charges: int = 0
    paid: int = 0
    failed: int = 0
    errors: int = 0
    looked_up: int = 0  # lost answers on invoices settled meanwhile, looked up at Stripe
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
    day: int
    key: str
    amount_cents: int
    currency: str
    customer: str
    payment_method: str
    look_up_first: bool
    tries: int = 0
    find_only: bool = False  # never (re)send: the amount due changed, or the invoice is settled
    settled: bool = False  # settled another way meanwhile: record what happened, nothing more


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
            inflight = None
            for rows in chain(claims(session, today=today, size=batch), [None]):
                ahead = None
                if rows:
                    t0 = time.perf_counter()
                    charges = _prepare(session, rows, steps=steps, now=now, result=result)
                    commit()
                    share = (time.perf_counter() - t0) / max(len(charges), 1)
                    ahead = (charges, [pool.submit(call, c) for c in charges], share)
                if inflight is not None:
                    _record(session, *inflight, now=now, steps=steps, result=result)
                    commit()
                inflight = ahead
    result.wall_s = time.perf_counter() - started
    return result


def _prepare(session: Session, rows: list[InvoiceRow], *, steps, now: datetime,
             result: PassResult) -> list[_Charge]:
    """Decide each invoice's step, write the steps and attempts; return the charges to make."""
    conn = session.connection()
    ids = [inv.id for inv in rows]
    runs: dict[int, dict[int, tuple[str, datetime]]] = {}
    for inv_id, day, state, claimed_at in conn.execute(
            sa.select(RUN.c.invoice_id, RUN.c.day, RUN.c.state, RUN.c.claimed_at)
            .where(RUN.c.invoice_id.in_(ids))):
        runs.setdefault(inv_id, {})[day] = (state, claimed_at)
    pending = {a.invoice_id: a for a in conn.execute(
        sa.select(ATTEMPT.c.invoice_id, ATTEMPT.c.day, ATTEMPT.c.idempotency_key,
                  ATTEMPT.c.amount_cents, ATTEMPT.c.tries)
        .where(ATTEMPT.c.invoice_id.in_(ids), ATTEMPT.c.status == AttemptStatus.PENDING))}
    batch = Batch(session, now=now)
    batch.invoices = {inv.id: inv for inv in rows}
    charges: list[_Charge] = []
    stale_before = utcnow() - STALE_CLAIM
    for inv in rows:
        inv_runs = runs.get(inv.id, {})
        attempt = pending.get(inv.id)
        unfinished = [d for d, (state, _) in inv_runs.items() if state in ("charging", "retry")]
        settled = inv.status not in CHASEABLE or inv.due_cents == 0
        if attempt is not None or unfinished:
            day = attempt.day if attempt is not None else unfinished[0]
            state, claimed_at = inv_runs.get(day, ("", stale_before))
            if state == "charging" and claimed_at > stale_before:
                continue  # another pass is charging it right now
            if attempt is None:
                batch.update_run(inv.id, day, state="done")
                _finish_answered(batch, inv, day, steps, settled=settled)
                continue
            batch.update_run(inv.id, day, state="charging", claimed_at=utcnow())
            charges.append(_Charge(
                inv.id, day, attempt.idempotency_key, attempt.amount_cents, inv.currency,
                inv.client.stripe_customer_id or "", inv.client.payment_method or "",
                look_up_first=True, tries=attempt.tries, settled=settled,
                find_only=settled or attempt.amount_cents != inv.due_cents))
            continue
        if settled:
            continue
        due = policy.due_step(steps, due_on=inv.due_on, today=now.date(),
                              done_days=set(inv_runs))
        if due is None:
            continue
        result.steps += 1
        for day in due.skipped:
            batch.add_run(inv.id, day, "skipped")
            batch.log(inv, "step_skipped", day=day, detail="missed while dunning was not running")
        step = due.step
        customer = inv.client.stripe_customer_id
        if not (step.retry and not inv.hard_declined and customer and inv.client.payment_method):
            batch.add_run(inv.id, step.day, "done")
            reason = None
            if step.retry:
                reason = ("hard decline: no retry" if inv.hard_declined
                          else "no saved card at Stripe")
            actions.complete_step(batch, inv, step, charge=None, note=reason)
            continue
        key = f"inv{inv.id}-day{step.day}"
        batch.add_attempt(inv.id, step.day, key, inv.due_cents)
        batch.add_run(inv.id, step.day, "charging")
        charges.append(_Charge(inv.id, step.day, key, inv.due_cents, inv.currency, customer,
                               inv.client.payment_method, look_up_first=False))
    batch.write()
    return charges


def _finish_answered(batch: Batch, inv: InvoiceRow, day: int, steps, *, settled: bool) -> None:
    """Finish a step whose lost answer a webhook gave meanwhile: a decline still gets its mail."""
    found = batch.session.connection().execute(
        sa.select(ATTEMPT.c.status, ATTEMPT.c.payment_intent_id, ATTEMPT.c.decline_code,
                  ATTEMPT.c.amount_cents)
        .where(ATTEMPT.c.invoice_id == inv.id, ATTEMPT.c.day == day)).first()
    if found is None or found.status != AttemptStatus.FAILED or settled:
        return  # money taken is recorded by the webhook; nothing else is owed
    step = next((s for s in steps if s.day == day), None) or policy.Step(day, retry=True)
    actions.complete_step(batch, inv, step, amount_cents=found.amount_cents, charge=ChargeResult(
        FAILED, payment_intent_id=found.payment_intent_id, decline_code=found.decline_code))


def _call(gateway: Gateway, c: _Charge) -> ChargeResult:
    if c.find_only:
        found = gateway.find(key=c.key, customer=c.customer)
        why = ("the invoice was settled another way" if c.settled
               else "amount due changed; the next step charges it")
        return found or ChargeResult(FAILED, decline_code=NOT_CHARGED,
                                     message=f"no charge found at Stripe; {why}")
    return gateway.charge(key=c.key, amount_cents=c.amount_cents, currency=c.currency,
                          customer=c.customer, payment_method=c.payment_method,
                          invoice_id=c.invoice_id, look_up_first=c.look_up_first)


def _record(session: Session, charges: list[_Charge], futures: list, share: float, *, now,
            steps, result: PassResult) -> None:
    """Record a batch's answers: attempts, steps, payments, mails, in a few statements."""
    if not charges:
        return
    waited = time.perf_counter()
    outcomes = [f.result() for f in futures]
    t0 = time.perf_counter()
    result.stripe_wait_s += t0 - waited
    by_day = {s.day: s for s in steps}
    session.flush()
    # Locked again and read afresh: a webhook or finance may have changed it meanwhile.
    rows = select_rows(session, INVOICE.c.id.in_([c.invoice_id for c in charges]), lock="wait")
    batch = Batch(session, now=now)
    batch.invoices = {inv.id: inv for inv in rows}
    paid_refs = [o.payment_intent_id for o in outcomes
                 if o.status == SUCCEEDED and o.payment_intent_id]
    if paid_refs:
        batch.seen_references = set(session.connection().execute(
            sa.select(PAYMENT.c.reference).where(PAYMENT.c.reference.in_(paid_refs))).scalars())
    for c, outcome in zip(charges, outcomes, strict=True):
        _record_one(batch, c, outcome, by_day, result=result)
    batch.write()
    ours = share + (time.perf_counter() - t0) / len(charges)
    for outcome in outcomes:
        # Latency of one invoice: Stripe's answer and our work, not the rate-limit queue.
        result.per_invoice_s.append(outcome.stripe_seconds - outcome.queued_seconds + ours)
        result.queued_s.append(outcome.queued_seconds)


def _record_one(batch: Batch, c: _Charge, outcome: ChargeResult, by_day: dict, *,
                result: PassResult) -> None:
    """Record one charge's answer and finish its step."""
    result.charges += 1
    result.stripe_s += outcome.stripe_seconds
    inv = batch.invoices[c.invoice_id]
    done = outcome.status != ERROR
    now = utcnow()
    batch.update_attempt(
        c.key, tries=c.tries + 1,
        status=(AttemptStatus.PENDING if not done else AttemptStatus.SUCCEEDED
                if outcome.status == SUCCEEDED else AttemptStatus.FAILED),
        payment_intent_id=outcome.payment_intent_id, decline_code=outcome.decline_code,
        error=outcome.message, finished_at=now if done else None)
    # An answer lost on the way: the next pass looks the charge up, then retries it.
    batch.update_run(c.invoice_id, c.day, state="done" if done else "retry",
                     done_at=now if done else None)
    if not done:
        result.errors += 1
        batch.log(inv, "attempt_error", day=c.day, amount_cents=c.amount_cents,
                  detail=f"{outcome.message}; retried on the next pass")
        return
    result.paid += outcome.status == SUCCEEDED
    result.failed += outcome.status != SUCCEEDED
    if c.settled:
        result.looked_up += 1
        actions.record_lost_answer(batch, inv, c.day, outcome, amount_cents=c.amount_cents)
        return
    step = by_day.get(c.day) or policy.Step(c.day, retry=True)
    actions.complete_step(batch, inv, step, charge=outcome, amount_cents=c.amount_cents)
