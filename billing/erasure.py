"""What erasing a client means for billing: the Stripe customer goes, issued invoices keep the
identity they were issued to (Spanish invoicing rules; GDPR Art. 17(3)(b))."""

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.i18n import Refusal
from backoffice.models import Client
from billing.gateway import Gateway, GatewayError
from billing.models import Invoice, SavedCard


def erase_client(session: Session, *, client: Client, config: Mapping | None) -> None:
    """Keep issued invoices' identity, delete the Stripe customer and the saved card."""
    session.execute(sa.update(Invoice).where(Invoice.client_id == client.id,
                                             Invoice.bill_to_name.is_(None))
                    .values(bill_to_name=client.name, bill_to_address=client.address))
    session.execute(sa.delete(SavedCard).where(SavedCard.client_id == client.id))
    if client.stripe_customer_id:
        if config is None:
            raise Refusal("stripe: the payment provider is not configured; nothing was erased")
        try:
            Gateway.from_config(config).delete_customer(client.stripe_customer_id)
        except GatewayError as exc:
            raise Refusal("stripe: the payment provider could not delete the customer "
                          "(%(error)s); nothing was erased, try again later",
                          error=str(exc)) from exc
        session.execute(sa.update(Client).where(Client.id == client.id)
                        .values(stripe_customer_id=None))
