"""create_app: wiring only."""

import inspect
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import Babel, format_date, refresh
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from backoffice import audit, auth, guards, redirects
from backoffice.admin.forms import role_label
from backoffice.admin.menu import cached_part
from backoffice.admin.urls import fixed_url, query_string, static_url
from backoffice.config import Config
from backoffice.db import configure_engine, db, engine_options
from backoffice.i18n import (
    compiled_admin_translations,
    compiled_translations,
    in_context,
    weekday_date,
)

csrf = CSRFProtect()
babel = Babel()


class RecordId(IntegerConverter):
    """An <int:...> in a route matches only what a database integer holds: a hand-edited
    address with a longer number is 'page not found', not a database error."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def select_locale() -> str:
    from flask import current_app, has_request_context

    user = g.get("user")
    if user is not None and user.locale:
        return user.locale
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return request.accept_languages.best_match(["es", "en"]) or current_app.config[
        "BABEL_DEFAULT_LOCALE"]


def create_app(config: dict | None = None) -> Flask:
    """Build the back office application; config overrides settings read from the environment."""
    settings = Config().as_dict()
    settings.update(config or {})
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=False)
    app.url_map.converters["int"] = RecordId
    app.config.update(settings)
    app.config["SQLALCHEMY_ENGINES"] = {"default": engine_options(app.config["DATABASE_URL"])}
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)
    # The cookie lives 12 hours from login and is not re-signed on every page; idleness is
    # checked on the server (SESSION_IDLE_MINUTES), which also ends sessions at logout.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = compiled_translations(Path(app.instance_path))
    app.config["ADMIN_TRANSLATIONS"] = compiled_admin_translations(Path(app.instance_path))

    db.init_app(app)
    audit.install()  # the one session hook: every flush leaves its audit rows
    # No async engines here: drop the extension's async teardown, which would need an event
    # loop of its own (and clashes with one already running, as in Playwright-driven tests).
    app.teardown_appcontext_funcs[:] = [
        f for f in app.teardown_appcontext_funcs if not inspect.iscoroutinefunction(f)
    ]
    with app.app_context():
        configure_engine(db.engine)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = lambda: select_locale()
    app.jinja_env.globals["format_date"] = format_date
    app.jinja_env.globals["cached_part"] = cached_part
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.globals["fixed_url"] = fixed_url
    app.jinja_env.globals["query_string"] = query_string
    app.jinja_env.globals["role_label"] = role_label
    app.jinja_env.filters["weekday_date"] = weekday_date
    app.jinja_env.globals["in_context"] = in_context

    app.register_blueprint(auth.bp)
    app.before_request(_load_user)
    guards.install(app)
    redirects.install_into_flask_admin()
    with app.app_context():
        _register_admin(app)
        _register_domains(app)
    return app


def _load_user():
    # Tests run requests inside one outer app context; a token cached on g must not outlive
    # the request that made it.
    g.pop("csrf_token", None)
    if request.endpoint and (request.endpoint == "static" or request.endpoint.endswith(".static")):
        return None
    auth.load_user()
    refresh()  # the locale depends on the user just loaded
    return None


def _register_admin(app: Flask) -> None:
    from backoffice.admin import register_views
    from backoffice.admin.home import HomeView

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

    @app.route("/")
    def root():
        from flask import redirect, url_for

        return redirect(url_for("admin.index"))


def _register_domains(app: Flask) -> None:
    """Let each domain add its non-admin routes (webhooks) and panel hooks."""
    from backoffice.admin import register_domain_routes

    register_domain_routes(app, csrf)
