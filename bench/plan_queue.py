"""Benchmark the coverage page's "compute a new plan" now that it queues the run.

    python bench/plan_queue.py [--requests 1900] [--professionals 60] [--limit 10]

Seeds a SQLite town, logs an agent in through the test client and times the page's POST (it
queues the run and answers) and the run page's progress poll, against the baseline measured in
the same run: the old page, which solved inside the request with a 10-second limit. No worker
runs: each queued run is stopped before the next POST, so every POST queues a new one. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1900)
    parser.add_argument("--professionals", type=int, default=60)
    parser.add_argument("--limit", type=float, default=10.0, help="the old page's time limit")
    parser.add_argument("--posts", type=int, default=20)
    args = parser.parse_args()

    from assignment import runs, service
    from assignment.models import PlanRun
    from backoffice import audit, migrate
    from backoffice.app import create_app
    from backoffice.auth import create_user
    from backoffice.db import db
    from backoffice.seed import seed
    from tests.conftest import csrf_from

    tmp = Path(tempfile.mkdtemp(prefix="bench_plan_queue_"))
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp), "SECRET_KEY": "bench",
                      "SESSION_COOKIE_SECURE": False, "BABEL_DEFAULT_LOCALE": "en",
                      "MFA_REQUIRED_ROLES": ""})
    today = date.today()
    with app.app_context(), audit.acting_as(audit.Actor(None, "bench")):
        seed(db.session, clients=400, professionals=args.professionals, requests=args.requests,
             days=14, start=today, today=today)
        create_user(db.session, email="bench@example.com", name="Bench", password="bench-pass-1",
                    roles=["ops_agent"], locale="en")
        db.session.commit()

    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "bench@example.com", "password": "bench-pass-1",
                                "csrf_token": token})
    token = csrf_from(client.get("/admin/coverage/").get_data(as_text=True))

    post_ms, poll_ms = [], []
    for _ in range(args.posts):
        t = time.perf_counter()
        resp = client.post("/admin/coverage/run", data={"csrf_token": token, "days": 14})
        post_ms.append(1000 * (time.perf_counter() - t))
        assert resp.status_code == 302, resp.status_code
        run_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        t = time.perf_counter()
        client.get(f"/admin/coverage/run/{run_id}/progress")
        poll_ms.append(1000 * (time.perf_counter() - t))
        with app.app_context(), audit.acting_as(audit.Actor(None, "bench")):
            runs.request_stop(db.session, run=db.session.get(PlanRun, run_id))
            db.session.commit()

    with app.app_context(), audit.acting_as(audit.Actor(None, "bench")):
        t = time.perf_counter()
        service.run_plan(db.session, start=today, days=14, now=datetime.now(),
                         time_limit_s=args.limit, config=app.config)
        old_ms = 1000 * (time.perf_counter() - t)
        db.session.rollback()

    first, post_ms = post_ms[0], post_ms[1:]  # the first also opens the queue file (Huey)
    med, poll = statistics.median(post_ms), statistics.median(poll_ms)
    print(f"town: {args.professionals} professionals, {args.requests} requests, 14 days")
    print(f"queue a plan (POST, the page answers): median {med:.1f} ms, "
          f"max {max(post_ms):.1f} ms over {len(post_ms)}, first {first:.1f} ms  "
          "(goal <= 200 ms)")
    print(f"progress poll (GET JSON):               median {poll:.1f} ms")
    print(f"baseline, solving in the request ({args.limit:.0f} s limit): {old_ms:.0f} ms")
    print(f"ratio: the page answers {old_ms / med:.0f}x sooner than the old page")


if __name__ == "__main__":
    main()
