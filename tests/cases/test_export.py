"""Export: each case with requester, links, tags, SLA and articles, as JSON and CSV."""

import csv
import io
import json
from datetime import date, datetime, timedelta

import pytest

from cases import export, service
from cases.models import ArticleKind, Case

NOW = datetime(2026, 12, 1, 10, 0)  # a Tuesday, 11:00 in Madrid


@pytest.fixture()
def desk(session, factories, make_case, make_user, category):
    """Three cases: a client's mail with a reply and a note, a professional's call, an old one."""
    agent = make_user("ops_agent")
    client = factories.client(name="Ana Ruiz", email="ana@example.com", phone_e164="+34600111222")
    pro = factories.professional(name="Rosa Martín")
    request = factories.request(client=client, professional=pro)
    mail = make_case(requester=client, subject="Cambiar la hora", now=NOW, priority="high",
                     category=category("booking_change"), tags=["cambio", "vip"])
    service.link(session, case=mail, entity="service_request", entity_id=request.id)
    service.link(session, case=mail, entity="professional", entity_id=pro.id)
    service.add_article(session, case=mail, kind="mail_in", body="¿Puede venir a las 11?",
                        sender="ana@example.com", message_id="<a1@example.com>", now=NOW)
    service.add_article(session, case=mail, kind="mail_out", body="Sí", user=agent,
                        sender="desk@example.com", message_id="<r1@desk>",
                        now=NOW + timedelta(minutes=20))
    service.add_article(session, case=mail, kind=ArticleKind.NOTE, body="cliente VIP",
                        user=agent, now=NOW + timedelta(minutes=21))
    call = make_case(requester=pro, subject="Mi horario", channel="phone",
                     now=NOW + timedelta(hours=1))
    service.add_article(session, case=call, kind="call_in", sender="+34611000000",
                        call_seconds=95, call_outcome="reached", now=NOW + timedelta(hours=1))
    old = make_case(subject="Antiguo", now=NOW - timedelta(days=10))
    session.flush()
    return mail, call, old


def _export(session, fmt: str, **kw) -> str:
    out = io.StringIO()
    export.write(export.rows(session, **kw), fmt, out)
    return out.getvalue()


def _ours(rows: list[dict], *cases: Case) -> list[dict]:
    numbers = {c.number for c in cases}
    return [r for r in rows if r["number"] in numbers]


def test_json_holds_each_case_with_its_links_tags_sla_and_articles(session, desk):
    mail, call, old = desk
    rows = _ours(json.loads(_export(session, "json")), *desk)
    assert [r["number"] for r in rows] == [mail.number, call.number, old.number]
    first = rows[0]
    assert first["state"] == "open" and first["priority"] == "high"
    assert first["channel"] == "mail" and first["category"] == "booking_change"
    assert first["subject"] == "Cambiar la hora"
    assert first["requester"] == {"kind": "client", "id": mail.client_id,
                                  "email": "ana@example.com", "phone": "+34600111222"}
    assert first["tags"] == ["cambio", "vip"]
    linked = service.links_of(session, mail)
    assert {lk.entity for lk in linked} == {"service_request", "professional"}
    assert first["links"] == [{"entity": lk.entity, "id": int(lk.entity_id)}
                              for lk in sorted(linked, key=lambda lk: lk.id)]
    assert first["created_at"] == "2026-12-01T10:00:00Z"
    assert first["sla"]["first_response_at"] == "2026-12-01T10:20:00Z"
    assert first["sla"]["breached"] == []
    for key in ("first_response_due_at", "next_response_due_at", "resolution_due_at"):
        assert key in first["sla"]
        assert first["sla"][key] is None or first["sla"][key].endswith("Z")
    assert first["articles"] == [
        {"kind": "mail_in", "public": True, "message_id": "<a1@example.com>",
         "sender": "ana@example.com", "at": "2026-12-01T10:00:00Z"},
        {"kind": "mail_out", "public": True, "message_id": "<r1@desk>",
         "sender": "desk@example.com", "at": "2026-12-01T10:20:00Z"},
        {"kind": "note", "public": False, "message_id": None, "sender": None,
         "at": "2026-12-01T10:21:00Z"}]
    assert all("body" not in a for a in first["articles"])
    second = rows[1]
    assert second["requester"]["kind"] == "professional" and second["channel"] == "phone"
    assert second["articles"][0]["kind"] == "call_in"


def test_csv_has_one_row_per_case_and_parses_back(session, desk):
    mail, call, old = desk
    as_json = {r["number"]: r for r in _ours(json.loads(_export(session, "json")), *desk)}
    table = list(csv.DictReader(io.StringIO(_export(session, "csv"))))
    rows = [r for r in table if r["number"] in as_json]
    assert len(rows) == 3
    assert list(table[0]) == list(export.CSV_COLUMNS)
    for row in rows:
        data = as_json[row["number"]]
        assert row["state"] == data["state"] and row["subject"] == data["subject"]
        assert row["requester_kind"] == data["requester"]["kind"]
        assert int(row["requester_id"]) == data["requester"]["id"]
        assert (row["tags"].split(", ") if row["tags"] else []) == data["tags"]
        links = [dict(zip(("entity", "id"), part.split(":"), strict=True))
                 for part in row["links"].split()]
        assert [(lk["entity"], int(lk["id"])) for lk in links] == [
            (lk["entity"], lk["id"]) for lk in data["links"]]
        assert json.loads(row["articles"]) == data["articles"]
        assert row["created_at"] == data["created_at"]
        assert (row["first_response_at"] or None) == data["sla"]["first_response_at"]


def test_since_keeps_the_cases_created_from_that_day(session, desk):
    mail, call, old = desk
    numbers = {r["number"] for r in export.rows(session, since=date(2026, 11, 25))}
    assert {mail.number, call.number} <= numbers and old.number not in numbers
    later = {r["number"] for r in export.rows(session, since=date(2026, 12, 2))}
    assert not later & {mail.number, call.number, old.number}


def test_batches_and_a_condition_stream_every_matching_case(session, desk):
    mail, call, old = desk
    ours = Case.id.in_([c.id for c in desk])
    assert [r["number"] for r in export.rows(session, condition=ours, batch=1)] == [
        mail.number, call.number, old.number]
    assert _export(session, "json", condition=Case.id == -1) == "[]\n"


def test_an_unknown_format_is_refused(session):
    with pytest.raises(ValueError, match="format"):
        export.write([], "xml", io.StringIO())
