"""The role matrix: every panel endpoint refuses anonymous visitors and wrong roles."""

import re

import pytest

from tests.conftest import csrf_from

ROLES = ("ops_agent", "vetting", "finance", "admin")
# Which roles may open each panel area (admin may open everything).
POLICY = {
    "admin": set(ROLES),  # the home page
    "service_request": {"ops_agent"},
    "services_yesterday": {"ops_agent"},
    "goodwill_credits": {"finance"},
    "client": {"ops_agent", "finance"},
    "professional": {"ops_agent", "vetting"},
    "task": {"ops_agent", "vetting", "finance"},
    "staff_user": {"admin"},
    "audit_event": {"admin"},
    "coverage": {"ops_agent"},
    "vetting": {"vetting"},
    "vetting_document": {"vetting"},
    "vetting_incident": {"vetting", "ops_agent"},
    "billing_invoice": {"finance"},
    "billing_payment": {"finance"},
    "billing_rectifying_invoice": {"finance"},
    "billing_dunning_step": {"finance"},
    "billing_reports": {"finance"},
    "billing_calls": {"ops_agent", "finance"},
    "client_duplicates": {"ops_agent", "finance"},  # finance reads; a merge is ops' (refused)
    "search": set(ROLES),  # each result is offered only where the role may open it
    # Each role reads the cases of its team (cases.service.visible_filter); the desk's settings
    # and its mail quarantine are the admin's.
    "cases": {"ops_agent", "finance", "vetting"},
    "case_category": set(),
    "case_sla_policy": set(),
    "case_business_hours": set(),
    "case_closed_day": set(),
    "case_macro": set(),
    "case_quarantine": set(),
    "case_mailbox": set(),
    "figures": {"ops_agent"},  # the operations figures: ops and admin
    "survey": {"ops_agent"},  # read-only; the public page is outside /admin
}
ARG_VALUES = {"export_type": "csv"}


def panel_rules(app):
    """Return (url, method, area) for every rule under /admin except static files."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint.endswith(".static"):
            continue
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>",
                     lambda m: ARG_VALUES.get(m.group(1), "1"), rule.rule)
        method = "GET" if "GET" in rule.methods else "POST"
        out.append((url, method, rule.endpoint.split(".")[0]))
    return sorted(set(out))


def test_every_area_has_a_policy(app):
    areas = {area for _, _, area in panel_rules(app)}
    assert areas - set(POLICY) == set(), "a new panel area needs its row in POLICY"


def _call(client, url, method):
    if method == "GET":
        resp = client.get(url)
    else:
        token = csrf_from(client.get("/login").get_data(as_text=True))
        resp = client.post(url, data={"csrf_token": token})
    resp.get_data()  # consume streamed responses (CSV exports) so their context closes
    return resp


def test_anonymous_is_sent_to_login(app, client):
    for url, method, _ in panel_rules(app):
        resp = _call(client, url, method)
        assert resp.status_code == 302, (url, resp.status_code)
        assert "/login" in resp.headers["Location"], url


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app, client, logged_in, role):
    logged_in(role)
    for url, method, area in panel_rules(app):
        resp = _call(client, url, method)
        allowed = role == "admin" or role in POLICY[area]
        if allowed:
            assert resp.status_code != 403, (role, url)
            assert "/login" not in resp.headers.get("Location", ""), (role, url)
        else:
            assert resp.status_code == 403, (role, url, resp.status_code)
