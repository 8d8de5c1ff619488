"""Billing in the panel: invoices and their timeline, the dunning policy, reports, the call list."""

from flask_babel import lazy_gettext as _l

from backoffice.admin.base import SecureModelView
from backoffice.admin.billing_pages import (
    CallListView,
    InvoicePageMixin,
    ReportView,
    home_figures,
)
from backoffice.admin.fastlist import FastListView
from backoffice.db import db
from billing import web
from billing.actions import money
from billing.models import DunningStep, Invoice, Payment, RectifyingInvoice

CATEGORY = _l("Billing")


def _money(view, context, model, name) -> str:
    value = getattr(model, name)
    return money(value) if value is not None else ""


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
    column_labels = {"code": _l("Invoice"), "total_cents": _l("Total"), "due_cents": _l("Due"),
                     "dunning_day": _l("Dunning step (day)"),
                     "last_decline_code": _l("Decline reason"), "due_on": _l("Due date")}
    column_formatters = {"total_cents": _money, "due_cents": _money}
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
    column_labels = {"code": _l("Rectifying invoice"), "invoice": _l("Rectifies"),
                     "subtotal_cents": _l("Base"), "vat_cents": _l("VAT"),
                     "total_cents": _l("Total")}
    column_formatters = {"subtotal_cents": _money, "vat_cents": _money, "total_cents": _money}
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
    form_choices = {"mail_template": [
        ("", "—"), ("payment_failed", _l("Payment failed")), ("reminder", _l("Reminder")),
        ("final_notice", _l("Final notice")), ("account_held", _l("Account on hold"))]}
    column_labels = {"day": _l("Days after due date"), "retry": _l("Retry the card"),
                     "call_task": _l("Call task for ops"), "hold_bookings": _l("Hold bookings"),
                     "close_uncollectible": _l("Mark uncollectible")}

    def on_model_change(self, form, model: DunningStep, is_created: bool) -> None:
        if model.day is None or model.day < 0:
            raise ValueError("day: must be 0 or more days after the due date")
        model.mail_template = model.mail_template or None


class PaymentView(ReadOnlyFinanceView):
    column_list = ("id", "invoice_id", "method", "amount_cents", "reference", "received_on",
                   "dunning_day")
    column_filters = ("method", "received_on")
    column_default_sort = ("id", True)
    column_formatters = {"amount_cents": _money}


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
    admin.add_view(CallListView(name=_l("Outbound call list"), endpoint="billing_calls",
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
