"""A live server on its own migrated database, and Debian's chromium driven by Playwright."""

import contextlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from backoffice import audit, migrate
from backoffice.db import db, make_engine, make_sessionmaker, normalise_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-gpu", "--no-first-run"]


@dataclass
class LiveServer:
    url: str
    app: object
    database_url: str

    @contextlib.contextmanager
    def session(self):
        """Yield a plain session on the live database that commits at the end.

        Plain, not the app's: Playwright's sync API runs an event loop in this thread, and
        Flask's app-context teardown cannot run async hooks there."""
        engine = make_engine(self.database_url)
        s = make_sessionmaker(engine)()
        try:
            with audit.acting_as(audit.Actor(None, "test-setup")):
                yield s
            s.commit()
        finally:
            s.close()
            engine.dispose()


def _live_database(tmp: Path) -> str:
    base = os.environ.get("DATABASE_URL")
    if base and normalise_url(base).startswith("postgresql"):
        url = normalise_url(base)
        name = url.rsplit("/", 1)[1] + "_live"
        admin = make_engine(url.rsplit("/", 1)[0] + "/postgres")
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return url.rsplit("/", 1)[0] + "/" + name
    return f"sqlite:///{tmp / 'live.sqlite3'}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, mail_sink):
    """Serve the app in a thread on 127.0.0.1 over a database of its own."""
    from backoffice.app import create_app
    from tests.conftest import test_config

    tmp = tmp_path_factory.mktemp("live")
    url = _live_database(tmp)
    migrate.upgrade(url)
    app = create_app(test_config(url, mail_sink, tmp / "instance"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, database_url=url)
    server.shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's chromium once per run; CI requires it, a developer without it skips."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("BROWSER_TESTS_REQUIRED"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions do: a CI machine under load answers slower.
    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def log_in(page, live_server, email: str, password: str) -> None:
    """Log in through the login form."""
    page.goto(f"{live_server.url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/**")
