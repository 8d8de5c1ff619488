"""The vetting demo: applicants in every stage, each with a timeline in order."""

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from backoffice.auth import create_user
from vetting import demo
from vetting.models import Application, Stage, StageVisit


def test_demo_applicants_fill_every_stage_with_timelines_in_order(session, factories, app):
    for email in ("vetting@demo.example.com", "vetting2@demo.example.com"):
        create_user(session, email=email, name=email, password="demo-password-1",
                    roles=["vetting"])
    for _ in range(5):
        factories.professional()
    today = date(2026, 11, 23)
    demo.seed_demo(session, today=today, rng=random.Random(3), config=app.config)
    now = datetime.combine(today, time(9))
    apps = session.scalars(sa.select(Application)).all()
    assert {a.stage for a in apps} >= {Stage.APPLIED, Stage.DOCUMENTS, Stage.CHECKS,
                                       Stage.INTERVIEW, Stage.DECISION, Stage.ON_HOLD,
                                       Stage.APPROVED, Stage.REJECTED}
    for a in apps:
        visits = session.scalars(sa.select(StageVisit).where(
            StageVisit.application_id == a.id).order_by(StageVisit.id)).all()
        entered = [v.entered_at for v in visits]
        assert entered == sorted(entered), (a.id, a.stage, entered)
        assert a.stage_entered_at == entered[-1] <= now
    # Some open ones wait past the three-working-day mark, so the queue shows what is late.
    waiting = [now - a.stage_entered_at for a in apps
               if a.stage not in (Stage.APPROVED, Stage.REJECTED)]
    assert any(w >= timedelta(days=6) for w in waiting)
    assert any(w <= timedelta(days=1) for w in waiting)
