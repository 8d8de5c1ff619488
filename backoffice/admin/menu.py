"""The parts of a panel page that are the same for every request of a role set, language and
page (the menu, the page title, the CSS and script tags), rendered once rather than each time."""

from flask import current_app, g
from flask_babel import get_locale
from markupsafe import Markup

# Parts x roles x languages x pages: a few thousand entries at most.
MAX_ENTRIES = 8192


def cached_part(part: str, admin_view, caller) -> Markup:
    """Return a page part for this user's roles, language and page, rendering it on first use.

    What these parts show depends only on that: each view's is_accessible() reads the roles,
    names follow the language, and the active menu item, title and extra files follow the page.
    """
    if admin_view.admin.csp_nonce_generator is not None:  # a nonce differs on every page
        return Markup(caller())
    user = g.get("user")
    roles = user.roles if user is not None else ""
    key = (part, roles, str(get_locale()), getattr(admin_view, "endpoint", None))
    cache = current_app.extensions.setdefault("backoffice_parts", {})
    html = cache.get(key)
    if html is None:
        html = Markup(caller())
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = html
    return html
