"""Days and moments as the team types them (#18): dd/mm/yyyy and dd/mm/yyyy hh:mm, the formats
every page shows, in both languages; ISO too, as links, bookmarks and older pages send it.
Plain parsing for the panel (backoffice.admin.dates), the services and the CLI alike."""

import re
from datetime import date, datetime, time

# The format the panel shows a day in (backoffice.admin.listing, backoffice.wording), in both
# languages; the hints name its letters, worded for the reader (dd/mm/aaaa in Spanish).
DAY_FORMAT = "%d/%m/%Y"
DAY_HINT = "dd/mm/yyyy"
MOMENT_HINT = "dd/mm/yyyy hh:mm"
_TYPED = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# A year outside these is a slip of the keyboard (0226, 20266), not a day anyone books.
YEARS = range(1900, 2201)


def parse_day(text: str) -> date:
    """Return the day typed as dd/mm/yyyy (d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy) or yyyy-mm-dd;
    ValueError if it is none of these or no such day."""
    text = (text or "").strip()
    if m := _TYPED.fullmatch(text):
        day, month, year = (int(g) for g in m.groups())
    elif m := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise ValueError(text)
    if year not in YEARS:
        raise ValueError(text)
    return date(year, month, day)


# A day and a time (an interview, a task's due time, a booking's start), typed the same way.
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::\d{2})?")


def parse_moment(text: str) -> datetime:
    """Return the day and time typed as dd/mm/yyyy hh:mm, or ISO (yyyy-mm-ddThh:mm, as a link
    or an older page sends it); ValueError if it is neither or no such moment."""
    text = (text or "").strip()
    day_text, _, time_text = text.replace("T", " ", 1).partition(" ")
    m = _TIME.fullmatch(time_text.strip())
    if m is None:
        raise ValueError(text)
    return datetime.combine(parse_day(day_text), time(int(m.group(1)), int(m.group(2))))
