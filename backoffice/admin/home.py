"""The home page: what each role starts the day with."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, g, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_babel import gettext

from backoffice.db import db
from backoffice.models import ROLES
from backoffice.services import figures


class HomeView(AdminIndexView):
    @property
    def hooks(self):
        return HOME_PANELS

    def is_accessible(self) -> bool:
        return g.get("user") is not None

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        user = g.user
        today = date.today()
        panels = {}
        if user.has_role("ops_agent", "admin"):
            panels["ops"] = figures.ops_figures(db.session, today=today, now=datetime.now())
        for hook in HOME_PANELS:
            if user.has_role("admin", *hook.roles):
                panels[hook.name] = hook.figures(db.session, today=today)
        tasks = figures.open_tasks(db.session, roles=set(ROLES) if user.has_role("admin")
                                   else user.role_set)
        return self.render("admin/home.html", panels=panels, tasks=tasks, today=today,
                           greeting=greeting(user.name))


def greeting(name: str, now: datetime | None = None) -> str:
    """Greet as people do at this hour in Madrid: morning until 14:00, evening from 21:00."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    hour = (now or datetime.now(zone)).astimezone(zone).hour
    if 6 <= hour < 14:
        return gettext("Good morning, %(name)s", name=name)
    if 14 <= hour < 21:
        return gettext("Good afternoon, %(name)s", name=name)
    return gettext("Good evening, %(name)s", name=name)


class HomePanel:
    """A block of figures on the home page for some roles, contributed by a domain."""

    def __init__(self, name: str, roles: tuple[str, ...], figures, template: str):
        self.name, self.roles, self.figures, self.template = name, roles, figures, template


HOME_PANELS: list[HomePanel] = []
