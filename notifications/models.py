"""What each person was last told about each service request: the memory that keeps a change
from being told twice.

One row per (service request, audience): the client's row says which professional and start
the client last heard of; the professional's row says which professional was last told they
do the service, and when. notifications.service.sync compares the bookings against these rows
and tells only the differences.
"""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db import Base, utcnow
from backoffice.models import _enum


class Audience(enum.StrEnum):
    CLIENT = "client"
    PROFESSIONAL = "professional"


class Told(enum.StrEnum):
    BOOKED = "booked"  # told: this professional comes at this start
    CANCELLED = "cancelled"  # told: the service is cancelled
    REMOVED = "removed"  # the professional was told the service is no longer theirs


class ToldBooking(Base):
    """The last thing an audience was told about a service request."""

    __tablename__ = "told_booking"

    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("service_request.id", ondelete="CASCADE"), primary_key=True)
    audience: Mapped[Audience] = mapped_column(_enum(Audience, "told_audience"),
                                               primary_key=True)
    state: Mapped[Told] = mapped_column(_enum(Told, "told_state"))
    # Who was said to come (client) or who was told it is theirs (professional).
    professional_id: Mapped[int | None] = mapped_column(sa.ForeignKey("professional.id"))
    start_at: Mapped[datetime | None]  # local wall-clock time, as service_request.start_at
    end_at: Mapped[datetime | None]
    # The iCalendar SEQUENCE of the last notice: each change told goes one up.
    sequence: Mapped[int] = mapped_column(default=0)
    told_at: Mapped[datetime] = mapped_column(default=utcnow)
