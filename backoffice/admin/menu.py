"""The parts of a panel page that are the same for every request of a role set, language and
page (the menu, the page title, the CSS and script tags), rendered once rather than each time."""

from flask import current_app, g
from flask_babel import get_locale
from markupsafe import Markup

# Parts x roles x languages x pages: a few thousand entries at most.
MAX_ENTRIES = 8192
_NONCE_SLOT = "\ufffcnonce\ufffc"


def cached_part(part: str, admin_view, caller) -> Markup:
    """Return a page part for this user's roles, language and page, rendering it on first use.

    What these parts show depends only on that: each view's is_accessible() reads the roles,
    names follow the language, and the active menu item, title and extra files follow the page.
    """
    user = g.get("user")
    roles = user.roles if user is not None else ""
    key = (part, roles, str(get_locale()), getattr(admin_view, "endpoint", None))
    cache = current_app.extensions.setdefault("backoffice_parts", {})
    # Script tags carry this page's CSP nonce: the part is kept with a slot in its place.
    nonce = g.get("csp_nonce")
    stored = cache.get(key)
    if stored is None:
        html = str(caller())
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = html.replace(nonce, _NONCE_SLOT) if nonce else html
        return Markup(html)
    return Markup(stored.replace(_NONCE_SLOT, nonce) if nonce else stored)
