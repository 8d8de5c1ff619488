"""What a hostile or careless input can do: no server error, no off-site redirect, no internals
on screen, and the field named."""

import io
import logging
import re
import subprocess
import sys
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from backoffice.models import Client
from tests.conftest import csrf_from, post_from

HOSTILE_TARGETS = ["http:evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example",
                   "https://evil.example/x", "http:///evil.example", "javascript:alert(1)",
                   "/%09/evil.example", " //evil.example"]
HOSTILE_VALUES = ["99999999999999999999", "-99999999999999999999", "%00", "a%00b", "%ff%fe",
                  "%C3%28", "%", "' OR 1=1 --", "\u202e", "x" * 3000]
ARGS = ["id", "page", "page_size", "sort", "desc", "search", "stage", "weeks", "as_of",
        "format", "from", "to", "days", "modal", "flt0_status_equal", "flt1_name_contains"]


def off_site(location: str | None) -> bool:
    """Tell whether a Location header would take a browser to another site."""
    if not location:
        return False
    if "\\" in location or re.search(r"[\x00-\x20]", location):
        return True
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        return parts.scheme not in ("http", "https") or parts.netloc != "localhost"
    return not location.startswith("/") or location.startswith("//")


def panel_get_urls(app) -> list[str]:
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        if rule.endpoint.endswith(".export"):
            urls.add(re.sub(r"<[^>]+>", "csv", rule.rule))
            continue
        urls.add(re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule))
    return sorted(urls)


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
@pytest.mark.parametrize("path", ["/admin/client/edit/?id=999999", "/admin/client/new/",
                                  "/admin/client/details/?id=999999",
                                  "/admin/service_request/details/?id=999999"])
def test_flask_admin_pages_never_redirect_off_site(client, logged_in, path, target):
    logged_in("admin")
    resp = client.get(f"{path}{'&' if '?' in path else '?'}url={quote(target, safe='')}")
    assert resp.status_code in (200, 302)
    assert not off_site(resp.headers.get("Location")), resp.headers.get("Location")


def test_a_saved_form_with_a_hostile_return_url_goes_back_to_the_list(client, logged_in):
    logged_in("ops_agent")
    page = client.get("/admin/client/new/").get_data(as_text=True)
    resp = client.post("/admin/client/new/?url=http:evil.example",
                       data={"csrf_token": csrf_from(page), "name": "Amparo Vidal",
                             "email": "amparo@example.com", "phone": "+34 611 222 333",
                             "language": "es", "lat": "39.47", "lon": "-0.37"})
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/admin/client/")


@pytest.mark.parametrize("referrer", ["http://evil.example/admin/vetting/",
                                      "https://localhost.evil.example/", "//evil.example"])
def test_vetting_forms_do_not_follow_a_foreign_referer(client, logged_in, referrer):
    logged_in("vetting")
    token = csrf_from(client.get("/admin/vetting/").get_data(as_text=True))
    for url in ("/admin/vetting/bulk", "/admin/vetting/document/999999/review"):
        resp = client.post(url, data={"csrf_token": token, "op": "advance"},
                           headers={"Referer": referrer})
        assert not off_site(resp.headers.get("Location")), (url, resp.headers.get("Location"))


def test_every_panel_address_survives_hostile_arguments(app, client, session, logged_in,
                                                        factories):
    """Every GET address of the panel, with huge numbers, NUL, broken UTF-8 escapes and
    off-site URLs in every argument, answers without a server error and stays on the site."""
    factories.request(professional=factories.professional())
    session.commit()
    logged_in("admin")
    failures = {}
    urls = panel_get_urls(app)
    for url in urls:
        queries = [f"{arg}={value}" for arg in ARGS for value in HOSTILE_VALUES[:6]]
        queries += [f"{name}={quote(t, safe='')}" for name in ("url", "next")
                    for t in HOSTILE_TARGETS]
        queries.append("&".join(f"{arg}={HOSTILE_VALUES[2]}" for arg in ARGS))
        for query in queries:
            resp = client.get(f"{url}?{query}")
            resp.get_data()
            if resp.status_code >= 500 or off_site(resp.headers.get("Location")):
                failures[(url, query)] = (resp.status_code, resp.headers.get("Location"))
    assert failures == {}
    assert len(urls) > 40


def test_a_page_beyond_the_last_shows_the_last_page(client, session, logged_in, factories):
    for _ in range(25):
        factories.client()
    session.commit()
    logged_in("ops_agent")
    last = client.get("/admin/client/?page=99999999999999999999&page_size=20")
    text = last.get_data(as_text=True)
    assert last.status_code == 200
    assert 'class="page-item active"' in text
    rows = re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', text)
    assert rows, "the last page shows its rows, not an empty list"


def test_odd_search_text_searches(client, session, logged_in, factories):
    factories.client(name="Vicenta Mora")
    session.commit()
    logged_in("ops_agent")
    resp = client.get("/admin/client/?search=Vicen%00ta", follow_redirects=True)
    assert resp.status_code == 200
    assert "Vicenta Mora" in resp.get_data(as_text=True)


def test_nul_in_a_panel_form_is_refused_at_the_field(client, session, logged_in):
    logged_in("ops_agent")
    page = client.get("/admin/client/new/").get_data(as_text=True)
    resp = client.post("/admin/client/new/", data={
        "csrf_token": csrf_from(page), "name": "Pepa\x00Nul", "email": "pepa@example.com",
        "phone": "+34 611 222 333", "language": "es", "lat": "39.47", "lon": "-0.37"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "cannot be stored (NUL)" in text
    assert "INSERT" not in text and "psycopg" not in text
    assert session.scalar(sa.select(sa.func.count()).where(Client.email == "pepa@example.com")) == 0


def test_nul_in_a_custom_page_form_names_the_field(client, session, logged_in):
    logged_in("vetting")
    text = post_from(client, "/admin/vetting/new", "/admin/vetting/new",
                     {"name": "Nul\x00o", "email": "nulo@example.com", "skills": "cleaning"})
    assert "name: contains a character that cannot be stored (NUL)" in text


def test_a_failed_save_shows_a_reference_not_the_sql(client, session, logged_in, is_postgres,
                                                     caplog):
    """A database error while saving shows a short message and a reference; the log holds the
    reference beside the full error. The error is raised by a trigger made for the test."""
    if is_postgres:
        session.execute(sa.text(
            "CREATE FUNCTION refuse_client() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'refused for the test'; END; $$ LANGUAGE plpgsql"))
        session.execute(sa.text("CREATE TRIGGER refuse_client BEFORE INSERT ON client "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_client()"))
    else:
        session.execute(sa.text("CREATE TRIGGER refuse_client BEFORE INSERT ON client "
                                "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"))
    logged_in("ops_agent")
    page = client.get("/admin/client/new/").get_data(as_text=True)
    with caplog.at_level(logging.ERROR, logger="backoffice.errors"):
        resp = client.post("/admin/client/new/", data={
            "csrf_token": csrf_from(page), "name": "Roser Falla", "email": "roser@example.com",
            "phone": "+34 611 222 444", "language": "es", "lat": "39.47", "lon": "-0.37"},
            follow_redirects=True)
    text = resp.get_data(as_text=True)
    ref = re.search(r"reference ([0-9A-F]{8})", text)
    assert ref, text
    assert "INSERT" not in text and "roser@example.com" not in text.split("value=")[0]
    assert "refused for the test" not in text
    assert any(ref.group(1) in r.getMessage() and r.exc_info for r in caplog.records)


def test_an_upload_over_the_limit_gets_the_forms_message(app, client, session, logged_in,
                                                         monkeypatch):
    from vetting import service

    applicant = service.new_applicant(session, name="Big File", email="big@example.com",
                                      phone=None, skills=["cleaning"])
    session.commit()
    logged_in("vetting")
    page_url = f"/admin/vetting/application/{applicant.id}"
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2 * 1048576)
    # A browser states the body's length up front; the server refuses before reading it.
    boundary, body = encode_multipart({"csrf_token": token, "doc_type": "identity",
                                       "file": FileStorage(io.BytesIO(b"%PDF-" + b"0" * 3_000_000),
                                                           "big.pdf", "application/pdf")})
    resp = client.post(f"{page_url}/document", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}",
                       headers={"Referer": f"http://localhost{page_url}"})
    assert resp.status_code == 302 and resp.headers["Location"] == page_url
    text = client.get(page_url).get_data(as_text=True)
    assert "file: the upload is larger than the limit of 2 MB" in text


def test_pages_carry_a_content_security_policy_with_this_pages_nonce(client, logged_in):
    logged_in("ops_agent")
    for url in ("/admin/", "/admin/client/", "/admin/client/new/"):
        resp = client.get(url)
        policy = resp.headers["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
        html = resp.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts), url
        assert not re.search(r"\son(click|change|submit|load)=", html), url
    first, second = (client.get("/admin/client/").headers["Content-Security-Policy"]
                     for _ in range(2))
    assert first != second  # a new nonce on every page


def test_hsts_only_when_cookies_are_secure(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    resp = client.get("/login")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    for header in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert header in resp.headers


@pytest.mark.parametrize("content", [b"\xff\xfe{\x00", b"{\"version\": 1, \"na\xe9\": 1}"])
def test_assign_solve_refuses_a_file_that_is_not_utf8(tmp_path, content):
    problem = tmp_path / "problem.json"
    problem.write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "backoffice.cli", "assign", "solve",
                             str(problem)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr and "Traceback" not in result.stderr
