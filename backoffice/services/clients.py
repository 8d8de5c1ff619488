"""Client operations that are more than a field edit."""

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit, erasure
from backoffice.i18n import Refusal
from backoffice.models import Client, ClientStatus, ServiceRequest
from backoffice.optional import optional_module
from backoffice.services import requests

ERASED_REASON = "client's personal data erased"
# Domains that hold a client's data outside the core tables (the Stripe customer), asked by
# name so the core does not depend on them; each has erase_client(session, client, config).
DOMAIN_ERASERS = ("billing.erasure",)


def set_status(session: Session, *, client: Client, status: ClientStatus) -> Client:
    """Set a client's status; an erased client stays erased."""
    if client.status == ClientStatus.ERASED and status != ClientStatus.ERASED:
        raise Refusal("status: an erased client cannot be reactivated")
    client.status = status
    session.flush()
    return client


def erase(session: Session, *, client: Client, now: datetime,
          config: Mapping | None = None) -> list[str]:
    """Erase a client's personal data in every table; return the names of the fields erased.

    Coming bookings are cancelled first; the client row stays, for invoices and history."""
    if client.status == ClientStatus.ERASED:
        raise Refusal("status: this client's personal data is already erased")
    former = erasure.former_values(
        session, entity="client", entity_id=client.id,
        current=[client.name, client.email, client.phone, client.address, client.notes])
    fields = [f for f in ("name", "email", "phone", "address", "notes", "lat", "lon")
              if getattr(client, f) is not None]
    coming = session.scalars(sa.select(ServiceRequest).where(
        ServiceRequest.client_id == client.id, ServiceRequest.status.in_(requests.OPEN),
        ServiceRequest.service_date >= now.date()))
    for booking in coming:
        requests.cancel(session, request=booking, reason=ERASED_REASON, now=now)
    for name in DOMAIN_ERASERS:
        module = optional_module(name)
        if module is not None:
            module.erase_client(session, client=client, config=config)
    session.flush()
    session.execute(sa.update(Client).where(Client.id == client.id).values(
        name=f"Erased client {client.id}", email=None, phone=None, address=None, notes=None,
        lat=None, lon=None, status=ClientStatus.ERASED, version=Client.version + 1))
    request_ids = list(session.scalars(sa.select(ServiceRequest.id)
                                       .where(ServiceRequest.client_id == client.id)))
    session.execute(sa.update(ServiceRequest).where(ServiceRequest.client_id == client.id)
                    .values(address=None, lat=None, lon=None))
    erasure.erase_record_history(session, entity="client", ids=[client.id])
    erasure.erase_record_history(session, entity="service_request", ids=request_ids)
    erasure.scrub_everywhere(session, former)
    audit.record(session, action="erase", entity="client", entity_id=client.id,
                 changes={"erased": fields})
    session.expire(client)
    return fields
