"""The demo's figures: computed once from the seeded history, then kept by the job."""

from datetime import date, datetime, timedelta


def seed_demo(session, *, today: date, rng, config) -> None:
    """Fill the summary tables from the demo's history, as the job would."""
    from figures import service

    service.refresh(session, now=datetime.combine(today, datetime.min.time())
                    + timedelta(hours=9))
