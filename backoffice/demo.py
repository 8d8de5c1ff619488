"""`backoffice demo`: a SQLite database with Valencia data, the services it needs, the panel."""

import os
import random
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from backoffice import audit, migrate
from backoffice.mailsink import MailSink
from backoffice.optional import optional_module

DEMO_USERS = (
    ("ops@demo.example.com", "Lucía Ops", "ops_agent", "demo-ops-pass"),
    ("vetting@demo.example.com", "Marcos Vetting", "vetting", "demo-vetting-pass"),
    ("vetting2@demo.example.com", "Elena Vetting", "vetting", "demo-vetting2-pass"),
    ("finance@demo.example.com", "Carmen Finance", "finance", "demo-finance-pass"),
    ("finance2@demo.example.com", "Jorge Finance", "finance", "demo-finance2-pass"),
    ("admin@demo.example.com", "Ana Admin", "admin", "demo-admin-pass"),
)
# cases.demo comes last: its cases link the clients, bookings and invoices the others made.
DOMAIN_DEMOS = ("vetting.demo", "billing.demo", "assignment.demo", "cases.demo", "surveys.demo",
                "figures.demo")  # the figures last: they sum up what the others seeded


def demo_config(instance: Path) -> dict:
    return {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'demo.sqlite3'}",
        # The demo is served over plain http on 127.0.0.1; production keeps Secure cookies.
        "SESSION_COOKIE_SECURE": False,
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "8025")),
        # The case desk reads new mail from this Maildir; the demo drops a few mails into it.
        "MAIL_INBOX_MAILDIR": str(instance / "inbox"),
    }


def prepare_demo(instance: Path, *, keep: bool, today: date, echo) -> dict:
    """Create (or reuse with keep) the demo database and print the staff logins."""
    from backoffice.app import create_app
    from backoffice.db import db

    instance.mkdir(parents=True, exist_ok=True)
    config = demo_config(instance)
    path = instance / "demo.sqlite3"
    fresh = not (keep and path.exists())
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    migrate.upgrade(config["DATABASE_URL"])
    app = create_app(config)
    if fresh:
        with app.app_context(), audit.acting_as(audit.Actor(None, "demo")):
            echo("Seeding Valencia: 400 clients, 60 professionals, two weeks of requests...")
            made = seed_demo_data(db.session, today=today, config=app.config)
            db.session.commit()
            echo(f"Seeded {made['clients']} clients, {made['professionals']} professionals, "
                 f"{made['requests']} service requests.")
    if not fresh:
        _exempt_demo_users(app)  # a demo database kept from before the second factor existed
    echo("Staff logins (email / password):")
    for email, _name, role, password in DEMO_USERS:
        echo(f"  {role:10s} {email:26s} {password}")
    echo("These demo logins skip the second factor (TOTP) that admin and finance need outside "
         "the demo.")
    return config


def seed_demo_data(session, *, today: date, config, clients: int = 400,
                   professionals: int = 60, requests: int = 1900) -> dict:
    """Seed the demo's people, services, staff and every domain's demo data; flush, no commit.

    Tests seed a smaller town through this same code (tests/backoffice/test_wording_crawl.py)."""
    from backoffice.auth import create_user
    from backoffice.models import Professional
    from backoffice.seed import seed, seed_time_off

    # Three days of history, then the two weeks the coverage board looks at.
    made = seed(session, clients=clients, professionals=professionals, requests=requests,
                days=17, start=today - timedelta(days=3), today=today)
    rng = random.Random(11)
    pro_ids = [p.id for p in session.query(Professional.id)]
    seed_time_off(session, professional_ids=pro_ids, today=today, rng=rng)
    for email, name, role, password in DEMO_USERS:
        # Exempt from the second factor admin and finance need elsewhere, so the
        # logins printed below work as printed.
        create_user(session, email=email, name=name, password=password, roles=[role],
                    locale="es", mfa_exempt=True)
    for module_name in DOMAIN_DEMOS:
        if module := optional_module(module_name):
            module.seed_demo(session, today=today, rng=rng, config=config)
    session.flush()
    return made


def _exempt_demo_users(app) -> None:
    """Exempt the demo's users from the second factor, as a fresh demo creates them."""
    import sqlalchemy as sa

    from backoffice.db import db
    from backoffice.models import StaffUser

    with app.app_context(), audit.acting_as(audit.Actor(None, "demo")):
        emails = [email for email, *_ in DEMO_USERS]
        for user in db.session.scalars(sa.select(StaffUser).where(
                StaffUser.email.in_(emails), StaffUser.mfa_exempt.is_(False))):
            user.mfa_exempt = True
        db.session.commit()


def run_demo(config: dict, *, port: int, echo) -> None:
    """Start the mail sink, the Stripe-compatible server and the scheduler, then serve."""
    from backoffice.app import create_app
    from backoffice.runtime import settle_heap

    instance = Path(config["INSTANCE_PATH"])
    sink = MailSink(port=config["SMTP_PORT"], maildir=instance / "mail").start()
    echo(f"Mail sink on 127.0.0.1:{sink.port}, mails kept in {instance / 'mail'}")
    env = dict(os.environ, BACKOFFICE_INSTANCE=str(instance), DATABASE_URL=config["DATABASE_URL"],
               SMTP_PORT=str(sink.port), MAIL_INBOX_MAILDIR=config["MAIL_INBOX_MAILDIR"])
    children = []
    stripe = _start_stripe(env, echo)
    if stripe is not None:
        children.append(stripe)
    children.append(subprocess.Popen([sys.executable, "-m", "backoffice.cli", "scheduler",
                                      "--log-level", "WARNING"],
                                     env=env, stdout=subprocess.DEVNULL))
    echo("Scheduler started in its own process.")
    # one plan worker, as production runs `backoffice worker` (the queue is instance/queue.sqlite3)
    children.append(subprocess.Popen([sys.executable, "-m", "backoffice.cli", "worker",
                                      "--log-level", "WARNING"],
                                     env=env, stdout=subprocess.DEVNULL))
    echo("Plan worker started in its own process.")
    echo(f"Panel: http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
    # SIGTERM ends the demo like Ctrl-C, so the children below are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        app = create_app(config)
        settle_heap()
        app.run(host="127.0.0.1", port=port, threaded=True)
    finally:
        for child in children:
            child.terminate()
        sink.stop()


def _start_stripe(env: dict, echo):
    launcher = optional_module("billing.stripe_server")
    if launcher is None:
        return None
    proc = launcher.start_process(env)
    echo(f"Stripe-compatible server on {env.get('STRIPE_API_BASE', launcher.DEFAULT_BASE)}")
    return proc
