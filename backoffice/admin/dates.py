"""Day fields as the team reads and types them (#18): dd/mm/yyyy, the format every page shows.

A browser's own date input writes the day in the browser's format (mm/dd/yyyy in an English
Chromium, whatever the page's language), and Flask-Admin's calendar in YYYY-MM-DD. The panel's
day fields are text typed as the pages write days, with a calendar that writes the same; the
server takes that format and ISO (backoffice.days) and refuses anything else naming the field.
"""

from flask_admin.form.widgets import DatePickerWidget
from flask_babel import get_locale, gettext
from wtforms import DateField

from backoffice.days import DAY_FORMAT, DAY_HINT, MOMENT_HINT, parse_day


def bad_day_message(field_label: str, text: str) -> str:
    """Return the refusal of a day that is not one, naming the field and the format."""
    return gettext("%(field)s: “%(value)s” is not a date; write it as %(hint)s",
                   field=field_label, value=text, hint=gettext(DAY_HINT))


def bad_moment_message(field_label: str, text: str) -> str:
    """Return the refusal of a day and time that is not one, naming the field and the format."""
    return gettext("%(field)s: “%(value)s” is not a day and time; write it as %(hint)s",
                   field=field_label, value=text, hint=gettext(MOMENT_HINT))


class DayPickerWidget(DatePickerWidget):
    """Flask-Admin's calendar writing dd/mm/yyyy, the format's hint shown while empty."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("data-date-format", "DD/MM/YYYY")  # moment's letters for DAY_FORMAT
        kwargs.setdefault("placeholder", gettext(DAY_HINT))
        kwargs.setdefault("autocomplete", "off")
        # panel.js names the calendar's months and weekdays in this language, and keeps the
        # calendar from rewriting a day half typed.
        kwargs.setdefault("data-locale", str(get_locale() or "en"))
        return super().__call__(field, **kwargs)


class DayField(DateField):
    """A day typed as the reader reads it (dd/mm/yyyy), or ISO; empty is no day (the field's
    validators say whether one is required)."""

    widget = DayPickerWidget()
    bad = None  # why the typed text is no day, said after every validator

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.pop("format", None)
        super().__init__(label, validators, format=DAY_FORMAT, **kwargs)

    def process_formdata(self, valuelist):
        self.bad = None
        if not valuelist:
            return
        text = " ".join(valuelist).strip()
        if not text:
            self.data = None
            return
        try:
            self.data = parse_day(text)
        except ValueError:
            self.data = None
            self.bad = bad_day_message(str(self.label.text), text)
            raise ValueError(self.bad) from None

    def post_validate(self, form, validation_stopped):
        # DataRequired and Optional wipe the errors before theirs: a typo would read "required".
        if self.bad and self.bad not in self.errors:
            self.errors[:] = [self.bad]
