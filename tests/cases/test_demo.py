"""The demo's desk: cases in every state and channel, live SLA clocks, macros, mail to fetch."""

import random
from collections import Counter
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
import sqlalchemy as sa

from backoffice.models import Client
from backoffice.seed import seed
from billing.models import Invoice
from cases import demo, macros
from cases.models import Article, Case, CaseLink, CaseState, Macro

TODAY = date(2026, 3, 11)  # a Wednesday, far from the machine's date: the seed plays to 10:00
NOW = datetime(2026, 3, 11, 10, 0)


@pytest.fixture()
def seeded(session, make_user, app, tmp_path):
    """Seed a small Valencia, a few invoices and the demo users, then the desk's demo."""
    seed(session, clients=80, professionals=15, requests=300, days=17,
         start=TODAY - timedelta(days=3), today=TODAY)
    for n, client in enumerate(session.scalars(sa.select(Client).order_by(Client.id).limit(12)),
                               start=1):
        session.add(Invoice(series="D2026", number=900 + n, client_id=client.id,
                            period_start=date(2026, 1, 1), period_end=date(2026, 1, 31),
                            issued_on=date(2026, 2, 3), due_on=date(2026, 2, 10),
                            subtotal_cents=2800 * n, total_cents=3388 * n))
    make_user("ops_agent", email="ops@demo.example.com")
    make_user("finance", email="finance@demo.example.com")
    before = session.scalar(sa.select(sa.func.max(Case.id))) or 0
    inbox = tmp_path / "inbox"
    demo.seed_demo(session, today=TODAY, rng=random.Random(11),
                   config={**app.config, "MAIL_INBOX_MAILDIR": str(inbox)})
    cases = list(session.scalars(sa.select(Case).where(Case.id > before).order_by(Case.id)))
    return cases, inbox


def _states_and_channels(cases):
    assert len(cases) == 150
    assert Counter(c.state.value for c in cases) == {
        "new": 16, "open": 34, "pending": 20, "on_hold": 12, "solved": 24, "closed": 36,
        "merged": 8}
    channels = Counter(c.channel.value for c in cases)
    assert set(channels) == {"mail", "phone", "escalation", "panel"}
    assert channels.most_common(1)[0][0] == "mail"
    assert len({c.category_id for c in cases if c.category_id}) >= 7
    assert {c.priority.value for c in cases} == {"low", "normal", "high", "urgent"}
    assert {c.language for c in cases} == {"es", "en"}
    assert all(c.level1_agent for c in cases if c.channel.value == "escalation")


def _history(session, cases):
    assert min(c.created_at for c in cases) >= NOW - timedelta(days=22)
    assert max(c.created_at for c in cases) <= NOW
    ids = [c.id for c in cases]
    last = session.scalar(sa.select(sa.func.max(Article.created_at))
                          .where(Article.case_id.in_(ids)))
    assert last <= NOW
    closed = [c for c in cases if c.state == CaseState.CLOSED]
    assert all(c.closed_at - c.solved_at >= timedelta(days=7) and c.closed_at <= NOW
               for c in closed)
    merged = [c for c in cases if c.state == CaseState.MERGED]
    assert all(c.merged_into_id and c.merged_into_id in ids for c in merged)


def _sla(cases):
    running = [c for c in cases if c.state in (CaseState.NEW, CaseState.OPEN)]
    assert running and all(c.next_due_at is not None and c.sla_policy_id for c in running)
    paused = [c for c in cases if c.state in (CaseState.PENDING, CaseState.ON_HOLD)]
    assert all(c.next_due_at is None for c in paused)
    answered = [c for c in cases if c.state not in (CaseState.NEW, CaseState.MERGED)]
    assert all(c.first_response_at is not None for c in answered)
    soon = [c for c in cases if c.state == CaseState.NEW and c.first_response_at is None
            and c.priority.value in ("high", "urgent")
            and NOW < c.first_response_due_at <= NOW + timedelta(minutes=30)]
    assert len(soon) >= 3
    assert any(c.first_response_due_at < NOW for c in cases if c.state == CaseState.NEW)


def _assignees(cases):
    assignees = Counter(c.assignee.email if c.assignee else None for c in cases
                        if c.state != CaseState.MERGED)
    assert assignees.most_common(1)[0][0] == "ops@demo.example.com"
    assert assignees[None] >= 3


def _conversations(session, cases):
    ids = [c.id for c in cases]
    links = Counter(session.scalars(sa.select(CaseLink.entity).where(CaseLink.case_id.in_(ids))))
    assert links["service_request"] >= 10 and links["invoice"] >= 3
    assert links["professional"] >= 10
    articles = list(session.scalars(sa.select(Article).where(Article.case_id.in_(ids))))
    kinds = Counter(a.kind.value for a in articles)
    assert set(kinds) == {"mail_in", "mail_out", "call_in", "call_out", "note", "summary"}
    calls = [a for a in articles if a.kind.value in ("call_in", "call_out")]
    assert all(a.call_seconds and a.call_outcome and a.call_to for a in calls)
    assert {a.call_outcome for a in calls} >= {"reached", "voicemail"}
    assert not any(a.public for a in articles if a.kind.value in ("note", "summary"))
    spanish = [a.body for a in articles if a.kind.value == "mail_out" and "Un saludo" in a.body]
    assert spanish and all("{" not in a.body for a in articles)


def _macros(session, cases):
    found = list(session.scalars(sa.select(Macro).order_by(Macro.id)))
    assert 6 <= len(found) <= 8
    for macro in found:
        macros.check(macro.body_es, macro.body_en)
    script = next(m for m in found if m.kind == "call_script")
    assert "promised_payment" in macros.outcomes(script)
    ask = next(m for m in found if m.name == "Pedir más información")
    case = next(c for c in cases if c.client_id and c.state == CaseState.OPEN)
    assert case.number in macros.render(session, macro=ask, case=case)


def _inbox(session, inbox):
    files = sorted((inbox / "new").iterdir())
    assert 3 <= len(files) <= 4 and len({f.name for f in files}) == len(files)
    emails = set(session.scalars(sa.select(Client.email)))
    for path in files:
        mail = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert mail["From"].addresses[0].addr_spec in emails
        assert mail["Subject"] and mail["Message-ID"] and mail["Date"]
        assert mail.get_content().strip()
    replies = [p for p in files if b"In-Reply-To" in p.read_bytes()]
    assert len(replies) == 1


def test_three_weeks_of_cases_in_every_state_channel_and_clock(session, seeded):
    """One seed, checked from every side (a seed takes seconds: each test pays for one)."""
    cases, _ = seeded
    _states_and_channels(cases)
    _history(session, cases)
    _sla(cases)
    _assignees(cases)
    _conversations(session, cases)
    _macros(session, cases)


def test_new_mails_wait_in_the_inbox_and_the_fetch_makes_them_cases(session, seeded, app):
    from cases import mail_in

    cases, inbox = seeded
    _inbox(session, inbox)
    waiting = next(c for c in cases if c.state == CaseState.PENDING and c.channel.value == "mail"
                   and c.client_id and c.language == "es")
    counts = mail_in.fetch(session, now=NOW, config={**app.config, "MAIL_IMAP_URL": "",
                                                     "MAIL_INBOX_MAILDIR": str(inbox)})
    assert counts["new_cases"] == 3 and counts["quarantined"] == 0
    session.refresh(waiting)
    assert waiting.state == CaseState.OPEN  # the client's answer threaded and reopened it
