"""Billing fixtures: localstripe on a free port, a gateway, clients with saved cards, invoices."""

import itertools
import os
from datetime import date, datetime, time, timedelta

import pytest

from backoffice.models import RequestStatus
from billing import invoicing, stripe_server
from billing.gateway import ERROR, ChargeResult, Gateway
from billing.models import SavedCard

PAYS, FAILS, LOST = "4242424242424242", "4000000000000341", "4000000000009987"
_day = itertools.count(0)


@pytest.fixture(scope="session")
def stripe_base():
    """Start localstripe (indexed, 127.0.0.1, no persistence) in its own process."""
    base = f"http://127.0.0.1:{stripe_server.free_port()}"
    proc = stripe_server.start_process(dict(os.environ, STRIPE_API_BASE=base))
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture()
def gateway(app, stripe_base) -> Gateway:
    app.config["STRIPE_API_BASE"] = stripe_base
    return Gateway(api_key=app.config["STRIPE_API_KEY"], api_base=stripe_base, max_rps=1000)


class Billing:
    """Make clients with Stripe customers and invoices due on a given day."""

    def __init__(self, session, factories, gateway):
        self.session, self.factories, self.gateway = session, factories, gateway

    def client(self, card: str | None = PAYS, **kw):
        client = self.factories.client(**kw)
        if card:
            cus, pm = self.gateway.create_customer(email=client.email, name=client.name,
                                                   card_number=card)
            client.stripe_customer_id = cus
            self.session.add(SavedCard(client_id=client.id, payment_method_id=pm))
            self.session.flush()
        return client

    def save_card(self, client, card: str) -> str:
        pm = self.gateway.client.v1.payment_methods.create(params={
            "type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2034,
                                     "cvc": "123"}})
        self.gateway.client.v1.payment_methods.attach(
            pm.id, params={"customer": client.stripe_customer_id})
        self.session.get(SavedCard, client.id).payment_method_id = pm.id
        self.session.flush()
        return pm.id

    def invoice(self, client=None, *, due_on: date, prices=(4000,), card: str | None = PAYS):
        client = client or self.client(card=card)
        # Services in a month of their own so periods never overlap between tests.
        start = date(2030, 1, 1) + timedelta(days=31 * next(_day))
        for i, price in enumerate(prices):
            self.factories.request(client=client, day=start + timedelta(days=i),
                                   status=RequestStatus.DONE, price_cents=price)
        inv = invoicing.issue(self.session, client=client, start=start,
                              end=start + timedelta(days=27), issued_on=due_on - timedelta(7))
        assert inv is not None
        return inv


@pytest.fixture()
def billing(session, factories, gateway) -> Billing:
    return Billing(session, factories, gateway)


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour))


class LostAnswer:
    """Charges at Stripe, then pretends the answer timed out."""

    def __init__(self, real: Gateway):
        self.real = real

    def charge(self, **kw) -> ChargeResult:
        self.real.charge(**kw)
        return ChargeResult(ERROR, message="ReadTimeout")

    def find(self, **kw) -> ChargeResult | None:
        return ChargeResult(ERROR, message="ReadTimeout")


def charges_at_stripe(gateway: Gateway, customer: str) -> list:
    """Return the charges Stripe holds for a customer."""
    return gateway.client.v1.charges.list(params={"customer": customer, "limit": 100}).data
