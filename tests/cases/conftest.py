"""Fixtures of the case desk's tests: cases and categories made in the test's transaction."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from cases import service
from cases.models import CaseCategory


@pytest.fixture()
def category(session):
    """Return a seeded category by code (the migration seeds eight)."""

    def get(code: str = "other") -> CaseCategory:
        return session.scalar(sa.select(CaseCategory).where(CaseCategory.code == code))

    return get


@pytest.fixture()
def make_case(session, factories):
    """Open a case through the service: a client's mail unless told otherwise."""

    def make(*, requester=None, subject: str = "Cambio de hora", channel: str = "mail",
             now: datetime | None = None, offer: bool = False, **kw):
        requester = requester if requester is not None else factories.client()
        return service.open_case(session, subject=subject, channel=channel,
                                 requester=requester, offer=offer, now=now, **kw)

    return make
