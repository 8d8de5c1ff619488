"""What every request passes through: security headers, hostile arguments, and errors that
reach the reader as a short message with a reference, never as internals."""

import logging
import secrets

from flask import Flask, current_app, flash, g, redirect, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from backoffice.redirects import safe_referrer

log = logging.getLogger("backoffice.errors")

# Forms of Flask-Admin's model views refuse a NUL at the field itself (SecureForm); any other
# form is refused here, before a view could pass the text on to the database.
_FORM_VIEWS = (".create_view", ".edit_view")
_HTTP_MESSAGES = {
    400: _l("The request could not be read. Go back and try again."),
    405: _l("This address does not take that kind of request."),
    429: _l("Too many requests. Wait a moment and try again."),
}


def _fresh_nonce() -> None:
    g.pop("csp_nonce", None)  # one nonce per page: tests run many pages in one app context


def csp_nonce() -> str:
    """Return this request's script nonce, made on first use."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def error_reference() -> str:
    """Return a short reference that the reader can quote and the log holds beside the error."""
    return secrets.token_hex(4).upper()


def log_failure(exc: BaseException) -> str:
    """Log exc with its full error under a new reference; return the reference."""
    ref = error_reference()
    log.error("error %s on %s %s", ref, request.method if request else "-",
              request.path if request else "-", exc_info=exc)
    return ref


def failure_message(ref: str) -> str:
    """Return what the reader sees of a failure: no internals, a reference for support."""
    return gettext("Something went wrong and nothing was saved. If it happens again, quote "
                   "reference %(ref)s to an administrator.", ref=ref)


def install(app: Flask) -> None:
    """Wire the request guards and the error pages into app."""
    app.before_request(_fresh_nonce)
    app.before_request(_refuse_nul)
    app.after_request(_security_headers)

    def error_page(code: int, message):
        return render_template("error.html", code=code, message=message), code

    app.register_error_handler(403, lambda e: error_page(
        403, _l("Your role does not give access to this page.")))
    app.register_error_handler(404, lambda e: error_page(404, _l("Page not found.")))
    app.register_error_handler(CSRFError, lambda e: error_page(
        400, _l("The form expired or lacks its security token. Reload the page and try again.")))
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, lambda e: e if (e.code or 500) < 400 else
                               error_page(e.code, _HTTP_MESSAGES.get(e.code, e.name)))

    @app.errorhandler(Exception)
    def unexpected(exc):  # noqa: ANN001
        return error_page(500, failure_message(log_failure(exc)))


def _nul_field() -> str | None:
    for key, value in request.form.items(multi=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "")
    return None


def _refuse_nul():
    # A NUL in the query string is left out (a search for "a%00b" searches "ab"): PostgreSQL
    # refuses the byte in any text, so it must not reach a statement.
    query = request.query_string
    if b"%00" in query and request.method in ("GET", "HEAD"):
        while b"%00" in query:
            query = query.replace(b"%00", b"")
        return redirect(request.path + (f"?{query.decode('latin-1')}" if query else ""))
    if request.method != "POST" or not request.content_length:
        return None
    if request.endpoint and request.endpoint.endswith(_FORM_VIEWS):
        return None
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    field = _nul_field()
    if field is None:
        return None
    message = gettext("%(field)s: contains a character that cannot be stored (NUL); remove it "
                      "and send the form again.", field=field)
    return render_template("error.html", code=400, message=message), 400


def _too_large(exc):
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    message = gettext("file: the upload is larger than the limit of %(mb)d MB",
                      mb=limit // 1048576)
    back = safe_referrer()
    if back and request.method == "POST":
        flash(message, "error")
        return redirect(back)
    return render_template("error.html", code=413, message=message), 413


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", (
        f"default-src 'self'; script-src 'self' 'nonce-{csp_nonce()}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"))
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if g.get("user") is not None:
        headers.setdefault("Cache-Control", "no-store")
    return response
