"""Panel URLs that never change within a process, built once instead of by url_for on every page,
and the record id a URL names.

url_for walks werkzeug's URL map each time; a page asked for some fifty, most of them the same
few paths (the list, static files, the user menu) with only the query string changing.
"""

from urllib.parse import urlencode

from flask import current_app, request, url_for

# werkzeug's own query encoding (url_for's): the same URLs, byte for byte.
_URL_SAFE = "!$'()*,/:;?@"


def query_string(args: dict) -> str:
    """Encode args as url_for would: None values left out, insertion order kept."""
    items = [(k, v) for k, v in args.items() if v is not None]
    return "?" + urlencode(items, safe=_URL_SAFE) if items else ""


def fixed_url(endpoint: str, **values) -> str:
    """Return url_for(endpoint, **values), built once per script root for the same values."""
    cache = current_app.extensions.setdefault("backoffice_urls", {})
    key = (endpoint, tuple(values.items()), request.script_root)
    url = cache.get(key)
    if url is None:
        url = cache[key] = url_for(endpoint, **values)
    return url


def static_url(filename: str, v: str | None = None) -> str:
    """Return the URL of one of Flask-Admin's static files."""
    return fixed_url("admin.static", filename=filename, v=v)


def endpoint_url(view, endpoint: str) -> str:
    """Return the path of one of a panel view's endpoints (".index_view", ".details_view")."""
    return fixed_url(view.endpoint + endpoint)


def parse_id(value) -> int | None:
    """Return a record id from a URL argument, or None when it is not one."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None
