"""Demo cases: three weeks of a level-2 desk in every state, macros, and new mail in the inbox.

Each case is played through the desk's services at the moments it happened (open, messages,
moves), so its state history, SLA clocks and audit trail read as if agents had worked it.
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from backoffice.models import Client, Professional, ServiceRequest, StaffUser
from cases import deadlines, service, sla, workflow
from cases.demo_texts import (
    INBOX,
    INBOX_REPLY,
    LEVEL1_AGENTS,
    MACROS,
    MOODS,
    STORIES,
    SUMMARIES,
)
from cases.models import Case, CaseCategory, CaseState, Macro, SlaPolicy

S = CaseState
DESK_PHONE = "+34960000000"
DESK_MAIL = "atencion@demo.example.com"
# How many cases end in each state (the merged ones are duplicates of others), and their age.
STATES = ((S.NEW, 16), (S.OPEN, 34), (S.PENDING, 20), (S.ON_HOLD, 12), (S.SOLVED, 24),
          (S.CLOSED, 36))
MERGED = 8
AGES = {S.NEW: (0.0, 0.4), S.OPEN: (0.1, 10), S.PENDING: (1, 14), S.ON_HOLD: (1, 14),
        S.SOLVED: (1, 6.5), S.CLOSED: (8.5, 21)}
CHANNELS = (("mail", 45), ("phone", 30), ("escalation", 15), ("panel", 10))
PRIORITIES = {"service_complaint": (10, 45, 35, 10), "no_show": (0, 40, 45, 15),
              "payment_dispute": (5, 50, 40, 5), "other": (40, 55, 5, 0)}
PRIORITY_NAMES = ("low", "normal", "high", "urgent")


@dataclass
class Desk:
    """What the demo's cases are made from: the seed's people, bookings and invoices."""

    now: datetime
    rng: random.Random
    calendar: sla.Calendar
    first_response: dict[str, int]  # the general policies' targets in business minutes
    agent: StaffUser
    finance: StaffUser | None
    categories: dict[str, CaseCategory]
    clients: dict[str, list[Client]]
    professionals: list[Professional]
    bookings: list
    invoices: list


def seed_demo(session: Session, *, today: date, rng: random.Random, config) -> None:
    """Seed ~150 cases over three weeks, the desk's macros and a few mails in the inbox."""
    desk = _desk(session, today=today, rng=rng)
    if desk is None:
        return
    _macros(session, desk)
    plan = [state for state, n in STATES for _ in range(n)]
    rng.shuffle(plan)
    duplicates = set(rng.sample([i for i, s in enumerate(plan) if s != S.NEW], MERGED))
    # The services flush where they need to; autoflush before each of their queries would
    # double the seed's time.
    with session.no_autoflush, deadlines.fixed_settings(session):
        for i, state in enumerate(plan):
            _play(session, desk, state, duplicate=i in duplicates)
    inbox = config.get("MAIL_INBOX_MAILDIR") if config else None
    if inbox:
        drop_inbox(session, Path(inbox), desk)
    session.flush()


def _desk(session: Session, *, today: date, rng: random.Random) -> Desk | None:
    real = utcnow().replace(microsecond=0)
    # The live demo plays up to this very minute, so "about to breach" is true when it opens;
    # a seed for another day (a test) plays up to 11:00 in Madrid that day.
    now = real if abs(real.date() - today) <= timedelta(days=1) else datetime.combine(
        today, time(10))
    by_email = sa.select(StaffUser).where(StaffUser.email == sa.bindparam("email"))
    agent = session.scalar(by_email, {"email": "ops@demo.example.com"})
    if agent is None:
        agent = next((u for u in session.scalars(sa.select(StaffUser).order_by(StaffUser.id))
                      if u.active and u.has_role("ops_agent")), None)
    if agent is None:
        return None
    clients: dict[str, list[Client]] = {"es": [], "en": []}
    for c in session.scalars(sa.select(Client).where(Client.email.is_not(None))
                             .order_by(Client.id).limit(400)):
        clients["en" if c.language == "en" else "es"].append(c)
    if not clients["es"]:
        return None
    clients["en"] = clients["en"] or clients["es"]
    bookings = session.execute(
        sa.select(ServiceRequest.id, ServiceRequest.client_id, ServiceRequest.professional_id,
                  ServiceRequest.service_date, ServiceRequest.start_at,
                  ServiceRequest.window_start)
        .where(ServiceRequest.professional_id.is_not(None)).order_by(ServiceRequest.id)).all()
    # Billing's table is read as a table: cases never import billing.
    invoices = session.execute(sa.text(
        "SELECT id, client_id, series, number, total_cents FROM billing_invoice ORDER BY id"
    )).all()
    return Desk(
        now=now, rng=rng, calendar=deadlines.load_calendar(session), agent=agent,
        first_response={p.priority.value: p.first_response_minutes for p in session.scalars(
            sa.select(SlaPolicy).where(SlaPolicy.category_id.is_(None), SlaPolicy.active))},
        finance=session.scalar(by_email, {"email": "finance@demo.example.com"}),
        categories={c.code: c for c in session.scalars(sa.select(CaseCategory))},
        clients=clients,
        professionals=list(session.scalars(sa.select(Professional)
                                           .order_by(Professional.id).limit(60))),
        bookings=bookings, invoices=invoices)


def _macros(session: Session, desk: Desk) -> None:
    have = set(session.scalars(sa.select(Macro.name)))
    for spec in MACROS:
        if spec["name"] in have:
            continue
        category = desk.categories.get(spec["category"]) if spec["category"] else None
        session.add(Macro(name=spec["name"], kind=spec["kind"], body_es=spec["body_es"],
                          body_en=spec["body_en"], set_state=spec["set_state"],
                          set_category_id=category.id if category else None,
                          add_tags=spec["add_tags"], outcomes=spec.get("outcomes")))
    session.flush()


# -- one case, played from its first message to its state now --------------------------------

def _play(session: Session, desk: Desk, state: CaseState, *, duplicate: bool) -> Case:
    rng, now = desk.rng, desk.now
    at_risk = state == S.NEW and rng.random() < 0.45
    lo, hi = AGES[state]
    if state == S.NEW and not at_risk and rng.random() < 0.3:
        lo, hi = 1, 3  # nobody answered for days: breached
    priority = "high" if rng.random() < 0.6 else "urgent"
    created = (_at_risk_start(desk, desk.first_response.get(priority, 60)) if at_risk else
               _business_moment(desk, now - timedelta(days=rng.uniform(lo, hi))))
    channel = _weighted(rng, CHANNELS)
    story, facts, requester, links = _story(session, desk, created)
    lang = story["lang"]
    priority = priority if at_risk else _priority(rng, story)
    assignee = None if state == S.NEW and rng.random() < 0.6 else desk.agent
    if story["code"] in ("billing_question", "payment_dispute") and desk.finance and \
            assignee and rng.random() < 0.5:
        assignee = desk.finance
    category = None if state == S.NEW and rng.random() < 0.3 else desk.categories.get(
        story["code"])
    subject = story["subject"].format(**facts)
    case = service.open_case(
        session, subject=subject, channel=channel, requester=requester, priority=priority,
        category=category, language=lang, assignee=assignee, offer=False,
        tags=list(story["tags"]) if rng.random() < 0.7 else [],
        level1_agent=rng.choice(LEVEL1_AGENTS) if channel == "escalation" else None, now=created)
    for entity, key in links:
        service.link(session, case=case, entity=entity, entity_id=key)
    author = assignee or desk.agent
    facts = {**facts, "agent": author.name.split()[0], "number": case.number}
    t = _first_message(session, desk, case, story, facts, channel, created)
    if state == S.NEW:
        if created < now - timedelta(days=1) and channel == "mail":
            _inbound(session, desk, case, _nudge(lang, facts), _later(desk, t, 600))
        return case
    twin = _duplicate(session, desk, case, story, facts, t) if duplicate else None
    t = _later(desk, t, rng.uniform(8, 100))
    if twin is not None:
        service.merge(session, source=twin, target=case, user=author, now=t)
    if case.assignee is None:
        service.take(session, case=case, user=author, now=t)
    _outbound(session, desk, case, story["reply"].format(**facts), t, author, channel)
    if state == S.OPEN:
        if rng.random() < 0.6:
            _inbound(session, desk, case, story["answer"].format(**facts),
                     _later(desk, t, rng.uniform(30, 900)))
        if rng.random() < 0.4:
            service.add_article(session, case=case, kind="note", user=author,
                                body=story["note"].format(**facts), now=_later(desk, t, 5))
    elif state == S.PENDING:
        t = _later(desk, t, rng.uniform(60, 600))
        _outbound(session, desk, case, story["ask"].format(**facts), t, author, "mail")
        workflow.transition(session, case=case, to=S.PENDING, user=author, now=t)
    elif state == S.ON_HOLD:
        t = _later(desk, t, rng.uniform(20, 300))
        service.add_article(session, case=case, kind="note", user=author,
                            body=story.get("hold", story["note"]).format(**facts), now=t)
        workflow.transition(session, case=case, to=S.ON_HOLD, user=author, now=t)
    else:  # solved, closed
        last = now - timedelta(days=7, hours=1) if state == S.CLOSED else now
        t = max(min(_later(desk, t, rng.uniform(60, 1200)), last - timedelta(minutes=30)),
                t + timedelta(minutes=1))
        _inbound(session, desk, case, story["answer"].format(**facts), t)
        t = max(min(_later(desk, t, rng.uniform(5, 120)), last), t + timedelta(minutes=1))
        if case.category is None:
            service.update(session, case=case, category=desk.categories["other"], now=t)
        workflow.transition(session, case=case, to=S.SOLVED, user=author, now=t)
        if state == S.CLOSED:
            workflow.transition(session, case=case, to=S.CLOSED, note="closed_after_7_days",
                                now=t + workflow.CLOSE_AFTER)
    return case


def _story(session: Session, desk: Desk, created: datetime):
    """Pick a story that fits the records there are; return it with its facts and links."""
    rng = desk.rng
    for _ in range(20):
        story = rng.choice(STORIES)
        found = _records(desk, story, created)
        if found is not None:
            break
    else:
        story = STORIES[-1]
        found = _records(desk, {"lang": "es", "needs": None}, created)
    requester, booking, invoice = found
    lang = story["lang"]
    facts = {"first": requester.name.split()[0], "date": "", "time": "", "new_time": "",
             "pro": "", "invoice": "", "amount": ""}
    links = []
    if booking is not None:
        start = booking.start_at or datetime.combine(booking.service_date, booking.window_start)
        pro = session.get(Professional, booking.professional_id)
        shift = rng.choice((-3, -2, 2, 3))
        facts.update(date=_day(start.date(), lang), time=f"{start:%H:%M}", pro=pro.name,
                     new_time=f"{(start + timedelta(hours=shift)):%H:%M}")
        links += [("service_request", booking.id), ("professional", pro.id)]
    elif story["needs"] == "past":  # a visit before the seed's bookings: name its professional
        pro = rng.choice(desk.professionals)
        facts.update(date=_day(created.date() - timedelta(days=1), lang), time="09:00",
                     new_time="11:00", pro=pro.name)
        links.append(("professional", pro.id))
    if invoice is not None:
        facts.update(invoice=f"{invoice.series}-{invoice.number:06d}",
                     amount=format_currency(invoice.total_cents / 100, "EUR",
                                            locale="en_IE" if lang == "en" else "es_ES"))
        links.append(("invoice", invoice.id))
    return story, facts, requester, links


def _records(desk: Desk, story: dict, created: datetime):
    """Return (requester, booking, invoice) for a story, or None when the seed has none."""
    rng, needs, lang = desk.rng, story["needs"], story["lang"]
    if story.get("requester") == "professional":
        return (rng.choice(desk.professionals), None, None) if desk.professionals else None
    clients = desk.clients[lang]
    if needs in ("future", "past"):
        day = created.date()
        if needs == "future":
            fits = [b for b in desk.bookings if day < b.service_date <= day + timedelta(days=10)]
        else:
            fits = [b for b in desk.bookings if day - timedelta(days=4) <= b.service_date < day]
        ids = {c.id for c in clients}
        fits = [b for b in fits if b.client_id in ids]
        if not fits:
            return (rng.choice(clients), None, None) if needs == "past" else None
        booking = rng.choice(fits)
        return next(c for c in clients if c.id == booking.client_id), booking, None
    if needs == "invoice":
        ids = {c.id: c for c in clients}
        fits = [i for i in desk.invoices if i.client_id in ids]
        if not fits:
            return None
        invoice = rng.choice(fits)
        return ids[invoice.client_id], None, invoice
    return rng.choice(clients), None, None


def _first_message(session, desk, case, story, facts, channel, created) -> datetime:
    rng, lang = desk.rng, story["lang"]
    who = case.requester
    if channel == "mail":
        _inbound(session, desk, case, story["open"].format(**facts), created)
    elif channel == "phone":
        service.add_article(session, case=case, kind="call_in", public=True,
                            body=story["call"].format(**facts), sender=who.phone_e164,
                            call_from=who.phone_e164 or who.phone, call_to=DESK_PHONE,
                            call_seconds=rng.randint(45, 720), call_outcome="reached",
                            user=case.assignee, now=created)
    elif channel == "escalation":
        summary = SUMMARIES[lang].format(first=facts["first"], subject=case.subject,
                                         mood=rng.choice(MOODS[lang]))
        service.add_article(session, case=case, kind="summary", public=False, body=summary,
                            sender=case.level1_agent, now=created)
    else:  # panel: an agent opened it from a chat or a visit to the office
        service.add_article(session, case=case, kind="note", user=desk.agent,
                            body=story["call"].format(**facts), now=created)
    return created


def _duplicate(session, desk, case, story, facts, t) -> Case:
    """Open the same requester's second case about the same thing (to be merged)."""
    lang = story["lang"]
    twin = service.open_case(session, subject=case.subject, channel="mail",
                             requester=case.requester, priority=case.priority,
                             language=lang, offer=False, now=t + timedelta(minutes=2))
    _inbound(session, desk, twin, _nudge(lang, facts), t + timedelta(minutes=2))
    return twin


def _nudge(lang: str, facts: dict) -> str:
    if lang == "en":
        return ("Hello again, I wrote about this earlier and have had no answer yet.\n"
                + facts["first"])
    return "Hola de nuevo, ya les escribí por esto y todavía no tengo respuesta.\n" + facts["first"]


def _inbound(session, desk: Desk, case: Case, body: str, at: datetime, *, kind: str = "mail_in"):
    who = case.requester
    if kind == "call_in":
        return service.add_article(session, case=case, kind=kind, body=body,
                                   sender=who.phone_e164, call_from=who.phone_e164 or who.phone,
                                   call_to=DESK_PHONE, call_seconds=desk.rng.randint(60, 420),
                                   call_outcome="reached", now=at)
    domain = (who.email or "mail.example.com").rsplit("@", 1)[-1]
    return service.add_article(session, case=case, kind=kind, body=body, sender=who.email,
                               subject=case.subject, recipients=DESK_MAIL,
                               message_id=f"<{desk.rng.getrandbits(64):016x}@{domain}>", now=at)


def _outbound(session, desk: Desk, case: Case, body: str, at: datetime, author: StaffUser,
              channel: str):
    who = case.requester
    if channel in ("phone", "escalation"):
        outcome = desk.rng.choice(("reached", "reached", "reached", "voicemail"))
        return service.add_article(session, case=case, kind="call_out", body=body, user=author,
                                   call_from=DESK_PHONE, call_to=who.phone_e164 or who.phone,
                                   call_seconds=desk.rng.randint(40, 600) if outcome == "reached"
                                   else 25, call_outcome=outcome, now=at)
    n = len(case.articles) + 1
    return service.add_article(session, case=case, kind="mail_out", body=body, user=author,
                               sender=DESK_MAIL, recipients=who.email,
                               subject=f"Re: [{case.number}] {case.subject}",
                               message_id=f"<{case.number}.{n}@demo.example.com>", now=at)


# -- moments ---------------------------------------------------------------------------------

def _business_moment(desk: Desk, around: datetime) -> datetime:
    """Return a moment within opening hours on the business day of around (or the one before)."""
    rng, calendar = desk.rng, desk.calendar
    day = calendar.local_day(around)
    for _ in range(10):
        spans = [s for s in calendar.open_intervals(day) if s[0] < desk.now]
        if spans:
            start, end = rng.choice(spans)
            end = min(end, desk.now - timedelta(minutes=20))
            if end > start:
                return start + (end - start) * rng.random()
        day -= timedelta(days=1)
    return around.replace(microsecond=0)


def _at_risk_start(desk: Desk, target: int) -> datetime:
    """Return a start whose first-response clock of target business minutes is 65-95% used."""
    used = desk.rng.uniform(0.65, 0.95) * target
    lo, hi = desk.now - timedelta(days=7), desk.now
    for _ in range(30):
        mid = lo + (hi - lo) / 2
        if sla.business_minutes_between(desk.calendar, mid, desk.now) > used:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def _later(desk: Desk, t: datetime, minutes: float) -> datetime:
    """Return t plus business minutes, never past a minute before now."""
    moment = sla.add_business_minutes(desk.calendar, t, minutes)
    return max(min(moment, desk.now - timedelta(minutes=1)), t + timedelta(seconds=30))


def _weighted(rng: random.Random, choices) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _priority(rng: random.Random, story: dict) -> str:
    weights = PRIORITIES.get(story["code"], (15, 65, 17, 3))
    return rng.choices(PRIORITY_NAMES, weights=weights)[0]


def _day(day: date, lang: str) -> str:
    return format_date(day, "EEEE d MMMM" if lang == "en" else "EEEE d 'de' MMMM", locale=lang)


# -- the inbox -------------------------------------------------------------------------------

def drop_inbox(session: Session, maildir: Path, desk: Desk) -> list[Path]:
    """Write a few new mails into the Maildir's new/: the fetch turns them into cases."""
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for old in [*(maildir / "new").glob("*.demo*"), *(maildir / "cur").glob("*.demo*")]:
        old.unlink()  # a fresh demo database starts from a fresh inbox
    rng, now = desk.rng, desk.now
    mails = []
    for i, spec in enumerate(INBOX):
        pool = desk.clients[spec["lang"]]
        client = pool[-1 - i % len(pool)]
        mails.append(_mail(client, spec["subject"], spec["body"].format(
            first=client.name.split()[0]), now - timedelta(minutes=3 + 2 * i), rng))
    waiting = session.scalars(
        sa.select(Case).where(Case.state == S.PENDING, Case.channel == "mail",
                              Case.client_id.is_not(None), Case.language == "es")
        .order_by(Case.id)).first()
    if waiting is not None:
        asked = [a for a in waiting.articles if a.kind == "mail_out" and a.message_id]
        if asked:
            mail = _mail(waiting.client, f"Re: [{waiting.number}] {waiting.subject}",
                         INBOX_REPLY.format(first=waiting.client.name.split()[0]),
                         now - timedelta(minutes=1), rng)
            mail["In-Reply-To"] = asked[-1].message_id
            mail["References"] = " ".join(a.message_id for a in asked)
            mails.append(mail)
    paths = []
    stamp = int(now.replace(tzinfo=UTC).timestamp())
    for i, mail in enumerate(mails):
        path = maildir / "new" / f"{stamp}.M{i}R{rng.getrandbits(32):08x}.demo"
        path.write_bytes(bytes(mail))
        paths.append(path)
    return paths


def _mail(client: Client, subject: str, body: str, at: datetime,
          rng: random.Random) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"{client.name} <{client.email}>"
    mail["To"] = DESK_MAIL
    mail["Subject"] = subject
    mail["Date"] = format_datetime(at.replace(tzinfo=UTC))
    domain = client.email.rsplit("@", 1)[-1]
    mail["Message-ID"] = f"<{rng.getrandbits(64):016x}.demo@{domain}>"
    mail.set_content(body)
    return mail

