"""Yesterday's services that the nightly close held: the agent decides what happened."""

from datetime import datetime, timedelta

from flask import abort, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext

from backoffice.admin.base import SecureView, commit_or_flash
from backoffice.admin.requests import CANCEL_REASONS, DONE_MESSAGES
from backoffice.db import db
from backoffice.models import ServiceRequest
from backoffice.services import closing
from backoffice.services import requests as request_service

DECISIONS = ("complete", "no_show", "client_no_show", "cancel")


class YesterdayView(SecureView):
    allowed_roles = frozenset({"ops_agent"})

    @expose("/")
    def index(self):
        """List yesterday's held services, each with why and what the agent may decide."""
        now = datetime.now()
        rows = closing.held_on(db.session, day=now.date() - timedelta(days=1), now=now)
        return self.render("admin/yesterday.html", rows=rows, reasons=closing.REASONS,
                           cancel_reasons=CANCEL_REASONS, can_write=self.can_write(),
                           day=now.date() - timedelta(days=1))

    @expose("/<int:id>", methods=("POST",))
    def decide(self, id: int):
        """Record what happened to one held service through the service's own actions."""
        if not self.can_write():
            abort(403)
        action_name = request.form.get("action", "")
        if action_name not in DECISIONS:
            abort(400)
        row = db.session.get(ServiceRequest, id) or abort(404)
        commit_or_flash(lambda: request_service.act(
            db.session, request=row, action=action_name, now=datetime.now(),
            reason=request.form.get("reason")), gettext(DONE_MESSAGES[action_name]))
        return redirect(url_for(".index"))
