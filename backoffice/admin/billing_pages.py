"""Billing pages: invoice actions, finance reports with a chart and CSV (the outbound call list
is backoffice.admin.calls)."""

from datetime import date, datetime

import sqlalchemy as sa
from flask import Response, abort, g, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale, gettext

from backoffice import audit
from backoffice.admin.base import SecureView, commit_or_flash
from backoffice.admin.billing_wording import code_name, step_name, timeline_detail
from backoffice.admin.validators import form_date
from backoffice.db import db
from backoffice.models import StaffUser
from backoffice.wording import spreadsheet_csv
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

    step_name = staticmethod(step_name)
    code_name = staticmethod(code_name)
    detail = staticmethod(timeline_detail)

    def staff_name(self, user_id: int | None) -> str:
        user = db.session.get(StaffUser, user_id) if user_id else None
        return user.name if user else "—"

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

        commit_or_flash(run, lambda _result: _done(op, inv))
        return redirect(url_for(".details_view", id=inv.id))


def _done(op: str | None, inv: Invoice) -> str:
    """Say what an invoice action did (#18: not 'updated' for everything)."""
    done = {
        "pause": gettext("Dunning of %(code)s paused; it resumes on its own after the date "
                         "given, or when you resume it.", code=inv.code),
        "resume": gettext("Dunning of %(code)s resumed.", code=inv.code),
        "transfer": gettext("Bank transfer recorded on %(code)s; %(due)s still due.",
                            code=inv.code, due=money(inv.due_cents)),
        "refund": gettext("Refund recorded on %(code)s.", code=inv.code),
        "propose_write_off": gettext("Write-off of %(code)s proposed; another finance user must "
                                     "approve it.", code=inv.code),
        "approve_write_off": gettext("Write-off of %(code)s approved: the invoice is written "
                                     "off.", code=inv.code),
    }
    return done.get(op or "", gettext("Invoice %(code)s updated.", code=inv.code))


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
                           money=money, pending=pending, step_name=step_name,
                           code_name=code_name)

    @expose("/export.csv")
    def export(self):
        as_of = self._as_of()
        report = reports.full_report(db.session, as_of=as_of)
        machine = request.args.get("format") == "machine"
        audit.record(db.session, action="export", entity="billing_report", note=str(as_of))
        db.session.commit()
        headers = {"Content-Disposition": f"attachment;filename=billing-report-{as_of}.csv"}
        if machine:  # what the CLI writes: comma, cents, codes
            return Response(reports.to_csv(report), mimetype="text/csv", headers=headers)
        body = "".join(spreadsheet_csv(*_report_rows(report), str(get_locale())))
        return Response(body, mimetype="text/csv; charset=utf-8", headers=headers)


def _report_rows(report: dict) -> tuple[list[str], list[list]]:
    """Return the report as a spreadsheet's titles and rows: named, in euros."""
    titles = [gettext("Section"), gettext("Item"), gettext("Invoices"), gettext("Amount"),
              gettext("Recovered"), gettext("Rate")]
    rows = [[gettext("Aging of unpaid invoices"), gettext(b["bucket"]), b["count"],
             b["amount_cents"] / 100, "", ""] for b in report["aging"]]
    rec = report["recovery"]
    rows.append([gettext("Recovery"), gettext("Total"), "", rec["entered_cents"] / 100,
                 rec["recovered_cents"] / 100, float(rec["rate"])])
    rows += [[gettext("Recovered at step"), step_name(s["step"]), "", "",
              s["recovered_cents"] / 100, float(s["rate"])] for s in rec["by_step"]]
    rows += [[gettext("Decline reason"), code_name(r["reason"]), "", r["entered_cents"] / 100,
              r["recovered_cents"] / 100, float(r["rate"])] for r in rec["by_reason"]]
    rows += [[gettext("Still owed by dunning step"),
              f"{step_name(s['step'])} · {code_name(s['status'])}", s["count"],
              s["amount_cents"] / 100, "", ""] for s in report["by_dunning_step"]]
    rows += [[gettext("Written off"), w["invoice"], 1, w["amount_cents"] / 100, "", ""]
             for w in report["written_off"]]
    return titles, rows


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
