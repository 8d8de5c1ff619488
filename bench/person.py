"""The client's page for bench/panel.py: a client with a long story, our page, a plain ORM page.

The heavy client is added once to the bench database: 500 bookings (each with its audit row,
50 of them cancelled), 50 invoices, 100 cases with two mails each, 300 calls and notes and 100
mails from the outbox: 1,400 timeline entries. The plain page reads the same story the way an
ORM page without care does (every related object loaded, sorted in Python) and renders the
newest 50 entries; it is the baseline measured in the same run.
"""

import os
import statistics
import time
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import request
from flask_admin import BaseView, expose

from backoffice import audit, timeline
from backoffice.db import db
from backoffice.models import (
    AuditEvent,
    Client,
    Interaction,
    InteractionKind,
    OutboxMessage,
    ServiceRequest,
)

NAME = "Bench Heavy Client"
T0 = datetime(2025, 12, 1, 9, 0)


def audit_noise(session, rows: int = 300_000) -> None:
    """Give the audit trail the rows a year of other bookings leaves (once): the client's page
    must find its own among them."""
    have = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "service_request"))
    rows = min(rows, session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)))
    if have >= rows:
        return
    print(f"adding {rows} audit rows of other bookings (once)...", flush=True)
    ids = session.scalars(sa.select(ServiceRequest.id).order_by(ServiceRequest.id)
                          .limit(rows)).all()
    for start in range(0, len(ids), 20_000):
        session.execute(sa.insert(AuditEvent), [
            {**audit.row("create", "service_request", rid, {"status": [None, "new"]}),
             "at": T0 + timedelta(seconds=30 * (start + i))}
            for i, rid in enumerate(ids[start:start + 20_000])])
    session.execute(sa.text("ANALYZE audit_event"))  # unlike VACUUM, fine in a transaction
    session.commit()


def heavy_client(session) -> int:
    """Return the id of the bench's heavy client, adding it and its story on first use."""
    from billing.models import Invoice
    from cases.models import Article, ArticleKind, Case

    found = session.scalar(sa.select(Client.id).where(Client.name == NAME))
    if found:
        return found
    print("adding the heavy client (once)...", flush=True)
    person = Client(name=NAME, email="bench.heavy@example.com", phone="+34 699 000 111",
                    address="Carrer de la Pau 1, Valencia", zone="Ciutat Vella")
    session.add(person)
    session.flush()
    pid = person.id
    rows = [{"client_id": pid, "skill": "cleaning", "service_date": date(2026, 1, 5)
             + timedelta(days=i % 360), "window_start": datetime.min.time().replace(hour=9),
             "window_end": datetime.min.time().replace(hour=12), "duration_min": 120,
             "status": "cancelled" if i % 10 == 0 else "done", "priority": 1,
             "recurrence": "one_off", "pinned": False, "version": 1,
             "cancellation_reason": "the client is ill" if i % 10 == 0 else None,
             "created_at": T0 + timedelta(hours=i), "updated_at": T0 + timedelta(hours=i)}
            for i in range(500)]
    ids = session.execute(sa.insert(ServiceRequest).returning(ServiceRequest.id), rows).scalars()
    events = []
    for i, rid in enumerate(ids):
        row = audit.row("create", "service_request", rid, {"status": [None, "new"]})
        events.append({**row, "at": T0 + timedelta(hours=i)})
        if i % 10 == 0:
            row = audit.row("update", "service_request", rid,
                            {"status": ["new", "cancelled"],
                             "cancellation_reason": [None, "the client is ill"]})
            events.append({**row, "at": T0 + timedelta(hours=i, minutes=30)})
    session.execute(sa.insert(AuditEvent), events)
    session.execute(sa.insert(Invoice), [
        {"series": "B2026", "number": 900_000 + pid * 100 + i, "client_id": pid,
         "period_start": date(2026, 1, 1), "period_end": date(2026, 1, 31),
         "issued_on": date(2026, 2, 1), "due_on": date(2026, 2, 15), "total_cents": 4000 + i,
         "status": "in_dunning" if i < 3 else "paid", "created_at": T0 + timedelta(days=i)}
        for i in range(50)])
    case_ids = session.execute(sa.insert(Case).returning(Case.id), [
        {"subject": f"Consulta {i}", "state": "solved", "priority": "normal", "channel": "mail",
         "client_id": pid, "created_at": T0 + timedelta(days=i, hours=3),
         "updated_at": T0 + timedelta(days=i, hours=3), "sla_warned": "", "sla_breached": ""}
        for i in range(100)]).scalars().all()
    session.execute(sa.insert(Article), [
        {"case_id": cid, "kind": kind, "created_at": T0 + timedelta(days=i, hours=3 + k),
         "subject": f"Consulta {i}", "body": "Hola", "public": True}
        for i, cid in enumerate(case_ids)
        for k, kind in enumerate((ArticleKind.MAIL_IN, ArticleKind.MAIL_OUT))])
    session.execute(sa.insert(Interaction), [
        {"kind": (InteractionKind.NOTE, InteractionKind.CALL_IN, InteractionKind.CALL_OUT)[i % 3],
         "client_id": pid, "at": T0 + timedelta(hours=7 * i), "body": f"Llamada {i}",
         "outcome": None if i % 3 == 0 else "answered", "duration_s": 60 + i}
        for i in range(300)])
    session.execute(sa.insert(OutboxMessage), [
        {"to_address": person.email, "subject": f"Recordatorio {i}", "body": "...",
         "template": "reminder", "created_at": T0 + timedelta(hours=5 * i), "attempts": 0}
        for i in range(100)])
    session.commit()
    vacuum(session)
    return pid


def vacuum(session) -> None:
    """VACUUM ANALYZE the tables the page reads, as autovacuum would after a bulk load: the
    index-only probes of the bookings' audit trail then skip the heap (once, on PostgreSQL)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        session.execute(sa.text("ANALYZE"))
        session.commit()
        return
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("audit_event", "service_request", "interaction", "outbox_message",
                      '"case"', "case_article", "billing_invoice", "client"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))


PLAIN = """<h3>{{ c.name }}</h3><p>{{ c.email }} {{ c.phone }} {{ balance }}</p>
<table>{% for b in bookings[:30] %}<tr><td>{{ b.id }}</td><td>{{ b.service_date }}</td>
<td>{{ b.status }}</td><td>{{ b.professional.name if b.professional else '' }}</td></tr>{% endfor %}
</table><table>{% for at, kind, text in entries %}<tr><td>{{ at }}</td><td>{{ kind }}</td>
<td>{{ text }}</td></tr>{% endfor %}</table>"""


class PlainClientPage(BaseView):
    """The same story read the plain ORM way: the baseline of the client's page."""

    def is_accessible(self):
        return True

    @expose("/")
    def index(self):
        from flask import render_template_string

        from billing.models import Invoice
        from cases.models import Case

        s = db.session
        c = s.get(Client, int(request.args["id"]))
        bookings = s.scalars(sa.select(ServiceRequest).where(ServiceRequest.client_id == c.id)
                             .order_by(ServiceRequest.service_date.desc())).all()
        invoices = s.scalars(sa.select(Invoice).where(Invoice.client_id == c.id)).all()
        cases = s.scalars(sa.select(Case).where(Case.client_id == c.id)).all()
        entries = [(i.created_at, "invoice", i.code) for i in invoices]
        entries += [(k.created_at, "case", k.subject) for k in cases]
        entries += [(a.created_at, "mail", a.subject) for k in cases for a in k.articles]
        entries += [(i.at, i.kind, i.body) for i in s.scalars(
            sa.select(Interaction).where(Interaction.client_id == c.id))]
        entries += [(m.created_at, "mail", m.subject) for m in s.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.to_address == c.email))]
        entries += [(e.at, e.action, str(e.changes)) for e in s.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.entity == "service_request",
                AuditEvent.entity_id.in_([str(b.id) for b in bookings])))]
        entries.sort(key=lambda e: e[0], reverse=True)
        balance = sum(i.due_cents for i in invoices if i.status.value != "paid")
        return render_template_string(PLAIN, c=c, bookings=bookings, entries=entries[:50],
                                      balance=balance)


def client_page_section(app, client, runs: int, timed) -> None:
    """Print the client's page, its timeline query alone and the plain ORM page."""
    with app.app_context():
        audit_noise(db.session)
        pid = heavy_client(db.session)
        samples = []
        for i in range(runs + 2):
            t0 = time.perf_counter()
            timeline.client_timeline(db.session, client_id=pid, email="bench.heavy@example.com")
            if i >= 2:
                samples.append((time.perf_counter() - t0) * 1000)
            db.session.rollback()
        samples.sort()
    print(f"\n{'client page (1,400 entries)':28s} {'ours p50':>9s} {'ours p95':>9s} "
          f"{'plain p50':>10s} {'plain p95':>10s} {'p95 ratio':>10s}")
    ours = timed(client, f"/admin/client/details/?id={pid}", runs)
    plain = timed(client, f"/admin/plain_client/?id={pid}", runs)
    assert ours[2] == 200 and plain[2] == 200, (ours[2], plain[2])
    print(f"{'client page':28s} {ours[0]:8.1f}ms {ours[1]:8.1f}ms {plain[0]:9.1f}ms "
          f"{plain[1]:9.1f}ms {plain[1] / ours[1]:9.1f}x")
    older = timed(client, f"/admin/client/details/?id={pid}&kind=booking", runs)
    print(f"{'  filtered: bookings':28s} {older[0]:8.1f}ms {older[1]:8.1f}ms")
    with app.app_context():
        from backoffice.models import Professional

        pro = db.session.scalar(sa.select(sa.func.max(Professional.id)))
    mine = timed(client, f"/admin/professional/details/?id={pro}", runs)
    print(f"{'  professional page':28s} {mine[0]:8.1f}ms {mine[1]:8.1f}ms")
    floor = timed(client, "/admin/no-such-page/", runs)
    print(f"{'  (any logged-in request)':28s} {floor[0]:8.1f}ms {floor[1]:8.1f}ms")
    print(f"{'  timeline query alone':28s} {statistics.median(samples):8.1f}ms "
          f"{samples[int(len(samples) * 0.95) - 1]:8.1f}ms")
    # Two cores shared with others: the figures mean little without the load they ran under.
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
