"""Goodwill credits for finance: approve or withdraw those above the limit, and set the limit."""

from datetime import datetime

import sqlalchemy as sa
from flask import abort, g, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from backoffice.admin.base import SecureView, commit_or_flash
from backoffice.admin.cases_playbook import euros, parse_euros
from backoffice.db import db
from backoffice.models import StaffUser
from billing import credits
from billing.models import CreditStatus, GoodwillCredit


class GoodwillCreditView(SecureView):
    allowed_roles = frozenset({"finance", "admin"})

    @expose("/")
    def index(self):
        """List the credits waiting for approval first, then the latest ones."""
        rows = db.session.scalars(
            sa.select(GoodwillCredit).order_by(
                (GoodwillCredit.status != CreditStatus.PROPOSED), GoodwillCredit.id.desc())
            .limit(200)).all()
        people = {u.id: u.name for u in db.session.scalars(sa.select(StaffUser).where(
            StaffUser.id.in_({r.proposed_by_id for r in rows}
                             | {r.decided_by_id for r in rows if r.decided_by_id})))}
        words = {"proposed": gettext("waiting for a second person's approval"),
                 "issued": gettext("issued"), "cancelled": gettext("withdrawn")}
        return self.render("admin/goodwill_credits.html", rows=rows, people=people,
                           euros=euros, words=words, me=g.user.id,
                           limit=euros(credits.limit_cents(db.session)))

    @expose("/<int:credit_id>", methods=("POST",))
    def decide(self, credit_id: int):
        """Approve or withdraw a proposed credit."""
        credit = db.session.get(GoodwillCredit, credit_id) or abort(404)
        user = db.session.get(StaffUser, g.user.id)
        if request.form.get("op") == "approve":
            commit_or_flash(lambda: credits.approve(db.session, credit=credit, user=user,
                                                    today=datetime.now().date()),
                            gettext("Credit approved and issued as a rectifying invoice."))
        else:
            commit_or_flash(lambda: credits.cancel(db.session, credit=credit, user=user),
                            gettext("Credit withdrawn."))
        return redirect(url_for(".index"))

    @expose("/limit", methods=("POST",))
    def limit(self):
        """Set the largest credit one person issues alone."""
        user = db.session.get(StaffUser, g.user.id)
        commit_or_flash(lambda: credits.set_limit(
            db.session, cents=parse_euros(request.form.get("limit")), user=user),
            gettext("Goodwill limit saved."))
        return redirect(url_for(".index"))


def register(admin) -> None:
    from backoffice.admin.billing import CATEGORY

    admin.add_view(GoodwillCreditView(name=_l("Goodwill credits"), endpoint="goodwill_credits",
                                      url="/admin/goodwill-credits", category=CATEGORY))

