"""Finance reports: aging, recovery, amounts by dunning step, write-offs; JSON and CSV."""

import csv
import io
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import Client
from billing import policy
from billing.models import Invoice, InvoiceStatus, Payment, WriteOff

UNPAID = (InvoiceStatus.OPEN, InvoiceStatus.IN_DUNNING, InvoiceStatus.PAUSED,
          InvoiceStatus.UNCOLLECTIBLE)
MONEY_IN = ("card", "bank_transfer", "cash")


def aging(session: Session, *, as_of: date) -> list[dict]:
    """Return unpaid amounts by how long past due they are, as of a day."""
    buckets = {name: {"bucket": name, "count": 0, "amount_cents": 0}
               for name, _, _ in policy.AGING_BUCKETS}
    rows = session.execute(
        sa.select(Invoice.due_on, Invoice.total_cents - Invoice.paid_cents
                  - Invoice.credited_cents)
        .where(Invoice.status.in_(UNPAID), Invoice.issued_on <= as_of)
    )
    for due_on, due in rows:
        b = buckets[policy.aging_bucket(due_on, as_of)]
        b["count"] += 1
        b["amount_cents"] += max(due, 0)
    return list(buckets.values())


def recovery(session: Session, *, as_of: date) -> dict:
    """Return how much of the amount that entered dunning came back, overall, by step, by reason."""
    entered_rows = session.execute(
        sa.select(Invoice.id, Invoice.entered_dunning_cents, Invoice.last_decline_code)
        .where(Invoice.entered_dunning_cents.is_not(None), Invoice.issued_on <= as_of)
    ).all()
    reason_of = {i: (code or "unknown") for i, _, code in entered_rows}
    recovered = session.execute(
        sa.select(Payment.invoice_id, Payment.dunning_day, Payment.amount_cents)
        .where(Payment.invoice_id.in_(list(reason_of) or [-1]),
               Payment.method.in_(MONEY_IN), Payment.received_on <= as_of)
        .order_by(Payment.id)
    ).all()
    # Money paid twice (a lost card answer and a transfer) is refunded, not recovered.
    left = {i: cents for i, cents, _ in entered_rows}
    capped = []
    for inv_id, day, cents in recovered:
        counted = min(cents, left[inv_id])
        left[inv_id] -= counted
        capped.append((inv_id, day, counted))
    recovered = [row for row in capped if row[2]]
    entered_total = sum(c for _, c, _ in entered_rows)
    by_step: dict[str, int] = {}
    by_reason: dict[str, dict] = {}
    for _, cents, code in entered_rows:
        r = by_reason.setdefault(code or "unknown", {"entered_cents": 0, "recovered_cents": 0})
        r["entered_cents"] += cents
    for inv_id, day, cents in recovered:
        key = "manual" if day is None else f"day {day}"
        by_step[key] = by_step.get(key, 0) + cents
        by_reason[reason_of[inv_id]]["recovered_cents"] += cents
    recovered_total = sum(by_step.values())
    return {
        "entered_cents": entered_total,
        "recovered_cents": recovered_total,
        "rate": _rate(recovered_total, entered_total),
        "by_step": [{"step": k, "recovered_cents": v, "rate": _rate(v, entered_total)}
                    for k, v in sorted(by_step.items(), key=lambda kv: _step_key(kv[0]))],
        "by_reason": [{"reason": k, **v, "rate": _rate(v["recovered_cents"], v["entered_cents"])}
                      for k, v in sorted(by_reason.items())],
    }


def by_dunning_step(session: Session, *, as_of: date) -> list[dict]:
    """Return what is still owed on invoices in dunning, by the last step taken."""
    rows = session.execute(
        sa.select(Invoice.dunning_day, Invoice.status, sa.func.count(),
                  sa.func.sum(Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents))
        .where(Invoice.status.in_(UNPAID), Invoice.dunning_day.is_not(None),
               Invoice.issued_on <= as_of)
        .group_by(Invoice.dunning_day, Invoice.status)
        .order_by(Invoice.dunning_day, Invoice.status)
    ).all()
    return [{"step": f"day {d}", "status": s.value if hasattr(s, "value") else s, "count": n,
             "amount_cents": int(a or 0)} for d, s, n, a in rows]


def written_off(session: Session, *, as_of: date) -> list[dict]:
    """Return the approved write-offs up to a day."""
    rows = session.execute(
        sa.select(Invoice, WriteOff, Client.name)
        .join(WriteOff, WriteOff.invoice_id == Invoice.id)
        .join(Client, Client.id == Invoice.client_id)
        .where(WriteOff.approved_at.is_not(None),
               WriteOff.approved_at < datetime.combine(as_of + timedelta(days=1), time()))
        .order_by(WriteOff.approved_at)
    ).all()
    return [{"invoice": inv.code, "client": name, "amount_cents": wo.amount_cents,
             "reason": wo.reason, "approved_at": wo.approved_at.isoformat(timespec="seconds")}
            for inv, wo, name in rows]


def full_report(session: Session, *, as_of: date) -> dict:
    """Return every finance figure as of a day."""
    return {"as_of": as_of.isoformat(), "aging": aging(session, as_of=as_of),
            "recovery": recovery(session, as_of=as_of),
            "by_dunning_step": by_dunning_step(session, as_of=as_of),
            "written_off": written_off(session, as_of=as_of)}


def to_csv(report: dict) -> str:
    """Flatten a report into one CSV table: section, key, count, amount in cents, rate."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "key", "count", "amount_cents", "recovered_cents", "rate"])
    for b in report["aging"]:
        w.writerow(["aging", b["bucket"], b["count"], b["amount_cents"], "", ""])
    rec = report["recovery"]
    w.writerow(["recovery", "total", "", rec["entered_cents"], rec["recovered_cents"],
                rec["rate"]])
    for s in rec["by_step"]:
        w.writerow(["recovery_by_step", s["step"], "", "", s["recovered_cents"], s["rate"]])
    for r in rec["by_reason"]:
        w.writerow(["recovery_by_reason", r["reason"], "", r["entered_cents"],
                    r["recovered_cents"], r["rate"]])
    for s in report["by_dunning_step"]:
        w.writerow(["by_dunning_step", f"{s['step']} {s['status']}", s["count"],
                    s["amount_cents"], "", ""])
    for wo in report["written_off"]:
        w.writerow(["written_off", wo["invoice"], 1, wo["amount_cents"], "", ""])
    return buf.getvalue()


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _step_key(step: str) -> int:
    return int(step.split()[1]) if step.startswith("day ") else 10_000
