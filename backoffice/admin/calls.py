"""The outbound call list: invoices a call can act on now, a card each, and the call's outcome."""

from datetime import UTC, date
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_currency, get_locale, get_timezone, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from backoffice.admin.base import SecureView, commit_or_flash
from backoffice.admin.validators import form_date
from backoffice.db import db, utcnow
from backoffice.i18n import LANGUAGE_NAMES, Refusal, refusal_text
from backoffice.models import StaffUser
from backoffice.services.interactions import parse_duration
from billing import calls
from billing.models import Invoice

CATEGORY = _l("Billing")


def euros(cents: int | None) -> str:
    """Return cents as euros in the reader's format."""
    return format_currency(Decimal(cents or 0) / 100, "EUR")


def local(moment) -> str:
    """Return a stored (naive UTC) moment in the business's time zone."""
    if moment is None:
        return ""
    zone = ZoneInfo(str(get_timezone()))
    return moment.replace(tzinfo=UTC).astimezone(zone).strftime("%d/%m/%Y %H:%M")


def _me() -> StaffUser:
    """Return the logged-in user's row: a case's article records its author by it."""
    return db.session.get(StaffUser, g.user.id)


def _case_url(case_id: int) -> str:
    try:
        return url_for("cases.case", case_id=case_id)
    except BuildError:  # the case desk is not installed
        return "#"


class CallListView(SecureView):
    """Clients to call about unpaid invoices, built from the invoices as they are now."""

    allowed_roles = frozenset({"ops_agent", "finance"})

    def _script(self, macro, card) -> tuple[str | None, str | None]:
        """Return (the rendered script, why it could not be rendered)."""
        if macro is None:
            return None, None
        try:
            return calls.render_script(macro, card, agent=g.user, today=date.today()), None
        except Refusal as exc:
            return None, refusal_text(exc)

    @expose("/")
    def index(self):
        cards = calls.call_list(db.session)
        macro = calls.script_or_default(db.session)
        scripts = {card.invoice.id: self._script(macro, card) for card in cards}
        return self.render(
            "admin/calls.html", cards=cards, scripts=scripts, macro=macro, euros=euros,
            local=local, labels=calls.OUTCOME_LABELS, decline=calls.decline_reason,
            can_edit_script=g.user.has_role("ops_agent", "admin"),
            lang=str(get_locale()), limit=calls.LIST_MAX, language_names=LANGUAGE_NAMES,
            case_url=_case_url)

    @expose("/<int:invoice_id>/outcome", methods=("POST",))
    def outcome(self, invoice_id: int):
        invoice = db.session.get(Invoice, invoice_id)
        if invoice is None:
            abort(404)
        form = request.form
        code = invoice.code

        def run():
            return calls.log_call(
                db.session, invoice=invoice, outcome=form.get("result", ""), user=_me(),
                note=form.get("note"), seconds=parse_duration(form.get("duration")),
                until=form_date(form.get("until"), "until"), now=utcnow())

        commit_or_flash(run, gettext("Call about %(invoice)s recorded.", invoice=code))
        return redirect(url_for(".index"))

    @expose("/script", methods=("POST",))
    def save_script(self):
        if not g.user.has_role("ops_agent", "admin"):
            flash(gettext("Your role cannot edit the call script."), "error")
            return redirect(url_for(".index"))
        commit_or_flash(lambda: calls.save_script(
            db.session, body_es=request.form.get("body_es", ""),
            body_en=request.form.get("body_en", ""), user=_me()),
            gettext("Call script saved."))
        return redirect(url_for(".index", _anchor="script"))


def register(admin) -> None:
    """Mount the outbound call list where billing's call list always was."""
    admin.add_view(CallListView(name=_l("Outbound call list"), endpoint="billing_calls",
                                url="/admin/billing_calls", category=CATEGORY))
