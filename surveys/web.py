"""The public survey page: opened by the one-time link of a survey's mail, without a login.

It shows one question about one case or service, in the survey's language, and nothing of
the panel: no menu, no link, no other record. Every request counts against its address
(rate limit); a used, expired, cancelled or unknown link gets a polite page and changes
nothing. The form carries Flask-WTF's CSRF token, checked here so that a failure gets this
page's own answer rather than the panel's error page.
"""

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, make_response, render_template, request
from flask_babel import force_locale, get_locale, gettext
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from backoffice import audit
from backoffice.db import db, utcnow
from backoffice.i18n import Refusal, refusal_text
from surveys import service
from surveys.models import SurveyHit

log = logging.getLogger("surveys.web")
bp = Blueprint("surveys_public", __name__)
SCORES = {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Neither satisfied nor dissatisfied",
          4: "Satisfied", 5: "Very satisfied"}
# What each polite page says, by the link's standing, and its status code.
PAGES = {
    "invalid": (404, "This link is not valid", "Check that you opened the whole link from "
                "the mail. If it still does not open, the survey is no longer available."),
    "answered": (410, "You have already answered", "This survey takes one answer, and yours "
                 "is saved. Thank you for your time."),
    "expired": (410, "This survey has expired", "Its link was valid for 14 days. Thank you "
                "all the same."),
    "cancelled": (410, "This survey is closed", "It is no longer needed: your case was "
                  "reopened, and we will ask again once it is solved."),
    "busy": (429, "Too many requests", "Wait a few minutes and open the link again."),
}
# No script, no image, no other site: the page needs its own inline styles and its form.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


class AnswerForm(FlaskForm):
    """The answer; its rules are the service's (service.answer), the form checks the token."""

    score = StringField()
    reason = StringField()
    comment = TextAreaField()


def allowed(session, *, ip: str | None, now) -> bool:
    """Count this request against its address; False when the address is over its limit."""
    config = current_app.config
    limit = int(config.get("SURVEY_MAX_HITS", 30))
    since = now - timedelta(minutes=int(config.get("SURVEY_HIT_MINUTES", 10)))
    ip = (ip or "unknown")[:64]
    count = session.scalar(sa.select(sa.func.count()).select_from(SurveyHit)
                           .where(SurveyHit.ip == ip, SurveyHit.at > since))
    if count >= limit:
        log.warning("survey page refused: %s over %d requests", ip, limit)
        return False
    session.add(SurveyHit(ip=ip, at=now))
    session.flush()
    return True


def _render(template: str, **context) -> str:
    return render_template(template, page_lang=str(get_locale() or "es"), **context)


def _respond(html: str, status: int):
    response = make_response(html, status)
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["Cache-Control"] = "no-store"
    headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _polite(kind: str):
    status, title, text = PAGES[kind]
    return _respond(_render("surveys/message.html", title=gettext(title), text=gettext(text)),
                    status)


# Anything under /survey/ is this page's: a link cut or mangled in a mail client gets its
# polite page, not the panel's.
@bp.route("/survey/", defaults={"token": ""}, methods=("GET", "POST"))
@bp.route("/survey/<path:token>", methods=("GET", "POST"))
def survey_page(token: str):
    """Show a survey's question, or take its answer; a link that cannot be answered gets a
    polite page."""
    session, now = db.session, utcnow()
    # A link no survey has is read in the browser's language, Spanish first as for the people
    # the mails go to; a survey's pages in the survey's language, whatever the browser says.
    browser = request.accept_languages.best_match(service.LANGUAGES) or "es"
    if not allowed(session, ip=request.remote_addr, now=now):
        session.rollback()
        with force_locale(browser):
            return _polite("busy")
    survey = service.find(session, token=token)
    standing = service.standing(survey, now=now)
    session.commit()  # the hit counts whatever happens next
    with force_locale(survey.language if survey is not None else browser):
        return _polite(standing) if standing != "open" else _open(session, survey, now)


def _open(session, survey, now):
    form, errors, status = AnswerForm(), {}, 200
    if request.method == "POST":
        if not form.validate():
            errors["form"] = gettext("The form expired. Open the link from your mail again.")
            status = 400
        else:
            try:
                with audit.acting_as(audit.Actor(None, f"survey {survey.id} respondent")):
                    service.answer(session, survey=survey, score=form.score.data,
                                   comment=form.comment.data, reason=form.reason.data or None,
                                   now=now)
            except Refusal as exc:
                session.rollback()
                field = exc.message.partition(":")[0]
                if field == "survey":  # answered in another tab meanwhile
                    kind = service.standing(survey, now=now)
                    return _polite(kind if kind != "open" else "answered")
                errors[field] = refusal_text(exc)
                status = 400
            else:
                session.commit()
                return _respond(_render(
                    "surveys/message.html", title=gettext("Thank you for your answer"),
                    text=gettext("It helps us do better. You can close this page.")), 200)
    return _respond(_render(
        "surveys/page.html", form=form, errors=errors, question=_question(session, survey),
        scores=SCORES, reasons=service.REASONS[survey.subject], low=service.LOW,
        chosen_score=form.score.data or "", chosen_reason=form.reason.data or ""), status)


def _question(session, survey) -> str:
    """Return the page's question: about the person's own case or service, by its number and
    day only (no names: whoever holds the link sees nothing of anyone)."""
    if survey.case_id is not None:
        from cases.models import format_number

        return gettext("How satisfied are you with how we handled your request %(number)s?",
                       number=format_number(survey.case_id))
    from backoffice.models import ServiceRequest
    from surveys.mail import skill_name

    row = session.get(ServiceRequest, survey.service_request_id)
    return gettext("How satisfied are you with your %(skill)s service of %(day)s?",
                   skill=skill_name(row.skill, survey.language),
                   day=f"{row.service_date:%d/%m/%Y}")


def register(app, csrf) -> None:
    """Mount the public page on app; its form's token is checked by the form itself."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
