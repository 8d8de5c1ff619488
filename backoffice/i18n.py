"""Translations: each area keeps `translations/<area>.es.txt` (English<TAB>Spanish per line);
they compile into one gettext catalogue in the instance folder at start-up. A line
`context|English<TAB>Spanish` translates a word that reads differently in one context (an
application 'approved' is 'aprobada', a professional 'aprobado'): see in_context."""

import contextlib
import contextvars
import functools
import gettext
import os
import sys
from collections.abc import Mapping
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "translations"
# Spanish translates everything; English names the stored codes a page shows (an "on_hold"
# case reads "on hold"), its other words being the msgids themselves.
LOCALES = ("es", "en")
# The languages clients and professionals speak, by code, named in English (the msgids).
LANGUAGE_NAMES = {"es": "Spanish", "en": "English", "ca": "Valencian", "fr": "French",
                  "de": "German"}


def read_pairs(locale: str) -> dict[str, str]:
    """Return English -> translation from every translations/*.<locale>.txt file."""
    pairs: dict[str, str] = {}
    for path in sorted(SOURCE.glob(f"*.{locale}.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            english, sep, translated = line.partition("\t")
            if not sep or not translated.strip():
                raise ValueError(f"{path.name}:{number}: expected 'English<TAB>translation'")
            pairs[english] = translated
    return pairs


def _write_mo(mo: Path, catalog) -> None:
    """Write a compiled catalogue whole, so a worker starting meanwhile never reads half."""
    from babel.messages.mofile import write_mo

    mo.parent.mkdir(parents=True, exist_ok=True)
    tmp = mo.with_suffix(f".{os.getpid()}.tmp")  # workers starting together write apart
    with tmp.open("wb") as f:
        write_mo(f, catalog)
    tmp.replace(mo)


def compiled_translations(instance: Path) -> str:
    """Compile the catalogues when a source is newer; return the directory Flask-Babel reads."""
    target = instance / "translations"
    for locale in LOCALES:
        sources = list(SOURCE.glob(f"*.{locale}.txt"))
        mo = target / locale / "LC_MESSAGES" / "messages.mo"
        # Sources and this compiler: a change to either compiles again.
        newest = max((p.stat().st_mtime for p in [*sources, Path(__file__)]), default=0)
        if mo.exists() and mo.stat().st_mtime >= newest:
            continue
        from babel.messages.catalog import Catalog  # only when a source changed

        catalog = Catalog(locale=locale)
        for english, translated in read_pairs(locale).items():
            context, _, msgid = english.rpartition("|")
            catalog.add(msgid, translated, context=context or None)
        _write_mo(mo, catalog)
    return str(target)


# (catalogue directory, the team's locale) of the command or job running in this context.
_speech: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "speech", default=None)


@contextlib.contextmanager
def speaking(config: Mapping):
    """Translate with config's catalogues and team language inside the block: a command or a
    job, which has no Flask app to ask."""
    directory = compiled_translations(Path(config["INSTANCE_PATH"]))
    token = _speech.set((directory, config["BABEL_DEFAULT_LOCALE"]))
    try:
        yield
    finally:
        _speech.reset(token)


def _where() -> tuple[str, str] | None:
    speech = _speech.get()
    if speech is None and "flask" in sys.modules:  # the panel; a job never imports Flask
        from flask import current_app, has_app_context

        if has_app_context():
            config = current_app.config
            speech = (config["BABEL_TRANSLATION_DIRECTORIES"], config["BABEL_DEFAULT_LOCALE"])
    return speech


def catalogue(locale: str) -> gettext.NullTranslations:
    """Return locale's translations where this runs (a command, a job, the app); elsewhere none,
    and text stays in English."""
    speech = _where()
    return _load(speech[0], locale) if speech else gettext.NullTranslations()


@functools.cache
def _load(directory: str, locale: str) -> gettext.NullTranslations:
    # The file Flask-Babel reads for the same directory and locale.
    path = gettext.find("messages", directory, [locale])
    if path is None:
        return gettext.NullTranslations()
    with open(path, "rb") as f:
        return gettext.GNUTranslations(f)


def for_team(message: str, **params) -> str:
    """Return message, translated and filled in, in the back office's language
    (BABEL_DEFAULT_LOCALE): for text stored for a team, such as a task's title, whoever or
    whatever job writes it. Outside an application or a command it stays in English."""
    speech = _where()
    text = _load(*speech).gettext(message) if speech else message
    return text % params if params else text


class Money(int):
    """Cents given to keyed: shown as euros in the reader's format."""


class WallClock(str):
    """A local wall-clock moment given to keyed (a service's start): shown dd/mm HH:MM."""


class Said(str):
    """Words given to keyed that stay in the language they were said in (a call script in the
    client's language): shown as they are, marked with their language on a page."""

    def __new__(cls, text: str, lang: str):
        said = super().__new__(cls, text)
        said.lang = lang
        return said


class Keyed:
    """A message stored for people to read later: its key and values (.key, JSON) and its
    text in the team's language now (.text, for searches, exports and the CLI). The panel
    words .key in each reader's language (backoffice.services.tasks.shown)."""

    def __init__(self, message: str, **params) -> None:
        import datetime as dt

        def jsonable(value):
            if isinstance(value, Keyed):
                return {"msg": value.key}
            if isinstance(value, Code):
                return {"code": str(value)}
            if isinstance(value, Said):
                return {"said": str(value), "lang": value.lang}
            if isinstance(value, Money):
                return {"money": int(value)}
            if isinstance(value, WallClock):
                return {"local": str(value)}
            if isinstance(value, dt.datetime):
                return {"at": value.isoformat()}
            if isinstance(value, dt.date):
                return {"date": value.isoformat()}
            return value

        self.message, self.params = message, params
        self.key = [message, {k: jsonable(v) for k, v in params.items()}]
        self.text = for_team(message, **{k: _team_text(v) for k, v in params.items()})


def _team_text(value):
    import datetime as dt

    if isinstance(value, Keyed):
        return value.text
    if isinstance(value, Code):
        return for_team(str(value))
    if isinstance(value, Money):
        whole, frac = divmod(abs(int(value)), 100)
        return f"{'-' if value < 0 else ''}{whole:,}".replace(",", ".") + f",{frac:02d} €"
    if isinstance(value, WallClock):
        return dt.datetime.fromisoformat(value).strftime("%d/%m %H:%M")
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return value


def task_message(*, title: Keyed, details: "Keyed | list[Keyed] | None" = None) -> dict:
    """Return a task's message column: title and details as keys with values."""
    message = {"title": title.key}
    if details is not None:
        lines = details if isinstance(details, list) else [details]
        message["details"] = [line.key for line in lines]
    return message


def lines_text(lines: "list[Keyed]") -> str:
    """Return lines' team-language text, one a line."""
    return "\n".join(line.text for line in lines)


def reader_text(message: str, **params) -> str:
    """Return message in the reader's language while a page is being served; elsewhere (the
    CLI, a job) in English, filled in."""
    if "flask" in sys.modules:
        from flask import has_request_context

        if has_request_context():
            from flask_babel import gettext

            return gettext(message, **params) if params else gettext(message)
    return message % params if params else message


def weekday_date(day, width: str = "abbreviated") -> str:
    """Return a day as its weekday and date in the reader's language ('mié 02/12'); width
    'full' spells the weekday out ('miércoles 02/12')."""
    from flask_babel import format_date

    return format_date(day, "EEEE dd/MM" if width == "full" else "EEE dd/MM")


def compiled_admin_translations(instance: Path) -> str:
    """Compile Flask-Admin's own Spanish sources into the instance folder; return the directory
    Flask-Admin reads before its packaged catalogue (translations_path).

    The packaged catalogue is older than its sources: messages such as 'Failed to create
    record.' are translated in the .po but not in the .mo, so they showed in English."""
    import flask_admin
    from babel.messages.pofile import read_po

    source = Path(flask_admin.__file__).resolve().parent / "translations"
    target = instance / "translations-admin"
    for locale in LOCALES:
        po = source / locale / "LC_MESSAGES" / "admin.po"
        mo = target / locale / "LC_MESSAGES" / "admin.mo"
        ours = list(SOURCE.glob(f"*.{locale}.txt"))
        newest = max((p.stat().st_mtime for p in [po, *ours, Path(__file__)] if p.exists()),
                     default=0)
        if not po.exists() or (mo.exists() and mo.stat().st_mtime >= newest):
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=locale, domain="admin")
        # Our wording of Flask-Admin's own messages ("20 items", an empty table) wins.
        for english, translated in read_pairs(locale).items():
            context, _, msgid = english.rpartition("|")
            if not context and msgid in catalog:
                catalog[msgid].string = translated
            elif not context:
                catalog.add(msgid, translated)
        _write_mo(mo, catalog)
    return str(target)


def in_context(context: str, message: str) -> str:
    """Return message translated as it reads in context, or as it reads anywhere else when
    the catalogue has no entry for that context."""
    from flask_babel import gettext, pgettext

    translated = pgettext(context, message)
    return gettext(message) if translated == message else translated


class Code(str):
    """A stored code given to a Refusal (a skill): named in the reader's language when shown."""


class Refusal(ValueError):
    """A service's refusal: worded in English, the values kept apart from the wording, so the
    panel can show it in the reader's language (see refusal_text) while the CLI and the jobs
    read it as it is. The message starts with the field it is about: 'status: ...'."""

    def __init__(self, message: str, **params):
        self.message, self.params = message, params
        super().__init__(message % {k: _plain(v) for k, v in params.items()} if params
                         else message)


class Refusals(Refusal):
    """Several refusals at once (an application's blockers), each worded on its own."""

    def __init__(self, refusals: list[Refusal]):
        self.refusals = list(refusals)
        self.message, self.params = "; ".join(str(r) for r in self.refusals), {}
        ValueError.__init__(self, self.message)


def _stored(value):
    import enum

    return value.value if isinstance(value, enum.Enum) else value


def _plain(value):
    """Return a parameter as the CLI and the jobs read it: codes as stored, lists joined."""
    if isinstance(value, list | tuple):
        return ", ".join(str(_stored(v)) for v in value)
    return _stored(value)


def refusal_text(exc: Exception) -> str:
    """Return why a service refused, in the reader's language when the catalogue knows the
    message; codes among its values (a status, a stage, a skill) are named too."""
    import enum

    from flask_babel import gettext

    if not isinstance(exc, Refusal):
        return _field_named(gettext(str(exc)))
    if isinstance(exc, Refusals):
        return "; ".join(refusal_text(r) for r in exc.refusals)

    def named(v):
        if isinstance(v, enum.Enum):
            return gettext(v.value)
        if isinstance(v, Code):
            return gettext(v)
        if isinstance(v, list | tuple):  # a list of codes: each named
            return ", ".join(str(named(x)) for x in v)
        return v

    params = {k: named(v) for k, v in exc.params.items()}
    return _field_named(gettext(exc.message, **params) if params else gettext(exc.message))


def _field_named(text: str) -> str:
    """Name the field a refusal starts with when the catalogue left its code ('amount_cents:
    ...' reads 'Amount: ...')."""
    import re

    m = re.match(r"([a-z]+(?:_[a-z]+)*_(?:cents|id|at|on)): ", text)
    if m is None:  # a column's name: an amount in cents, a link, a moment, a day
        return text
    from backoffice.wording import audit_field

    return f"{audit_field(m.group(1))}: {text[m.end():]}"
