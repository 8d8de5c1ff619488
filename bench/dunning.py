"""Benchmark a dunning pass over many overdue invoices against localstripe in its own process.

    python bench/dunning.py [--invoices 10000] [--rps 100] [--workers 16] [--database-url URL]

Prints invoices per second, p95 per invoice, the share of the pass spent waiting on Stripe and
our own CPU per invoice: the CPU time (user + system, every thread) of this process during the
pass only, seeding excluded; localstripe runs in a process of its own and PostgreSQL in its
server, so neither is counted. CPU time, unlike wall time, hardly moves when other programs
load the machine, but a busy machine still inflates it somewhat (caches, contention).
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from datetime import time as dtime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from backoffice import audit, migrate  # noqa: E402
from backoffice.db import make_engine, make_sessionmaker  # noqa: E402
from backoffice.models import Client  # noqa: E402
from billing import dunning, stripe_server  # noqa: E402
from billing.gateway import Gateway  # noqa: E402
from billing.models import Invoice, SavedCard  # noqa: E402

DUE = date(2026, 11, 2)


def seed(factory, gw: Gateway, n: int) -> None:
    """Insert n clients with Stripe customers and one overdue invoice each (30 % decline)."""
    pms = {}
    holder = gw.client.v1.customers.create(params={"email": "holder@example.com"})
    for card in ("4242424242424242", "4000000000000341"):
        pm = gw.client.v1.payment_methods.create(params={"type": "card", "card": {
            "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        gw.client.v1.payment_methods.attach(pm.id, params={"customer": holder.id})
        pms[card] = pm.id
    with ThreadPoolExecutor(8) as pool:
        customers = list(pool.map(
            lambda i: gw.client.v1.customers.create(params={"email": f"b{i}@example.com"}).id,
            range(n)))
    with factory() as s:
        clients = [{"name": f"Bench {i}", "email": f"b{i}@example.com", "language": "es",
                    "status": "active", "stripe_customer_id": customers[i], "version": 1,
                    "created_at": datetime.now(), "updated_at": datetime.now()}
                   for i in range(n)]
        s.execute(sa.insert(Client), clients)
        ids = s.scalars(sa.select(Client.id).where(Client.name.like("Bench %"))
                        .order_by(Client.id)).all()
        s.execute(sa.insert(SavedCard), [
            {"client_id": cid, "payment_method_id": pms["4000000000000341" if i % 10 < 3
                                                      else "4242424242424242"]}
            for i, cid in enumerate(ids)])
        s.execute(sa.insert(Invoice), [
            {"series": "B2026", "number": i + 1, "client_id": cid, "period_start": DUE,
             "period_end": DUE, "issued_on": DUE, "due_on": DUE, "currency": "eur",
             "subtotal_cents": 4000, "vat_rate_bp": 2100, "vat_cents": 840,
             "total_cents": 4840, "paid_cents": 0, "credited_cents": 0, "status": "open",
             "hard_declined": False, "created_at": datetime.now(),
             "updated_at": datetime.now()}
            for i, cid in enumerate(ids)])
        s.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    if url.startswith("postgresql"):
        migrate.create_database(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    migrate.upgrade(url)
    base = f"http://127.0.0.1:{stripe_server.free_port()}"
    proc = stripe_server.start_process(dict(os.environ, STRIPE_API_BASE=base))
    try:
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        t0 = time.perf_counter()
        seed(factory, Gateway(api_key="sk_test_bench", api_base=base, max_rps=10_000),
             args.invoices)
        print(f"seeded {args.invoices} overdue invoices in {time.perf_counter() - t0:.1f} s "
              f"({engine.dialect.name})")
        gw = Gateway(api_key="sk_test_bench", api_base=base, max_rps=args.rps)
        use0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        with factory() as s, audit.acting_as(audit.Actor(None, "system:bench")):
            r = dunning.run_pass(session=s, now=datetime.combine(DUE, dtime(9)), gateway=gw,
                                 workers=args.workers)
            s.commit()
        use1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    n = r.charges
    p95 = statistics.quantiles(r.per_invoice_s, n=20)[18] if len(r.per_invoice_s) > 20 else 0
    print(f"invoices charged: {n} ({r.paid} paid, {r.failed} declined, {r.errors} errors)")
    print(f"invoices per second: {n / wall:.1f}  (client rate limit {args.rps:.0f}/s, "
          f"{args.workers} workers)")
    q = sorted(r.queued_s)
    print(f"p95 per invoice: {p95 * 1000:.1f} ms (Stripe's answer + our work; median wait for a "
          f"rate-limit slot {q[len(q) // 2] * 1000:.0f} ms, by design at {args.rps:.0f}/s)")
    print(f"time waiting on Stripe: {r.stripe_wait_s / wall:.0%} of {wall:.1f} s")
    user, system = use1.ru_utime - use0.ru_utime, use1.ru_stime - use0.ru_stime
    per = 1000 / max(n, 1)
    print(f"our CPU per invoice: {(user + system) * per:.2f} ms (user {user * per:.2f} + system "
          f"{system * per:.2f}; this process during the pass: localstripe runs in its own)")


if __name__ == "__main__":
    main()
