"""Export cases with their links, SLA and conversation outline, as JSON or CSV, streamed.

Cases are read in id order, a batch at a time (keyset on id), as plain rows: exporting a million
cases holds one batch in memory, never the lot. Article bodies and attachments are not exported;
each article is outlined by kind, public or internal, Message-ID, sender and time.

CSV has one row per case. Tags are joined with ", " (a tag holds no comma: tags are entered as
a comma-separated list), links as "entity:id" separated by spaces, SLA breaches as
comma-separated targets, and the articles as a compact JSON array in one column.
"""

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from typing import IO

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from backoffice.models import Client, Professional
from cases.models import Article, Case, CaseCategory, CaseLink, CaseTag, Contact, format_number

BATCH = 1000
FORMATS = ("json", "csv")
CSV_COLUMNS = (
    "number", "state", "requester_kind", "requester_id", "requester_email", "requester_phone",
    "subject", "category", "tags", "priority", "channel", "links", "first_response_due_at",
    "next_response_due_at", "resolution_due_at", "first_response_at", "sla_breached",
    "created_at", "articles")


def rows(session: Session, *, since: date | None = None, condition=None,
         batch: int = BATCH) -> Iterator[dict]:
    """Yield each case (created on or after since, matching condition) as a plain dict."""
    client, pro, contact = aliased(Client), aliased(Professional), aliased(Contact)
    query = (
        sa.select(Case.id, Case.state, Case.priority, Case.channel, Case.subject,
                  Case.client_id, Case.professional_id, Case.contact_id, Case.created_at,
                  Case.first_response_due_at, Case.next_response_due_at, Case.resolution_due_at,
                  Case.first_response_at, Case.sla_breached, CaseCategory.code.label("category"),
                  sa.func.coalesce(client.email, pro.email, contact.email).label("email"),
                  sa.func.coalesce(client.phone_e164, client.phone, pro.phone_e164, pro.phone,
                                   contact.phone).label("phone"))
        .outerjoin(CaseCategory, CaseCategory.id == Case.category_id)
        .outerjoin(client, client.id == Case.client_id)
        .outerjoin(pro, pro.id == Case.professional_id)
        .outerjoin(contact, contact.id == Case.contact_id)
        .order_by(Case.id).limit(batch))
    if since is not None:
        query = query.where(Case.created_at >= datetime.combine(since, time.min))
    if condition is not None:
        query = query.where(condition)
    last = 0
    while True:
        cases = session.execute(query.where(Case.id > last)).all()
        if not cases:
            return
        ids = [c.id for c in cases]
        tags, links, articles = _tags(session, ids), _links(session, ids), _articles(session, ids)
        for c in cases:
            yield _case(c, tags[c.id], links[c.id], articles[c.id])
        last = ids[-1]
        if len(cases) < batch:
            return


def write(rows: Iterable[dict], fmt: str, stream: IO[str]) -> int:
    """Write rows to a text stream as a JSON array or CSV; return how many were written."""
    if fmt == "json":
        return _write_json(rows, stream)
    if fmt == "csv":
        return _write_csv(rows, stream)
    raise ValueError(f"format: use one of {', '.join(FORMATS)}")


def _write_json(rows: Iterable[dict], stream: IO[str]) -> int:
    n = 0
    stream.write("[")
    for row in rows:
        stream.write(",\n" if n else "\n")
        stream.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        n += 1
    stream.write("\n]\n" if n else "]\n")
    return n


def _write_csv(rows: Iterable[dict], stream: IO[str]) -> int:
    out = csv.writer(stream)
    out.writerow(CSV_COLUMNS)
    n = 0
    for row in rows:
        requester, sla = row["requester"], row["sla"]
        out.writerow((
            row["number"], row["state"], requester["kind"], requester["id"],
            requester["email"] or "", requester["phone"] or "", row["subject"],
            row["category"] or "", ", ".join(row["tags"]), row["priority"], row["channel"],
            " ".join(f"{link['entity']}:{link['id']}" for link in row["links"]),
            sla["first_response_due_at"] or "", sla["next_response_due_at"] or "",
            sla["resolution_due_at"] or "", sla["first_response_at"] or "",
            ",".join(sla["breached"]), row["created_at"],
            json.dumps(row["articles"], ensure_ascii=False, separators=(",", ":"))))
        n += 1
    return n


def _case(c, tags: list[str], links: list[dict], articles: list[dict]) -> dict:
    kind, key = (("client", c.client_id) if c.client_id else
                 ("professional", c.professional_id) if c.professional_id else
                 ("contact", c.contact_id))
    return {
        "number": format_number(c.id),
        "state": _value(c.state),
        "requester": {"kind": kind, "id": key, "email": c.email, "phone": c.phone},
        "subject": c.subject,
        "category": c.category,
        "tags": tags,
        "priority": _value(c.priority),
        "channel": _value(c.channel),
        "links": links,
        "sla": {"first_response_due_at": _iso(c.first_response_due_at),
                "next_response_due_at": _iso(c.next_response_due_at),
                "resolution_due_at": _iso(c.resolution_due_at),
                "first_response_at": _iso(c.first_response_at),
                "breached": [t for t in (c.sla_breached or "").split(",") if t]},
        "created_at": _iso(c.created_at),
        "articles": articles,
    }


def _tags(session: Session, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for case_id, name in session.execute(sa.select(CaseTag.case_id, CaseTag.name)
                                         .where(CaseTag.case_id.in_(ids))
                                         .order_by(CaseTag.case_id, CaseTag.name)):
        found[case_id].append(name)
    return found


def _links(session: Session, ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = defaultdict(list)
    for case_id, entity, key in session.execute(
            sa.select(CaseLink.case_id, CaseLink.entity, CaseLink.entity_id)
            .where(CaseLink.case_id.in_(ids)).order_by(CaseLink.case_id, CaseLink.id)):
        found[case_id].append({"entity": entity, "id": int(key) if key.isdigit() else key})
    return found


def _articles(session: Session, ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = defaultdict(list)
    for a in session.execute(
            sa.select(Article.case_id, Article.kind, Article.public, Article.message_id,
                      Article.sender, Article.created_at)
            .where(Article.case_id.in_(ids)).order_by(Article.case_id, Article.id)):
        found[a.case_id].append({"kind": _value(a.kind), "public": bool(a.public),
                                 "message_id": a.message_id, "sender": a.sender,
                                 "at": _iso(a.created_at)})
    return found


def _value(member) -> str:
    return getattr(member, "value", member)


def _iso(moment: datetime | None) -> str | None:
    """Write a naive UTC time as ISO 8601 with Z, to the second."""
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"
