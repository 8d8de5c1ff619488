"""Billing in the panel: invoices and their timeline, the dunning policy, reports, the call list."""

from flask_babel import lazy_gettext as _l

from backoffice.admin.base import SecureModelView
from backoffice.admin.billing_pages import InvoicePageMixin, ReportView, home_figures
from backoffice.admin.billing_wording import code_name, step_name
from backoffice.admin.fastlist import FastListView
from backoffice.admin.form_groups import Group, grouped
from backoffice.db import db
from billing import web
from billing.actions import money
from billing.models import DunningStep, Invoice, Payment, RectifyingInvoice

CATEGORY = _l("Billing")


def _money(view, context, model, name) -> str:
    value = getattr(model, name)
    return money(value) if value is not None else ""


def _code(view, context, model, name) -> str:
    return code_name(getattr(model, name))


def _step(view, context, model, name) -> str:
    value = getattr(model, name)
    return step_name(value) if value is not None else ""


# Amounts read in euros whatever the column's stored unit (#18: never cents on a page).
MONEY_LABELS = {"subtotal_cents": _l("Subtotal"), "vat_cents": _l("VAT"),
                "total_cents": _l("Total"), "paid_cents": _l("Paid"),
                "credited_cents": _l("Credited"), "due_cents": _l("Due"),
                "amount_cents": _l("Amount"), "entered_dunning_cents": _l("Entered dunning"),
                "overpaid_cents": _l("Overpaid")}


class ReadOnlyFinanceView(SecureModelView):
    """Records finance reads but never edits by hand: they change through billing's services."""

    allowed_roles = frozenset({"finance"})
    _can_create = _can_edit = _can_delete = False
    action_disallowed_list = ("delete",)

    def money(self, cents: int | None) -> str:
        return money(cents or 0)


class InvoiceView(FastListView, InvoicePageMixin, ReadOnlyFinanceView):
    column_list = ("code", "client", "issued_on", "due_on", "total_cents", "due_cents",
                   "status", "dunning_day", "last_decline_code")
    column_sortable_list = ("issued_on", "due_on", "total_cents", "status", "dunning_day")
    column_filters = ("status", "due_on", "issued_on", "dunning_day", "hard_declined",
                      "last_decline_code", "series")
    column_searchable_list = ("pause_reason",)
    column_default_sort = ("id", True)
    column_labels = {**MONEY_LABELS, "code": _l("Invoice"), "dunning_day": _l("Dunning step"),
                     "last_decline_code": _l("Decline reason"), "due_on": _l("Due date"),
                     "issued_on": _l("Issued"), "hard_declined": _l("Hard decline"),
                     "pause_reason": _l("Pause reason"), "series": _l("Series"),
                     "client": _l("Client"), "status": _l("Status"),
                     "bill_to_name": _l("Bill to name"), "bill_to_address": _l("Bill to address"),
                     "closed_at": _l("Closed at"), "paused_until": _l("Paused until"),
                     "period_start": _l("Period start"), "period_end": _l("Period end"),
                     "vat_rate_bp": _l("VAT rate (%)"), "currency": _l("Currency"),
                     "number": _l("Number"), "created_at": _l("Created at"),
                     "updated_at": _l("Changed at")}
    column_formatters = {"total_cents": _money, "due_cents": _money, "last_decline_code": _code,
                         "dunning_day": _step}
    column_code_list = ("last_decline_code",)
    column_export_list = ("code", "client", "issued_on", "due_on", "subtotal_cents",
                          "vat_cents", "total_cents", "paid_cents", "credited_cents",
                          "due_cents", "status", "dunning_day", "last_decline_code")
    details_template = "admin/billing_invoice.html"


class RectifyingInvoiceView(ReadOnlyFinanceView):
    """Facturas rectificativas: read-only, issued by refunds and credits on an invoice."""

    column_list = ("code", "invoice", "issued_on", "subtotal_cents", "vat_cents", "total_cents",
                   "reason")
    column_sortable_list = ("issued_on", "total_cents")
    column_filters = ("series", "issued_on")
    column_default_sort = ("id", True)
    column_labels = {**MONEY_LABELS, "code": _l("Rectifying invoice"),
                     "invoice": _l("Rectifies"), "subtotal_cents": _l("Base"),
                     "issued_on": _l("Issued"), "reason": _l("Reason"), "series": _l("Series"),
                     "vat_rate_bp": _l("VAT rate (%)"), "reference": _l("Reference")}
    column_formatters = {"subtotal_cents": _money, "vat_cents": _money, "total_cents": _money,
                         "vat_rate_bp": lambda v, c, m, n: f"{m.vat_rate_bp / 100:g}"}
    column_export_list = ("code", "invoice", "issued_on", "subtotal_cents", "vat_rate_bp",
                          "vat_cents", "total_cents", "reason", "reference")
    details_template = "admin/billing_rectifying_invoice.html"


class DunningStepView(SecureModelView):
    """The dunning policy as data: finance edits the steps."""

    allowed_roles = frozenset({"finance"})
    column_list = ("day", "retry", "mail_template", "call_task", "hold_bookings",
                   "close_uncollectible", "active")
    column_default_sort = ("day", False)
    form_columns = column_list
    form_rules = grouped(Group(_l("When"), "day", "active"),
                         Group(_l("What it does"), "retry", "mail_template", "call_task",
                               "hold_bookings", "close_uncollectible"))
    form_choices = {"mail_template": [
        ("", "—"), ("payment_failed", _l("Payment failed")), ("reminder", _l("Reminder")),
        ("final_notice", _l("Final notice")), ("account_held", _l("Account on hold"))]}
    column_labels = {"day": _l("Days after due date"), "retry": _l("Retry the card"),
                     "call_task": _l("Call task for ops"), "hold_bookings": _l("Hold bookings"),
                     "close_uncollectible": _l("Mark uncollectible"),
                     "mail_template": _l("Mail"), "active": _l("Active")}
    column_formatters = {"mail_template": _code}
    column_code_list = ("mail_template",)

    def on_model_change(self, form, model: DunningStep, is_created: bool) -> None:
        if model.day is None or model.day < 0:
            raise ValueError("day: must be 0 or more days after the due date")
        model.mail_template = model.mail_template or None


class PaymentView(ReadOnlyFinanceView):
    column_list = ("id", "invoice_id", "method", "amount_cents", "reference", "received_on",
                   "dunning_day")
    column_filters = ("method", "received_on")
    column_default_sort = ("id", True)
    column_labels = {**MONEY_LABELS, "invoice_id": _l("Invoice"), "method": _l("Method"),
                     "reference": _l("Reference"), "received_on": _l("Received"),
                     "dunning_day": _l("Dunning step")}
    column_formatters = {"amount_cents": _money, "method": _code, "dunning_day": _step}
    column_code_list = ("method",)


def register(admin) -> None:
    """Mount the billing views and the finance home panel."""
    from backoffice.admin.home import HOME_PANELS, HomePanel

    admin.add_view(InvoiceView(Invoice, db, name=_l("Invoices"), endpoint="billing_invoice",
                               category=CATEGORY))
    admin.add_view(RectifyingInvoiceView(RectifyingInvoice, db, name=_l("Rectifying invoices"),
                                         endpoint="billing_rectifying_invoice",
                                         category=CATEGORY))
    admin.add_view(ReportView(name=_l("Finance reports"), endpoint="billing_reports",
                              category=CATEGORY))
    admin.add_view(PaymentView(Payment, db, name=_l("Payments"), endpoint="billing_payment",
                               category=CATEGORY))
    admin.add_view(DunningStepView(DunningStep, db, name=_l("Dunning policy"),
                                   endpoint="billing_dunning_step", category=CATEGORY))
    if not any(p.name == "billing" for p in HOME_PANELS):
        HOME_PANELS.append(HomePanel("billing", roles=("finance",), figures=home_figures,
                                     template="admin/billing_home.html"))


def register_routes(app, csrf) -> None:
    """Mount billing's routes outside the panel: the Stripe webhook (billing.web)."""
    web.register(app, csrf)
