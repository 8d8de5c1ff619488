"""create_app: wiring only."""

import inspect
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from backoffice import audit
from backoffice.config import Config
from backoffice.db import configure_engine, db, engine_options
from backoffice.i18n import compiled_translations
from backoffice.wording import known_locale, known_timezone

csrf = CSRFProtect()
babel = Babel()


class RecordId(IntegerConverter):
    """An <int:...> in a route matches only what a database integer holds: a hand-edited
    address with a longer number is 'page not found', not a database error."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def select_locale() -> str:
    from flask import current_app, has_request_context

    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    user = g.get("user")
    if user is not None and user.locale:
        return known_locale(user.locale, default)  # an unknown one: the default, logged once
    if not has_request_context():
        return default
    return request.accept_languages.best_match(["es", "en"]) or default


def create_app(config: dict | None = None, *, panel: bool = True) -> Flask:
    """Build the back office application; config overrides settings read from the environment.

    Without the panel (the CLI's jobs, the scheduler) the app has the database, the audit
    trail and the translations, and starts without importing the panel or the engine."""
    settings = Config().as_dict()
    settings.update(config or {})
    # An unknown language or time zone setting: the default, said once in the log.
    settings["BABEL_DEFAULT_LOCALE"] = known_locale(settings.get("BABEL_DEFAULT_LOCALE"))
    settings["BABEL_DEFAULT_TIMEZONE"] = known_timezone(settings.get("BABEL_DEFAULT_TIMEZONE"))
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

    db.init_app(app)
    audit.install()  # the one session hook: every flush leaves its audit rows
    # No async engines here: drop the extension's async teardown, which would need an event
    # loop of its own (and clashes with one already running, as in Playwright-driven tests).
    app.teardown_appcontext_funcs[:] = [
        f for f in app.teardown_appcontext_funcs if not inspect.iscoroutinefunction(f)
    ]
    with app.app_context():
        configure_engine(db.engine)
    babel.init_app(app, locale_selector=select_locale)
    if panel:
        from backoffice import panel as web  # the panel's views import every domain

        web.install(app, csrf)
    return app
