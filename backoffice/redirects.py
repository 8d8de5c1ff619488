"""Where a request may send the browser next: a path on this site, or nowhere.

Every redirect target taken from a request (`url`, `next`, `Referer`) goes through safe_target.
Flask-Admin's own check accepts `http:evil.example`, which the server then answers with
`Location: http:///evil.example` and browsers open as http://evil.example/; install() makes
Flask-Admin's views ask safe_target instead.
"""

from urllib.parse import urlsplit

from flask import request

# Browsers read a backslash as a slash and drop tabs and newlines inside a URL, so a path that
# holds any of them can turn into another host ("/\evil.example" opens //evil.example).
_FORBIDDEN = frozenset("\\\t\r\n\x00")


def safe_target(target: str | None) -> str | None:
    """Return target when it is a relative path on this site, else None."""
    if not target or any(c in _FORBIDDEN or ord(c) < 0x20 for c in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def safe_referrer() -> str | None:
    """Return the path and query of the Referer when it is a page of this site, else None."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_target(path)


def install_into_flask_admin() -> None:
    """Make Flask-Admin's redirect checks (`?url=` on every model view and action) ours."""
    import flask_admin.helpers

    # get_redirect_target looks is_safe_url up in its module at every call.
    flask_admin.helpers.is_safe_url = lambda target: safe_target(target) is not None
