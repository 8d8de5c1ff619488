"""Benchmark mail in: parse, thread and store a backlog of realistic mails in one fetch.

    python bench/cases_mail.py [--mails 1000] [--batch 50] [--no-postgres]

Writes N mails into a Maildir (new cases, answers by token and by In-Reply-To, HTML
alternatives, PDF and PNG attachments, a few auto-replies and bounces), then drains it with
cases.mail_in.fetch on a fresh SQLite database and, when one answers on 127.0.0.1:5432 as user
postgres, on a throwaway PostgreSQL database (dropped at the end). Prints mails/s (wall and
CPU of this process), the longest batch (the longest any lock is held) and, measured in the
same run on the same mails, two baselines: the bare `email` parse (the floor: no threading,
no storage) and the same fetch committing one mail per transaction.
"""

import argparse
import contextlib
import mailbox
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from backoffice import audit, migrate  # noqa: E402
from backoffice.db import make_engine, make_sessionmaker  # noqa: E402
from backoffice.models import StaffUser  # noqa: E402
from cases import mail_in  # noqa: E402
from cases.mail_parse import parse  # noqa: E402
from cases.models import Case, RawMail, format_number  # noqa: E402

NOW = datetime(2026, 12, 7, 10, 0)
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
SUBJECTS = ["Cambio de hora del servicio", "Factura duplicada", "No vino la profesional",
            "Cancel my booking on Friday", "Pregunta sobre el seguro", "Cobro indebido",
            "Necesito limpieza extra", "Question about my invoice"]
BODY = ("Hola,\n\nLes escribo porque {what}. ¿Podrían ayudarme? Estaré en casa toda la mañana "
        "y pueden llamarme al 600 000 000 si lo prefieren.\n\nGracias,\n{name}\n")
WHAT = ["la profesional no vino el martes", "me han cobrado dos veces la misma factura",
        "quiero cambiar la hora del jueves", "I need to cancel the booking on Friday"]
QUOTE = "\n\nEl lun, 7 dic 2026 a las 9:00, Operaciones escribió:\n" + "> línea citada\n" * 15


def make_mails(n: int, seed: int = 7) -> list[bytes]:
    """Return n raw mails: about 55% new cases, 35% answers, 10% machine mail."""
    rng = random.Random(seed)
    pdf = b"%PDF-1.4\n" + rng.randbytes(60_000)
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(20_000)
    threads: list[tuple[str, str, str, int]] = []  # (sender, subject, message id, case id)
    mails = []
    for i in range(n):
        r = rng.random()
        msg = EmailMessage()
        msg["To"] = "desk@backoffice.example"
        msg["Date"] = format_datetime(datetime(2026, 12, 7, 9, 0).astimezone())
        mid = make_msgid(domain="mail.example.org")
        msg["Message-ID"] = mid
        name = f"Persona {i}"
        if threads and r < 0.35:
            sender, subject, first, case_id = rng.choice(threads)
            msg["From"] = f"{name} <{sender}>"
            if r < 0.18:
                msg["Subject"] = f"Re: {subject} [{format_number(case_id)}]"
            else:
                msg["Subject"] = f"Re: {subject}"
                msg["In-Reply-To"] = first
                msg["References"] = first
            body = "Gracias, me va bien el jueves." + QUOTE
        elif r > 0.90:
            msg["From"] = rng.choice(["MAILER-DAEMON@mx.example.org",
                                      f"user{i}@example.org"])
            msg["Subject"] = "Out of office" if "user" in msg["From"] else "Undelivered Mail"
            msg["Auto-Submitted"] = "auto-replied"
            body = "I am away until Monday."
        else:
            sender = f"cliente{i}@mail.example.org"
            subject = rng.choice(SUBJECTS)
            msg["From"] = f"{name} <{sender}>"
            msg["Subject"] = subject
            threads.append((sender, subject, mid, len(threads) + 1))
            body = BODY.format(what=rng.choice(WHAT), name=name)
        msg.set_content(body)
        if rng.random() < 0.5:
            html = "".join(f"<p>{line}</p>" for line in body.splitlines())
            msg.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
        if rng.random() < 0.12:
            msg.add_attachment(pdf, maintype="application", subtype="pdf",
                               filename="factura.pdf")
        if rng.random() < 0.06:
            msg.add_attachment(png, maintype="image", subtype="png", filename="foto.png")
        mails.append(bytes(msg))
    return mails


def fill_maildir(folder: str, mails: list[bytes]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    box = mailbox.Maildir(folder)
    for i, raw in enumerate(mails):  # names in arrival order, as a mail server writes them
        with open(os.path.join(folder, "new", f"{1765000000 + i:012d}.M{i}P1.bench"), "wb") as f:
            f.write(raw)
    box.close()


def seed_agents(factory, n: int = 8) -> None:
    with factory() as s:
        for i in range(n):
            s.add(StaffUser(email=f"agent{i}@staff.example", name=f"Agent {i}",
                            password_hash="!", roles="ops_agent", active=True))
        s.commit()


def drain(url: str, mails: list[bytes], tmp: str, *, batch: int) -> dict:
    """Fetch the whole Maildir once on a fresh database at url; return the figures."""
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    seed_agents(factory)
    folder = os.path.join(tmp, "inbox")
    fill_maildir(folder, mails)
    config = {"MAIL_INBOX_MAILDIR": folder, "MAIL_FROM": "desk@backoffice.example",
              "UPLOAD_DIR": os.path.join(tmp, "uploads"), "MAIL_FETCH_BATCH": batch}
    marks = []
    audit.install()
    with factory() as session, audit.acting_as(audit.Actor(None, "bench")):
        # A real COMMIT on the connection (not a savepoint's release) ends a batch's locks.
        event.listen(engine, "commit", lambda _c: marks.append(time.perf_counter()))
        wall, cpu = time.perf_counter(), time.process_time()
        marks.append(wall)
        counts = mail_in.fetch(session, now=NOW, config=config)
        session.commit()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        cases = session.scalar(sa.select(sa.func.count()).select_from(Case))
        stored = session.scalar(sa.select(sa.func.count()).select_from(RawMail))
    engine.dispose()
    longest = max(b - a for a, b in zip(marks, marks[1:], strict=False))
    return {"wall": wall, "cpu": cpu, "counts": counts, "cases": cases, "stored": stored,
            "longest_batch": longest}


BREAKDOWN = (("cases.service", "open_case"), ("cases.service", "offer_round_robin"),
             ("cases.service", "requester_for"), ("cases.service", "add_article"),
             ("cases.deadlines", "apply"), ("cases.mail_out", "acknowledge"),
             ("cases.mail_in", "parse"), ("cases.mail_thread", "find_case"))


@contextlib.contextmanager
def breakdown(n: int):
    """Time (CPU) the steps a mail goes through, nested ones included in their callers."""
    import functools
    import importlib

    spent: dict[str, float] = {}
    saved = []
    for module_name, name in BREAKDOWN:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        saved.append((module, name, original))

        @functools.wraps(original)
        def timed(*a, _f=original, _k=f"{module_name}.{name}", **kw):
            t = time.process_time()
            try:
                return _f(*a, **kw)
            finally:
                spent[_k] = spent.get(_k, 0.0) + time.process_time() - t

        setattr(module, name, timed)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
    print("  CPU per mail by step (nested steps counted in their callers too):")
    for key, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"    {key:<34} {seconds / n * 1000:6.2f} ms")


def report(label: str, n: int, r: dict) -> None:
    c = r["counts"]
    print(f"  {label:<34} {n / r['wall']:7.0f} mails/s wall  {n / r['cpu']:7.0f} mails/s CPU  "
          f"longest batch {r['longest_batch'] * 1000:6.0f} ms   "
          f"({c['threaded']} threaded, {c['new_cases']} new cases, {c['ignored']} ignored, "
          f"{c['quarantined']} quarantined, {c['acknowledged']} acks)")


@contextlib.contextmanager
def postgres_database():
    """Yield the URL of a throwaway PostgreSQL database, or None if none answers."""
    name = f"bench_cases_mail_{os.getpid()}"
    try:
        admin = make_engine(f"{PG}/postgres")
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server here: the SQLite figures stand alone
        print(f"PostgreSQL: skipped ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        yield None
        return
    try:
        yield f"{PG}/{name}"
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mails", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time each step of the SQLite run (a run of its own)")
    args = ap.parse_args()
    n = args.mails
    mails = make_mails(n)
    size = sum(map(len, mails))
    print(f"{n} mails, {size / 1048576:.1f} MB, one process (one core)")

    t = time.perf_counter()
    for raw in mails:
        message_from_bytes(raw, policy=policy.default).get_body(("plain", "html"))
    floor = time.perf_counter() - t
    t = time.perf_counter()
    for raw in mails:
        parse(raw)
    ours = time.perf_counter() - t
    print(f"  {'baseline: email parse only':<34} {n / floor:7.0f} mails/s")
    print(f"  {'mail_parse.parse (all parts)':<34} {n / ours:7.0f} mails/s")

    # What a long-running scheduler pays once per process, not per fetch (the holidays
    # package's import, the first template compile): paid here, before anything is timed.
    t = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        drain(f"sqlite:///{tmp}/warm.sqlite3", mails[:20], tmp, batch=args.batch)
    print(f"  {'process warm-up, not counted':<34} {time.process_time() - t:7.2f} s CPU")

    runs = [("SQLite", lambda tmp: f"sqlite:///{tmp}/bench.sqlite3")]
    with contextlib.ExitStack() as stack:
        if not args.no_postgres:
            pg = stack.enter_context(postgres_database())
            if pg:
                runs.append(("PostgreSQL", lambda tmp, pg=pg: pg))
        for label, make_url in runs:
            results = {}
            for batch in (args.batch, 1):
                with tempfile.TemporaryDirectory() as tmp:
                    url = make_url(tmp)
                    if label == "PostgreSQL":
                        reset_schema(url)
                    results[batch] = drain(url, mails, tmp, batch=batch)
            print(f"{label}: a {n}-mail backlog drained in one fetch "
                  f"({results[args.batch]['wall']:.1f} s; {results[args.batch]['stored']} "
                  f"stored, {results[args.batch]['cases']} cases)")
            report(f"parse+thread+store, batch {args.batch}", n, results[args.batch])
            report("baseline: one mail per transaction", n, results[1])
            if args.breakdown and label == "SQLite":
                with tempfile.TemporaryDirectory() as tmp, breakdown(n):
                    drain(make_url(tmp), mails, tmp, batch=args.batch)
            print(f"  ratio batch/one-per-transaction: "
                  f"{results[1]['wall'] / results[args.batch]['wall']:.2f}x; "
                  f"share of the bare parse in the fetch: "
                  f"{floor / results[args.batch]['wall']:.0%}")


def reset_schema(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()
