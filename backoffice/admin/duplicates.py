"""Duplicate clients: the likely pairs and why, a merge of two, the clients merged lately."""

from flask import flash, g, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from backoffice.admin.base import SecureView, commit_or_flash
from backoffice.db import db
from backoffice.models import StaffUser
from backoffice.services import merge

# Why a pair is suggested, as the page says it (English msgids).
REASONS = {"phone": "same phone number", "email": "same email",
           "name_address": "same address, similar name"}


class DuplicatesView(SecureView):
    """Finance reads the suggestions; operations agents (and admins) merge."""

    allowed_roles = frozenset({"ops_agent", "finance"})
    write_roles = frozenset({"ops_agent"})

    @expose("/")
    def index(self):
        return self.render("admin/duplicates.html",
                           suggestions=merge.suggestions(db.session),
                           searched=merge.last_search(db.session),
                           merged=merge.merged_clients(db.session), reasons=REASONS,
                           can_merge=self.can_write(),
                           keep=request.args.get("keep", ""), other=request.args.get("merge", ""))

    @expose("/search", methods=("POST",))
    def search(self):
        """Search for duplicates now rather than waiting for the night's search."""
        if not self.can_write():
            flash(gettext("user: only operations agents and admins search for duplicates"),
                  "error")
            return redirect(url_for(".index"))
        commit_or_flash(lambda: merge.refresh_suggestions(db.session), lambda n: gettext(
            "Search done: %(n)d likely duplicate pairs.", n=n))
        return redirect(url_for(".index"))

    @expose("/merge", methods=("POST",))
    def merge(self):
        keep, other = request.form.get("keep", ""), request.form.get("merge", "")
        if not self.can_write():
            flash(gettext("user: only operations agents and admins merge clients"), "error")
            return redirect(url_for(".index"))

        def run():
            return merge.merge_ids(db.session, keep_id=keep, merge_id=other,
                                   user=db.session.get(StaffUser, g.user.id))

        done = commit_or_flash(run, lambda moved: gettext(
            "Client %(merged)s merged into client %(kept)s: %(bookings)d bookings, "
            "%(invoices)d invoices and %(cases)d cases moved.", merged=moved["merged"],
            kept=moved["kept"], bookings=moved["bookings"], invoices=moved["invoices"],
            cases=moved["cases"]))
        if done:
            return redirect(url_for("client.details_view", id=int(keep)))
        return redirect(url_for(".index", keep=keep[:20], merge=other[:20]))


def register(admin) -> None:
    """Mount the duplicate clients page."""
    admin.add_view(DuplicatesView(name=_l("Duplicate clients"), endpoint="client_duplicates",
                                  url="/admin/client_duplicates"))
