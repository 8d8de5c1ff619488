"""The panel's views, one file per area; register_views mounts them all."""

from flask_babel import lazy_gettext as _l

from backoffice.admin.clients import ClientView
from backoffice.admin.professionals import ProfessionalView
from backoffice.admin.requests import ServiceRequestView
from backoffice.admin.search import SearchView
from backoffice.admin.staff import AuditEventView, StaffUserView, TaskView
from backoffice.admin.yesterday import YesterdayView
from backoffice.db import db
from backoffice.models import AuditEvent, Client, Professional, ServiceRequest, StaffUser, Task
from backoffice.optional import optional_module

AREA_MODULES = ("backoffice.admin.coverage", "backoffice.admin.vetting", "backoffice.admin.billing",
                "backoffice.admin.cases", "backoffice.admin.surveys", "backoffice.admin.figures",
                "backoffice.admin.notifications", "backoffice.admin.calls",
                "backoffice.admin.duplicates", "backoffice.admin.plan_runs",
                "backoffice.admin.credits")


def _area_modules():
    return [m for m in map(optional_module, AREA_MODULES) if m is not None]


def register_views(admin) -> None:
    """Mount every panel view on admin."""
    admin.add_view(ServiceRequestView(ServiceRequest, db, name=_l("Service requests"),
                                      endpoint="service_request"))
    admin.add_view(YesterdayView(name=_l("Yesterday's services"), endpoint="services_yesterday",
                                 url="/admin/services/yesterday"))
    admin.add_view(ClientView(Client, db, name=_l("Clients"), endpoint="client"))
    admin.add_view(ProfessionalView(Professional, db, name=_l("Professionals"),
                                    endpoint="professional"))
    admin.add_view(TaskView(Task, db, name=_l("Tasks"), endpoint="task"))
    for module in _area_modules():
        module.register(admin)
    admin.add_view(StaffUserView(StaffUser, db, name=_l("Staff users"), endpoint="staff_user",
                                 category=_l("Admin")))
    admin.add_view(AuditEventView(AuditEvent, db, name=_l("Audit log"), endpoint="audit_event",
                                  category=_l("Admin")))
    admin.add_view(SearchView(name=_l("Search"), endpoint="search", url="/admin/search"))


def register_domain_routes(app, csrf) -> None:
    """Mount routes of the domains that live outside the panel (webhooks)."""
    for module in _area_modules():
        if hasattr(module, "register_routes"):
            module.register_routes(app, csrf)
