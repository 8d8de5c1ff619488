"""Team task queues: my tasks, my teams' queue, every task; made, taken and closed through
backoffice.services.tasks, never by editing a status."""

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import get_form_data
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import SelectField, StringField, TextAreaField

from backoffice.admin.base import SecureForm, SecureModelView, commit_or_flash
from backoffice.admin.forms import role_choices, role_label
from backoffice.admin.urls import parse_id
from backoffice.days import MOMENT_HINT
from backoffice.db import db
from backoffice.i18n import in_context, refusal_text
from backoffice.models import ROLES, StaffUser, Task, TaskStatus
from backoffice.services import tasks

# The page of each kind of record a task may be about: endpoint and its id argument.
RECORD_PAGES = {
    "service_request": ("service_request.details_view", "id"),
    "professional": ("professional.details_view", "id"),
    "client": ("client.details_view", "id"),
    "billing_invoice": ("billing_invoice.details_view", "id"),
    "case": ("cases.case", "case_id"),
    "vetting_application": ("vetting.application", "app_id"),
    "plan_run": ("coverage.run_page", "run_id"),
}


def _tz() -> str:
    return current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Europe/Madrid"


def _names(refs) -> dict:
    """Return the names of the records of refs, read once per request for a whole page."""
    memo = g.setdefault("_task_names", {})
    missing = [r for r in refs if r not in memo]
    if missing:
        memo.update(dict.fromkeys(missing))
        memo.update(tasks.describe(db.session, missing))
    return memo


def record_link(admin, entity: str | None, entity_id: str | None) -> Markup | str:
    """Return what a task is about by name, linked to its page when the reader may open it."""
    if not entity:
        return ""
    name = _names([(entity, entity_id)]).get((entity, entity_id))
    label = gettext(tasks.LABELS.get(entity, entity))
    if name is None:  # a record gone, or a kind the core cannot name
        return f"{label} #{entity_id}" if entity_id else label
    text = f"{label}: {name}"
    endpoint, arg = RECORD_PAGES.get(entity, ("", ""))
    view = next((v for v in admin._views if v.endpoint == endpoint.split(".")[0]), None)
    if view is None or not view.is_accessible():
        return text
    return Markup(f'<a href="{escape(url_for(endpoint, **{arg: entity_id}))}">{escape(text)}</a>')


def person(user_id: int | None) -> str:
    if user_id is None:
        return ""
    memo = g.setdefault("_task_people", {})
    if user_id not in memo:
        user = db.session.get(StaffUser, user_id)
        memo[user_id] = user.name if user else f"#{user_id}"
    return memo[user_id]


def local(moment) -> str:
    shown = tasks.to_local(moment, tz=_tz())
    return f"{shown:%d/%m/%Y %H:%M}" if shown else ""


class ShownField(StringField):
    """A value the edit form shows and never saves: a status moves by the task's actions."""

    def populate_obj(self, obj, name) -> None:
        pass


class TaskCreateForm(SecureForm):
    title = StringField(_l("Title"))
    role = SelectField(_l("Team"), choices=role_choices(ROLES), validate_choice=False)
    assignee = SelectField(_l("Person"), choices=[], validate_choice=False)
    entity = SelectField(_l("About"), choices=[("", "—")] + [
        (e, _l(tasks.LABELS[e])) for e in tasks.HAND_ENTITIES], validate_choice=False)
    entity_id = StringField(_l("Record number"),
                            description=_l("Its number: 123, an invoice's D2026-000123, "
                                           "a case's C-000123"))
    # Typed as the pages write it, not in the browser's own format (datetime-local).
    due_at = StringField(_l("Due (local time)"),
                         render_kw={"placeholder": _l(MOMENT_HINT), "autocomplete": "off"})
    details = TextAreaField(_l("Details"))


class TaskView(SecureModelView):
    """Work items for each team; a user sees the tasks of the teams they belong to."""

    allowed_roles = frozenset({"ops_agent", "vetting", "finance"})
    _can_delete = False
    bulk_done_message = "%(n)d tasks taken."
    list_template = "admin/task_all.html"
    details_template = "admin/task_details.html"
    column_list = ("id", "due_at", "role", "assigned_to_id", "kind", "title", "status", "entity")
    column_details_list = ("id", "due_at", "role", "assigned_to_id", "kind", "title", "entity",
                           "details", "status", "outcome", "created_at", "done_at")
    column_formatters = {"role": lambda v, c, m, n: role_label(m.role),
                         "kind": lambda v, c, m, n: gettext(m.kind),
                         "status": lambda v, c, m, n: in_context("task_status", m.status.value),
                         "due_at": lambda v, c, m, n: local(m.due_at),
                         "assigned_to_id": lambda v, c, m, n: person(m.assigned_to_id),
                         "entity": lambda v, c, m, n: record_link(v.admin, m.entity, m.entity_id),
                         # Stored as message keys: worded in the reader's language (#18).
                         "title": lambda v, c, m, n: tasks.shown(m, "title", html=True),
                         "details": lambda v, c, m, n: Markup(
                             '<div style="white-space: pre-line">{}</div>').format(
                             tasks.shown(m, "details", html=True)),
                         "done_at": lambda v, c, m, n: local(m.done_at),
                         "created_at": lambda v, c, m, n: local(m.created_at)}
    column_formatters_export = {}  # the file carries the stored codes and ids
    column_labels = {"entity": _l("About"), "assigned_to_id": _l("Person"),
                     "due_at": _l("Due (local time)"), "done_at": _l("Done at"),
                     "created_at": _l("Created at"), "kind": _l("Kind"), "title": _l("Title"),
                     "details": _l("Details"), "status": _l("Status"), "role": _l("Team"),
                     "outcome": _l("Outcome")}
    column_export_list = ("id", "due_at", "role", "kind", "title", "status", "entity",
                          "entity_id", "details", "outcome")
    column_filters = ("status", "kind", "role", "due_at")
    column_searchable_list = ("title",)
    column_default_sort = [("due_at", False), ("id", False)]
    form_columns = ("title", "details", "state", "result")
    form_extra_fields = {"state": ShownField(_l("Status"), render_kw={"readonly": True}),
                         "result": ShownField(_l("Outcome"), render_kw={"readonly": True})}

    def get_query(self):
        query = super().get_query()
        if not g.user.has_role("admin"):
            query = query.filter(Task.role.in_(sorted(g.user.role_set)))
        return query

    def get_count_query(self):
        count = super().get_count_query()
        if not g.user.has_role("admin"):
            count = count.filter(Task.role.in_(sorted(g.user.role_set)))
        return count

    def get_list(self, *args, **kwargs):
        count, data = super().get_list(*args, **kwargs)
        if isinstance(data, list):  # a page, not an export's stream: name its records at once
            _names([(t.entity, t.entity_id) for t in data if t.entity])
        return count, data

    # --- the edit form changes the wording only; the status is shown, never set
    def on_form_prefill(self, form, id):
        task = self.get_one(id)
        form.state.data = in_context("task_status", task.status.value) if task else ""
        form.result.data = (task.outcome or "") if task else ""
        if task is not None and task.message:  # the words this reader reads
            form.title.data = tasks.shown(task, "title")
            form.details.data = tasks.shown(task, "details")

    def on_model_change(self, form, model, is_created):
        # Words a person changed are theirs: kept as typed, no longer worded per reader.
        if not is_created and model.message and (
                form.title.data != tasks.shown(model, "title")
                or (form.details.data or "") != tasks.shown(model, "details")):
            model.message = None
        super().on_model_change(form, model, is_created)

    # --- a task made by hand goes through the service, which names the field it refuses
    def get_create_form(self):
        return TaskCreateForm

    def create_form(self, obj=None):
        form = TaskCreateForm(get_form_data(), obj=obj)
        people = db.session.query(StaffUser).filter(StaffUser.active.is_(True)).order_by(
            StaffUser.name).all()
        form.assignee.choices = [("", gettext("Anyone in the team"))] + [
            (str(u.id), f"{u.name} ({u.email})") for u in people]
        if request.method == "GET" and not form.role.data:
            form.role.data = next((r for r in ROLES if g.user.has_role(r)), ROLES[0])
        return form

    def create_model(self, form):
        try:
            task = tasks.create(
                db.session, title=form.title.data, role=form.role.data,
                assignee=form.assignee.data or None, entity=form.entity.data or None,
                entity_id=form.entity_id.data, details=form.details.data, user=g.user,
                due_at=tasks.parse_local(form.due_at.data, tz=_tz()))
            db.session.commit()
        except ValueError as exc:
            db.session.rollback()
            flash(refusal_text(exc), "error")
            return False
        return task

    # --- my tasks and my teams' queue, then take, done or cancel, one task at a time
    def _open(self):
        return self.get_query().filter(Task.status == TaskStatus.OPEN).order_by(
            Task.due_at.is_(None), Task.due_at, Task.id)

    def _page(self, tab: str, rows):
        rows = rows.limit(200).all()
        _names([(t.entity, t.entity_id) for t in rows if t.entity])
        return self.render("admin/task_queue.html", tab=tab, rows=rows, local=local,
                           task_text=lambda t, f: tasks.shown(t, f, html=True),
                           person=person, role_label=role_label, about=lambda t: record_link(
                               self.admin, t.entity, t.entity_id))

    @expose("/mine/")
    def mine(self):
        return self._page("mine", self._open().filter(Task.assigned_to_id == g.user.id))

    @expose("/queue/")
    def queue(self):
        return self._page("queue", self._open())

    def _task(self, task_id: int) -> Task:
        task = self.get_one(str(task_id))
        if task is None:
            abort(404)
        if not self.can_write():
            abort(403)
        return task

    def _back(self, task: Task):
        back = request.form.get("back")
        if back in ("mine", "queue"):
            return redirect(url_for(f".{back}"))
        return redirect(url_for(".details_view", id=task.id))

    @expose("/<int:task_id>/take", methods=("POST",))
    def take(self, task_id: int):
        task = self._task(task_id)
        commit_or_flash(lambda: tasks.take(db.session, task=task, user=g.user),
                        gettext("The task is yours: %(title)s", title=tasks.shown(task, "title")))
        return self._back(task)

    @expose("/<int:task_id>/done", methods=("POST",))
    def done(self, task_id: int):
        task = self._task(task_id)
        commit_or_flash(lambda: tasks.complete(db.session, task=task, user=g.user,
                                               outcome=request.form.get("outcome", "")),
                        gettext("Task done: %(title)s", title=tasks.shown(task, "title")))
        return self._back(task)

    @expose("/<int:task_id>/cancel", methods=("POST",))
    def cancel(self, task_id: int):
        task = self._task(task_id)
        commit_or_flash(lambda: tasks.cancel(db.session, task=task, user=g.user,
                                             reason=request.form.get("reason", "")),
                        gettext("Task cancelled: %(title)s", title=tasks.shown(task, "title")))
        return self._back(task)

    @action("take", _l("Take it"), _l("Assign the selected tasks to yourself?"))
    def action_take(self, ids):
        visible = {t.id for t in self.get_query().filter(
            Task.id.in_(self.record_ids(ids)))}
        self.bulk_change([i for i in ids if parse_id(i) in visible], "take",
                         lambda task: tasks.take(db.session, task=task, user=g.user))
