"""A case's page: header, SLA, tags, links, the conversation, and the forms that work it."""

import sqlalchemy as sa
from flask import abort, current_app, g, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_babel import get_locale, gettext
from markupsafe import Markup, escape

from backoffice import audit
from backoffice.admin import cases_playbook, cases_rows
from backoffice.admin.base import commit_or_flash, refusal
from backoffice.admin.cases_calls import log_call, outcomes
from backoffice.admin.cases_common import case_url, me, now, page_case, visible_case
from backoffice.admin.cases_rows import desk_lists
from backoffice.admin.urls import parse_id
from backoffice.db import db
from backoffice.i18n import Refusal
from backoffice.models import StaffUser
from backoffice.redirects import safe_referrer
from cases import display, macros, mail_out, service, workflow
from cases.models import (
    Article,
    ArticleKind,
    Attachment,
    Case,
    CaseCategory,
    CasePriority,
    Macro,
)


class CasePageMixin:
    def _work(self, case_id) -> Case:
        case = visible_case(case_id)
        if not service.can_work(g.user, case):
            abort(404)
        return case

    @expose("/<int:case_id>")
    def case(self, case_id: int, draft: str = ""):
        case = page_case(case_id)
        at = now()
        suggestions = []
        if case.requester_kind == "contact" and case.contact is not None:
            suggestions = service.find_person(db.session, email=case.contact.email,
                                              phone=case.contact.phone)
        lists = desk_lists(db.session, macros=True)
        conversation, n_articles = cases_rows.conversation(db.session, case.id)
        w = cases_rows.words()
        badge = display.badge(case, at)
        return self.render(
            "admin/cases_case.html", case=case, t=w.t, labels=w.codes,
            category_name=case.category_name(str(get_locale())),
            conversation=conversation, n_articles=n_articles,
            badge_html=Markup(cases_rows.badge_html(badge)) if badge else None,
            links=case.links, link_names=_link_names(case.links), pointing=case.pointing,
            suggestions=suggestions, allowed=workflow.allowed(case, now=at),
            linkable=service.LINKABLE, active=case.state in workflow.ACTIVE,
            final=case.state in workflow.FINAL, u=cases_rows.case_urls(case.id),
            case_path=cases_rows.id_url("cases.case", case_id=None), draft=draft,
            disputed=_disputed(case), playbook=cases_playbook.panel(case),
            dunning_url=cases_rows.id_url("cases.dunning", case_id=None).format(case.id),
            **_form_options(case, lists, w))

    def _done(self, case: Case, fn, message: str, anchor: str | None = None):
        commit_or_flash(fn, message)
        return redirect(case_url(case, anchor))

    @expose("/<int:case_id>/reply", methods=("POST",))
    def reply(self, case_id: int):
        case = self._work(case_id)
        body = (request.form.get("body") or "").strip()
        macro = db.session.get(Macro, parse_id(request.form.get("macro_id")) or 0)

        def run():
            if not body:
                raise ValueError("body: write the reply")
            article = mail_out.reply(db.session, case=case, body=body, user=me(), now=now(),
                                     mail_from=current_app.config["MAIL_FROM"])
            if macro is not None:
                macros.apply(db.session, macro=macro, case=case, user=me(), now=now())
            return article

        if commit_or_flash(run, gettext("Reply sent.")):
            return redirect(case_url(case, "conversation"))
        # Refused (nothing was sent): the page again with the agent's text, not an empty form.
        return self.case(case_id, draft=body), 422

    @expose("/<int:case_id>/macro/<int:macro_id>")
    def macro(self, case_id: int, macro_id: int):
        case = self._work(case_id)
        macro = db.session.get(Macro, macro_id) or abort(404)
        try:
            text = macros.render(db.session, macro=macro, case=case, lang=case.language)
        except ValueError as exc:
            return jsonify({"error": refusal(exc)}), 422
        return jsonify({"body": text})

    @expose("/<int:case_id>/note", methods=("POST",))
    def note(self, case_id: int):
        case = self._work(case_id)
        body = (request.form.get("body") or "").strip()

        def run():
            if not body:
                raise ValueError("body: write the note")
            return service.add_article(db.session, case=case, kind=ArticleKind.NOTE, body=body,
                                       public=False, user=me(), now=now())

        return self._done(case, run, gettext("Note added."), "conversation")

    @expose("/<int:case_id>/call", methods=("POST",))
    def call(self, case_id: int):
        case = self._work(case_id)
        return self._done(case, lambda: log_call(case, request.form), gettext("Call logged."),
                          "conversation")

    @expose("/<int:case_id>/state", methods=("POST",))
    def state(self, case_id: int):
        case = self._work(case_id)
        to = request.form.get("to", "")
        return self._done(case, lambda: workflow.transition(
            db.session, case=case, to=to, user=me(),
            note=(request.form.get("note") or "").strip() or None, now=now()),
            gettext("State changed."))

    @expose("/<int:case_id>/update", methods=("POST",))
    def update(self, case_id: int):
        case = self._work(case_id)
        form = request.form

        def run():
            category = None
            if form.get("category_id"):
                category = db.session.get(CaseCategory, parse_id(form["category_id"]) or 0)
                if category is None:
                    raise ValueError("category: choose a category from the list")
            return service.update(db.session, case=case, priority=form.get("priority") or None,
                                  category=category, subject=form.get("subject"), now=now())

        return self._done(case, run, gettext("Case updated."))

    @expose("/<int:case_id>/assign", methods=("POST",))
    def assign(self, case_id: int):
        case = self._work(case_id)
        key = request.form.get("assignee", "")

        def run():
            if key == "me":
                return service.take(db.session, case=case, user=me(), now=now())
            if key == "":
                return service.assign(db.session, case=case, assignee=None, now=now())
            agent = db.session.get(StaffUser, parse_id(key) or 0)
            if agent is None:
                raise ValueError("assignee: choose an agent")
            return service.assign(db.session, case=case, assignee=agent, now=now())

        return self._done(case, run, gettext("Assignment saved."))

    @expose("/<int:case_id>/take", methods=("POST",))
    def take_one(self, case_id: int):
        case = self._work(case_id)
        commit_or_flash(lambda: service.take(db.session, case=case, user=me(), now=now()),
                        gettext("%(number)s is yours.", number=case.number))
        return redirect(safe_referrer() or case_url(case))

    @expose("/<int:case_id>/tags", methods=("POST",))
    def set_tags(self, case_id: int):
        case = self._work(case_id)
        names = (request.form.get("tags") or "").split(",")
        return self._done(case, lambda: service.set_tags(db.session, case=case, names=names),
                          gettext("Tags saved."))

    @expose("/<int:case_id>/link", methods=("POST",))
    def link(self, case_id: int):
        case = self._work(case_id)
        entity = request.form.get("entity", "")
        number = request.form.get("number", "")
        if entity == "case":
            number = str(display.parse_number(number) or number)
        return self._done(case, lambda: service.link(
            db.session, case=case, entity=entity,
            entity_id=_link_target(entity, number)), gettext("Link added."), "links")

    @expose("/<int:case_id>/unlink", methods=("POST",))
    def unlink(self, case_id: int):
        case = self._work(case_id)
        return self._done(case, lambda: service.unlink(
            db.session, case=case, entity=request.form.get("entity", ""),
            entity_id=request.form.get("entity_id", "")), gettext("Link removed."), "links")

    @expose("/<int:case_id>/dunning", methods=("POST",))
    def dunning(self, case_id: int):
        """Pause or resume a disputed invoice's dunning (the payment-dispute playbook)."""
        from cases import playbooks

        case = self._work(case_id)
        invoice_id = parse_id(request.form.get("invoice_id")) or 0
        if request.form.get("op") == "resume":
            return self._done(case, lambda: playbooks.resume_dunning(
                db.session, case=case, invoice_id=invoice_id, user=me(), now=now()),
                gettext("Dunning resumed."), "links")
        return self._done(case, lambda: playbooks.dispute_opened(
            db.session, case=case, invoice_id=invoice_id, user=me(), now=now()),
            gettext("Dunning paused while the case is open."), "links")

    @expose("/<int:case_id>/merge", methods=("POST",))
    def merge(self, case_id: int):
        case = self._work(case_id)
        number = display.parse_number(request.form.get("target"))
        target = db.session.scalar(sa.select(Case).where(
            Case.id == (number or 0), service.visible_filter(g.user)))

        def run():
            if target is None:
                raise ValueError("target: give the number of a case you can see")
            return service.merge(db.session, source=case, target=target, user=me(),
                                 now=now())

        if commit_or_flash(run, gettext("Merged.")):
            return redirect(case_url(target))
        return redirect(case_url(case))

    @expose("/<int:case_id>/requester", methods=("POST",))
    def requester(self, case_id: int):
        from backoffice.admin.cases_list import _person

        case = self._work(case_id)
        typed = (request.form.get("person_search") or "").strip()
        person = _person(typed if ":" in typed else request.form.get("person"))
        if typed and ":" not in typed:
            found = service.find_person(db.session, email=typed if "@" in typed else None,
                                        phone=None if "@" in typed else typed)
            person = found[0] if len(found) == 1 else None

        def run():
            if person is None:
                raise ValueError("requester: choose a client or a professional")
            return service.set_requester(db.session, case=case, requester=person)

        return self._done(case, run, gettext("Requester linked."))

    @expose("/attachment/<int:attachment_id>")
    def attachment(self, attachment_id: int):
        item = db.session.get(Attachment, attachment_id) or abort(404)
        visible_case(db.session.scalar(sa.select(Article.case_id).where(
            Article.id == item.article_id)))
        if not item.stored_name:
            abort(404)
        path = _stored_path(item.stored_name)
        if path is None or not path.is_file():
            abort(404)
        audit.record(db.session, action="download", entity="case_attachment",
                     entity_id=item.id, note=f"article #{item.article_id}")
        db.session.commit()
        resp = send_file(path, mimetype=item.content_type or "application/octet-stream",
                         as_attachment=True, download_name=item.original_name or "file",
                         max_age=0)
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return resp


def _link_target(entity: str, typed: str) -> str:
    """Return the id a link form names: a number as typed, or the one client, professional or
    invoice a name, email, phone or invoice code finds; several or none are refused."""
    from backoffice import search

    text = (typed or "").strip()
    if text.isdigit() or entity not in ("client", "professional", "invoice"):
        return text
    found = search.find(db.session, key=search.classify(text), kinds=frozenset({entity}))
    hits = found.groups.get(entity, [])
    if len(hits) == 1 and not found.more:
        return str(hits[0].id)
    if not hits:
        raise Refusal("number: nothing found for %(text)s; type its number, name, email or "
                      "phone", text=text)
    names = "; ".join(f"{h.label} (#{h.id})" for h in hits[:5])
    raise Refusal("number: several match %(text)s: %(names)s; type the number",
                  text=text, names=names)


def _disputed(case) -> dict[str, bool]:
    """Return, for a payment dispute's linked invoices, whether the case paused each one."""
    category = db.session.get(CaseCategory, case.category_id) if case.category_id else None
    if category is None or category.code != "payment_dispute":
        return {}
    from cases import playbooks

    return {str(inv.id): playbooks.paused_by(case, inv)
            for inv in playbooks.linked_invoices(db.session, case, lock=False)}


def _form_options(case, lists, w) -> dict[str, Markup]:
    """Return the <option>s of the page's lists (50 agents drawn in Jinja were a third of it)."""
    macro_url = cases_rows.id_url("cases.macro", case_id=case.id, macro_id=None)
    names = cases_rows.outcome_names()
    return {
        "agent_options": cases_rows.options(
            ((a_id, escape(name)) for a_id, name in lists.agents), case.assignee_id),
        "priority_options": cases_rows.options(
            ((p.value, w.codes["case_priority"][p]) for p in CasePriority), case.priority.value),
        "category_options": cases_rows.options(
            ((c.id, escape(c.name)) for c in lists.categories
             if c.active or c.id == case.category_id), case.category_id),
        "outcome_options": cases_rows.options(
            (o, escape(names.get(o, o))) for o in outcomes(lists.macros)),
        "macro_options": Markup("".join(
            f'<option value="{m_id}" data-url="{escape(macro_url.format(m_id))}">'
            f"{escape(name)}</option>"
            for m_id, name, kind, _ in lists.macros if kind == "reply")),
    }


def _stored_path(stored_name: str):
    """Return where an attachment's file lies, or None for a name that is not one of ours."""
    from cases import attachments

    try:
        return attachments.stored_path(current_app.config["UPLOAD_DIR"], stored_name)
    except ValueError:
        return None


_NAMES = {"client": "SELECT id, name FROM client WHERE id IN ({ids})",
          "professional": "SELECT id, name FROM professional WHERE id IN ({ids})",
          "invoice": "SELECT id, series, number FROM billing_invoice WHERE id IN ({ids})",
          "case": "SELECT id, subject FROM \"case\" WHERE id IN ({ids})"}


def _link_names(links) -> dict[tuple[str, str], str]:
    """Return what each linked record is called (a name, an invoice number), by one statement
    per kind; a service request is named by its number."""
    wanted: dict[str, list[int]] = {}
    for row in links:
        if row.entity in _NAMES and row.entity_id.isdigit():
            wanted.setdefault(row.entity, []).append(int(row.entity_id))
    names = {}
    for entity, ids in wanted.items():
        statement = sa.text(_NAMES[entity].format(ids=", ".join(str(i) for i in ids)))
        for record_id, *name in db.session.execute(statement):
            if entity == "invoice":  # its number as issued: D2026-000123
                label = f"{name[0]}-{name[1]:06d}" if name[1] is not None else f"#{record_id}"
            elif entity == "case":
                label = f"C-{record_id:06d} {name[0]}"
            else:
                label = name[0] or f"#{record_id}"
            names[(entity, str(record_id))] = label
    return names

