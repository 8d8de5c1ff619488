"""Fixtures every test package uses: the database (SQLite or DATABASE_URL), the app, users, mail."""

import contextlib
import os
import re
import tempfile
from datetime import date, time
from pathlib import Path
from unittest import mock

import pytest
import sqlalchemy as sa

from backoffice import audit, migrate
from backoffice.db import db, make_engine, normalise_url
from tests.browser_support import browser, live_server, page  # noqa: F401  (fixtures)

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
PASSWORD = "correct-horse-battery"


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """Migrate a fresh database once per run: DATABASE_URL's PostgreSQL, or a SQLite file."""
    url = os.environ.get("DATABASE_URL")
    if os.environ.get("POSTGRES_TESTS_REQUIRED") and not (url or "").startswith("postgresql"):
        pytest.fail("POSTGRES_TESTS_REQUIRED is set but DATABASE_URL is not PostgreSQL")
    if url:
        url = normalise_url(url)
        if url.startswith("postgresql"):
            _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def mail_sink():
    from backoffice.mailsink import MailSink

    sink = MailSink().start()
    yield sink
    sink.stop()


def test_config(database_url: str, mail_sink, instance: Path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret",
        "SESSION_COOKIE_SECURE": False,
        "SMTP_PORT": mail_sink.port,
        "UPLOAD_DIR": str(instance / "uploads"),
        "BABEL_DEFAULT_LOCALE": "en",
        # The second factor is tested on its own (test_totp_required); elsewhere admins and
        # finance log in with a password, as the demo's exempt users do.
        "MFA_REQUIRED_ROLES": "",
    }


@pytest.fixture(scope="session")
def app(database_url, mail_sink, tmp_path_factory):
    from backoffice.app import create_app

    instance = tmp_path_factory.mktemp("instance")
    return create_app(test_config(database_url, mail_sink, instance))


@contextlib.contextmanager
def isolated(app):
    """Run the app on one connection in a transaction rolled back at the end.

    Like Flask-SQLAlchemy-Lite's test_isolation, but for this app only: other apps (a live
    server, an app a CLI test made) keep their own connections."""
    state = db._app_state[app]
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(state.sessionmaker.kw,
                                            {"join_transaction_mode": "create_savepoint"}))
        for engine in state.engines.values():
            connection = stack.enter_context(engine.connect())
            stack.enter_context(mock.patch.object(connection, "close", lambda: None))
            stack.enter_context(mock.patch.object(engine, "connect", lambda c=connection: c))
            transaction = connection.begin()
            stack.callback(transaction.rollback)
            stack.enter_context(mock.patch.object(connection, "begin", connection.begin_nested))
        yield


@pytest.fixture()
def session(app):
    """A session inside one outer transaction that is rolled back after the test."""
    with app.app_context(), isolated(app):
        yield db.session
        audit.set_actor(audit.SYSTEM)


@pytest.fixture()
def client(app, session):
    return app.test_client()


def csrf_from(html: str) -> str:
    """Return the CSRF token embedded in a page."""
    m = CSRF_RE.search(html)
    assert m, "page has no csrf_token"
    return m.group(1) or m.group(2)


def post_from(client, page_url: str, action_url: str, data: dict) -> str:
    """Post data to action_url with the CSRF token of page_url, as its form would; return the
    text of the page the browser lands on."""
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    resp = client.post(action_url, data={"csrf_token": token, **data}, follow_redirects=True)
    return resp.get_data(as_text=True)


@pytest.fixture()
def make_user(session):
    from backoffice.auth import create_user

    counter = {"n": 0}

    def make(*roles: str, email: str | None = None, locale: str = "en"):
        counter["n"] += 1
        return create_user(
            session,
            email=email or f"{'-'.join(roles) or 'none'}{counter['n']}@staff.example.com",
            name=f"{' '.join(roles).title()} {counter['n']}",
            password=PASSWORD,
            roles=list(roles),
            locale=locale,
        )

    return make


@pytest.fixture()
def login(client):
    def do(user, password: str = PASSWORD):
        form = client.get("/login")
        token = csrf_from(form.get_data(as_text=True))
        return client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": token})

    return do


@pytest.fixture()
def logged_in(make_user, login, client):
    """Log a new user with the given roles in on the test client and return it."""

    def do(*roles: str):
        user = make_user(*roles)
        resp = login(user)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return user

    return do


@pytest.fixture()
def factories(session):
    """Small factories for the core entities."""
    from tests.factories import Factories

    return Factories(session)


@pytest.fixture(autouse=True)
def _no_leaked_actor():
    yield
    audit.set_actor(audit.SYSTEM)


__all__ = ["csrf_from", "PASSWORD", "date", "time", "tempfile"]
