"""The shape of a Stripe event: what a signed body must hold before anything reads it.

A body that fails is refused naming the first field that is wrong; each handled type's check
covers every field its handler reads, so a handler never meets a missing or mistyped value
(or a text that PostgreSQL cannot store).
"""

import json
import re
from collections.abc import Callable

MAX_CENTS = 99_999_999  # Stripe's largest charge; sums stay inside the integer columns
MAX_TIME = 253_402_300_799  # 9999-12-31: a later second is no date
OBJ = "data.object."  # where each field named in an error sits


class Malformed(ValueError):
    """A signed body that is not a well-formed event; the message names the field."""


def parse(payload: bytes) -> dict:
    """Return the event in a signed body; raise Malformed naming the first field that is wrong."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body: not UTF-8 text") from None
    try:
        event = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Malformed("body: not JSON") from None
    if not isinstance(event, dict):
        raise Malformed("body: not a JSON object")
    _need(event, "id", "", "event_id")
    _need(event, "type", "", "type")
    _need(event, "created", "", "time", optional=True)
    obj = _object(_object(event, "data", ""), "object", "data.")
    if event["type"] in CHECKS:
        CHECKS[event["type"]](obj)
    return event


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _storable(text: str) -> bool:
    """Tell whether the databases take text: PostgreSQL refuses NUL, both a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _matches(pattern: re.Pattern) -> Callable[[object], bool]:
    return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None


# kind: (test, what the error says the value is not)
_KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "event_id": (_matches(re.compile(r"[A-Za-z0-9_-]{1,80}")), "an identifier"),
    "type": (_matches(re.compile(r"[A-Za-z0-9_.-]{1,80}")), "an event type"),
    # refund:<charge>:<refund> must fit a payment's 120-character reference.
    "id": (_matches(re.compile(r"[A-Za-z0-9_-]{1,50}")), "an identifier"),
    "key": (_matches(re.compile(r"[A-Za-z0-9_.:-]{1,80}")), "an idempotency key"),
    "invoice_id": (_matches(re.compile(r"[0-9]{1,9}")), "an invoice number"),
    "cents": (lambda v: type(v) is int and 0 <= v <= MAX_CENTS,
              f"a whole number of cents from 0 to {MAX_CENTS}"),
    "positive_cents": (lambda v: type(v) is int and 1 <= v <= MAX_CENTS,
                       f"a whole number of cents from 1 to {MAX_CENTS}"),
    "time": (lambda v: type(v) is int and 0 <= v <= MAX_TIME, "a Unix time"),
    "text": (lambda v: isinstance(v, str) and _storable(v), "text"),
    "object": (lambda v: isinstance(v, dict), "an object"),
}


def _need(obj: dict, key: str, path: str, kind: str, *, optional: bool = False) -> None:
    value = obj.get(key)
    test, what = _KINDS[kind]
    if not (value is None and optional) and not test(value):
        raise Malformed(f"{path}{key}: {'missing or ' if value is None else ''}not {what}")


def _object(obj: dict, key: str, path: str, *, optional: bool = False) -> dict:
    _need(obj, key, path, "object", optional=optional)
    return obj.get(key) or {}


def _metadata(obj: dict) -> None:
    meta = _object(obj, "metadata", OBJ, optional=True)
    _need(meta, "invoice_id", OBJ + "metadata.", "invoice_id", optional=True)
    _need(meta, "idempotency_key", OBJ + "metadata.", "key", optional=True)


def check_intent_succeeded(obj: dict) -> None:
    """Check what recording a payment reads: the intent's id, amount and metadata."""
    _need(obj, "id", OBJ, "id")
    _need(obj, "amount", OBJ, "positive_cents")
    _metadata(obj)


def check_intent_failed(obj: dict) -> None:
    """Check the intent's id, metadata and the error's codes."""
    _need(obj, "id", OBJ, "id")
    _metadata(obj)
    error = _object(obj, "last_payment_error", OBJ, optional=True)
    for key in ("code", "decline_code"):
        _need(error, key, OBJ + "last_payment_error.", "text", optional=True)


def check_charge_refunded(obj: dict) -> None:
    """Check the charge's id, intent, amounts and each refund it lists."""
    for key, kind in (("id", "id"), ("amount_refunded", "cents")):
        _need(obj, key, OBJ, kind)
    for key, kind in (("payment_intent", "id"), ("amount", "cents"), ("created", "time")):
        _need(obj, key, OBJ, kind, optional=True)
    _metadata(obj)
    if obj.get("amount") is not None and obj["amount_refunded"] > obj["amount"]:
        raise Malformed(f"{OBJ}amount_refunded: more than the charge's amount")
    data = _object(obj, "refunds", OBJ, optional=True).get("data", [])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise Malformed(f"{OBJ}refunds.data: not a list of refunds")
    for i, refund in enumerate(data):
        path = f"{OBJ}refunds.data[{i}]."
        _need(refund, "id", path, "id")
        _need(refund, "amount", path, "positive_cents")
        _need(refund, "created", path, "time", optional=True)
        _need(refund, "status", path, "text", optional=True)


def check_dispute_created(obj: dict) -> None:
    """Check the dispute's id, intent and reason."""
    _need(obj, "id", OBJ, "id")
    _need(obj, "payment_intent", OBJ, "id", optional=True)
    _need(obj, "reason", OBJ, "text", optional=True)


def check_dispute_closed(obj: dict) -> None:
    """Check the dispute's id, intent and outcome (its status: won, lost, ...)."""
    check_dispute_created(obj)
    _need(obj, "status", OBJ, "text")


def check_method_attached(obj: dict) -> None:
    """Check the payment method's id and customer."""
    _need(obj, "id", OBJ, "id")
    _need(obj, "customer", OBJ, "id", optional=True)


# Each handled type's check of its object; other types get the common checks only.
CHECKS: dict[str, Callable[[dict], None]] = {
    "payment_intent.succeeded": check_intent_succeeded,
    "payment_intent.payment_failed": check_intent_failed,
    "charge.refunded": check_charge_refunded,
    "charge.dispute.created": check_dispute_created,
    "charge.dispute.closed": check_dispute_closed,
    "payment_method.attached": check_method_attached,
}
