"""One application from applied to approved, driven in Chromium by two vetting users."""

import threading

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from backoffice import audit, migrate
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def vetting_server(tmp_path_factory, mail_sink):
    """Serve the app on its own SQLite file (the test transaction is invisible to threads)."""
    from backoffice.app import create_app
    from backoffice.auth import create_user
    from backoffice.db import db

    base = tmp_path_factory.mktemp("vetting-live")
    url = f"sqlite:///{base / 'live.sqlite3'}"
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(base), "SECRET_KEY": "live",
                      "SESSION_COOKIE_SECURE": False, "SMTP_PORT": mail_sink.port,
                      "UPLOAD_DIR": str(base / "uploads"), "BABEL_DEFAULT_LOCALE": "en"})
    with app.app_context(), audit.acting_as(audit.Actor(None, "test")):
        for n in (1, 2):
            create_user(db.session, email=f"vet{n}@live.test", name=f"Vetter {n}",
                        password=PASSWORD, roles=["vetting"], locale="en")
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _login(page, base, email):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base}/admin/**")


def _move(page, to):
    page.click(f"#transitions button[data-to={to}]")
    page.wait_for_selector(f"#stage[data-stage={to}]")


def test_applied_to_approved_by_two_vetting_users(vetting_server, browser, tmp_path):
    app, base = vetting_server
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    context = browser.new_context(locale="en-GB")
    try:
        page = context.new_page()
        _login(page, base, "vet1@live.test")
        page.goto(f"{base}/admin/vetting/new")
        page.fill("#name", "Rosa Ferrer")
        page.fill("#email", "rosa.ferrer@example.com")
        page.check("input[name=skills][value=cleaning]")
        page.click("#new-applicant-form button[type=submit]")
        page.wait_for_selector("#stage[data-stage=applied]")
        _move(page, "documents")
        for doc_type in ("identity", "right_to_work", "insurance"):
            page.select_option("#upload-form select[name=doc_type]", doc_type)
            page.fill("#upload-form input[name=expires_on]", "2031-01-31")
            page.set_input_files("#upload-form input[name=file]", str(pdf))
            page.click("#upload-form button")
            page.wait_for_selector("text=Document uploaded; it waits for review.")
            page.click("button[data-review=accept]")
            page.wait_for_selector("text=Document accepted.")
        assert page.locator("[data-required].badge-success").count() == 3
        _move(page, "checks")
        for n in (1, 2):
            page.fill("#reference-form input[name=name]", f"Referee {n}")
            page.fill("#reference-form input[name=contact]", f"60000000{n}")
            page.check("#reference-form input[name=contacted]")
            page.select_option("#reference-form select[name=outcome]", "positive")
            page.click("#reference-form button")
            page.wait_for_selector("text=Reference recorded.")
        for kind in ("identity", "background", "references"):
            row = page.locator(f"tr[data-check={kind}]")
            if kind == "background":
                row.locator("input[name=external_ref]").fill("CRC-2026-001")
            row.locator("button").click()
            page.wait_for_selector("text=Check recorded.")
        _move(page, "interview")
        page.fill("#interview-form input[name=scheduled_at]", "2026-11-25T10:00")
        page.click("#interview-form button")
        page.wait_for_selector("text=Interview scheduled.")
        page.click("[data-interview] form button")
        page.wait_for_selector("text=Interview recorded.")
        _move(page, "decision")
        assert "another vetting user must approve" in page.content()
        # Approve is shown disabled to the preparer, the reason beside it (#18).
        assert page.is_disabled("#transitions button[data-to=approved]")
        assert "four eyes" in page.inner_text("#why-approved")
        assert page.get_attribute("#stage", "data-stage") == "decision"
        application_url = page.url.split("?")[0]
        page.click("#user-menu")
        page.click("#logout")

        _login(page, base, "vet2@live.test")
        page.goto(application_url)
        page.fill("#transitions input[name=note]", "All clear")
        page.click("#transitions button[data-to=approved]")
        page.wait_for_selector("#stage[data-stage=approved]")
        assert page.inner_text("#pro-status") == "approved"
        timeline = page.inner_text("#timeline")
        for stage in ("applied", "documents", "checks", "interview", "decision", "approved"):
            assert stage in timeline
    finally:
        context.close()

    from backoffice.db import db
    from vetting.models import Application

    with app.app_context():
        row = db.session.scalar(sa.select(Application))
        assert (row.prepared_by.email, row.decided_by.email) == ("vet1@live.test",
                                                                 "vet2@live.test")
