"""An ops agent in Chromium asks for a plan: the page returns at once, shows the worker's
progress without reloading, then the draft; a second plan is stopped early and kept."""

import re
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from backoffice.auth import create_user
from tests.assignment.queue_support import close, town, worker_process
from tests.browser_support import LiveServer, log_in

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "plan.runner@example.com", "plan-runner-pass-123"


@pytest.fixture(scope="module")
def plan_server(tmp_path_factory, mail_sink):
    """The panel on a town of its own (the shared live server's board stays as its tests left
    it), with one `backoffice worker` on its queue."""
    from backoffice.app import create_app
    from tests.conftest import test_config

    tmp = tmp_path_factory.mktemp("plan_browser")
    boundary = town(tmp, queue_url=f"sqlite:///{tmp / 'huey.sqlite3'}", suffix="browser_plans")
    with boundary.session("test-setup") as session:
        create_user(
            session,
            email=EMAIL,
            name="Plan Runner",
            password=PASSWORD,
            roles=["ops_agent"],
            locale="en",
        )
    url = boundary.config["DATABASE_URL"]
    app = create_app(
        {
            **test_config(url, mail_sink, tmp / "instance"),
            "QUEUE_URL": boundary.config["QUEUE_URL"],
            "COVERAGE_RUN_TIME_LIMIT_S": 8.0,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with worker_process(boundary, tmp / "worker.log"):
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, database_url=url)
    server.shutdown()
    close(boundary)


def test_agent_follows_a_plan_run_live_then_reviews_the_draft(plan_server, page):
    log_in(page, plan_server, EMAIL, PASSWORD)
    page.goto(f"{plan_server.url}/admin/coverage/")
    page.click("#run-plan")
    page.wait_for_url(re.compile(r".*/admin/coverage/run/\d+$"))
    expect(page.locator(".alert")).to_contain_text("is queued")
    # a mark on this page: it survives only as long as the page is not loaded again
    page.evaluate("window.notReloaded = true")

    expect(page.locator("#run-status")).to_have_text("running", timeout=60_000)
    expect(page.locator("#run-covered")).to_have_text(re.compile(r"^\d+ / \d+$"))
    expect(page.locator("#run-travel")).to_have_text(re.compile(r"^[\d,.]+ km$"))
    expect(page.locator("#run-seconds-left")).to_have_text(re.compile(r"^\d+ s$"))
    first = page.locator("#run-seconds-left").text_content()
    expect(page.locator("#run-seconds-left")).not_to_have_text(first)  # counts down by itself
    assert page.evaluate("window.notReloaded === true")

    # the worker is done: the page turns into the draft to review
    expect(page.locator("#publish")).to_be_visible(timeout=60_000)
    expect(page.locator("#run-status")).to_have_text("draft")
    expect(page.locator("#diff-new")).to_be_visible()


def test_agent_stops_a_plan_run_and_gets_the_best_plan_so_far(plan_server, page):
    plan_server.app.config["COVERAGE_RUN_TIME_LIMIT_S"] = 300.0
    try:
        log_in(page, plan_server, EMAIL, PASSWORD)
        page.goto(f"{plan_server.url}/admin/coverage/")
        page.click("#run-plan")
        expect(page.locator("#run-covered")).to_have_text(
            re.compile(r"^\d+ / \d+$"), timeout=60_000
        )
        page.click("#stop-run")
        expect(page.locator(".alert").first).to_contain_text("keeps the best plan")
        expect(page.locator("#run-stopped-early")).to_contain_text(
            f"Stopped early by {EMAIL}", timeout=60_000
        )
        expect(page.locator("#publish")).to_be_visible()
    finally:
        plan_server.app.config["COVERAGE_RUN_TIME_LIMIT_S"] = 8.0
