"""A seeded town made two cities: half of it moved to Madrid, bookings moved with their holder."""

from __future__ import annotations

import sqlalchemy as sa

from assignment.planted import CITIES
from backoffice.models import Professional, ServiceRequest

VALENCIA, MADRID = CITIES[0][1], CITIES[1][1]


def move_half_to_madrid(boundary) -> None:
    """Move the even professionals, their bookings and the unbooked requests of even clients
    to Madrid (about 300 km away: beyond any shift's reach from home)."""
    dlat, dlon = MADRID.lat - VALENCIA.lat, MADRID.lon - VALENCIA.lon
    with boundary.session("test-setup") as session:
        even_pros = sa.select(Professional.id).where(Professional.id % 2 == 0)
        session.execute(
            sa.update(Professional)
            .where(Professional.id % 2 == 0)
            .values(lat=Professional.lat + dlat, lon=Professional.lon + dlon)
        )
        session.execute(
            sa.update(ServiceRequest)
            .where(
                sa.or_(
                    ServiceRequest.professional_id.in_(even_pros),
                    sa.and_(
                        ServiceRequest.professional_id.is_(None), ServiceRequest.client_id % 2 == 0
                    ),
                )
            )
            .values(lat=ServiceRequest.lat + dlat, lon=ServiceRequest.lon + dlon)
        )
