"""The web panel on an app: login, request guards, Flask-Admin's views, the domains' routes."""

from pathlib import Path

from flask import Flask, g, redirect, request, url_for
from flask_admin import Admin
from flask_admin import babel as admin_babel
from flask_admin.theme import Bootstrap4Theme
from flask_babel import format_date, refresh
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFProtect

from backoffice import auth, auth_2fa, guards, redirects, wording
from backoffice.admin import register_domain_routes, register_views
from backoffice.admin.forms import role_label
from backoffice.admin.home import HomeView
from backoffice.admin.menu import cached_part
from backoffice.admin.urls import fixed_url, query_string, static_url
from backoffice.app import select_locale
from backoffice.i18n import compiled_admin_translations, in_context, weekday_date


def install(app: Flask, csrf: CSRFProtect) -> None:
    """Mount the panel on app: CSRF, login, guards, templates' helpers, views and routes."""
    app.config["ADMIN_TRANSLATIONS"] = compiled_admin_translations(Path(app.instance_path))
    # Flask-Babel merges a domain's directories in order, the last one winning, and Flask-Admin
    # reads its packaged catalogue after translations_path: its "Salvar" beat our "Guardar".
    # Ours is compiled from Flask-Admin's own sources plus our wording, so it is read alone.
    admin_babel.domain._translation_directories = [app.config["ADMIN_TRANSLATIONS"]]
    csrf.init_app(app)
    app.jinja_env.globals.update(
        get_locale=select_locale, format_date=format_date, cached_part=cached_part,
        static_url=static_url, fixed_url=fixed_url, query_string=query_string,
        role_label=role_label, in_context=in_context)
    app.jinja_env.filters["weekday_date"] = weekday_date
    # The reader's formats: local_time (stored UTC -> the team's clock), number, euros (cents).
    app.jinja_env.filters.update(local_time=wording.local_time, number=wording.number,
                                 euros=wording.euros, percent=wording.percent,
                                 decimal=wording.decimal)
    from backoffice.admin.listing import export_label

    app.jinja_env.globals.update(zone_label=wording.zone_label, audit_verb=wording.audit_verb,
                                 render_changes=_render_changes, export_label=export_label)
    app.register_blueprint(auth_2fa.bp)  # auth's blueprint, with the login pages on it
    app.before_request(_load_user)
    guards.install(app)
    redirects.install_into_flask_admin()
    with app.app_context():
        admin = Admin(
            app,
            name=_l("Back office"),
            url="/admin",
            index_view=HomeView(name=_l("Home"), url="/admin"),
            translations_path=app.config["ADMIN_TRANSLATIONS"],
            theme=Bootstrap4Theme(base_template="admin/backoffice_base.html", fluid=True),
            csp_nonce_generator=guards.csp_nonce,
        )
        register_views(admin)
        register_domain_routes(app, csrf)  # webhooks: outside the panel, their own checks
    app.add_url_rule("/", "root", lambda: redirect(url_for("admin.index")))


def _render_changes(changes):
    from backoffice.admin.base import render_changes

    return render_changes(changes)


def _load_user():
    # Tests run requests inside one outer app context; a token cached on g must not outlive
    # the request that made it.
    g.pop("csrf_token", None)
    if request.endpoint and (request.endpoint == "static" or request.endpoint.endswith(".static")):
        return None
    auth.load_user()
    refresh()  # the locale depends on the user just loaded
    return None
