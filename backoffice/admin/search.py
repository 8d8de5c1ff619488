"""The top-bar search page: one match opens its page, several make a list grouped by kind."""

from flask import g, redirect, request, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from backoffice import search
from backoffice.admin.base import SecureView
from backoffice.admin.urls import fixed_url
from backoffice.db import db
from backoffice.optional import optional_module

# Each kind of record -> the view whose page shows it (the reader must be able to open it).
PAGES = {"client": "client", "professional": "professional",
         "service_request": "service_request", "invoice": "billing_invoice",
         "rectifying_invoice": "billing_rectifying_invoice", "case": "cases"}
GROUP_NAMES = {"client": _l("Clients"), "professional": _l("Professionals"),
               "service_request": _l("Service requests"), "invoice": _l("Invoices"),
               "case": _l("Cases")}
# Groups whose list can be searched for the same text ("more" links).
LISTED = {"client", "professional"}


def record_url(kind: str, record_id: int) -> str | None:
    """Return the page of a record, or None where this installation has no such page."""
    try:
        if kind == "case":
            return url_for("cases.case", case_id=record_id)
        # Built once per process: a result list links up to a hundred records.
        return f"{fixed_url(f'{PAGES[kind]}.details_view')}?id={record_id}"
    except BuildError:  # the case desk (or billing) is not installed here
        return None


class SearchView(SecureView):
    """Every role searches; each result is offered only to a role that may open its page."""

    def is_accessible(self) -> bool:
        return g.get("user") is not None

    def is_visible(self) -> bool:
        return False  # the box is in the top bar of every page, not a menu item

    def readable_kinds(self) -> frozenset[str]:
        """Return the kinds of record whose page the reader may open."""
        views = {getattr(v, "endpoint", None): v for v in self.admin._views}
        return frozenset(kind for kind, endpoint in PAGES.items()
                         if endpoint in views and views[endpoint].is_accessible()
                         and record_url(kind, 1) is not None)

    @staticmethod
    def case_condition():
        cases = optional_module("cases.service")
        return cases.visible_filter(g.user) if cases is not None else None

    @expose("/")
    def index(self):
        key = search.classify(request.args.get("q"))
        kinds = self.readable_kinds()
        found = search.find(db.session, key=key, kinds=kinds,
                            case_condition=self.case_condition() if "case" in kinds else None)
        # An unrecognised phone number stays on this page: the reader is told so.
        if (hit := found.single()) is not None and not key.phone_unrecognised:
            return redirect(record_url(hit.kind, hit.id))
        more = {group: url_for(f"{PAGES[group]}.index_view", search=key.text)
                for group in found.more & LISTED}
        return self.render("admin/search_results.html", key=key, found=found, more=more,
                           group_names=GROUP_NAMES, record_url=record_url,
                           name_min=search.NAME_MIN, text_max=search.TEXT_MAX)
