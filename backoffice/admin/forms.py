"""Form fields in the reader's language, and enum selects that show the stored value.

Flask-Admin labels the fields it derives from columns and relations in English, lists an enum's
stored codes as its options, and marks the current option by the member's *name*: for enums
stored by value ('done', not 'DONE') no option was selected, so the browser showed the first one
and saving an untouched form set the status back to 'new'.
"""

from enum import Enum

from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from flask_admin.model.helpers import prettify_name
from flask_babel import gettext, lazy_gettext

from backoffice.admin.dates import DayField
from backoffice.i18n import LANGUAGE_NAMES


def choices(values) -> list[tuple[str, object]]:
    """Return select options for stored codes, each labelled in the reader's language."""
    return [(value, lazy_gettext(value)) for value in values]


ROLE_NAMES = {"ops_agent": "Operations agent", "vetting": "Vetting", "finance": "Finance",
              "admin": "Administrator"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def language_choices(codes) -> list[tuple[str, object]]:
    """Return select options for language codes, each named in the reader's language."""
    return [(code, lazy_gettext(LANGUAGE_NAMES.get(code, code))) for code in codes]


def role_label(role: str) -> str:
    """Return a staff role's name in the reader's language."""
    return gettext(ROLE_NAMES.get(role, role))


def role_choices(roles) -> list[tuple[str, object]]:
    """Return select options for staff roles, each named in the reader's language."""
    return [(role, lazy_gettext(ROLE_NAMES.get(role, role))) for role in roles]


def weekday_choices() -> list[tuple[str, object]]:
    """Return select options for weekdays stored as 0 (Monday) to 6 (Sunday)."""
    return [(str(number), lazy_gettext(name)) for number, name in enumerate(WEEKDAYS)]


def _stored_value(value) -> str:
    return value.value if isinstance(value, Enum) else str(value)


class ModelConverter(AdminModelConverter):
    """Flask-Admin's converter with translated labels and enum options."""

    def _get_label(self, name, field_args):
        text = super()._get_label(name, field_args)
        if text is None:  # Flask-Admin leaves it to WTForms, which prettifies in English
            text = prettify_name(name)
        return lazy_gettext(text) if isinstance(text, str) else text

    @converts("Date")
    def convert_date(self, field_args, **extra):
        # Typed and shown as every page writes a day (dd/mm/yyyy), not in ISO.
        return DayField(**field_args)

    @converts("sqlalchemy.sql.sqltypes.Enum")
    def convert_enum(self, column, field_args, **extra):
        field = super().convert_enum(column, field_args, **extra)
        field.kwargs["choices"] = choices(column.type.enums)
        field.kwargs["coerce"] = _stored_value
        return field
