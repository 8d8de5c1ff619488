"""Duplicate clients: suggest likely pairs, and merge one into the one kept, in one transaction.

A merge moves the duplicate's bookings, invoices, cases, calls and notes, surveys, tasks,
exclusions, saved card and Stripe customer to the client kept. Invoices change owner only:
what they were issued with (bill_to_name, bill_to_address, number, lines) is legally fixed and
never touched. The duplicate keeps its row, pointing at the one kept (merged_into_id), so old
links still lead somewhere; lists and search leave it out.

The domains (billing, cases, surveys) are asked for by name, as the erasure does: the core
runs without them.
"""

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from backoffice import audit
from backoffice.db import is_postgres, utcnow
from backoffice.i18n import Refusal, for_team
from backoffice.models import (
    Client,
    ClientStatus,
    DuplicateSuggestion,
    StaffUser,
    Task,
    professional_excluded_client,
)
from backoffice.optional import optional_module
from backoffice.services import clients as client_service

MERGE_ROLES = ("ops_agent", "admin")
DISPUTE = "payment_dispute"  # cases.playbooks.DISPUTE, named here so the core needs no cases
ACTIVE_CASE_STATES = ("new", "open", "pending", "on_hold")  # not solved, closed or merged


# --- refusals


def _label(client: Client) -> str:
    return f"{client.name} ({client.id})"


def open_disputes(session: Session, client_id: int) -> list[int]:
    """Return the ids of the client's open payment-dispute cases (none without the desk)."""
    cases = optional_module("cases.models")
    if cases is None:
        return []
    Case, Category = cases.Case, cases.CaseCategory
    return list(session.scalars(
        sa.select(Case.id).join(Category, Category.id == Case.category_id)
        .where(Case.client_id == client_id, Category.code == DISPUTE,
               Case.state.in_(ACTIVE_CASE_STATES)).order_by(Case.id)))


def refusal(session: Session, *, keep: Client, merged: Client) -> Refusal | None:
    """Return why merged cannot be merged into keep, or None when it can."""
    if keep.id == merged.id:
        return Refusal("merge: a client cannot be merged into itself")
    if merged.status == ClientStatus.ERASED:
        return Refusal("merge: %(client)s is erased; an erased client is not merged",
                       client=_label(merged))
    if keep.status == ClientStatus.ERASED:
        return Refusal("keep: %(client)s is erased; keep a client who is not",
                       client=_label(keep))
    if merged.merged_into_id is not None:
        return Refusal("merge: %(client)s was already merged into client %(into)s",
                       client=_label(merged), into=merged.merged_into_id)
    if keep.merged_into_id is not None:
        return Refusal("keep: %(client)s was merged into client %(into)s; keep that one",
                       client=_label(keep), into=keep.merged_into_id)
    mine, theirs = open_disputes(session, keep.id), open_disputes(session, merged.id)
    if mine and theirs:
        return Refusal("merge: both clients have an open payment dispute (%(keep_case)s and "
                       "%(merge_case)s); solve one before merging",
                       keep_case=f"C-{mine[0]:06d}", merge_case=f"C-{theirs[0]:06d}")
    return None


# --- the merge


def _repoint(session: Session, module: str, model: str, column: str, keep_id: int,
             merged_id: int, *, versioned: bool = False) -> int:
    """Move the rows of a table from the duplicate to the one kept; return how many."""
    found = optional_module(module)
    if found is None:
        return 0
    table = getattr(found, model).__table__
    values = {column: keep_id}
    if versioned:  # an edit form opened before the merge must not put the old client back
        values["version"] = table.c.version + 1
    return session.execute(sa.update(table).where(table.c[column] == merged_id)
                           .values(**values)).rowcount


def _freeze_bill_to(session: Session, merged: Client) -> None:
    """Write down whom the duplicate's older invoices were issued to, where they do not say
    (they named the client row): after the move they must still name the same person."""
    billing = optional_module("billing.models")
    if billing is None:
        return
    inv = billing.Invoice.__table__
    session.execute(sa.update(inv).where(inv.c.client_id == merged.id,
                                         inv.c.bill_to_name.is_(None))
                    .values(bill_to_name=merged.name, bill_to_address=merged.address))


def _move_case_links(session: Session, keep_id: int, merged_id: int) -> int:
    cases = optional_module("cases.models")
    if cases is None:
        return 0
    link = cases.CaseLink.__table__
    already = sa.select(link.c.case_id).where(link.c.entity == "client",
                                              link.c.entity_id == str(keep_id))
    session.execute(sa.delete(link).where(link.c.entity == "client",
                                          link.c.entity_id == str(merged_id),
                                          link.c.case_id.in_(already)))
    return session.execute(sa.update(link).where(
        link.c.entity == "client", link.c.entity_id == str(merged_id))
        .values(entity_id=str(keep_id))).rowcount


def _move_exclusions(session: Session, keep_id: int, merged_id: int) -> int:
    """Professionals who would not serve the duplicate will not serve the one kept."""
    table = professional_excluded_client
    pros = set(session.scalars(sa.select(table.c.professional_id)
                               .where(table.c.client_id == merged_id)))
    if not pros:
        return 0
    have = set(session.scalars(sa.select(table.c.professional_id)
                               .where(table.c.client_id == keep_id)))
    new = sorted(pros - have)
    if new:
        session.execute(sa.insert(table), [{"professional_id": p, "client_id": keep_id}
                                           for p in new])
    session.execute(sa.delete(table).where(table.c.client_id == merged_id))
    return len(pros)


def _move_stripe(session: Session, keep: Client, merged: Client) -> dict:
    """Give the kept client the duplicate's Stripe customer and card when it has none.

    A card belongs to its Stripe customer: the two move together or not at all. When the one
    kept has a customer of its own, the duplicate's stays on its row, unused (its invoices
    moved), and the audit row names it.
    """
    moved: dict = {}
    if not merged.stripe_customer_id:
        return moved
    if keep.stripe_customer_id:
        moved["stripe_customer_left_on_merged"] = merged.stripe_customer_id
        return moved
    billing = optional_module("billing.models")
    if billing is not None:
        card = billing.SavedCard.__table__
        if session.scalar(sa.select(card.c.client_id).where(card.c.client_id == keep.id)) is None:
            moved["saved_card"] = session.execute(sa.update(card).where(
                card.c.client_id == merged.id).values(client_id=keep.id)).rowcount
    moved["stripe_customer_id"] = merged.stripe_customer_id
    customer, merged.stripe_customer_id = merged.stripe_customer_id, None
    session.flush()  # the duplicate lets go of the reference before the kept one takes it
    keep.stripe_customer_id = customer
    return moved


def _notes(keep: Client, merged: Client, when: datetime) -> str | None:
    """Return the kept client's notes with the duplicate's appended, and its other details."""
    other = [v for v in (merged.name, merged.email, merged.phone, merged.address)
             if v and v not in (keep.name, keep.email, keep.phone, keep.address)]
    if not other and not (merged.notes or "").strip():
        return keep.notes
    lines = [for_team("Merged from client %(id)s on %(date)s", id=merged.id,
                      date=f"{when:%d/%m/%Y}")]
    if other:
        lines.append(for_team("Other details: %(details)s", details=" · ".join(other)))
    if (merged.notes or "").strip():
        lines.append(merged.notes.strip())
    block = "\n".join(lines)
    return f"{keep.notes.rstrip()}\n\n{block}" if (keep.notes or "").strip() else block


def _lock(session: Session, ids: list[int]) -> None:
    """Lock both clients in id order: two merges of the same pair cannot cross."""
    if is_postgres(session):
        session.execute(sa.select(Client.id).where(Client.id.in_(ids)).order_by(Client.id)
                        .with_for_update())


def merge(session: Session, *, keep: Client, merged: Client, user: StaffUser | None,
          now: datetime | None = None) -> dict:
    """Merge the duplicate into the client kept; return what moved, or raise Refusal.

    user None is a command line or a job; a panel user must be an operations agent or admin.
    """
    if user is not None and not user.has_role(*MERGE_ROLES):
        raise Refusal("user: only operations agents and admins merge clients")
    now = now or utcnow()
    session.flush()
    _lock(session, [keep.id, merged.id])
    session.refresh(keep)
    session.refresh(merged)
    if (why := refusal(session, keep=keep, merged=merged)) is not None:
        raise why
    k, m = keep.id, merged.id
    _freeze_bill_to(session, merged)
    moved = {
        "bookings": _repoint(session, "backoffice.models", "ServiceRequest", "client_id", k, m,
                             versioned=True),
        "invoices": _repoint(session, "billing.models", "Invoice", "client_id", k, m),
        "cases": _repoint(session, "cases.models", "Case", "client_id", k, m, versioned=True),
        "case_links": _move_case_links(session, k, m),
        "interactions": _repoint(session, "backoffice.models", "Interaction", "client_id", k, m),
        "surveys": _repoint(session, "surveys.models", "Survey", "client_id", k, m),
        "tasks": session.execute(sa.update(Task).where(
            Task.entity == "client", Task.entity_id == str(m))
            .values(entity_id=str(k)).execution_options(synchronize_session=False)).rowcount,
        "exclusions": _move_exclusions(session, k, m),
    }
    # The bulk statements bypassed the objects in this session: read them again.
    session.expire_all()
    moved.update(_move_stripe(session, keep, merged))
    keep.notes = _notes(keep, merged, now)
    if merged.status == ClientStatus.BLOCKED and keep.status == ClientStatus.ACTIVE:
        # The held debt moved with the invoices: so does the hold.
        client_service.set_status(session, client=keep, status=ClientStatus.BLOCKED)
        moved["blocked"] = True
    merged.merged_into_id = k
    session.flush()  # the audit trail records both clients' changes with it
    summary = {"kept": k, "merged": m, **moved}
    audit.record(session, action="merge", entity="client", entity_id=k,
                 changes={"merged": [None, m], **{key: [None, value] for key, value
                                                   in moved.items()}},
                 note=f"client {m} merged into client {k}")
    audit.record(session, action="merged_into", entity="client", entity_id=m,
                 changes={"merged_into_id": [None, k]},
                 note=f"client {m} merged into client {k}")
    session.expire(keep, ["request_count"])  # kept by the database's triggers
    session.expire(merged, ["request_count"])
    return summary


def merge_ids(session: Session, *, keep_id, merge_id, user: StaffUser | None,
              now: datetime | None = None) -> dict:
    """Merge client merge_id into keep_id as typed (a form, the command line)."""
    found = {}
    for name, value in (("keep", keep_id), ("merge", merge_id)):
        text = str(value if value is not None else "").strip()
        client = (session.get(Client, int(text))
                  if text.isdigit() and len(text) <= 9 else None)
        if client is None:
            raise Refusal("%(field)s: there is no client %(id)s", field=name,
                          id=text[:20] or "—")
        found[name] = client
    return merge(session, keep=found["keep"], merged=found["merge"], user=user, now=now)


def kept_for(session: Session, client_id: int) -> int:
    """Return the id of the client a (possibly merged) client now lives in."""
    seen = set()
    while client_id not in seen:
        seen.add(client_id)
        into = session.scalar(sa.select(Client.merged_into_id).where(Client.id == client_id))
        if into is None:
            return client_id
        client_id = into
    return client_id


# --- suggestions
#
# Three reasons, each one indexed query or one pass:
# - the same phone number (E.164, as search finds callers);
# - the same email, case aside;
# - the same address and a similar name. Addresses are compared once normalised: accents,
#   case, punctuation and street-type words (calle, c/, avenida, plaza...) left out, so
#   "C/ Colón, 12" and "calle colon 12" match (a floor "2ª" reads "2"). Names are similar
#   when they share two words, or when every word of the shorter one is in the other ("Ana
#   García" and "Ana María García López"); a shared surname alone ("Ana Pérez", "Luis
#   Pérez") is family, not a duplicate. Only clients at one address are compared, in one
#   pass over the table in Python (measured in the report), on a page finance and ops open
#   now and then; no new dependency.

STREET_WORDS = frozenset({
    "c", "calle", "cl", "carrer", "av", "avda", "avenida", "avinguda", "pl", "plaza", "placa",
    "pza", "paseo", "passeig", "po", "camino", "cami", "ronda", "travesia", "de", "del", "la",
    "el", "les", "los", "las", "dels", "en", "n", "no", "num", "numero", "piso", "puerta", "pta",
    "esc", "escalera", "valencia", "spain", "espana"})
NAME_SKIP = frozenset({"de", "del", "la", "las", "los", "y", "i"})
_WORD = re.compile(r"[a-z0-9]+")
SUGGESTIONS_MAX = 100
STORED_MAX = 5000  # pairs kept from one search


# The letters Spanish and Valencian addresses and names use, folded at C speed (translate);
# anything else goes through Unicode decomposition.
_PLAIN = str.maketrans("áàäâãåéèëêíìïîóòöôõúùüûñçªº·", "aaaaaaeeeeiiiiooooouuuuncao ")


def fold(text: str | None) -> str:
    """Return text without accents, in lower case."""
    text = (text or "").lower().translate(_PLAIN)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def address_key(address: str | None) -> str | None:
    """Return an address reduced to the words and numbers that tell it apart, or None."""
    words = [w[:-1] if w[-1] in "ao" and w[:-1].isdigit() else w  # "2ª" is floor 2
             for w in _WORD.findall(fold(address)) if w not in STREET_WORDS]
    if not words or not any(w.isdigit() for w in words):
        return None  # without a number, a street names many homes
    return " ".join(words)


def name_words(name: str | None) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(fold(name)) if w not in NAME_SKIP and len(w) > 1)


def similar_names(a: frozenset[str], b: frozenset[str]) -> bool:
    """Tell whether two names share two words, or the shorter's every word."""
    shared = len(a & b)
    return shared >= 2 or (shared >= 1 and shared == min(len(a), len(b)))


@dataclass
class Suggestion:
    """Two clients that look like one person, and why."""

    first: Client
    second: Client
    reasons: set[str] = field(default_factory=set)

    @property
    def keep(self) -> Client:
        """The one to keep by default: more bookings, else the older record."""
        a, b = self.first, self.second
        return a if (a.request_count, -a.id) >= (b.request_count, -b.id) else b

    @property
    def other(self) -> Client:
        return self.second if self.keep is self.first else self.first


def _live():
    return sa.and_(Client.merged_into_id.is_(None), Client.status != ClientStatus.ERASED)


def _same(session: Session, column, pairs: dict, reason: str) -> None:
    dupes = (sa.select(column).where(_live(), column.is_not(None), column != "")
             .group_by(column).having(sa.func.count() > 1).limit(SUGGESTIONS_MAX))
    groups: dict = defaultdict(list)
    for key, client_id in session.execute(
            sa.select(column, Client.id).where(_live(), column.in_(dupes))
            .order_by(Client.id)):
        groups[key].append(client_id)
    for ids in groups.values():
        for other in ids[1:]:
            pairs.setdefault((ids[0], other), set()).add(reason)


def find_pairs(session: Session) -> dict[tuple[int, int], set[str]]:
    """Search every live client for likely duplicates: same phone, same email, or a similar
    name at the same address (a full pass: run by the job, not by a page)."""
    pairs: dict[tuple[int, int], set[str]] = {}
    _same(session, Client.phone_e164, pairs, "phone")
    _same(session, sa.func.lower(Client.email), pairs, "email")
    by_address: dict[str, list[tuple[int, str]]] = defaultdict(list)
    rows = session.execute(sa.select(Client.id, Client.name, Client.address)
                           .where(_live(), Client.address.is_not(None)).order_by(Client.id))
    for client_id, name, address in rows:
        if key := address_key(address):
            by_address[key].append((client_id, name))
    for group in by_address.values():
        if len(group) < 2:
            continue  # names are read only where an address is shared
        words = [(i, name_words(name)) for i, name in group]
        for n, (a, words_a) in enumerate(words):
            for b, words_b in words[n + 1:]:
                if similar_names(words_a, words_b):
                    pairs.setdefault((a, b), set()).add("name_address")
    return pairs


def refresh_suggestions(session: Session, *, now: datetime | None = None) -> int:
    """Replace the stored duplicate pairs with a new search's; return how many were found."""
    pairs = find_pairs(session)
    ranked = sorted(pairs.items(), key=lambda p: (-len(p[1]), p[0]))[:STORED_MAX]
    session.execute(sa.delete(DuplicateSuggestion))
    if ranked:
        at = now or utcnow()
        session.execute(sa.insert(DuplicateSuggestion), [
            {"first_id": a, "second_id": b, "reasons": ",".join(sorted(reasons)),
             "score": len(reasons), "found_at": at} for (a, b), reasons in ranked])
    session.flush()
    return len(ranked)


def suggestions(session: Session, *, limit: int = SUGGESTIONS_MAX) -> list[Suggestion]:
    """Return the stored likely duplicate pairs still both live, most reasons first."""
    first, second = aliased(Client), aliased(Client)
    rows = session.execute(
        sa.select(DuplicateSuggestion.reasons, first, second)
        .join(first, first.id == DuplicateSuggestion.first_id)
        .join(second, second.id == DuplicateSuggestion.second_id)
        .where(first.merged_into_id.is_(None), second.merged_into_id.is_(None),
               first.status != ClientStatus.ERASED, second.status != ClientStatus.ERASED)
        .order_by(DuplicateSuggestion.score.desc(), DuplicateSuggestion.first_id,
                  DuplicateSuggestion.second_id).limit(limit))
    return [Suggestion(a, b, set(reasons.split(","))) for reasons, a, b in rows]


def last_search(session: Session) -> datetime | None:
    """Return when the stored pairs were found."""
    return session.scalar(sa.select(sa.func.max(DuplicateSuggestion.found_at)))


def merged_clients(session: Session, *, limit: int = 50) -> list[tuple[Client, Client]]:
    """Return the latest merged clients with the one each was merged into."""
    kept = aliased(Client)
    return list(session.execute(
        sa.select(Client, kept).join(kept, kept.id == Client.merged_into_id)
        .order_by(Client.updated_at.desc(), Client.id.desc()).limit(limit)).tuples())

