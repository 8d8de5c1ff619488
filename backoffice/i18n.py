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
        if not po.exists() or (mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime):
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=locale, domain="admin")
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
        super().__init__(message % {k: _stored(v) for k, v in params.items()} if params
                         else message)


def _stored(value):
    import enum

    return value.value if isinstance(value, enum.Enum) else value


def refusal_text(exc: Exception) -> str:
    """Return why a service refused, in the reader's language when the catalogue knows the
    message; codes among its values (a status, a stage, a skill) are named too."""
    import enum

    from flask_babel import gettext

    if not isinstance(exc, Refusal):
        return gettext(str(exc))
    params = {k: gettext(v.value) if isinstance(v, enum.Enum) else
              gettext(v) if isinstance(v, Code) else v for k, v in exc.params.items()}
    return gettext(exc.message, **params) if params else gettext(exc.message)
