"""Billing's stored words as finance reads them: dunning steps, decline reasons, timeline lines.

The dunning pass stores its timeline lines in English with codes inside ("failed:
generic_decline", "open → in_dunning"); the page words each known shape in the reader's
language, and shows any other line as it was stored."""

import re

from flask_babel import gettext

from backoffice.i18n import in_context


def step_name(step: str | int | None) -> str:
    """Name a dunning step: 'day 0' is the due date, 'day 8' eight days after it."""
    if step is None or step == "":
        return ""
    if isinstance(step, str) and not step.startswith("day "):
        return gettext(step)
    day = step if isinstance(step, int) else int(step.split()[1])
    if day == 0:
        return gettext("on the due date")
    return gettext("%(n)d days after the due date", n=day)


def code_name(code: str | None) -> str:
    """Name a stored code (a decline reason, a mail, a status) in the reader's language."""
    if not code:
        return ""
    named = in_context("invoice", code)
    return named if named != code else code.replace("_", " ")


def _codes(text: str) -> str:
    """Name each snake_case code inside a stored phrase, keep the rest."""
    return re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", lambda m: code_name(m.group(0)), text)


_PATTERNS = (
    (
        re.compile(r"^succeeded \((?P<ref>.*)\)$"),
        lambda m: gettext("charged (%(ref)s)", ref=m["ref"]),
    ),
    (
        re.compile(r"^answer looked up: succeeded \((?P<ref>.*)\)$"),
        lambda m: gettext("answer looked up: charged (%(ref)s)", ref=m["ref"]),
    ),
    (
        re.compile(r"^failed: (?P<code>\w+)(?P<hard> \(hard decline: no more retries\))?$"),
        lambda m: (
            gettext("declined: %(reason)s", reason=code_name(m["code"]))
            + ("; " + gettext("hard decline: no more retries") if m["hard"] else "")
        ),
    ),
    (
        re.compile(r"^(?P<a>[a-z_]+) → (?P<b>[a-z_]+)(?:; (?P<why>.*))?$"),
        lambda m: (
            f"{code_name(m['a'])} → {code_name(m['b'])}"
            + (f"; {gettext(m['why'])}" if m["why"] else "")
        ),
    ),
    (
        re.compile(r"^(?P<mail>[a-z_]+) to (?P<to>\S+@\S+)$"),
        lambda m: gettext("mail «%(mail)s» sent to %(to)s", mail=code_name(m["mail"]), to=m["to"]),
    ),
    (
        re.compile(r"^(?P<method>bank_transfer|card)(?: (?P<ref>.*))?$"),
        lambda m: code_name(m["method"]) + (f" {m['ref']}" if m["ref"] else ""),
    ),
    (
        re.compile(r"^(?P<kind>promise|dispute): (?P<why>.*?)(?: \(until (?P<until>[\d-]+)\))?$"),
        lambda m: (
            f"{code_name(m['kind'])}: {m['why']}"
            + (" · " + gettext("until %(date)s", date=_date(m["until"])) if m["until"] else "")
        ),
    ),
    (
        re.compile(
            r"^received (?P<amount>.+) more than the total: finance refunds it to the "
            r"client$"
        ),
        lambda m: gettext(
            "received %(amount)s more than the total: finance refunds it to the client",
            amount=m["amount"],
        ),
    ),
    (
        re.compile(r"^approved by (?P<who>\S+)$"),
        lambda m: gettext("approved by %(who)s", who=m["who"]),
    ),
    (
        re.compile(r"^resumed by (?P<who>\S+)$"),
        lambda m: gettext("resumed by %(who)s", who=m["who"]),
    ),
    (
        re.compile(r"^Stripe dispute (?P<id>\S+) lost$"),
        lambda m: gettext("Stripe dispute %(id)s lost", id=m["id"]),
    ),
)


def _date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def timeline_detail(detail: str | None) -> str:
    """Return a stored timeline line in the reader's words."""
    if not detail:
        return ""
    for pattern, word in _PATTERNS:
        if m := pattern.match(detail):
            return word(m)
    worded = gettext(detail)
    return worded if worded != detail else _codes(detail)
