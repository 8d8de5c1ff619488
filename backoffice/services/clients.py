"""Client operations that are more than a field edit."""

from sqlalchemy.orm import Session

from backoffice.i18n import Refusal
from backoffice.models import Client, ClientStatus


def set_status(session: Session, *, client: Client, status: ClientStatus) -> Client:
    """Set a client's status; an erased client stays erased."""
    if client.status == ClientStatus.ERASED and status != ClientStatus.ERASED:
        raise Refusal("status: an erased client cannot be reactivated")
    client.status = status
    session.flush()
    return client


def erase(session: Session, *, client: Client) -> Client:
    """Erase a client's personal data, keeping the row for invoices and service history."""
    client.name = f"Erased client {client.id}"
    client.email = None
    client.phone = None
    client.address = None
    client.notes = None
    client.lat = client.lon = None
    client.status = ClientStatus.ERASED
    session.flush()
    return client
