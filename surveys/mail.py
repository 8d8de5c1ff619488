"""The survey's mail: written in the person's language and queued in the outbox once.

Rendered from this domain's own templates (mail_templates/<name>.<lang>.txt, first line
"Subject: ..."), as backoffice.mail renders the others."""

import functools
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from backoffice import mail as outbox
from backoffice.i18n import catalogue
from cases.models import format_number

TEMPLATES = Path(__file__).resolve().parent / "mail_templates"


@functools.cache
def _templates():
    import jinja2  # loaded on the first mail, as backoffice.mail does

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render(name: str, lang: str, context: dict) -> tuple[str, str]:
    """Render a template in lang (Spanish when it has none) into subject and body."""
    import jinja2

    try:
        template = _templates().get_template(f"{name}.{lang}.txt")
    except jinja2.TemplateNotFound:
        template = _templates().get_template(f"{name}.es.txt")
    first, _, body = template.render(**context).partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail template {name}: first line must be 'Subject: ...'")
    return first[len("Subject:"):].strip(), body.lstrip("\n")


def skill_name(skill: str, lang: str) -> str:
    """Return a skill code as the person reads it ("limpieza", "elderly care")."""
    named = catalogue(lang).gettext(skill)
    return named.replace("_", " ") if named == skill else named


def enqueue(session: Session, *, survey, person, link: str, tz: str) -> None:
    """Queue the survey's mail with its link; the outbox never queues it twice."""
    expires = survey.expires_at.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))
    context = {"name": person.name, "link": link, "expires": f"{expires:%d/%m/%Y}"}
    if survey.case_id is not None:
        name = "request_case"
        context["number"] = format_number(survey.case_id)
    else:
        from backoffice.models import ServiceRequest

        row = session.get(ServiceRequest, survey.service_request_id)
        name = "request_service"
        context.update(skill=skill_name(row.skill, survey.language),
                       day=f"{row.service_date:%d/%m/%Y}")
    subject, body = render(name, survey.language, context)
    outbox.enqueue_message(session, to=survey.email, subject=subject, body=body,
                           entity="survey", entity_id=survey.id,
                           dedup_key=f"survey:{survey.id}", template=f"surveys/{name}")
