"""Billing's routes outside the panel: Stripe's webhook, vouched for by its signature, not CSRF."""

import logging

from flask import Blueprint, Flask, abort, current_app, request
from sqlalchemy.orm import Session

from backoffice.db import db
from billing import webhooks
from billing.gateway import BadSignature, verify_signature

log = logging.getLogger("backoffice.billing")
blueprint = Blueprint("billing_web", __name__)
@blueprint.post("/stripe/webhook")
def stripe_webhook():
    """Receive a Stripe event: verify, check its shape, store raw, process once.

    A bad signature is 400 and leaves nothing; a signed body that is not an event is 400,
    naming the field, and is kept for inspection.
    """
    payload = request.get_data(cache=False)
    try:
        verify_signature(payload, request.headers.get("Stripe-Signature"),
                         current_app.config["STRIPE_WEBHOOK_SECRET"])
    except BadSignature:
        log.warning("stripe webhook with a bad signature from %s", request.remote_addr)
        abort(400)
    session: Session = db.session
    try:
        event = webhooks.parse(payload)
    except webhooks.Malformed as exc:
        row = webhooks.store_invalid(session, payload=payload, reason=str(exc))
        session.commit()
        log.warning("signed stripe webhook that is not an event (%s), kept as %s", exc,
                    row.stripe_id)
        return {"status": "invalid", "error": str(exc)}, 400
    row = webhooks.store(session, payload=payload, event=event)
    if row.processed_at is not None:
        return {"status": "duplicate"}, 200
    session.commit()  # the raw event is kept even if processing fails
    try:
        result = webhooks.process(session, row)
        session.commit()
    except ValueError as exc:  # the ledger refuses it (a refund beyond what was paid): no retry
        session.rollback()
        result = webhooks.refuse(session, row, reason=str(exc))
        session.commit()
        log.warning("stripe event %s refused: %s", event["id"], exc)
        return {"status": "refused", "result": result}, 200
    except Exception:
        session.rollback()
        log.exception("stripe event %s failed; it is stored for a retry", event["id"])
        return {"status": "stored", "error": True}, 500
    return {"status": "processed", "result": result}, 200


def register(app: Flask, csrf) -> None:
    """Mount POST /stripe/webhook; its signature replaces CSRF."""
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)
