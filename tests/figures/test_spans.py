"""Each period the page offers is stored whole by the refresh, in one row, and reads exactly as
the same weeks summed from raw rows: counts, percentiles and the professionals' rankings; its
weekly series (charts and weekly tables) read as the weeks' own rows."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from cases.models import Case, CaseStateVisit, CaseTag
from figures import report, rollup, service
from figures.models import FigurePeriod
from surveys.models import Survey, SurveyStatus, SurveySubject
from tests.figures.conftest import NOW, W2, at

HISTORY = W2 - timedelta(weeks=max(report.PERIODS))


def _mondays(weeks: int):
    return [W2 - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _from_raw(session, mondays, now=NOW):
    rows = rollup.compute(session, mondays=[mondays[0] - timedelta(weeks=1), *mondays], now=now)
    return report.build(report.MemorySource(rows), weeks=mondays)


@pytest.fixture()
def year(session, world, factories):
    """The small world with a year behind it: cases and answers from 1 to 40 weeks back, and
    more professionals than a ranking lists, many tied."""
    for i in range(12):
        pro = factories.professional()
        for j in range(3):
            day = W2 - timedelta(weeks=(i * 3 + j) % 40 + 1)
            session.add(Survey(subject=SurveySubject.SERVICE, dedup_key=f"year:{i}:{j}",
                               client_id=world.client.id, concerned_professional_id=pro.id,
                               status=SurveyStatus.ANSWERED, send_after=at(day, 8),
                               answered_at=at(day, 12), score=1 + (i + j) % 5))
    categories = list(world.cat.values())
    for i in range(20):
        created = at(W2 - timedelta(weeks=2 * i + 1), 9)
        solved = created + timedelta(minutes=50 + 97 * i)
        session.add(Case(subject="Year", channel="mail", state="solved",
                         client_id=world.client.id, category_id=categories[i % 3].id,
                         assignee_id=(world.a if i % 2 else world.b).id, assigned_at=created,
                         created_at=created, updated_at=created, state_entered_at=created,
                         first_response_at=created + timedelta(minutes=3 + 7 * i),
                         solved_at=solved, sla_breached="",
                         visits=[CaseStateVisit(state="open", entered_at=created,
                                                left_at=solved, actor="test")]))
    session.flush()
    return world


@pytest.mark.parametrize("weeks", report.PERIODS)
def test_each_offered_period_is_stored_and_reads_as_from_raw_rows(session, year, weeks):
    service.refresh(session, now=NOW, since=HISTORY)
    source = report.StoredSource(session)
    stored = report.build(source, weeks=_mondays(weeks))
    assert source.used_stored
    assert stored == _from_raw(session, _mondays(weeks))
    assert stored["agents"] and stored["categories"]
    assert len(stored["professionals"]["utilisation_low"]) == report.TOP_PROFESSIONALS


def test_the_periods_are_summed_again_after_a_change(session, year):
    service.refresh(session, now=NOW, since=HISTORY)
    before = report.build(report.StoredSource(session), weeks=_mondays(52))
    later = NOW + timedelta(hours=1)
    session.execute(sa.update(Case).where(Case.id == year.c4.id).values(
        state="solved", solved_at=later, first_response_at=later, updated_at=later,
        assignee_id=year.a.id, assigned_at=later))
    service.refresh(session, now=later)
    after = report.build(report.StoredSource(session), weeks=_mondays(52))
    assert after == _from_raw(session, _mondays(52), now=later)
    agent = str(year.a.id)
    assert ([a["resolution"]["n"] for a in after["agents"] if a["key"] == agent][0]
            == [a["resolution"]["n"] for a in before["agents"] if a["key"] == agent][0] + 1)


def test_a_period_not_stored_is_summed_from_the_weeks(session, year):
    service.refresh(session, now=NOW, since=HISTORY)
    assert session.scalar(sa.select(sa.func.count()).select_from(FigurePeriod))
    mondays = [m - timedelta(weeks=3) for m in _mondays(12)]  # ends three weeks ago
    source = report.StoredSource(session)
    stored = report.build(source, weeks=mondays)
    assert source.used_stored is False
    rows = rollup.compute(session, mondays=[mondays[0] - timedelta(weeks=1), *mondays], now=NOW)
    assert stored == report.build(report.MemorySource(rows), weeks=mondays)


def _week_rows(session, first, last) -> dict:
    """Return the weekly figures as the weeks' own rows (figure_week) give them."""
    session.execute(sa.delete(FigurePeriod))
    source = report.StoredSource(session)
    try:
        return source.weekly(first, last)
    finally:
        assert source.used_stored is False


@pytest.mark.parametrize("weeks", report.PERIODS)
def test_each_period_s_series_is_one_row_reading_as_the_weeks_rows(session, year, weeks):
    service.refresh(session, now=NOW, since=HISTORY)
    assert session.scalar(sa.select(sa.func.count()).select_from(FigurePeriod)) == len(
        report.PERIODS)
    first = W2 - timedelta(weeks=weeks)  # the week before the period: the movers compare
    source = report.StoredSource(session)
    series = source.weekly(first, W2)
    assert source.used_stored and source.refreshed_at == service.last_refreshed(session)
    assert series == _week_rows(session, first, W2)
    # Something to compare: the cases opened every other week of the year, by category.
    mondays = [first + timedelta(weeks=i) for i in range(weeks + 1)]
    opened = {w for (m, d, _), cells in series.items() if m == "cases" and d == "category"
              for w, cell in zip(mondays, cells, strict=True) if cell and cell.n}
    assert opened >= {W2 - timedelta(weeks=2 * i + 1) for i in range(20) if 2 * i + 1 <= weeks}


def test_the_refresh_keeps_the_series_up_to_date(session, year):
    service.refresh(session, now=NOW, since=HISTORY)
    old_week = W2 - timedelta(weeks=9)
    before = report.build(report.StoredSource(session), weeks=_mondays(12))
    # A case of nine weeks ago gets a tag, and a case is opened now: an incremental refresh
    # rewrites their weeks, and the stored series follow.
    old = session.scalars(sa.select(Case).where(Case.created_at == at(old_week, 9))).one()
    later = NOW + timedelta(hours=1)
    session.execute(sa.update(Case).where(Case.id == old.id).values(updated_at=later))
    session.add(CaseTag(case_id=old.id, name="recurring"))
    new = Case(subject="New", channel="mail", state="new", client_id=year.client.id,
               created_at=later, updated_at=later, state_entered_at=later,
               visits=[CaseStateVisit(state="new", entered_at=later, actor="test")])
    session.add(new)
    session.flush()
    result = service.refresh(session, now=later)
    assert result["weeks"] == 3  # the old case's week and the two most recent
    source = report.StoredSource(session)
    after = report.build(source, weeks=_mondays(12))
    assert source.used_stored
    assert after == _from_raw(session, _mondays(12), now=later)
    week = {w["week"]: w for w in after["weekly"]}
    assert week[W2]["cases"] == {w["week"]: w for w in before["weekly"]}[W2]["cases"] + 1
    tags = {t["key"]: dict(t["weeks"]) for t in after["issues"]["tag"]}
    assert tags["recurring"][old_week] == 1
    stored = session.scalars(sa.select(FigurePeriod.refreshed_at)).all()
    assert stored == [later] * len(report.PERIODS)


def test_a_stale_series_is_not_read_for_another_week(session, year):
    """The week after the last refresh (no series stored for it yet) reads the weeks' rows."""
    service.refresh(session, now=NOW, since=HISTORY)
    next_week = [m + timedelta(weeks=1) for m in _mondays(4)]
    source = report.StoredSource(session)
    report.build(source, weeks=next_week)
    assert source.used_stored is False and source.refreshed_at is None
