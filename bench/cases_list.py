"""Case desk speed on PostgreSQL with 1,000,000 cases and 5,000,000 articles.

Prints p50/p95 server time (in-process WSGI calls, logged in as an ops agent) of the case queue
(first page, page 2,000, a filter, a search by requester) and of a case page with 50 articles,
beside a baseline measured in the same run: Flask-Admin's stock ModelView of the Case model
(its list with the same filter and search, and its details page listing the case's articles
through the ORM relationship). Goals: queue p95 <= 20 ms, case page p95 <= 10 ms.

The data is generated in SQL (INSERT ... SELECT generate_series) once; --reuse keeps it.

    python bench/cases_list.py [--url postgresql+psycopg://postgres@127.0.0.1/backoffice_bench_cases]
                               [--reuse] [--runs 50] [--only queue|'case page']
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_admin.contrib.sqla import ModelView  # noqa: E402

from backoffice import migrate  # noqa: E402
from backoffice.db import db, make_engine, normalise_url  # noqa: E402
from backoffice.runtime import settle_heap  # noqa: E402
from cases.models import Case  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/backoffice_bench_cases"
CASES, ARTICLES, CLIENTS, STAFF = 1_000_000, 5_000_000, 200_000, 50
LONG_CASE_ARTICLES = 50
BENCH_EMAIL, BENCH_PASSWORD = "bench-agent@x.com", "bench-password"
GOALS = {"queue": 20.0, "case page": 10.0}


class StockCaseView(ModelView):
    """Flask-Admin as it comes, configured like our queue: the baseline."""

    column_list = ("id", "subject", "state", "priority", "channel", "category.code",
                   "client.name", "assignee.name", "created_at", "next_due_at")
    column_searchable_list = ("client.email",)
    column_filters = ("state", "priority")
    column_default_sort = ("id", True)
    named_filter_urls = True
    can_view_details = True
    column_details_list = ("id", "subject", "state", "priority", "channel", "category",
                           "client", "assignee", "created_at", "articles")

    def is_accessible(self):
        return True


# -- the data --------------------------------------------------------------------------------

STEPS = (
    ("staff", """
        INSERT INTO staff_user (email, name, password_hash, roles, active, locale, created_at,
                                mfa_exempt)
        SELECT 'agent' || g || '@bench.example.com', 'Agente ' || g, 'x', 'ops_agent', true,
               'es', now(), true
        FROM generate_series(1, :staff - 1) g"""),
    ("clients", """
        INSERT INTO client (name, email, phone, phone_e164, language, status, version,
                            created_at, updated_at, request_count, zone)
        SELECT (ARRAY['María','José','Lucía','Antonio','Carmen','David','Elena','Javier',
                      'Laura','Pablo'])[1 + g % 10] || ' ' ||
               (ARRAY['García','Martínez','López','Sánchez','Pérez','Gómez','Ruiz','Díaz',
                      'Moreno','Navarro','Ferrer','Soler'])[1 + (g / 10) % 12] || ' ' || g,
               'client' || g || '@bench.example.com', '+34 6' || lpad(g::text, 8, '0'),
               '+346' || lpad(g::text, 8, '0'), CASE WHEN g % 8 = 0 THEN 'en' ELSE 'es' END,
               'active', 1, now() - interval '3 years', now(), 0, 'Ciutat Vella'
        FROM generate_series(1, :clients) g"""),
    ("professionals", """
        INSERT INTO professional (name, email, phone_e164, language, skills,
                                  max_minutes_per_week, status, version, created_at, updated_at)
        SELECT 'Profesional ' || g, 'pro' || g || '@bench.example.com',
               '+347' || lpad(g::text, 8, '0'), 'es', 'cleaning', 2400, 'approved', 1, now(),
               now()
        FROM generate_series(1, 2000) g"""),
    # Ids follow creation time over two years; the last 4 % are the desk's live cases.
    ("cases", """
        INSERT INTO "case" (subject, state, priority, channel, category_id, client_id,
                            professional_id, language, team, assignee_id, assigned_at,
                            created_at, updated_at, state_entered_at, solved_at, closed_at,
                            first_response_at, last_response_at, first_response_due_at,
                            next_response_due_at, resolution_due_at, next_due_at,
                            sla_warned, sla_breached, version, sla_policy_id)
        SELECT s.subject, s.state, s.priority, s.channel, s.category_id,
               CASE WHEN s.pro THEN NULL ELSE :client0 + s.client END,
               CASE WHEN s.pro THEN :pro0 + s.client % 2000 END,
               CASE WHEN s.client % 8 = 0 THEN 'en' ELSE 'es' END,
               CASE WHEN s.category_id IN (5, 6) THEN 'finance' ELSE 'ops_agent' END,
               s.assignee, CASE WHEN s.assignee IS NOT NULL THEN s.created_at END,
               s.created_at, s.created_at + interval '2 hours', s.created_at,
               CASE WHEN s.state IN ('solved', 'closed') THEN s.created_at + interval '1 day' END,
               CASE WHEN s.state = 'closed' THEN s.created_at + interval '8 days' END,
               CASE WHEN s.state <> 'new' THEN s.created_at + interval '40 minutes' END,
               CASE WHEN s.state <> 'new' THEN s.created_at + interval '40 minutes' END,
               CASE WHEN s.state = 'new' THEN s.created_at + s.due END,
               CASE WHEN s.state = 'open' THEN s.created_at + 2 * s.due END,
               CASE WHEN s.state IN ('new', 'open') THEN s.created_at + 10 * s.due END,
               CASE WHEN s.state IN ('new', 'open') THEN s.created_at + s.due END,
               '', CASE WHEN s.g % 17 = 0 THEN 'first_response' ELSE '' END, 1,
               CASE s.priority WHEN 'low' THEN 1 WHEN 'normal' THEN 2 WHEN 'high' THEN 3
                               ELSE 4 END
        FROM (
          SELECT g, r.created_at,
                 (ARRAY['Cambiar la hora del servicio', 'Queja sobre la limpieza',
                        'La profesional no vino', 'Duda sobre la factura',
                        'Cobro indebido', 'Cancelar el servicio del jueves',
                        'Consulta sobre mi horario', 'Entrega de llaves',
                        'Change the time of my cleaning', 'Question about my invoice',
                        'Cambio de dirección', 'Se ha roto un jarrón'])[1 + g % 12] AS subject,
                 CASE WHEN g <= :cases * 0.96 THEN
                        CASE WHEN g % 29 = 0 THEN 'merged' ELSE 'closed' END
                      ELSE (ARRAY['new','new','open','open','open','open','open','pending',
                                  'pending','on_hold','solved','solved'])[1 + (g * 7) % 12]
                 END AS state,
                 (ARRAY['low','low','low','normal','normal','normal','normal','normal',
                        'normal','normal','normal','normal','normal','normal','normal',
                        'normal','high','high','high','urgent'])[1 + (g * 13) % 20]
                   AS priority,
                 (ARRAY['mail','mail','mail','mail','mail','phone','phone','phone',
                        'escalation','panel'])[1 + (g * 3) % 10] AS channel,
                 (ARRAY[1,1,1,2,2,3,3,4,5,5,6,7,7,8])[1 + (g * 5) % 14] AS category_id,
                 (hashint % :clients) AS client, g % 20 = 0 AS pro,
                 CASE WHEN g > :cases * 0.96 AND g % 6 = 0 THEN NULL
                      ELSE :staff0 + hashint % :staff END AS assignee,
                 interval '1 hour' * (1 + g % 8) AS due
          FROM generate_series(1, :cases) g,
               LATERAL (SELECT timestamp '2026-12-07 10:00' - interval '730 days'
                               + interval '730 days' * g / :cases AS created_at,
                               abs(hashint4(g)::bigint) AS hashint) r
        ) s"""),
    # Five articles a case: the requester's message, a reply, an answer, a note, a reply.
    ("articles", """
        INSERT INTO case_article (case_id, kind, public, created_at, author_id, sender,
                                  subject, body, message_id, call_seconds, call_outcome)
        SELECT c.id, k.kind, k.kind <> 'note', c.created_at + interval '20 minutes' * k.n,
               CASE WHEN k.kind IN ('mail_out', 'note') THEN c.assignee_id END,
               CASE WHEN k.kind = 'mail_in' THEN 'client' || c.client_id || '@bench.example.com'
                    WHEN k.kind = 'mail_out' THEN 'desk@bench.example.com' END,
               c.subject, k.body,
               CASE WHEN k.kind IN ('mail_in', 'mail_out')
                    THEN '<' || c.id || '.' || k.n || '@bench.example.com>' END,
               CASE WHEN k.kind = 'call_in' THEN 180 END,
               CASE WHEN k.kind = 'call_in' THEN 'reached' END
        FROM "case" c
        CROSS JOIN (VALUES
          (0, 'mail_in', 'Hola, tengo un servicio el martes a las 10:00 y querría cambiarlo a '
                         'las 12:00 si es posible. Gracias.'),
          (1, 'mail_out', 'Hola: le confirmamos el cambio. La profesional irá a las 12:00. '
                          'Un saludo.'),
          (2, 'mail_in', 'Perfecto, muchas gracias.'),
          (3, 'note', 'Confirmado con la profesional por teléfono.'),
          (4, 'call_in', 'Llama para confirmar la hora; todo correcto.')
        ) AS k(n, kind, body)
        WHERE c.id <= :last_case"""),
    ("tags", """
        INSERT INTO case_tag (case_id, name)
        SELECT id, (ARRAY['vip','cambio-hora','calidad','factura','llaves','recobro'])
                   [1 + id % 6]
        FROM "case" WHERE id % 5 = 0"""),
)


def _scalar(conn, sql: str, **params):
    return conn.execute(sa.text(sql), params).scalar()


def ensure_database(url: str, *, reuse: bool) -> None:
    """Create, migrate and fill the benchmark database unless --reuse finds it filled."""
    migrate.create_database(url)
    engine = make_engine(url)
    if not reuse:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    migrate.upgrade(url)
    with engine.connect() as conn:
        have = _scalar(conn, 'SELECT count(*) FROM "case"')
    if have >= CASES:
        engine.dispose()
        return
    print(f"generating {CASES:,} cases and {ARTICLES:,} articles (once)...", flush=True)
    _create_bench_user(url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        staff0 = _scalar(conn, "SELECT max(id) FROM staff_user")  # the bench agent is first
        params = {"staff": STAFF, "clients": CLIENTS, "cases": CASES}
        for name, sql in STEPS:
            if name == "clients":
                params["client0"] = (_scalar(conn, "SELECT coalesce(max(id), 0) FROM client")
                                     + 1)
            elif name == "professionals":
                params["pro0"] = (_scalar(conn, "SELECT coalesce(max(id), 0) FROM professional")
                                  + 1)
            elif name == "cases":
                params["staff0"] = staff0
            elif name == "articles":
                params["last_case"] = _scalar(conn, 'SELECT max(id) FROM "case"')
            t1 = time.perf_counter()
            conn.execute(sa.text(sql), params)
            print(f"  {name}: {time.perf_counter() - t1:.0f} s", flush=True)
        long_case = _long_case(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"generated in {time.perf_counter() - t0:.0f} s; the 50-article case is {long_case}",
          flush=True)
    engine.dispose()


def _long_case(conn) -> int:
    """Add the case with exactly LONG_CASE_ARTICLES articles, assigned to the bench agent."""
    agent = _scalar(conn, "SELECT id FROM staff_user WHERE email = :e", e=BENCH_EMAIL)
    case_id = _scalar(conn, """
        INSERT INTO "case" (subject, state, priority, channel, category_id, client_id, language,
                            team, assignee_id, assigned_at, created_at, updated_at,
                            state_entered_at, first_response_at, sla_warned, sla_breached,
                            version, next_due_at, resolution_due_at, next_response_due_at,
                            sla_policy_id)
        SELECT 'Queja larga sobre varias limpiezas', 'open', 'high', 'mail', 3, min(id), 'es',
               'ops_agent', :agent, now(), now() - interval '3 days', now(),
               now() - interval '3 days', now() - interval '3 days', '', '', 1,
               now() + interval '2 hours', now() + interval '1 day', now() + interval '2 hours',
               3
        FROM client RETURNING id""", agent=agent)
    conn.execute(sa.text("""
        INSERT INTO case_article (case_id, kind, public, created_at, author_id, sender, subject,
                                  body, message_id)
        SELECT :case, CASE WHEN n % 2 = 0 THEN 'mail_in' ELSE 'mail_out' END, true,
               now() - interval '3 days' + interval '1 hour' * n,
               CASE WHEN n % 2 = 1 THEN :agent END,
               CASE WHEN n % 2 = 0 THEN 'client@bench.example.com'
                    ELSE 'desk@bench.example.com' END,
               'Queja larga sobre varias limpiezas',
               repeat('Mensaje ' || n || ' de una conversación larga con la clienta. ', 8),
               '<long.' || n || '@bench.example.com>'
        FROM generate_series(1, :n) n"""), {"case": case_id, "agent": agent,
                                              "n": LONG_CASE_ARTICLES})
    return case_id


def _create_bench_user(url: str) -> None:
    from backoffice.app import create_app
    from backoffice.auth import create_user
    from backoffice.models import StaffUser

    app = create_app({"DATABASE_URL": url, "SESSION_COOKIE_SECURE": False,
                      "MFA_REQUIRED_ROLES": "", "SECRET_KEY": "x",
                      "INSTANCE_PATH": "/tmp/backoffice-bench-instance"})
    with app.app_context():
        if not db.session.scalar(sa.select(StaffUser).where(StaffUser.email == BENCH_EMAIL)):
            create_user(db.session, email=BENCH_EMAIL, name="Bench Agent",
                        password=BENCH_PASSWORD, roles=["ops_agent"], locale="es",
                        mfa_exempt=True)
            db.session.commit()


# -- the measurement -------------------------------------------------------------------------

def build_app(url: str):
    from backoffice.app import create_app

    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x",
                      "SESSION_COOKIE_SECURE": False, "MFA_REQUIRED_ROLES": "",
                      "INSTANCE_PATH": "/tmp/backoffice-bench-instance"})
    with app.app_context():
        app.extensions["admin"][0].add_view(
            StockCaseView(Case, db, name="Stock cases", endpoint="stock_case"))
    return app


def login(app):
    from tests.conftest import csrf_from

    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": BENCH_EMAIL, "password": BENCH_PASSWORD,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    return client


def timed(client, path: str, runs: int, warm: int = 3, expect: int = 200
          ) -> tuple[float, float, int]:
    """Return p50 and p95 in ms of GET path after warm-up, and the last status."""
    samples, status = [], 0
    for i in range(runs + warm):
        t0 = time.perf_counter()
        resp = client.get(path)
        resp.get_data()
        elapsed = (time.perf_counter() - t0) * 1000
        status = resp.status_code
        if status != expect and i == 0:
            return 0.0, 0.0, status  # not there (yet): no point in timing an error page
        if i >= warm:
            samples.append(elapsed)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)], status


def _cell(result) -> str:
    p50, p95, status = result
    if status == 404:
        return f"{'not mounted (404)':>19s}"
    if status != 200:
        return f"{'HTTP ' + str(status):>19s}"
    return f"{p50:8.1f}ms {p95:8.1f}ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("BENCH_CASES_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database if it already holds the cases")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--only", choices=sorted(GOALS),
                        help="time only the queue or only the case page")
    args = parser.parse_args()
    url = normalise_url(args.url)
    ensure_database(url, reuse=args.reuse)
    app = build_app(url)
    client = login(app)
    settle_heap()  # as backoffice.wsgi does in each worker
    with app.app_context():
        conn = db.session
        long_case = conn.scalar(sa.text(
            'SELECT case_id FROM case_article GROUP BY case_id HAVING count(*) = :n '
            'ORDER BY case_id DESC LIMIT 1'), {"n": LONG_CASE_ARTICLES})
        email = conn.scalar(sa.text(
            'SELECT cl.email FROM client cl JOIN "case" c ON c.client_id = cl.id '
            'WHERE c.id = :i'), {"i": 987_654})
        figures = conn.execute(sa.text(
            'SELECT (SELECT count(*) FROM "case"), (SELECT count(*) FROM case_article)')).one()
    print(f"{figures[0]:,} cases, {figures[1]:,} articles; {args.runs} runs per page after "
          "warm-up")
    # Figures taken while other work loads the machine are not comparable: say how loaded.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("baseline: Flask-Admin's stock ModelView of Case (list, filters, search on "
          "client.email; details page with the articles relationship)\n")
    scenarios = (
        ("queue", "first page (my cases)", "/admin/cases/", "/admin/stock_case/"),
        ("queue", "first page (all)", "/admin/cases/?tab=all", "/admin/stock_case/"),
        ("queue", "page 2,000 (all)", "/admin/cases/?tab=all&page=2000",
         "/admin/stock_case/?page=1999"),
        ("queue", "state=open, priority=high", "/admin/cases/?tab=all&state=open&priority=high",
         "/admin/stock_case/?flt0_state_equals=OPEN&flt1_priority_equals=HIGH"),
        ("queue", "search requester email", f"/admin/cases/?tab=all&q={email}",
         f"/admin/stock_case/?search={email}"),
        ("queue", "due soon", "/admin/cases/?tab=due", None),
        ("case page", f"case with {LONG_CASE_ARTICLES} articles", f"/admin/cases/{long_case}",
         f"/admin/stock_case/details/?id={long_case}"),
    )
    print(f"{'page':34s} {'ours p50':>9s} {'ours p95':>10s} {'stock p50':>10s} "
          f"{'stock p95':>10s} {'goal p95':>9s}  load")
    for kind, label, ours_path, stock_path in scenarios:
        if args.only and kind != args.only:
            continue
        ours = timed(client, ours_path, args.runs)
        stock = timed(client, stock_path, args.runs) if stock_path else None
        goal = GOALS[kind]
        verdict = "" if ours[2] != 200 else ("  ok" if ours[1] <= goal else "  OVER")
        print(f"{label:34s} {_cell(ours)} {_cell(stock) if stock else ' ' * 19:>19s} "
              f"{goal:7.0f}ms{verdict:6s} {os.getloadavg()[0]:4.1f}", flush=True)
    floor = timed(client, "/admin/no-such-page/", args.runs, expect=404)
    print(f"{'(any logged-in request)':34s} {floor[0]:8.1f}ms {floor[1]:8.1f}ms")


if __name__ == "__main__":
    main()
