"""The loop guard: tell mail written by machines (auto-replies, bounces, lists, ourselves) from
mail written by people. Machine mail never opens a case and never gets an automatic answer,
so two auto-responders can never talk to each other through the desk.
"""

import re

from cases.mail_parse import LIST_HEADERS, Parsed

MACHINE_SENDER = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|donotreply|bounces?)([+\-.].*)?$", re.I)


def machine_reason(parsed: Parsed, *, our_address: str | None = None) -> str | None:
    """Return why a mail was written by a machine (loop guard), or None if a person wrote it."""
    h = parsed.headers
    auto = h.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"[:255]
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    if "x-loop" in h:
        return f"X-Loop: {h['x-loop']}"[:255]
    if "x-autoreply" in h or "x-autorespond" in h:
        return "X-Autoreply"
    if parsed.is_report:
        return "delivery status notification"
    if h.get("return-path", "").strip() == "<>":
        return "null sender (Return-Path: <>)"
    address = parsed.from_address or ""
    local = address.split("@", 1)[0]
    if address and MACHINE_SENDER.match(local):
        return f"machine sender: {address}"[:255]
    if our_address and address == our_address.lower():
        return "sent by ourselves"
    if any(name.lower() in h for name in LIST_HEADERS):
        return "mailing list"
    return None
