"""Edit forms grouped by what an agent changes together (#18.5): each group a fieldset with its
heading in the reader's language.

Flask-Admin drops from a form every field its rules leave out, hidden ones too (the CSRF token,
the version a conflict check compares), and fails on a rule whose field the form lacks. These
rules keep the hidden fields, which the form's hidden_tag() already writes, and skip a field a
form does not have, so one set of groups serves the create and the edit form.
"""

from flask_admin.form import rules
from markupsafe import Markup, escape

# Written by the form's hidden_tag(); listed so that Flask-Admin keeps them in the form.
HIDDEN = ("csrf_token", "loaded_version")


class _Field(rules.Field):
    def __call__(self, form, form_opts=None, field_args=None):
        if getattr(form, self.field_name, None) is None:
            return ""
        return super().__call__(form, form_opts, field_args)


class _Kept(rules.BaseRule):
    """A field the form keeps without drawing it here (hidden_tag() writes it)."""

    def __init__(self, field_name: str) -> None:
        super().__init__()
        self.field_name = field_name

    @property
    def visible_fields(self) -> list[str]:
        return [self.field_name]

    def __call__(self, form, form_opts=None, field_args=None):
        return ""


class Group(rules.NestedRule):
    """A fieldset: a heading (lazy, worded per page) and its fields, in order."""

    def __init__(self, title, *fields: str) -> None:
        super().__init__([_Field(name) for name in fields])
        self.title = title

    def __call__(self, form, form_opts=None, field_args=None):
        inner = Markup("").join(rule(form, form_opts, field_args) for rule in self.rules)
        if not inner.strip():
            return ""
        return Markup('<fieldset class="form-group-set mb-3"><legend class="h5 border-bottom '
                      'pb-1">{}</legend>{}</fieldset>').format(escape(str(self.title)), inner)


def grouped(*groups: Group) -> list[rules.BaseRule]:
    """Return form rules drawing these groups, keeping the form's hidden fields."""
    return [*groups, *(_Kept(name) for name in HIDDEN)]
