"""Macros: rendering from the case's records, refusals by name, the sandbox, applied changes."""

import itertools
from datetime import date, datetime, time

import pytest

from backoffice.i18n import Refusal
from billing.models import Invoice
from cases import macros, service
from cases.models import CaseState, Macro

NOW = datetime(2026, 12, 1, 10, 0)  # a Tuesday, 11:00 in Madrid
_names = itertools.count(1)


def _macro(session, **kw) -> Macro:
    values = {"name": f"macro {next(_names)}", "body_es": "", "body_en": ""}
    values.update(kw)
    macro = Macro(**values)
    session.add(macro)
    session.flush()
    return macro


def _invoice(session, client, *, total_cents: int = 3400, number: int = 123) -> Invoice:
    inv = Invoice(series="D2026", number=number, client_id=client.id,
                  period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                  issued_on=date(2026, 11, 3),
                  due_on=date(2026, 11, 10), subtotal_cents=total_cents, total_cents=total_cents)
    session.add(inv)
    session.flush()
    return inv


@pytest.fixture()
def booked(session, factories, make_case, make_user):
    """A Spanish client's case linked to a booking on Tuesday 8 December and an invoice."""
    client = factories.client(name="María José Pérez", language="es")
    pro = factories.professional(name="Rosa Martín")
    request = factories.request(client=client, professional=pro, day=date(2026, 12, 8),
                                start=time(9, 30))
    case = make_case(requester=client, now=NOW)
    service.link(session, case=case, entity="service_request", entity_id=request.id)
    service.link(session, case=case, entity="invoice", entity_id=_invoice(session, client).id)
    agent = make_user("ops_agent")
    return case, agent


def test_renders_a_spanish_reply_from_the_linked_records(session, booked):
    case, agent = booked
    macro = _macro(session, body_es=(
        "Hola {{ first_name }}: su servicio del {{ booking_date }} a las {{ booking_time }} con "
        "{{ booking_professional }}. Factura {{ invoice_number }} de {{ invoice_amount }}. "
        "{{ case_number }} / {{ agent_name }}"), body_en="Hi {{ first_name }}")
    text = macros.render(session, macro=macro, case=case, user=agent)
    assert text == ("Hola María: su servicio del martes 8 de diciembre a las 09:30 con "
                    "Rosa Martín. Factura D2026-000123 de 34,00\xa0€. "
                    f"{case.number} / {agent.name}")


def test_renders_english_for_an_english_case_or_when_asked(session, booked, factories, make_case):
    case, agent = booked
    macro = _macro(session, body_es="{{ invoice_amount }}",
                   body_en="{{ booking_date }}: {{ invoice_amount }}")
    assert macros.render(session, macro=macro, case=case, lang="en") == "Tuesday 8 December: €34.00"
    english = make_case(requester=factories.client(name="John Smith", language="en"), now=NOW)
    hello = _macro(session, body_es="Hola {{ first_name }}", body_en="Hi {{ first_name }}")
    assert macros.render(session, macro=hello, case=english) == "Hi John"


def test_an_unknown_placeholder_is_refused_with_its_name(session, booked):
    case, _ = booked
    macro = _macro(session, body_es="Hola {{ nombre }}", body_en="Hi")
    with pytest.raises(Refusal) as refused:
        macros.render(session, macro=macro, case=case)
    assert str(refused.value) == "body_es: unknown placeholder nombre"


def test_a_placeholder_needing_a_missing_link_is_refused_with_its_name(session, make_case):
    case = make_case(now=NOW)
    macro = _macro(session, body_es="El {{ booking_date }}", body_en="")
    with pytest.raises(Refusal, match="booking_date needs a linked service_request"):
        macros.render(session, macro=macro, case=case)
    macro = _macro(session, body_es="{{ invoice_number }}", body_en="")
    with pytest.raises(Refusal, match="invoice_number needs a linked invoice"):
        macros.render(session, macro=macro, case=case)


@pytest.mark.parametrize("body", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ case_number.__class__.__init__.__globals__ }}",
])
def test_the_sandbox_refuses_internals_without_crashing(session, booked, body):
    case, _ = booked
    macro = _macro(session, body_es=body, body_en="")
    with pytest.raises(Refusal) as refused:
        macros.render(session, macro=macro, case=case)
    assert str(refused.value).startswith("body_es: ")


def test_check_names_the_field_and_the_line(session):
    macros.check("Hola {{ first_name }}", "Hi {{ first_name }}, {{ case_number }}")
    with pytest.raises(Refusal, match=r"^body_en: unknown placeholder amount$"):
        macros.check("{{ invoice_amount }}", "{{ amount }}")
    with pytest.raises(Refusal, match=r"^body_es: template error on line 2: "):
        macros.check("Hola\n{{ first_name \n", "Hi")
    with pytest.raises(Refusal, match=r"^body_es: unknown placeholder client$"):
        macros.check("{% if client %}x{% endif %}", "")


def test_a_requester_without_a_name_refuses_first_name(session, make_case):
    contact = service.contact_for(session, email="someone@example.org")
    case = make_case(requester=contact, now=NOW)
    macro = _macro(session, body_es="Hola {{ first_name }}", body_en="")
    with pytest.raises(Refusal, match="first_name needs a requester with a name"):
        macros.render(session, macro=macro, case=case)


def test_apply_sets_state_category_and_merges_tags(session, make_case, category, make_user):
    agent = make_user("ops_agent")
    case = make_case(now=NOW, tags=["vip"])
    macro = _macro(session, set_state="pending", set_category_id=category("booking_change").id,
                   add_tags="cambio, VIP ,confirmado")
    changed = macros.apply(session, macro=macro, case=case, user=agent, now=NOW)
    assert case.state == CaseState.PENDING
    assert case.category.code == "booking_change"
    assert sorted(case.tag_names) == ["cambio", "confirmado", "vip"]
    assert changed == {"category": [None, "booking_change"],
                       "tags": [["vip"], ["cambio", "confirmado", "vip"]],
                       "state": ["new", "pending"]}
    assert macros.apply(session, macro=macro, case=case, user=agent, now=NOW) == {}


def test_apply_refuses_an_illegal_move(session, make_case, category):
    case = make_case(now=NOW)
    macro = _macro(session, set_state="closed")
    with pytest.raises(Refusal, match="cannot become closed"):
        macros.apply(session, macro=macro, case=case, user=None, now=NOW)


def test_call_script_outcomes(session):
    macro = _macro(session, kind="call_script",
                   outcomes="reached, voicemail,no_answer,,wrong_number,promised_payment,reached")
    assert macros.outcomes(macro) == ["reached", "voicemail", "no_answer", "wrong_number",
                                      "promised_payment"]
    assert macros.outcomes(_macro(session)) == []
