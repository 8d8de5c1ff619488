"""List filters that take what the filter menu offers, and what a database can read.

Flask-Admin offers an enum column's stored values ('confirmed') in its filter menu but reads the
URL argument as a member *name* ('CONFIRMED'): choosing a status in the menu answered with a
server error. These filters offer the names (the URLs the README documents), labelled in the
reader's language, and read a name or a stored value alike; anything else is no filter, as for
any other argument Flask-Admin cannot read. Integer filters likewise leave out a number no
database integer holds.
"""

from enum import Enum

from flask_admin.contrib.sqla import filters as sqla
from flask_admin.model import filters
from flask_babel import lazy_gettext


def enum_member(enum_class: type[Enum], value):
    """Return the member named value or stored as value; ValueError for anything else."""
    if isinstance(value, enum_class):
        return value
    if value in enum_class.__members__:
        return enum_class[value]
    return enum_class(value)  # a stored value, or ValueError


class EnumEqualFilter(sqla.EnumEqualFilter):
    def clean(self, value):
        return super().clean(value) if self.enum_class is None else enum_member(
            self.enum_class, value)


class EnumFilterNotEqual(sqla.EnumFilterNotEqual):
    def clean(self, value):
        return super().clean(value) if self.enum_class is None else enum_member(
            self.enum_class, value)


class EnumFilterInList(sqla.EnumFilterInList):
    def clean(self, value):
        values = sqla.FilterInList.clean(self, value)
        return values if self.enum_class is None else [
            enum_member(self.enum_class, v) for v in values]


class EnumFilterNotInList(sqla.EnumFilterNotInList):
    def clean(self, value):
        values = sqla.FilterNotInList.clean(self, value)
        return values if self.enum_class is None else [
            enum_member(self.enum_class, v) for v in values]


def _within_64_bits(base):
    """Return base, an integer filter, reading only what a database integer can hold: a
    hand-edited id of twenty digits is no filter rather than a database error."""

    def clean(self, value):
        cleaned = base.clean(self, value)
        if any(not -2**63 <= v < 2**63 for v in (cleaned if isinstance(cleaned, list)
                                                  else [cleaned])):
            raise ValueError("out of range")
        return cleaned

    return type(base.__name__, (base,), {"clean": clean})  # same name: same URL argument


class FilterConverter(sqla.FilterConverter):
    int_filters = tuple(f if f is sqla.FilterEmpty else _within_64_bits(f)
                        for f in sqla.FilterConverter.int_filters)
    enum = (EnumEqualFilter, EnumFilterNotEqual, sqla.EnumFilterEmpty, EnumFilterInList,
            EnumFilterNotInList)

    @filters.convert("enum")
    def conv_enum(self, column, name, options=None, **kwargs):
        enum_class = getattr(column.type, "enum_class", None)
        if not options and enum_class is not None:
            options = [(member.name, lazy_gettext(member.value)) for member in enum_class]
        elif not options:
            options = [(value, lazy_gettext(value)) for value in column.type.enums]
        return [f(column, name, options, **kwargs) for f in self.enum]
