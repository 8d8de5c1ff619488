"""Calls on the desk: a call's form read and logged as an article, the outcomes offered."""

import sqlalchemy as sa
from flask import current_app

from backoffice.admin.cases_common import me, now
from backoffice.db import db
from cases import service
from cases.models import Article, ArticleKind, Case, Macro

CALL_OUTCOMES = ("solved", "callback", "no_answer", "voicemail", "transferred")
MAX_SECONDS = 24 * 3600


def _seconds(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if ":" in text:  # the timer writes m:ss; an agent may too
        parts = text.split(":")
        if not all(p.isdigit() for p in parts) or len(parts) > 3:
            raise ValueError("call_seconds: give the duration in seconds or as m:ss")
        total = 0
        for p in parts:
            total = total * 60 + int(p)
    elif text.isdigit():
        total = int(text)
    else:
        raise ValueError("call_seconds: give the duration in seconds or as m:ss")
    if total > MAX_SECONDS:
        raise ValueError("call_seconds: a call lasts at most 24 hours")
    return total


def log_call(case: Case, form, *, number: str | None = None) -> Article:
    """Add the call a form describes to case (in or out, who called whom, how long, outcome)."""
    direction = form.get("direction", "in")
    if direction not in ("in", "out"):
        raise ValueError("direction: a call is inbound or outbound")
    outcome = form.get("outcome") or None
    if outcome is not None and outcome not in outcomes():
        raise ValueError("outcome: choose an outcome from the list")
    seconds = _seconds(form.get("call_seconds"))
    party = (number or form.get("number") or "").strip()[:40] or None
    line = current_app.config.get("CASES_PHONE_LINE")
    return service.add_article(
        db.session, case=case, kind=ArticleKind.CALL_IN if direction == "in" else
        ArticleKind.CALL_OUT, body=(form.get("body") or "").strip(), public=True, user=me(),
        now=now(), call_from=party if direction == "in" else line,
        call_to=line if direction == "in" else party, call_seconds=seconds,
        call_outcome=outcome)


def outcomes(macros: list | None = None) -> list[str]:
    """Return the call outcomes offered: the usual ones, then those the active call scripts
    name (macros: the page's cases_rows.desk_lists(...).macros, else read here)."""
    if macros is None:
        texts = db.session.scalars(sa.select(Macro.outcomes).where(
            Macro.kind == "call_script", Macro.active.is_(True), Macro.outcomes.is_not(None)))
    else:
        texts = [text for _id, _name, kind, text in macros if kind == "call_script" and text]
    extra = []
    for text in texts:
        extra += [o.strip() for o in text.split(",") if o.strip()]
    return list(dict.fromkeys([*CALL_OUTCOMES, *extra]))
