"""Tell clients and professionals about their bookings, each change once.

sync() compares the bookings with what each audience was last told (ToldBooking) and queues
one notice per real change: the query returns only the services that differ, so a run with
nothing new is one indexed query, and a publish that moves 1,000 services costs one query, one
insert into the outbox and one upsert of the told rows. A change that is undone before the
next sync (a booking moved and moved back) is never told: what counts is the difference
between what the person knows and what is true now.

- A client hears: booked (who comes, when), a change of professional or time, a cancellation
  of a service they had been told about, and (remind) a reminder the day before. A service
  that loses its professional is not told until it is booked again or cancelled: ops re-cover
  it, and the client then hears the difference from what they knew.
- A professional gets one mail per sync listing the changes to their own services (new,
  re-timed, taken away, cancelled), and (agenda) tomorrow's services at 19:00.
- Reminders and agendas skip people who opted out of reminders or whose address bounces.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import mail
from backoffice.db import is_postgres, utcnow
from backoffice.i18n import Refusal
from backoffice.models import (
    Client,
    ClientStatus,
    Professional,
    RequestStatus,
    ServiceRequest,
)
from notifications import compose, ical
from notifications.models import Audience, Told, ToldBooking

S = RequestStatus
BOOKED = (S.ASSIGNED, S.CONFIRMED)
# Services that can still lose their professional (an unassigned one is back to new).
OPEN = (S.NEW, S.ASSIGNED, S.CONFIRMED)
LOCK_KEY = 0x4E4F5449  # "NOTI": one sync at a time, so two never tell the same change
CHUNK = 1000


def local(now: datetime) -> datetime:
    """Return now as a Madrid wall-clock time, the form of service_request.start_at."""
    return now.astimezone(ical.MADRID).replace(tzinfo=None) if now.tzinfo else now


def _lock(session: Session) -> None:
    # Held until the transaction ends; on SQLite the single writer lock serializes instead.
    if is_postgres(session):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


# --- what differs from what was told ------------------------------------------------------------

_sr = ServiceRequest.__table__
_tc = ToldBooking.__table__.alias("tc")
_tp = ToldBooking.__table__.alias("tp")


def _differs(told, now: datetime):
    """The SQL condition: booked now, and told nothing, something else, or other pro/start."""
    booked = sa.and_(_sr.c.status.in_(BOOKED), _sr.c.professional_id.is_not(None),
                     _sr.c.start_at.is_not(None), _sr.c.start_at >= now)
    return sa.and_(booked, sa.or_(told.c.state.is_(None), told.c.state != Told.BOOKED,
                                  told.c.professional_id != _sr.c.professional_id,
                                  told.c.start_at != _sr.c.start_at))


def _changed_query(now: datetime):
    not_booked = sa.or_(_sr.c.status.not_in(BOOKED), _sr.c.professional_id.is_(None),
                        _sr.c.start_at.is_(None))
    return (
        sa.select(_sr.c.id, _sr.c.client_id, _sr.c.status, _sr.c.professional_id,
                  _sr.c.start_at, _sr.c.end_at, _sr.c.skill, _sr.c.address,
                  _tc.c.state.label("c_state"), _tc.c.professional_id.label("c_pro"),
                  _tc.c.start_at.label("c_start"), _tc.c.end_at.label("c_end"),
                  _tc.c.sequence.label("c_seq"),
                  _tp.c.state.label("p_state"), _tp.c.professional_id.label("p_pro"),
                  _tp.c.start_at.label("p_start"), _tp.c.end_at.label("p_end"),
                  _tp.c.sequence.label("p_seq"))
        .select_from(_sr.outerjoin(_tc, sa.and_(_tc.c.request_id == _sr.c.id,
                                                _tc.c.audience == Audience.CLIENT))
                     .outerjoin(_tp, sa.and_(_tp.c.request_id == _sr.c.id,
                                             _tp.c.audience == Audience.PROFESSIONAL)))
        .where(_sr.c.service_date >= now.date(), sa.or_(
            _differs(_tc, now),
            sa.and_(_sr.c.status == S.CANCELLED, _tc.c.state == Told.BOOKED),
            _differs(_tp, now),
            sa.and_(_tp.c.state == Told.BOOKED, _sr.c.status.in_((*OPEN, S.CANCELLED)),
                    not_booked),
        ))
        .order_by(_sr.c.start_at, _sr.c.id)
    )


def _changed(session: Session, *, now: datetime, request_ids) -> list:
    query = _changed_query(now)
    if request_ids is None:
        return list(session.execute(query))
    ids = sorted(set(request_ids))
    return [row for i in range(0, len(ids), CHUNK)
            for row in session.execute(query.where(_sr.c.id.in_(ids[i:i + CHUNK])))]


def _people(session: Session, model, ids: set[int]) -> dict[int, sa.Row]:
    """Return id -> (id, name, email, language, address, usable) of clients or professionals."""
    usable = (model.status != ClientStatus.ERASED if model is Client
              else model.erased_at.is_(None))
    found = {}
    ids = sorted(i for i in ids if i is not None)
    for i in range(0, len(ids), CHUNK):
        found.update((r.id, r) for r in session.execute(
            sa.select(model.id, model.name, model.email, model.language, model.address,
                      usable.label("usable"))
            .where(model.id.in_(ids[i:i + CHUNK]))))
    return found


def _told(request_id: int, audience: Audience, state: Told, pro, start, end, seq: int,
          at: datetime) -> dict:
    return {"request_id": request_id, "audience": audience, "state": state,
            "professional_id": pro, "start_at": start, "end_at": end, "sequence": seq,
            "told_at": at}


def _save_told(session: Session, rows: list[dict]) -> None:
    if not rows:
        return
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(ToldBooking.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["request_id", "audience"],
        set_={c: stmt.excluded[c] for c in ("state", "professional_id", "start_at", "end_at",
                                             "sequence", "told_at")})
    for i in range(0, len(rows), CHUNK):
        session.execute(stmt, rows[i:i + CHUNK])


def sync(*, session: Session, now: datetime, request_ids=None, send: bool = True) -> dict:
    """Queue one notice per booking change not told yet; return how many of each kind.

    request_ids limits the comparison to those services (a publish passes the ones it
    changed). send=False records the bookings as told without mailing: the first run on a
    database whose bookings predate the notices."""
    now = local(now)
    session.flush()  # the Core query below must see the ORM's pending booking changes
    _lock(session)
    rows = _changed(session, now=now, request_ids=request_ids)
    if not rows:
        return {"services": 0}
    at, counts = utcnow(), defaultdict(int)
    clients = _people(session, Client, {r.client_id for r in rows})
    pros = _people(session, Professional, {p for r in rows for p in
                                           (r.professional_id, r.c_pro, r.p_pro)})
    told, mails = [], []
    by_pro: dict[int, list[dict]] = defaultdict(list)

    def pro_name(pro_id):
        p = pros.get(pro_id)
        return p.name if p is not None and p.usable else ""

    for r in rows:
        holds = (r.status in BOOKED and r.professional_id is not None
                 and r.start_at is not None)
        booked = holds and r.start_at >= now  # a service under way is no news
        client = clients.get(r.client_id)
        usable = client is not None and client.usable
        lang = compose.lang_of(client.language if client else None)
        to = client.email if usable and send else None
        address = r.address or (client.address if usable else None)  # the service's, or home
        # the client
        if booked and (r.c_state != Told.BOOKED or r.c_pro != r.professional_id
                       or r.c_start != r.start_at):
            first = r.c_state != Told.BOOKED
            seq = 0 if r.c_seq is None else r.c_seq + 1
            told.append(_told(r.id, Audience.CLIENT, Told.BOOKED, r.professional_id,
                              r.start_at, r.end_at, seq, at))
            counts["confirmed" if first else "changed"] += 1
            if to:
                ctx = compose.booking_context(
                    lang=lang, name=client.name, request_id=r.id, skill=r.skill,
                    start=r.start_at, end=r.end_at, professional=pro_name(r.professional_id),
                    address=address)
                if not first:
                    ctx.update(professional_changed=r.c_pro != r.professional_id,
                               time_changed=r.c_start != r.start_at,
                               old_professional=pro_name(r.c_pro),
                               old_day=compose.day_text(r.c_start.date(), lang),
                               old_start=compose.hour(r.c_start))
                event = ical.Event(r.id, r.start_at, r.end_at, seq,
                                   _summary(ctx["service"], ctx["professional"]), address)
                mails.append(compose.client_mail(
                    template="booking_confirmed" if first else "booking_changed", to=to,
                    lang=lang, context=ctx, request_id=r.id, event=event, method="REQUEST",
                    stamp=at, dedup_key=f"notice:client:{r.id}:{seq}"))
        elif r.status == S.CANCELLED and r.c_state == Told.BOOKED:
            seq = r.c_seq + 1
            told.append(_told(r.id, Audience.CLIENT, Told.CANCELLED, r.c_pro, r.c_start,
                              r.c_end, seq, at))
            counts["cancelled"] += 1
            if to:
                ctx = compose.booking_context(
                    lang=lang, name=client.name, request_id=r.id, skill=r.skill,
                    start=r.c_start, end=r.c_end, professional=pro_name(r.c_pro),
                    address=address)
                event = ical.Event(r.id, r.c_start, r.c_end, seq,
                                   _summary(ctx["service"], ctx["professional"]), address,
                                   cancelled=True)
                mails.append(compose.client_mail(
                    template="booking_cancelled", to=to, lang=lang, context=ctx,
                    request_id=r.id, event=event, method="CANCEL", stamp=at,
                    dedup_key=f"notice:client:{r.id}:{seq}"))
        # the professionals: the one told before and the one booked now
        p_booked = r.p_state == Told.BOOKED
        seq = 0 if r.p_seq is None else r.p_seq + 1
        change = {"number": r.id, "skill": r.skill, "client": client.name if usable else "",
                  "address": address, "seq": seq}
        if booked and (not p_booked or r.p_pro != r.professional_id
                       or r.p_start != r.start_at):
            now_theirs = {**change, "start": r.start_at, "end": r.end_at}
            if p_booked and r.p_pro == r.professional_id:
                by_pro[r.professional_id].append(
                    {**now_theirs, "kind": "retimed", "old_start": r.p_start})
            else:
                if p_booked:
                    by_pro[r.p_pro].append({**change, "kind": "removed", "start": r.p_start,
                                            "end": r.p_end})
                by_pro[r.professional_id].append({**now_theirs, "kind": "added"})
            told.append(_told(r.id, Audience.PROFESSIONAL, Told.BOOKED, r.professional_id,
                              r.start_at, r.end_at, seq, at))
        elif p_booked and not holds and r.status in (*OPEN, S.CANCELLED):
            kind = "cancelled" if r.status == S.CANCELLED else "removed"
            by_pro[r.p_pro].append({**change, "kind": kind, "start": r.p_start,
                                    "end": r.p_end})
            told.append(_told(r.id, Audience.PROFESSIONAL, Told.REMOVED, r.p_pro, r.p_start,
                              r.p_end, seq, at))
    for pro_id, changes in by_pro.items():
        counts["professional_changes"] += len(changes)
        pro = pros.get(pro_id)
        if not send or pro is None or not pro.usable or not pro.email:
            continue
        counts["professional_mails"] += 1
        mails.append(_pro_changes_mail(pro, changes, stamp=at))
    _save_told(session, told)
    counts["mails"] = mail.enqueue_many(session, mails) if mails else 0
    counts["services"] = len(rows)
    return dict(counts)


def _summary(service: str, who: str) -> str:
    return f"{service.capitalize()}: {who}" if who else service.capitalize()


def _pro_changes_mail(pro, changes: list[dict], *, stamp: datetime) -> dict:
    """Return one professional's changes as one mail, its calendar part holding each service."""
    lang = compose.lang_of(pro.language)
    items, events = [], []
    for c in changes:
        item = compose.pro_item(kind=c["kind"], lang=lang, request_id=c["number"],
                                skill=c["skill"], start=c["start"], end=c["end"],
                                client=c["client"], address=c["address"],
                                old_start=c.get("old_start"))
        items.append(item)
        # a service taken away is CANCELLED in this professional's calendar
        events.append(ical.Event(c["number"], c["start"], c["end"], c["seq"],
                                 _summary(item["service"], c["client"]), c["address"],
                                 cancelled=c["kind"] in ("removed", "cancelled")))
    digest = hashlib.sha1(",".join(f"{c['number']}.{c['seq']}.{c['kind']}" for c in changes)
                          .encode()).hexdigest()[:16]
    return compose.pro_mail(template="pro_changes", to=pro.email, lang=lang,
                            context={"name": pro.name, "items": items},
                            professional_id=pro.id, events=events, stamp=stamp,
                            dedup_key=f"notice:pro:{pro.id}:{digest}")


def _place(sr):
    return sa.func.coalesce(sr.address, Client.address).label("address")


# --- the day before -----------------------------------------------------------------------------


def remind(*, session: Session, now: datetime) -> dict:
    """Queue a reminder to each client with a service tomorrow, once per service and start.

    Clients who opted out of reminders or whose address bounces get none."""
    now = local(now)
    tomorrow = now.date() + timedelta(days=1)
    sr, pro = ServiceRequest, Professional
    rows = session.execute(
        sa.select(sr.id, sr.skill, _place(sr), sr.start_at, sr.end_at, Client.name,
                  Client.email, Client.language, pro.name.label("pro_name"),
                  _tc.c.sequence)
        .join(Client, Client.id == sr.client_id)
        .join(pro, pro.id == sr.professional_id)
        .outerjoin(_tc, sa.and_(_tc.c.request_id == sr.id, _tc.c.audience == Audience.CLIENT))
        .where(sr.service_date == tomorrow, sr.status.in_(BOOKED), sr.start_at.is_not(None),
               Client.email.is_not(None), Client.email != "", Client.status != ClientStatus.ERASED,
               Client.reminders_opt_out.is_(False), Client.email_failing_since.is_(None))
        .order_by(sr.start_at, sr.id)).all()
    at, mails = utcnow(), []
    for r in rows:
        lang = compose.lang_of(r.language)
        ctx = compose.booking_context(lang=lang, name=r.name, request_id=r.id, skill=r.skill,
                                      start=r.start_at, end=r.end_at, professional=r.pro_name,
                                      address=r.address)
        event = ical.Event(r.id, r.start_at, r.end_at, r.sequence or 0,
                           _summary(ctx["service"], r.pro_name), r.address)
        mails.append(compose.client_mail(
            template="reminder", to=r.email, lang=lang, context=ctx, request_id=r.id,
            event=event, method="REQUEST", stamp=at,
            dedup_key=f"notice:reminder:{r.id}:{r.start_at:%Y%m%d%H%M}"))
    return {"services": len(rows), "mails": mail.enqueue_many(session, mails)}


def agenda(*, session: Session, now: datetime) -> dict:
    """Queue each professional's services of tomorrow as one mail, once per day.

    The agenda is the professional's reminder: opted out or bouncing, they get none."""
    now = local(now)
    tomorrow = now.date() + timedelta(days=1)
    sr, pro = ServiceRequest, Professional
    rows = session.execute(
        sa.select(sr.id, sr.skill, _place(sr), sr.start_at, sr.end_at, sr.professional_id,
                  Client.name.label("client_name"), Client.status.label("client_status"),
                  pro.name, pro.email, pro.language, _tp.c.sequence)
        .join(Client, Client.id == sr.client_id)
        .join(pro, pro.id == sr.professional_id)
        .outerjoin(_tp, sa.and_(_tp.c.request_id == sr.id,
                                _tp.c.audience == Audience.PROFESSIONAL))
        .where(sr.service_date == tomorrow, sr.status.in_(BOOKED), sr.start_at.is_not(None),
               pro.email.is_not(None), pro.email != "", pro.erased_at.is_(None),
               pro.reminders_opt_out.is_(False), pro.email_failing_since.is_(None))
        .order_by(sr.professional_id, sr.start_at, sr.id)).all()
    by_pro = defaultdict(list)
    for r in rows:
        by_pro[r.professional_id].append(r)
    at, mails = utcnow(), []
    for pro_id, services in by_pro.items():
        first = services[0]
        lang = compose.lang_of(first.language)
        items, events = [], []
        for r in services:
            client = r.client_name if r.client_status != ClientStatus.ERASED else ""
            items.append(compose.pro_item(kind="agenda", lang=lang, request_id=r.id,
                                          skill=r.skill, start=r.start_at, end=r.end_at,
                                          client=client, address=r.address))
            events.append(ical.Event(r.id, r.start_at, r.end_at, r.sequence or 0,
                                     _summary(items[-1]["service"], client), r.address))
        mails.append(compose.pro_mail(
            template="agenda", to=first.email, lang=lang,
            context={"name": first.name, "day": compose.day_text(tomorrow, lang),
                     "items": items},
            professional_id=pro_id, events=events, stamp=at,
            dedup_key=f"notice:agenda:{pro_id}:{tomorrow:%Y%m%d}"))
    return {"professionals": len(by_pro), "services": len(rows),
            "mails": mail.enqueue_many(session, mails)}


# --- the person's choice ------------------------------------------------------------------------


def set_reminders(*, session: Session, person: Client | Professional,
                  enabled: bool) -> Client | Professional:
    """Turn a client's reminders (a professional's daily agenda) on or off; audited."""
    if not isinstance(person, Client | Professional):
        raise Refusal("person: reminders belong to a client or a professional")
    person.reminders_opt_out = not enabled
    session.flush()  # the audit trail records the change with the flush
    return person
