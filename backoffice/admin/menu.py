"""The panel's menu, rendered once per role set, language and page rather than on every request."""

from flask import current_app, g
from flask_babel import get_locale
from markupsafe import Markup

# Roles x languages x pages: a few hundred entries at most.
MAX_ENTRIES = 2048


def cached_menu(admin_view, caller) -> Markup:
    """Return the menu for this user's roles, language and page, rendering it on first use."""
    # What the menu shows depends only on these: each view's is_accessible() reads the roles,
    # names follow the language, and the active item follows the page.
    user = g.get("user")
    roles = user.roles if user is not None else ""
    key = (roles, str(get_locale()), getattr(admin_view, "endpoint", None))
    cache = current_app.extensions.setdefault("backoffice_menu", {})
    html = cache.get(key)
    if html is None:
        html = Markup(caller())
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = html
    return html
