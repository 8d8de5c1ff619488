"""Under the Content-Security-Policy the panel still works in Chromium: no script is refused, and
what inline handlers used to do (bulk actions, the delete confirmation, adding a shift, the
select-all box) still happens."""

import pytest

from backoffice.auth import create_user
from tests.browser_support import log_in
from tests.factories import Factories

pytestmark = pytest.mark.browser


def test_the_panel_runs_under_its_content_security_policy(live_server, page):
    with live_server.session() as s:
        create_user(s, email="admin.csp@example.com", name="Csp Admin",
                    password="browser-pass-123", roles=["admin"], locale="es")
        pro = Factories(s).professional(name="Consuelo Martí")
        s.flush()
        pro_id = pro.id
    refused, errors = [], []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    page.on("console", lambda m: errors.append((page.url, m.text)) if m.type == "error" else None)
    log_in(page, live_server, "admin.csp@example.com", "browser-pass-123")

    page.goto(f"{live_server.url}/admin/professional/edit/?id={pro_id}")
    before = page.locator("#time_off .inline-field-list > .inline-field").count()
    page.click("#time_off-button")
    assert page.locator("#time_off .inline-field-list > .inline-field").count() == before + 1

    page.goto(f"{live_server.url}/admin/professional/")
    page.check(f"input[name=rowid][value='{pro_id}']")
    page.click("a.dropdown-toggle:has-text('seleccionad')")
    page.once("dialog", lambda d: d.dismiss())  # the bulk action asks first
    page.click("a[data-model-action='suspend']")
    assert page.url.endswith("/admin/professional/")
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.locator(f"form.icon:has(input[name=id][value='{pro_id}']) button").click()
    assert dialogs and "?" in dialogs[0]
    assert page.locator(f"input[name=rowid][value='{pro_id}']").count() == 1  # not deleted

    page.goto(f"{live_server.url}/admin/vetting/")
    if page.locator("input[data-check-all]").count():
        page.check("input[data-check-all]")
    response = page.goto(f"{live_server.url}/admin/")
    assert "'nonce-" in response.headers["content-security-policy"]
    assert refused == [], refused
    assert errors == [], errors  # a missing favicon was one on every page
