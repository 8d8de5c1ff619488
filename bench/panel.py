"""Panel speed on PostgreSQL with 1,000,000 service requests and 50,000 clients.

Prints p50/p95 server time (in-process WSGI calls) for our list pages, a record page and the
CSV export, beside a stock Flask-Admin ModelView of the same model measured in the same run;
then the professionals' list and record page (a plain view: no fast list); then the top-bar
search for each kind of key, beside a stock ModelView's search of the client list; then a
client's page (a client with 500 bookings, 50 invoices, 100 cases and over 1,000 timeline
entries, added once) beside a plain ORM page of the same story, and its timeline query alone.

    python bench/panel.py [--url postgresql+psycopg://postgres@127.0.0.1/backoffice_bench]
                          [--requests 1000000] [--clients 50000] [--runs 30]
                          [--skip-export] [--search-only] [--client-page-only]

A smaller data set (or an existing database) works too: --requests 50000 --clients 5000 seeds
that much once; a database that already holds --requests rows is used as it is.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_admin.contrib.sqla import ModelView  # noqa: E402

from backoffice import audit, migrate  # noqa: E402
from backoffice.db import db, make_engine, normalise_url  # noqa: E402
from backoffice.models import Client, Professional, ServiceRequest  # noqa: E402
from backoffice.runtime import settle_heap  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/backoffice_bench"
START = date(2026, 1, 5)


class StockRequestView(ModelView):
    """Flask-Admin as it comes, configured like our list: the baseline."""

    column_list = ("id", "service_date", "window_start", "client.name", "skill", "zone", "status",
                   "professional.name", "start_at", "duration_min", "priority")
    column_searchable_list = ("client.name",)
    column_filters = ("status", "skill", "service_date", "zone")
    column_default_sort = ("service_date", True)
    named_filter_urls = True
    can_export = True
    can_view_details = True  # a record page to compare with ours (off by default: a redirect)
    export_max_rows = 20_000

    def is_accessible(self):
        return True


class StockClientView(ModelView):
    """The client list as Flask-Admin makes it, searched by name, email and phone: the baseline
    of the top-bar search (what an agent used before it)."""

    column_list = ("id", "name", "email", "phone", "zone", "status")
    column_searchable_list = ("name", "email", "phone")

    def is_accessible(self):
        return True


def ensure_database(url: str, *, clients: int, requests: int) -> None:
    """Create, migrate and seed the benchmark database unless it already holds the data."""
    migrate.create_database(url)
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.scalar(sa.select(sa.func.count()).select_from(ServiceRequest))
    if have >= requests:
        engine.dispose()
        return
    from sqlalchemy.orm import Session

    from backoffice.seed import seed

    print(f"seeding {clients} clients and {requests} requests (once)...", flush=True)
    t0 = time.perf_counter()
    with Session(engine) as s, audit.acting_as(audit.Actor(None, "bench")):
        seed(s, clients=clients, professionals=2000, requests=requests, start=START, days=364,
             today=date(2026, 11, 23))
        s.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"seeded in {time.perf_counter() - t0:.0f} s", flush=True)
    engine.dispose()


def build_app(url: str):
    from backoffice.app import create_app

    # The bench user logs in with a password only: the second factor is not what is measured.
    app = create_app({"DATABASE_URL": url, "SESSION_COOKIE_SECURE": False, "MFA_REQUIRED_ROLES": "",
                      "INSTANCE_PATH": str(Path("/tmp/backoffice-bench-instance"))})
    with app.app_context():
        app.extensions["admin"][0].add_view(
            StockRequestView(ServiceRequest, db, name="Stock", endpoint="stock_request"))
        app.extensions["admin"][0].add_view(
            StockClientView(Client, db, name="Stock clients", endpoint="stock_client"))
        from bench.person import PlainClientPage

        app.extensions["admin"][0].add_view(
            PlainClientPage(name="Plain client", endpoint="plain_client",
                            url="/admin/plain_client"))
    return app


def login(app, url: str):
    from backoffice.auth import create_user
    from backoffice.models import StaffUser

    with app.app_context():
        if not db.session.scalar(sa.select(StaffUser).where(StaffUser.email == "bench@x.com")):
            create_user(db.session, email="bench@x.com", name="Bench", password="bench-password",
                        roles=["ops_agent", "admin"], locale="en")
            db.session.commit()
    client = app.test_client()
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": "bench@x.com", "password": "bench-password",
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    return client


def timed(client, path: str, runs: int) -> tuple[float, float, int]:
    """Return p50 and p95 in ms of GET path, and the last status."""
    samples, status = [], 0
    for i in range(runs + 2):
        t0 = time.perf_counter()
        resp = client.get(path)
        resp.get_data()
        elapsed = (time.perf_counter() - t0) * 1000
        status = resp.status_code
        if i >= 2:  # the first two warm caches
            samples.append(elapsed)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], status


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def export(client, path: str) -> tuple[float, int, float]:
    """Stream an export; return seconds, rows and peak RSS growth in MB."""
    base, peak, done = rss_kb(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb() - base)
            time.sleep(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    rows = 0
    try:
        resp = client.get(path, buffered=False)
        for chunk in resp.response:
            rows += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        resp.close()
        error = None
    except Exception as exc:  # the stock view's lazy loads can fail mid-stream
        error = exc.__class__.__name__
    elapsed = time.perf_counter() - t0
    done.set()
    watcher.join()
    if error:
        return elapsed, -1, peak[0] / 1024
    return elapsed, rows - 1, peak[0] / 1024


def machine_speed() -> float:
    """Return ms for a fixed pure-Python loop (best of 5): figures from different days compare
    only after scaling by it, as this machine's speed varies from session to session."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, (time.perf_counter() - t0) * 1000)
    return best


def search_keys(app) -> list[tuple[str, str, bool]]:
    """Return (label, typed text, whether the stock client search compares) for each kind of
    key, taken from the bench data."""
    with app.app_context():
        person = db.session.execute(sa.select(Client.name, Client.email, Client.phone_e164)
                                    .where(Client.id == 4242)).one()
        rid = db.session.scalar(sa.select(sa.func.max(ServiceRequest.id)))
    national = person.phone_e164.removeprefix("+34")
    spaced = f"{national[:3]} {national[3:5]} {national[5:7]} {national[7:]}"
    return [
        ("name (one match)", person.name, True),
        ("surname (grouped list)", person.name.split()[-1], True),
        ("two letters", person.name[:2], True),
        ("email, other case", person.email.upper(), True),
        ("phone 600 11 22 33", spaced, True),
        ("phone +34 600112233", f"+34 {national}", True),
        ("phone 0034600112233", f"0034{national}", True),
        ("number not recognised", spaced[:8], True),
        ("request #number", f"#{rid}", False),
        ("bare number", "4242", False),
        ("case number", "C-000123", False),
        ("invoice number", "D2026-000123", False),
        ("nothing found", "Zzyzx Qwerty", True),
    ]


def search_section(app, client, runs: int) -> None:
    """Print the top-bar search per kind of key beside the stock client list's search."""
    from urllib.parse import quote

    print(f"\n{'top-bar search':28s} {'ours p50':>9s} {'ours p95':>9s} {'stock p50':>10s} "
          f"{'stock p95':>10s}  status")
    for label, typed, compare in search_keys(app):
        ours = timed(client, f"/admin/search/?q={quote(typed)}", runs)
        assert ours[2] in (200, 302), (label, ours[2])
        line = f"{label:28s} {ours[0]:8.1f}ms {ours[1]:8.1f}ms "
        if compare:
            stock = timed(client, f"/admin/stock_client/?search={quote(typed)}", runs)
            line += f"{stock[0]:9.1f}ms {stock[1]:9.1f}ms "
        else:
            line += f"{'':>10s} {'':>10s} "
        print(line + f" {ours[2]}{' (opens the record)' if ours[2] == 302 else ''}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--search-only", action="store_true",
                        help="Only the top-bar search and its baseline.")
    parser.add_argument("--client-page-only", action="store_true",
                        help="Only the client's page, its baseline and its timeline query.")
    args = parser.parse_args()
    url = normalise_url(args.url)
    ensure_database(url, clients=args.clients, requests=args.requests)
    app = build_app(url)
    client = login(app, url)
    settle_heap()  # as backoffice.wsgi does in each worker
    print(f"machine speed: {machine_speed():.0f} ms for a fixed Python loop (lower is faster)")
    if args.search_only:
        search_section(app, client, args.runs)
        print(f"machine speed after: {machine_speed():.0f} ms")
        return
    if args.client_page_only:
        from bench.person import client_page_section

        client_page_section(app, client, args.runs, timed)
        print(f"machine speed after: {machine_speed():.0f} ms")
        return
    with app.app_context():
        name = db.session.scalar(sa.select(Client.name).where(Client.id == 4242))
        rid = db.session.scalar(sa.select(sa.func.max(ServiceRequest.id)))
        pid = db.session.scalar(sa.select(sa.func.max(Professional.id)))
    surname = name.split()[-1] if name else "García"
    monday = date(2026, 11, 23)
    week = f"{monday:%Y-%m-%d}+to+{monday + timedelta(days=6):%Y-%m-%d}"
    scenarios = {
        "first page": "?",
        "page 2,000": "?page=1999",
        "status + week": f"?flt0_status_equal=CONFIRMED&flt1_service_date_between={week}",
        "search client name": f"?search={surname}",
    }
    print(f"\n{'scenario':28s} {'ours p50':>9s} {'ours p95':>9s} {'stock p50':>10s} "
          f"{'stock p95':>10s} {'p95 ratio':>10s}")
    for label, query in scenarios.items():
        ours = timed(client, f"/admin/service_request/{query}", args.runs)
        stock = timed(client, f"/admin/stock_request/{query}", args.runs)
        assert ours[2] == 200 and stock[2] == 200, (label, ours[2], stock[2])
        print(f"{label:28s} {ours[0]:8.1f}ms {ours[1]:8.1f}ms {stock[0]:9.1f}ms {stock[1]:9.1f}ms "
              f"{stock[1] / ours[1]:9.1f}x")
    ours = timed(client, f"/admin/service_request/details/?id={rid}", args.runs)
    stock = timed(client, f"/admin/stock_request/details/?id={rid}", args.runs)
    print(f"{'record page':28s} {ours[0]:8.1f}ms {ours[1]:8.1f}ms {stock[0]:9.1f}ms "
          f"{stock[1]:9.1f}ms {stock[1] / ours[1]:9.1f}x")
    # What any logged-in request costs here (the session check, Flask, the test client): the
    # "page not found" of a logged-in user does nothing else.
    floor = timed(client, "/admin/no-such-page/", args.runs)
    print(f"{'(any logged-in request)':28s} {floor[0]:8.1f}ms {floor[1]:8.1f}ms")
    # A smaller table's pages, which a view serves without the fast list (plain Flask-Admin).
    for label, path in (("professionals list", "/admin/professional/"),
                        ("professional record page", f"/admin/professional/details/?id={pid}")):
        p50, p95, status = timed(client, path, args.runs)
        assert status == 200, (label, status)
        print(f"{label:28s} {p50:8.1f}ms {p95:8.1f}ms")
    search_section(app, client, args.runs)
    from bench.person import client_page_section

    client_page_section(app, client, args.runs, timed)
    print(f"machine speed after: {machine_speed():.0f} ms")
    if args.skip_export:
        return
    flt = "?flt0_status_equal=DONE"
    s_secs, s_rows, s_mb = export(client, f"/admin/stock_request/export/csv/{flt}")
    stock_line = ("failed mid-stream" if s_rows < 0 else
                  f"{s_rows} rows in {s_secs:.1f} s, peak +{s_mb:.0f} MB")
    print(f"\nstock export (filtered, max 20,000 rows): {stock_line}")
    o_secs, o_rows, o_mb = export(client, f"/admin/service_request/export/csv/{flt}")
    print(f"our export (same filter, no cap):        {o_rows} rows in {o_secs:.1f} s, "
          f"peak +{o_mb:.0f} MB")
    a_secs, a_rows, a_mb = export(client, "/admin/service_request/export/csv/")
    print(f"our export of every row:                 {a_rows} rows in {a_secs:.1f} s, "
          f"peak +{a_mb:.0f} MB ({a_rows / a_secs:,.0f} rows/s)")


if __name__ == "__main__":
    main()
