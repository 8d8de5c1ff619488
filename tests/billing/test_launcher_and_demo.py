"""The localstripe launcher stays local and in memory; the demo seeds every dunning state."""

import os
import random
from datetime import date

import sqlalchemy as sa

from billing import demo
from billing.models import Invoice


def test_launcher_listens_on_loopback_and_keeps_nothing_on_disk(gateway, stripe_base):
    pickle = "/tmp/localstripe.pickle"
    before = os.path.getmtime(pickle) if os.path.exists(pickle) else None
    cus, _ = gateway.create_customer(email="l@example.com", name="L",
                                     card_number="4242424242424242")
    assert stripe_base.startswith("http://127.0.0.1:")
    after = os.path.getmtime(pickle) if os.path.exists(pickle) else None
    assert before == after
    # The store is indexed by type: listing customers returns customers only.
    listed = gateway.client.v1.customers.list(params={"limit": 100}).data
    assert listed and all(c.object == "customer" for c in listed)


def test_demo_seed_has_invoices_in_every_dunning_state(session, factories, app):
    for _ in range(60):
        factories.client()
    demo.seed_demo(session, today=date(2026, 11, 23), rng=random.Random(11), config=app.config)
    states = set(session.scalars(sa.select(Invoice.status.distinct())))
    assert {s.value for s in states} >= {"open", "paid", "in_dunning", "paused",
                                         "uncollectible"}


def test_finance_home_shows_billing_figures(client, logged_in, session, billing):
    billing.invoice(due_on=date(2026, 11, 1))
    session.commit()
    logged_in("finance")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="billing-figures"' in page and 'data-figure="billing_owed"' in page
