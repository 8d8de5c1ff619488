"""Which case an inbound mail belongs to: its subject's token, then the Message-IDs it answers.

A token or a reference only counts when the sender is a party of that case (its requester, or
an address that already wrote in it): a stranger who copies someone else's [C-000123] into a
subject opens a case of their own instead of writing into that conversation.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cases.mail_parse import Parsed
from cases.models import Article, Case, CaseState, format_number


def find_case(session: Session, parsed: Parsed) -> tuple[Case | None, str | None]:
    """Return the case this mail continues (merges followed), or None and why not."""
    address = (parsed.from_address or "").lower()
    token = parsed.token
    if token is not None:
        case = _current(session, session.get(Case, token))
        if case is not None:
            if is_party(session, case, address):
                return case, None
            return None, f"token {format_number(token)} from a sender who is not a party"
    ids = parsed.thread_ids
    if not ids:
        return None, None
    rows = dict(session.execute(sa.select(Article.message_id, Article.case_id)
                                .where(Article.message_id.in_(ids))).all())
    for mid in ids:
        if mid in rows:
            case = _current(session, session.get(Case, rows[mid]))
            if case is None:
                continue
            if is_party(session, case, address):
                return case, None
            return None, f"reference to {case.number} from a sender who is not a party"
    return None, None


def referenced_case(session: Session, parsed: Parsed) -> int | None:
    """Return the id of a case a machine mail (a bounce, an out-of-office) refers to, if any."""
    ids = parsed.thread_ids
    if ids:
        found = session.scalar(sa.select(Article.case_id).where(Article.message_id.in_(ids))
                               .limit(1))
        if found is not None:
            return found
    token = parsed.token
    return token if token is not None and session.get(Case, token) is not None else None


def is_party(session: Session, case: Case, address: str) -> bool:
    """Tell whether address is the case's requester or already wrote in the case."""
    if not address:
        return False
    for person in (case.client, case.professional, case.contact):
        if person is not None and (person.email or "").strip().lower() == address:
            return True
    return session.scalar(sa.select(Article.id).where(
        Article.case_id == case.id, sa.func.lower(Article.sender) == address).limit(1)
    ) is not None


def _current(session: Session, case: Case | None) -> Case | None:
    """Follow merges to the case that holds the conversation now."""
    for _ in range(10):
        if case is None or case.state != CaseState.MERGED or case.merged_into_id is None:
            return case
        case = session.get(Case, case.merged_into_id)
    return case
