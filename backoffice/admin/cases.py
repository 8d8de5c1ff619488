"""The level-2 case desk in the panel: the queue, the case page, the phone page, the desk's
settings, its figures on the home page, and the cases of each client, professional, booking
and invoice on their record pages."""

from datetime import date

import sqlalchemy as sa
from flask import g, render_template
from flask_admin.menu import MenuLink
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from backoffice.admin.base import SecureView
from backoffice.admin.cases_case import CasePageMixin
from backoffice.admin.cases_common import JINJA_HELPERS
from backoffice.admin.cases_config import (
    BusinessHoursView,
    CategoryView,
    ClosedDayView,
    MacroView,
    MailboxView,
    QuarantineView,
    SlaPolicyView,
)
from backoffice.admin.cases_list import QueueMixin
from backoffice.admin.cases_phone import PhoneMixin
from backoffice.admin.cases_playbook import CasePlaybookMixin
from backoffice.db import db
from cases import service, workflow
from cases.models import (
    BusinessHours,
    Case,
    CaseCategory,
    ClosedDay,
    Macro,
    Mailbox,
    RawMail,
    RawMailStatus,
    SlaPolicy,
)

DESK_ROLES = frozenset({"ops_agent", "finance", "vetting"})
# A record page's endpoint -> the entity its cases link to.
RECORD_ENTITIES = {"client": "client", "professional": "professional",
                   "service_request": "service_request", "billing_invoice": "invoice"}


class CaseDeskView(QueueMixin, CasePageMixin, CasePlaybookMixin, PhoneMixin, SecureView):
    """Every desk page; each case is read through service.visible_filter (404 otherwise)."""

    allowed_roles = DESK_ROLES


class DeskLink(MenuLink):
    """A menu link shown to the roles that may open its page."""

    def __init__(self, *args, roles=DESK_ROLES, **kwargs):
        super().__init__(*args, **kwargs)
        self.roles = roles

    def is_accessible(self) -> bool:
        user = g.get("user")
        return user is not None and user.has_role("admin", *self.roles)


def home_figures(session, *, today: date) -> dict:
    """Return the desk's block of the home page: unassigned cases, quarantine, mailboxes."""
    unassigned = session.scalar(sa.select(sa.func.count()).select_from(
        sa.select(Case.id).where(Case.state.in_(workflow.ACTIVE), Case.assignee_id.is_(None))
        .limit(10_001).subquery()))
    quarantined = session.scalar(sa.select(sa.func.count()).select_from(
        sa.select(RawMail.id).where(RawMail.status == RawMailStatus.QUARANTINED)
        .limit(10_001).subquery()))
    failing = session.scalars(sa.select(Mailbox).where(Mailbox.failures > 0)
                              .order_by(Mailbox.source)).all()
    return {"unassigned": unassigned, "quarantined": quarantined, "failing": failing}


def cases_section(admin_view, model) -> Markup:
    """Return the Cases section of a record page (empty on pages that have no cases)."""
    entity = RECORD_ENTITIES.get(getattr(admin_view, "endpoint", None))
    user = g.get("user")
    if entity is None or user is None or getattr(model, "id", None) is None:
        return Markup("")
    if not user.has_role("admin", *DESK_ROLES):
        return Markup("")
    ids = [c.id for c in service.cases_of(db.session, entity=entity, entity_id=model.id)]
    rows = db.session.scalars(sa.select(Case).where(Case.id.in_(ids),
                                                    service.visible_filter(user))
                              .order_by(Case.id.desc())).all() if ids else []
    return Markup(render_template("admin/cases_record.html", rows=rows, entity=entity,
                                  record=model))


def register(admin) -> None:
    """Mount the desk's pages and menus; put its figures on the home page."""
    from backoffice.admin.home import HOME_PANELS, HomePanel

    admin.app.jinja_env.globals.update(JINJA_HELPERS, cases_section=cases_section)
    desk = _l("Cases")
    admin.add_view(CaseDeskView(name=_l("Case queue"), endpoint="cases", url="/admin/cases",
                                category=desk))
    admin.add_link(DeskLink(name=_l("Phone"), url="/admin/cases/phone", category=desk))
    admin.add_link(DeskLink(name=_l("New case"), url="/admin/cases/new", category=desk))
    settings = _l("Case desk")
    for view, model, name, endpoint in (
            (CategoryView, CaseCategory, _l("Categories"), "case_category"),
            (SlaPolicyView, SlaPolicy, _l("SLA policies"), "case_sla_policy"),
            (BusinessHoursView, BusinessHours, _l("Business hours"), "case_business_hours"),
            (ClosedDayView, ClosedDay, _l("Closed days"), "case_closed_day"),
            (MacroView, Macro, _l("Macros"), "case_macro"),
            (QuarantineView, RawMail, _l("Mail quarantine"), "case_quarantine"),
            (MailboxView, Mailbox, _l("Mailboxes"), "case_mailbox")):
        admin.add_view(view(model, db, name=name, endpoint=endpoint, category=settings))
    if not any(p.name == "cases" for p in HOME_PANELS):
        HOME_PANELS.append(HomePanel("cases", roles=("ops_agent",), figures=home_figures,
                                     template="admin/cases_home.html"))
