"""How the panel writes numbers, money and moments for its reader: their language's formats
(1.905 and 3.400,00 € in Spanish, 1,905 and €3,400.00 in English), the team's clock (the
TIMEZONE setting, Europe/Madrid by default), never cents, never UTC on a value."""

import logging
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backoffice.i18n import LOCALES

log = logging.getLogger(__name__)
DEFAULT_LOCALE = "es"
DEFAULT_TIMEZONE = "Europe/Madrid"
_warned: set[tuple[str, str]] = set()


def _warn_once(kind: str, value: str, default: str) -> None:
    if (kind, value) not in _warned:
        _warned.add((kind, value))
        log.warning("unknown %s setting %r: using %s", kind, value, default)


def known_locale(code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Return code if the panel speaks it, else default (said once in the log)."""
    base = (code or "").split("_")[0].split("-")[0].lower()
    if base in LOCALES:
        return base
    if code:
        _warn_once("language", code, default)
    return default if default in LOCALES else DEFAULT_LOCALE


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def known_timezone(name: str | None) -> str:
    """Return name if it is a time zone, else Europe/Madrid (said once in the log)."""
    if name and _zone(name) is not None:
        return name
    if name:
        _warn_once("time zone", name, DEFAULT_TIMEZONE)
    return DEFAULT_TIMEZONE


def team_zone() -> ZoneInfo:
    """Return the team's time zone: the TIMEZONE setting of the running app, or Madrid."""
    name = DEFAULT_TIMEZONE
    try:
        from flask import current_app, has_app_context

        if has_app_context():
            name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") or DEFAULT_TIMEZONE
    except ImportError:  # a job without Flask
        pass
    return _zone(known_timezone(name)) or ZoneInfo(DEFAULT_TIMEZONE)


def to_local(moment: datetime | None) -> datetime | None:
    """Return a stored moment (naive UTC, or aware) as the team's wall-clock time, naive."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(team_zone()).replace(tzinfo=None)


def local_time(moment: datetime | date | str | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """Return a stored moment as the team's clock reads it ('07/12/2026 15:36'); a date as is."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):  # a stored ISO moment (a report's JSON)
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if not isinstance(moment, datetime):
        return moment.strftime(fmt.split(" ")[0]) if fmt else str(moment)
    return to_local(moment).strftime(fmt)


def _locale() -> str:
    """Return the reader's language in a request; elsewhere (a job, the CLI) the team's."""
    import sys

    if "flask" not in sys.modules:
        return DEFAULT_LOCALE
    from flask import current_app, has_app_context, has_request_context

    if has_request_context():
        from flask_babel import get_locale

        return known_locale(str(get_locale() or DEFAULT_LOCALE))
    if has_app_context():
        return known_locale(current_app.config.get("BABEL_DEFAULT_LOCALE"))
    return DEFAULT_LOCALE


def number(value, locale: str | None = None) -> str:
    """Return a count as the reader writes it: 1.905 in Spanish, 1,905 in English."""
    if value is None:
        return ""
    try:
        text = f"{int(value):,}"
    except (TypeError, ValueError):  # a figure already worded ("10,000+")
        return str(value)
    return text.replace(",", ".") if (locale or _locale()) == "es" else text


def decimal(value, decimals: int = 1, locale: str | None = None) -> str:
    """Return a measure (1234.56) as the reader writes it: 1.234,6 in Spanish, 1,234.6 in
    English."""
    if value is None:
        return ""
    text = f"{float(value):,.{decimals}f}"
    if (locale or _locale()) == "es":
        return text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text


def percent(value, decimals: int = 1, locale: str | None = None) -> str:
    """Return a percentage (99.14) as the reader writes it: 99,1 % in Spanish, 99.1% in
    English."""
    if value is None:
        return ""
    locale = locale or _locale()
    text = decimal(value, decimals, locale)
    return text + "\u00a0%" if locale == "es" else text + "%"


def euros(cents: int | None, locale: str | None = None, *, currency: str = "eur") -> str:
    """Return cents as the reader writes money: 3.400,00 € in Spanish, €3,400.00 in English."""
    if cents is None:
        return ""
    whole, frac = divmod(abs(int(cents)), 100)
    sign = "-" if cents < 0 else ""
    symbol = "€" if currency.lower() == "eur" else currency.upper()
    if (locale or _locale()) == "es":
        return f"{sign}{whole:,}".replace(",", ".") + f",{frac:02d} {symbol}"
    return (
        f"{sign}{symbol}{whole:,}.{frac:02d}"
        if symbol == "€"
        else f"{sign}{whole:,}.{frac:02d} {symbol}"
    )


def zone_label() -> str:
    """Return the team's time zone as the footer names it once ('Europe/Madrid')."""
    return str(team_zone())


def audit_verb(action: str | None) -> str:
    """Return an audit row's action as the reader says it ('update' -> 'changed', 'cambió')."""
    from flask_babel import gettext

    from backoffice.i18n import in_context

    if not action:
        return ""
    worded = in_context("audit", action)
    return worded if worded != action else gettext(action.replace("_", " "))


# Fields whose name alone says too little.
FIELD_NAMES = {"entity_id": "Record", "dedup_key": "Duplicate key",
               "body_es": "Text (Spanish)", "body_en": "Text (English)",
               "name_es": "Name (Spanish)", "name_en": "Name (English)"}
# The code lists a changed field's value comes from, where the field's name says which.
FIELD_CODES = {"kind": "article_kind", "channel": "case_channel", "state": "case_state",
               "priority": "case_priority", "subject": "survey_subject",
               "reason": "survey_reason"}


def audit_field(field: str) -> str:
    """Return a changed field's name as a label ('done_at' -> 'Done at', 'Hecha el'); an
    amount's '_cents' and a link's '_id' are left out: the page shows euros and names."""
    from flask_babel import gettext

    if field in FIELD_NAMES:
        return gettext(FIELD_NAMES[field])
    name = field
    for suffix in ("_cents", "_id"):
        if name.endswith(suffix) and name != suffix:
            name = name[: -len(suffix)]
    label = name.replace("_", " ").strip().capitalize()
    worded = gettext(label)
    if worded == label:
        named = gettext(field)  # a code the catalogue names
        return label if named == field else named
    return worded


def audit_value(value, field: str = ""):
    """Return a changed value as a reader reads it: codes named, moments on the team's clock,
    amounts in euros."""
    from flask_babel import gettext

    if field.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool):
        return euros(value)
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, float):  # a rating, a coordinate: the digits it has, the reader's mark
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if _locale() == "es" else text
    if isinstance(value, str):
        if len(value) >= 16 and value[4:5] == "-" and value[10:11] in ("T", " "):
            try:
                moment = datetime.fromisoformat(value)
                if field in ("start_at", "end_at", "scheduled_at"):  # a wall-clock moment
                    return moment.strftime("%d/%m/%Y %H:%M")
                return local_time(moment)
            except ValueError:
                return value
        if len(value) == 10 and value[4:5] == "-" and value[7:8] == "-":
            try:
                return date.fromisoformat(value).strftime("%d/%m/%Y")
            except ValueError:
                return value
        if field in ("language", "locale"):
            from backoffice.i18n import LANGUAGE_NAMES

            return gettext(LANGUAGE_NAMES.get(value, value))
        if "," in value and all(_is_code(v) for v in value.split(",")):
            return ", ".join(_code_word(v) for v in value.split(","))
        if _is_code(value):
            if field in FIELD_CODES:
                from backoffice.i18n import in_context

                named = in_context(FIELD_CODES[field], value)
                if named != value:
                    return named
            return _code_word(value)
    return value


def _is_code(value: str) -> bool:
    return bool(value) and value.replace("_", "").isalpha() and value.islower()


def _code_word(code: str) -> str:
    from flask_babel import gettext

    worded = gettext(code)
    return worded if worded != code else code.replace("_", " ")


def spreadsheet_csv(titles, rows, locale: str):
    """Yield CSV text a spreadsheet in locale opens as columns: Spanish readers get a BOM,
    semicolons and decimal commas; English ones commas and decimal points. Numbers are
    written with two decimals when they are not whole."""
    import csv
    import io

    from backoffice.admin.listing import neutralise

    spanish = known_locale(locale) == "es"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if spanish else ",", lineterminator="\r\n")

    def cell(value):
        if isinstance(value, bool) or value is None:
            return "" if value is None else str(value)
        if isinstance(value, float):
            text = f"{value:.2f}"
            return text.replace(".", ",") if spanish else text
        if isinstance(value, int):
            return str(value)
        return neutralise(value)

    def flush():
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    if spanish:
        yield "\ufeff"  # the BOM: Excel then reads UTF-8, accents included
    writer.writerow([str(t) for t in titles])
    yield flush()
    for row in rows:
        writer.writerow([cell(v) for v in row])
        yield flush()
