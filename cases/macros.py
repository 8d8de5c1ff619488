"""Macros: canned replies and call scripts rendered in a sandbox from a fixed set of placeholders.

A macro's body is a Jinja template an admin writes, so it is rendered in an immutable sandbox
with only the placeholders below. An unknown placeholder, or one whose record the case does not
link (a booking date without a linked booking), is refused with its name before anything is
rendered: an agent never sends "Hola ," to a client.
"""

from datetime import date, datetime

import jinja2
import jinja2.meta
import jinja2.sandbox
import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy.orm import Session

from backoffice.i18n import Refusal
from backoffice.models import Professional, ServiceRequest, StaffUser
from cases import service, workflow
from cases.models import Case, CaseLink, CaseState, Macro

# What an admin may write in a macro, with what each needs from the case.
PLACEHOLDERS: dict[str, str] = {
    "first_name": "requester",
    "case_number": "",
    "booking_date": "service_request",
    "booking_time": "service_request",
    "booking_professional": "service_request",
    "invoice_number": "invoice",
    "invoice_amount": "invoice",
    "invoice_due_date": "invoice",
    "amount_due": "invoice",
    "days_overdue": "invoice",
    "agent_name": "",
}
# The kind of the one macro that is the outbound call list's script about an unpaid invoice
# (billing.calls): rendered from the invoice and its client, not from a case (render_with).
DUNNING_SCRIPT = "dunning_call"
DATE_PATTERNS = {"es": "EEEE d 'de' MMMM", "en": "EEEE d MMMM"}
LOCALES = {"es": "es_ES", "en": "en_IE"}  # en_IE: euros written as English readers expect

_env = jinja2.sandbox.ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


def placeholders(body: str, *, field: str = "body") -> set[str]:
    """Return the placeholders a body uses, or refuse its syntax or an unknown name."""
    try:
        parsed = _env.parse(body or "")
    except jinja2.TemplateSyntaxError as exc:
        raise Refusal("%(field)s: template error on line %(line)d: %(error)s", field=field,
                      line=exc.lineno, error=exc.message or "syntax") from None
    names = jinja2.meta.find_undeclared_variables(parsed)
    for name in sorted(names):
        if name not in PLACEHOLDERS:
            raise Refusal("%(field)s: unknown placeholder %(name)s", field=field, name=name)
    return names


def check(body_es: str, body_en: str) -> None:
    """Refuse a macro's bodies if either has a syntax error or an unknown placeholder."""
    placeholders(body_es, field="body_es")
    placeholders(body_en, field="body_en")


def outcomes(macro: Macro) -> list[str]:
    """Return a call script's outcome codes in the order the admin wrote them."""
    seen: list[str] = []
    for code in (macro.outcomes or "").split(","):
        code = code.strip().lower()
        if code and code not in seen:
            seen.append(code)
    return seen


def render(session: Session, *, macro: Macro, case: Case, lang: str | None = None,
           user: StaffUser | None = None) -> str:
    """Render a macro for a case in its language (or lang), from the case's linked records."""
    lang = "en" if (lang or case.language) == "en" else "es"
    body = macro.body_en if lang == "en" else macro.body_es
    field = f"body_{lang}"
    names = placeholders(body, field=field)
    values = _values(session, names=names, case=case, lang=lang, user=user)
    return _render(body, values, field)


def render_with(*, macro: Macro, values: dict, lang: str) -> str:
    """Render a macro from values known beforehand (a call script about an invoice), in lang;
    refuse a placeholder the values do not have, naming it."""
    lang = "en" if lang == "en" else "es"
    body = macro.body_en if lang == "en" else macro.body_es
    field = f"body_{lang}"
    for name in sorted(placeholders(body, field=field)):
        if name not in values:
            raise Refusal("%(field)s: %(name)s cannot be used in this text", field=field,
                          name=name)
    return _render(body, values, field)


def _render(body: str, values: dict, field: str) -> str:
    try:
        return _env.from_string(body).render(values)
    except jinja2.sandbox.SecurityError:
        raise Refusal("%(field)s: the template uses something a macro cannot",
                      field=field) from None
    except jinja2.UndefinedError as exc:
        raise Refusal("%(field)s: %(error)s", field=field, error=exc.message or "") from None
    except jinja2.TemplateError as exc:
        raise Refusal("%(field)s: template error: %(error)s", field=field,
                      error=exc.message or "") from None


def apply(session: Session, *, macro: Macro, case: Case, user: StaffUser | None,
          now: datetime | None = None) -> dict:
    """Apply a macro's state, category and tags to a case; return what changed (old, new)."""
    changed: dict = {}
    if macro.set_category_id and macro.set_category_id != case.category_id:
        before = case.category.code if case.category else None
        service.update(session, case=case, category=macro.set_category, now=now)
        changed["category"] = [before, macro.set_category.code]
    tags = [t.strip() for t in (macro.add_tags or "").split(",") if t.strip()]
    if tags:
        before = sorted(case.tag_names)
        service.set_tags(session, case=case, names=before + tags)
        after = sorted(case.tag_names)
        if after != before:
            changed["tags"] = [before, after]
    if macro.set_state and macro.set_state != case.state:
        before = CaseState(case.state).value
        workflow.transition(session, case=case, to=macro.set_state, user=user,
                            note=f"macro {macro.name}", now=now)
        changed["state"] = [before, CaseState(case.state).value]
    return changed


def _values(session: Session, *, names: set[str], case: Case, lang: str,
            user: StaffUser | None) -> dict:
    values: dict = {}
    for name in names:
        needs = PLACEHOLDERS[name]
        if needs and needs != "requester" and _first_link(session, case, needs) is None:
            raise Refusal("body_%(lang)s: %(name)s needs a linked %(entity)s", lang=lang,
                          name=name, entity=needs)
    if "first_name" in names:
        full = getattr(case.requester, "name", None) or ""
        if not full.strip():
            raise Refusal("body_%(lang)s: first_name needs a requester with a name", lang=lang)
        values["first_name"] = full.split()[0]
    if "case_number" in names:
        values["case_number"] = case.number
    if "agent_name" in names:
        agent = user or case.assignee
        values["agent_name"] = agent.name if agent is not None else ""
    if names & {"booking_date", "booking_time", "booking_professional"}:
        values.update(_booking(session, case, lang))
    if names & {"invoice_number", "invoice_amount", "invoice_due_date", "amount_due",
                "days_overdue"}:
        values.update(_invoice(session, case, lang))
    return {k: v for k, v in values.items() if k in names}


def _first_link(session: Session, case: Case, entity: str) -> int | None:
    key = session.scalar(sa.select(CaseLink.entity_id).where(
        CaseLink.case_id == case.id, CaseLink.entity == entity).order_by(CaseLink.id).limit(1))
    return int(key) if key is not None else None


def _booking(session: Session, case: Case, lang: str) -> dict:
    request = session.get(ServiceRequest, _first_link(session, case, "service_request"))
    if request is None:
        raise Refusal("body_%(lang)s: the linked booking no longer exists", lang=lang)
    # start_at is the booked local (Europe/Madrid) wall-clock time; unbooked: the window start.
    start = request.start_at or datetime.combine(request.service_date, request.window_start)
    professional = (session.get(Professional, request.professional_id)
                    if request.professional_id else None)
    return {"booking_date": _day(start.date(), lang),
            "booking_time": f"{start:%H:%M}",
            "booking_professional": (professional.name if professional else
                                     ("por asignar" if lang == "es" else "to be assigned"))}


def _invoice(session: Session, case: Case, lang: str) -> dict:
    # The billing domain is read through its table: cases never import billing.
    row = session.execute(sa.text(
        "SELECT series, number, total_cents, paid_cents, credited_cents, currency, due_on "
        "FROM billing_invoice WHERE id = :i"),
        {"i": _first_link(session, case, "invoice")}).first()
    if row is None:
        raise Refusal("body_%(lang)s: the linked invoice no longer exists", lang=lang)
    due_on = row.due_on if isinstance(row.due_on, date) else date.fromisoformat(str(row.due_on))
    return invoice_values(
        number=f"{row.series}-{row.number:06d}", total_cents=row.total_cents,
        due_cents=max(row.total_cents - row.paid_cents - row.credited_cents, 0),
        currency=row.currency, due_on=due_on, today=date.today(), lang=lang)


def invoice_values(*, number: str, total_cents: int, due_cents: int, currency: str | None,
                   due_on: date, today: date, lang: str) -> dict:
    """Return the invoice placeholders' values as a reader of lang reads them."""
    code = (currency or "eur").upper()
    return {"invoice_number": number,
            "invoice_amount": format_currency(total_cents / 100, code, locale=LOCALES[lang]),
            "amount_due": format_currency(due_cents / 100, code, locale=LOCALES[lang]),
            "invoice_due_date": _day(due_on, lang),
            "days_overdue": max((today - due_on).days, 0)}


def _day(day: date, lang: str) -> str:
    return format_date(day, DATE_PATTERNS[lang], locale=lang)
