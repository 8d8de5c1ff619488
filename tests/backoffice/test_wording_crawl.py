"""Every page reads as the team speaks (#18): on the demo's data, as each role and in each
language, the pages reachable from the home page show no word of the other language, no stored
code, no time in UTC and numbers in the reader's format; the vetting and billing actions are
posted in each state so that their messages (successes and refusals) are read too.

The word lists are data (tests/backoffice/wording_support.py); the codes come from the models'
enums; the proper nouns (people, addresses, what people typed) come from the demo's rows."""

import contextlib
import html
import re
import urllib.parse
from datetime import date
from unittest import mock

import pytest
import sqlalchemy as sa

import assignment.models
import backoffice.models
import billing.models
import cases.models
import vetting.models
from backoffice import audit
from backoffice.db import db
from backoffice.demo import DEMO_USERS, seed_demo_data
from tests.backoffice.wording_support import Reader, stored_codes
from tests.conftest import csrf_from, isolated

ROLES = ("ops_agent", "vetting", "finance", "admin")
LOCALES = ("es", "en")
MAX_PAGES = 160  # per role and language
PER_PATH = 2  # pages of one address with different queries (a list's sorts, a record's ids)
SKIPPED = re.compile(r"/export|/download|\.csv$|/logout|/static/|/file/|/ajax/")

# Models (by name) and columns holding proper nouns or what people typed: data, in
# whatever language it was written.
NOUN_COLUMNS = (
    ("Client", ("name", "email", "address", "zone", "notes", "phone")),
    ("Professional", ("name", "email", "address", "zone", "notes", "phone")),
    ("StaffUser", ("name", "email")),
    ("ServiceRequest", ("address", "zone", "cancellation_reason")),
    ("TimeOff", ("reason",)),
    ("Task", ("outcome",)),
    ("Invoice", ("bill_to_name", "bill_to_address", "pause_reason")),
    ("Payment", ("reference",)),
    ("InvoiceLine", ("description",)),
    ("WriteOff", ("reason",)),
    ("RectifyingInvoice", ("reason",)),
    ("Reference", ("name", "contact", "notes", "relationship_to")),
    ("Interview", ("notes",)),
    ("Check", ("notes",)),
    ("StageVisit", ("note",)),
    ("Application", ("note",)),
    ("Incident", ("note",)),
    ("Document", ("original_name", "number")),
    ("Case", ("subject",)),
    ("Article", ("subject", "body", "sender", "recipients")),
    ("Macro", ("name", "body_es", "body_en")),
    ("CaseTag", ("name",)),
    ("Contact", ("name", "email", "phone")),
    ("CaseStateVisit", ("note",)),
    ("GoodwillCredit", ("reason",)),
    ("RawMail", ("subject", "from_address")),
    ("SlaPolicy", ("name",)),
    ("ClosedDay", ("note",)),
    ("OutboxMessage", ("subject", "body", "to_address")),
    ("Interaction", ("body",)),
    ("AuditEvent", ("note",)),
    ("PlanRun", ("note",)),
)


def _proper_nouns(session) -> list[str]:
    from backoffice.db import Base

    models = {m.class_.__name__: m.class_ for m in Base.registry.mappers}
    nouns = []
    for name, columns in NOUN_COLUMNS:
        model = models.get(name)  # an area not built yet has no table to read
        for column in columns:
            if model is not None and hasattr(model, column):
                nouns += [
                    v
                    for v in session.scalars(sa.select(getattr(model, column)).distinct())
                    if isinstance(v, str)
                ]
    nouns += [line for n in nouns for line in n.splitlines() if line.strip()]
    # A lone lower-case word ("holiday") is no proper noun: taking it out would hide words;
    # a file's name ("right_to_work.pdf") or a payment's reference is kept as it came.
    kept = [
        n
        for n in nouns
        if "." in n or any(c.isdigit() for c in n) or not (n.islower() and " " not in n.strip())
    ]
    # Free tags are what agents typed, lower-case by design ("cambio-hora"): data, kept whole.
    for name, column in (("CaseTag", "name"), ("Macro", "add_tags")):
        model = models.get(name)
        if model is not None and hasattr(model, column):
            for value in session.scalars(sa.select(getattr(model, column)).distinct()):
                kept += [t.strip() for t in (value or "").split(",") if t.strip()]
    return kept


def _codes() -> set[str]:
    from vetting.documents import DOC_TYPES

    codes = stored_codes(
        backoffice.models, vetting.models, billing.models, cases.models, assignment.models
    )
    codes |= set(backoffice.models.SKILLS) | set(backoffice.models.ROLES) | set(DOC_TYPES)
    codes |= {
        "generic_decline",
        "lost_card",
        "insufficient_funds",
        "card_declined",
        "expired_card",
        "bank_transfer",
        "payment_failed",
        "final_notice",
        "account_held",
        "card_update",
        "dunning_call",
        "service_at_risk",
    }
    return codes


@pytest.fixture(scope="module")
def demo(app):
    """The demo's town, smaller, seeded by the demo's own code in one rolled-back transaction."""
    with app.app_context(), isolated(app), audit.acting_as(audit.Actor(None, "demo")):
        seed_demo_data(
            db.session,
            today=date.today(),
            config=app.config,
            clients=80,
            professionals=24,
            requests=300,
        )
        # Released into the outer transaction: a request that rolls back keeps the town.
        db.session.commit()
        yield {"nouns": _proper_nouns(db.session), "codes": _codes()}
        audit.set_actor(audit.SYSTEM)


def _login(app, email: str, locale: str):
    """Log the demo user with email in, reading locale; return the test client."""
    from backoffice.models import StaffUser

    password = next(u[3] for u in DEMO_USERS if u[0] == email)
    db.session.execute(sa.update(StaffUser).where(StaffUser.email == email).values(locale=locale))
    db.session.commit()
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


@contextlib.contextmanager
def undone():
    """Undo what the block's requests do: the next action starts from the demo again. Their
    commits only flush, and the session's savepoint is rolled back at the end."""
    db.session.commit()
    with mock.patch.object(db.session, "commit", db.session.flush):
        try:
            yield
        finally:
            db.session.rollback()
            db.session.expire_all()


def _links(url: str, page: str):
    for href in re.findall(r'href="([^"#]+)"', page):
        link = urllib.parse.urlsplit(urllib.parse.urljoin(url, html.unescape(href)))
        if link.netloc or not link.path.startswith("/admin") or SKIPPED.search(link.path):
            continue
        yield link.path + ("?" + link.query if link.query else "")


def _shape(path: str) -> str:
    """Return path with its record ids as <id>: one shape of page, read a few times."""
    return re.sub(r"/\d+(?=/|$)", "/<id>", path)


def crawl(client, reader: Reader, start: str = "/admin/") -> tuple[dict, int]:
    """Read every page reachable from start (bounded); return ({path: {kind: {what}}}, pages)."""
    seen, queue, per_path, found = set(), [start], {}, {}
    read = 0
    while queue and read < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        resp = client.get(url)
        if resp.status_code != 200 or not resp.content_type.startswith("text/html"):
            if resp.status_code >= 500:
                found.setdefault(_shape(urllib.parse.urlsplit(url).path), {}).setdefault(
                    "server error", set()
                ).add(url)
            continue
        read += 1
        page = resp.get_data(as_text=True)
        for kind, what in reader.problems(page).items():
            found.setdefault(_shape(urllib.parse.urlsplit(url).path), {}).setdefault(
                kind, set()
            ).update(what)
        for link in _links(url, page):
            path = _shape(urllib.parse.urlsplit(link).path)
            if link in seen or per_path.get(path, 0) >= PER_PATH:
                continue
            per_path[path] = per_path.get(path, 0) + 1
            queue.append(link)
    return found, read


def _report(found: dict) -> str:
    lines = []
    for path in sorted(found):
        lines.append(path)
        for kind, what in sorted(found[path].items()):
            lines.append(f"  {kind}:")
            lines += [f"    {w}" for w in sorted(what)[:12]]
    return "\n".join(lines)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("role", ROLES)
def test_every_page_reads_in_the_readers_language(app, demo, role, locale):
    email = next(u[0] for u in DEMO_USERS if u[2] == role)
    client = _login(app, email, locale)
    reader = Reader(locale, proper_nouns=demo["nouns"], codes=demo["codes"])
    found, read = crawl(client, reader)
    assert read >= 5, f"only {read} pages reached"
    assert found == {}, f"{role} reading {locale}, {read} pages:\n{_report(found)}"


def _post_and_read(client, page_url: str, action_url: str, data: dict) -> str:
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    resp = client.post(action_url, data={"csrf_token": token, **data}, follow_redirects=True)
    assert resp.status_code == 200, (action_url, data, resp.status_code)
    return resp.get_data(as_text=True)


def _flashes(page: str) -> str:
    """Return the page's flashed messages (what the action said), as HTML."""
    return "".join(re.findall(r'<div class="alert[^"]*"[^>]*>.*?</div>', page, re.S))


@pytest.mark.parametrize("locale", LOCALES)
def test_vetting_actions_answer_in_the_readers_language(app, demo, locale):
    """Post every stage move on an application of each open stage, as the preparer and as the
    other vetting user, and read what each answers."""
    from vetting.models import Application, Stage
    from vetting.workflow import TRANSITIONS

    reader = Reader(locale, proper_nouns=demo["nouns"], codes=demo["codes"])
    found = {}
    for email in ("vetting@demo.example.com", "vetting2@demo.example.com"):
        client = _login(app, email, locale)
        for stage in Stage:
            app_row = db.session.scalar(
                sa.select(Application)
                .where(Application.stage == stage)
                .order_by(Application.id)
                .limit(1)
            )
            if app_row is None:
                continue
            page_url = f"/admin/vetting/application/{app_row.id}"
            page = client.get(page_url).get_data(as_text=True)
            for kind, what in reader.problems(page).items():
                found.setdefault(f"{page_url} ({stage.value})", {}).setdefault(kind, set()).update(
                    what
                )
            for to in sorted(TRANSITIONS.get(stage, ()), key=lambda s: s.value):
                with undone():
                    answer = _post_and_read(
                        client,
                        page_url,
                        f"{page_url}/transition",
                        {"to": to.value, "reason": "", "note": ""},
                    )
                for kind, what in reader.problems(_flashes(answer) or answer).items():
                    found.setdefault(f"POST transition {stage.value}→{to.value}", {}).setdefault(
                        kind, set()
                    ).update(what)
    assert found == {}, _report(found)


BILLING_ACTIONS = (
    {"op": "pause", "kind": "promise", "reason": "", "until": ""},
    {"op": "pause", "kind": "promise", "reason": "llamará el lunes", "until": "2099-01-01"},
    {"op": "resume"},
    {"op": "transfer", "amount": "abc"},
    {"op": "transfer", "amount": "10,00", "reference": "TR-1"},
    {"op": "refund", "amount": "5,00", "reason": ""},
    {"op": "refund", "amount": "99999", "reason": "duplicate"},
    {"op": "propose_write_off", "reason": ""},
    {"op": "propose_write_off", "reason": "cliente en el extranjero"},
    {"op": "approve_write_off"},
)


@pytest.mark.parametrize("locale", LOCALES)
def test_billing_actions_answer_in_the_readers_language(app, demo, locale):
    """Post each invoice action on an invoice of each status, as each finance user."""
    from billing.models import Invoice, InvoiceStatus

    reader = Reader(locale, proper_nouns=demo["nouns"], codes=demo["codes"])
    found = {}
    for email in ("finance@demo.example.com", "finance2@demo.example.com"):
        client = _login(app, email, locale)
        for status in InvoiceStatus:
            inv = db.session.scalar(
                sa.select(Invoice).where(Invoice.status == status).order_by(Invoice.id).limit(1)
            )
            if inv is None:
                continue
            page_url = f"/admin/billing_invoice/details/?id={inv.id}"
            for data in BILLING_ACTIONS:
                with undone():
                    answer = _post_and_read(
                        client, page_url, f"/admin/billing_invoice/act/{inv.id}", data
                    )
                for kind, what in reader.problems(_flashes(answer) or answer).items():
                    found.setdefault(f"POST {data['op']} on {status.value}", {}).setdefault(
                        kind, set()
                    ).update(what)
    assert found == {}, _report(found)
