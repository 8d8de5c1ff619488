"""How a case reads on a screen: its number typed any way, its SLA badge, an article's body."""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from backoffice.optional import optional_module

# A line quotequail could take for the start of quoted history: a "> " line, a header that ends
# in a colon ("El martes, Ana escribió:"), a forward banner, a "name <address>" line.
QUOTE_HINT = re.compile(r"^\s*>|:\s*$|@[^\s]*>\s*$|forward|reenvia|original|weitergeleit|"
                        r"réexpédi|transféré|doorgestuurd|vidarebefordra|----", re.I | re.M)
NUMBER = re.compile(r"^\s*#?\s*(?:c\s*-?\s*)?0*(\d{1,18})\s*$", re.I)


def parse_number(text: str | None) -> int | None:
    """Return the case id in "C-000123", "c123", "#123" or "123"; None when it is none."""
    match = NUMBER.match(text or "")
    if not match:
        return None
    number = int(match.group(1))
    return number if 0 < number < 2**63 else None


def badge(case, now: datetime) -> str | None:
    """Return green, amber or red for a case's SLA at now; None when no clock runs."""
    deadlines = optional_module("cases.deadlines")
    if deadlines is not None and hasattr(deadlines, "badge"):
        return deadlines.badge(case, now)
    return badge_of(case.next_due_at, case.sla_warned, case.sla_breached, now)


def badge_of(next_due_at, warned: str | None, breached: str | None, now: datetime) -> str | None:
    """Return the badge from a case's plain columns (the queue reads no objects)."""
    if breached or (next_due_at is not None and next_due_at <= now):
        return "red"
    if next_due_at is None:
        return None
    return "amber" if warned else "green"


@dataclass(frozen=True)
class Body:
    visible: str
    folded: str | None
    html: str | None


def article_body(article) -> Body:
    """Return what an agent reads of an article: the new text, the quoted history folded, and
    the sanitised HTML when the mail came with it."""
    return body_of(article.body, article.body_html)


# Folding and sanitising are pure functions of the text: each article is worked out once per
# process, not on every view of its case. Keyed by a digest; a text shown as it is keeps only
# that verdict (None), and what is kept is bounded in characters (a long mail is 100 KB).
BODY_CACHE_MAX = 20_000
BODY_CACHE_CHARS = 5_000_000
_bodies: dict[bytes, Body | None] = {}
_kept_chars = 0


def body_of(text: str | None, html: str | None) -> Body:
    """Return the Body of an article's text and HTML (see article_body)."""
    global _kept_chars
    text = text or ""
    digest = hashlib.blake2b(f"{len(text)}\x00{text}\x00{html or ''}".encode(errors="replace"),
                             digest_size=20).digest()
    try:
        found = _bodies[digest]
    except KeyError:
        found = _work_out(text, html)
        size = 0 if found is None else len(found.visible) + len(found.folded or "") + len(
            found.html or "")
        if len(_bodies) >= BODY_CACHE_MAX or _kept_chars + size > BODY_CACHE_CHARS:
            _bodies.clear()
            _kept_chars = 0
        _bodies[digest] = found
        _kept_chars += size
    return Body(text, None, None) if found is None else found


def _work_out(text: str, html: str | None) -> Body | None:
    """Return the Body to show, or None when the text is shown as it is."""
    from cases import mail_parse as parse

    # quotequail reads every line against its patterns (half a millisecond a message); a text
    # with no quote mark and no "wrote:" line has nothing to fold.
    if not html and not QUOTE_HINT.search(text):
        return None
    if QUOTE_HINT.search(text):
        visible, folded = parse.display_text(text)
    else:
        visible, folded = text, None
    html = parse.safe_html(html) if html else None
    return Body(visible, folded or None, html or None)


def duration(seconds: int | None) -> str:
    """Return a call's length as m:ss (h:mm:ss past an hour)."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def mailbox_label(source: str | None) -> str:
    """Return a mailbox's source without any user name or password it was configured with."""
    text = source or ""
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return text
