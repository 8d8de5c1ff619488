"""Billing pages: invoice actions, finance reports with a chart and CSV, the outbound call list."""

from datetime import date, datetime

import sqlalchemy as sa
from flask import Response, abort, g, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext

from backoffice import audit
from backoffice.admin.base import SecureView, commit_or_flash
from backoffice.admin.validators import form_date
from backoffice.db import db, utcnow
from backoffice.models import StaffUser, Task, TaskStatus
from billing import refunds, reports, service
from billing.actions import money
from billing.models import Invoice, InvoiceStatus, WriteOff


def _cents(value: str | None) -> int:
    try:
        amount = round(float((value or "").replace(",", ".")) * 100)
    except ValueError:
        raise ValueError("amount: write an amount in euros, e.g. 48,40") from None
    if amount <= 0:
        raise ValueError("amount: must be more than zero")
    return amount




class InvoicePageMixin:
    """The invoice page's timeline and the finance actions posted from it."""

    def timeline(self, model: Invoice) -> list:
        return service.timeline(db.session, model)

    def write_off(self, model: Invoice) -> WriteOff | None:
        return db.session.scalar(sa.select(WriteOff).where(WriteOff.invoice_id == model.id))

    def staff_name(self, user_id: int | None) -> str:
        user = db.session.get(StaffUser, user_id) if user_id else None
        return user.email if user else "—"

    @expose("/act/<int:invoice_id>", methods=("POST",))
    def act(self, invoice_id: int):
        # The row lock keeps a concurrent dunning pass or webhook from losing this change.
        lock = db.session.get_bind().dialect.name == "postgresql"
        inv = db.session.get(Invoice, invoice_id, with_for_update=lock or None,
                             populate_existing=True)
        if inv is None:
            abort(404)
        op, form = request.form.get("op"), request.form
        today = date.today()

        def run():
            if op == "pause":
                service.pause(db.session, invoice=inv, kind=form.get("kind", ""),
                              reason=form.get("reason", ""), until=form_date(form.get("until"),
                                                                        "until"))
            elif op == "resume":
                service.resume(db.session, invoice=inv, note=f"resumed by {g.user.email}")
            elif op == "transfer":
                service.record_payment(
                    db.session, invoice=inv, amount_cents=_cents(form.get("amount")),
                    method="bank_transfer", reference=form.get("reference") or None,
                    received_on=form_date(form.get("received_on"), "received_on") or today,
                    entered_by=g.user)
            elif op == "refund":
                refunds.record_refund(
                    db.session, invoice=inv, amount_cents=_cents(form.get("amount")),
                    reference=form.get("reference") or None, received_on=today,
                    entered_by=g.user, reason=form.get("reason"))
            elif op == "propose_write_off":
                service.propose_write_off(db.session, invoice=inv, user=g.user,
                                          reason=form.get("reason", ""))
            elif op == "approve_write_off":
                service.approve_write_off(db.session, invoice=inv, user=g.user)
            else:
                raise ValueError("op: unknown action")
            audit.record(db.session, action=f"invoice_{op}", entity="billing_invoice",
                         entity_id=inv.id)

        commit_or_flash(run, gettext("Invoice %(code)s updated.", code=inv.code))
        return redirect(url_for(".details_view", id=inv.id))


class ReportView(SecureView):
    allowed_roles = frozenset({"finance"})

    def _as_of(self) -> date:
        try:
            return form_date(request.args.get("as_of"), "as_of") or date.today()
        except ValueError:
            return date.today()

    @expose("/")
    def index(self):
        as_of = self._as_of()
        data = reports.full_report(db.session, as_of=as_of)
        top = max([b["amount_cents"] for b in data["aging"]] + [1])
        pending = db.session.execute(
            sa.select(WriteOff, Invoice).join(Invoice, Invoice.id == WriteOff.invoice_id)
            .where(WriteOff.approved_at.is_(None))
        ).all()
        return self.render("admin/billing_reports.html", report=data, as_of=as_of, top=top,
                           money=money, pending=pending)

    @expose("/export.csv")
    def export(self):
        as_of = self._as_of()
        text = reports.to_csv(reports.full_report(db.session, as_of=as_of))
        audit.record(db.session, action="export", entity="billing_report", note=str(as_of))
        db.session.commit()
        return Response(text, mimetype="text/csv", headers={
            "Content-Disposition": f"attachment;filename=billing-report-{as_of}.csv"})


class CallListView(SecureView):
    """Clients to call about unpaid invoices: history and a script, and the call's outcome."""

    allowed_roles = frozenset({"ops_agent", "finance"})

    @expose("/")
    def index(self):
        rows = db.session.execute(
            sa.select(Task, Invoice).join(Invoice, sa.cast(Invoice.id, sa.String) == Task.entity_id)
            .where(Task.kind == "dunning_call", Task.status == TaskStatus.OPEN,
                   Task.entity == "billing_invoice")
            .order_by(Task.due_at, Task.id)
        ).all()
        return self.render("admin/billing_calls.html", rows=rows, money=money)

    @expose("/<int:task_id>/outcome", methods=("POST",))
    def outcome(self, task_id: int):
        task = db.session.get(Task, task_id)
        if task is None or task.kind != "dunning_call":
            abort(404)
        lock = db.session.get_bind().dialect.name == "postgresql"
        inv = db.session.get(Invoice, int(task.entity_id), with_for_update=lock or None,
                             populate_existing=True)
        result, note = request.form.get("result"), (request.form.get("note") or "").strip()

        def run():
            if result in ("promise", "dispute"):
                service.pause(db.session, invoice=inv, kind=result, reason=note or result,
                              until=form_date(request.form.get("until"), "until"))
            elif result not in ("no_answer", "paid_claimed"):
                raise ValueError("result: choose an outcome")
            service.log(db.session, inv, "call", detail=f"{g.user.email}: {result} {note}")
            if result != "no_answer":
                task.status, task.done_at, task.assigned_to_id = (
                    TaskStatus.DONE, utcnow(), g.user.id)
            task.outcome = f"{result}: {note}"[:2000]

        commit_or_flash(run, gettext("Call outcome recorded."))
        return redirect(url_for(".index"))


def home_figures(session, *, today: date) -> dict:
    """Return the finance home figures: owed, in dunning, to approve."""
    owed = session.execute(
        sa.select(Invoice.status, sa.func.count(),
                  sa.func.sum(Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents))
        .where(Invoice.status.in_(reports.UNPAID)).group_by(Invoice.status)
    ).all()
    by = {(s.value if hasattr(s, "value") else s): (n, int(a or 0)) for s, n, a in owed}
    return {
        "owed": money(sum(a for _, a in by.values())),
        "in_dunning": by.get(InvoiceStatus.IN_DUNNING.value, (0, 0))[0],
        "paused": by.get(InvoiceStatus.PAUSED.value, (0, 0))[0],
        "to_approve": session.scalar(sa.select(sa.func.count()).select_from(WriteOff)
                                     .where(WriteOff.approved_at.is_(None))),
        "as_of": datetime.now().date(),
    }
