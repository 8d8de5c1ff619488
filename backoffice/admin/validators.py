"""Field validators shared by the panel's forms: each error names its field in the form."""

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms.validators import Email, NumberRange, Optional, ValidationError

from backoffice.days import DAY_HINT, parse_day
from backoffice.i18n import Code, Refusal

PHONE_RE = re.compile(r"^\+?[0-9 ()-]{7,20}$")


def plain(validator):
    """Turn a lazily translated error into text: Flask-Admin shows only str errors."""

    def check(form, field):
        try:
            validator(form, field)
        except ValidationError as exc:
            raise ValidationError(str(exc)) from None

    return check


def phone(form, field):
    """Accept international or Spanish phone numbers: digits, spaces, dashes, optional +."""
    if field.data and not PHONE_RE.match(field.data.strip()):
        message = _l("Not a valid phone number (digits, spaces and an optional +).")
        raise ValidationError(str(message))


def email_optional():
    return [Optional(), plain(Email(message=_l("Not a valid email address."),
                                    check_deliverability=False))]


def lat_range():
    return [Optional(), NumberRange(-90, 90, message=_l("Latitude must be between -90 and 90."))]


def lon_range():
    return [Optional(),
            NumberRange(-180, 180, message=_l("Longitude must be between -180 and 180."))]


def person_form_args() -> dict:
    """Return the validators of the fields a client and a professional share: name, contact,
    coordinates."""
    from wtforms.validators import DataRequired

    return {"name": {"validators": [DataRequired()]}, "email": {"validators": email_optional()},
            "phone": {"validators": [phone]}, "lat": {"validators": lat_range()},
            "lon": {"validators": lon_range()}}


def not_before(other: str, message):
    """Refuse a value earlier than the form's other field."""

    def check(form, field):
        first = form[other].data
        if field.data is not None and first is not None and field.data < first:
            raise ValidationError(str(message))

    return check


# The days the panel's own forms send (form_date), named as their pages label them.
DAY_FIELDS = {"until": "Until", "as_of": "As of", "issued_on": "Issued", "expires_on": "Expires",
              "received_on": "Received"}


def form_date(value: str | None, field: str) -> date | None:
    """Return a form's day, typed dd/mm/yyyy as the pages write it (or ISO, as links and older
    pages send it); None when left empty."""
    if not value or not value.strip():
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise Refusal("%(field)s: “%(value)s” is not a date; write it as %(hint)s",
                      field=Code(DAY_FIELDS.get(field, field)), value=value.strip()[:40],
                      hint=Code(DAY_HINT)) from None
