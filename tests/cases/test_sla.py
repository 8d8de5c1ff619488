"""The pure SLA clocks: business time across weekends, holidays, pauses and clock changes."""

from datetime import UTC, date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from cases import sla
from cases.models import CaseState

MADRID = ZoneInfo("Europe/Madrid")
WEEK = {d: ((time(9), time(19)),) for d in range(5)}


def local(y, m, d, h=0, mi=0) -> datetime:
    """Return a Madrid wall-clock time as the naive UTC moment the database stores."""
    return datetime(y, m, d, h, mi, tzinfo=MADRID).astimezone(UTC).replace(tzinfo=None)


def visit(state, entered, left=None):
    return SimpleNamespace(state=state, entered_at=entered, left_at=left)


@pytest.fixture()
def calendar() -> sla.Calendar:
    return sla.Calendar(WEEK)


def test_the_holidays_package_gives_the_days_the_tests_rely_on(calendar):
    for day in (date(2026, 3, 19), date(2026, 4, 6), date(2026, 10, 9), date(2026, 10, 12),
                date(2026, 12, 8), date(2026, 12, 25), date(2027, 1, 1), date(2027, 3, 19)):
        assert calendar.is_closed(day), day
    assert not calendar.is_closed(date(2026, 3, 18))
    assert not calendar.is_closed(date(2026, 12, 7))


@pytest.mark.parametrize(("start", "minutes", "due"), [
    pytest.param(local(2026, 11, 24, 10), 60, local(2026, 11, 24, 11), id="same-day"),
    pytest.param(local(2026, 11, 24, 7), 30, local(2026, 11, 24, 9, 30), id="before-opening"),
    pytest.param(local(2026, 11, 24, 18), 60, local(2026, 11, 24, 19), id="ends-at-closing"),
    pytest.param(local(2026, 11, 24, 18), 90, local(2026, 11, 25, 9, 30), id="overnight"),
    pytest.param(local(2026, 11, 20, 18), 120, local(2026, 11, 23, 10), id="weekend"),
    pytest.param(local(2026, 11, 20, 18, 30), 60, local(2026, 11, 23, 9, 30),
                 id="created-friday-evening"),
    pytest.param(local(2026, 11, 21, 12), 60, local(2026, 11, 23, 10), id="created-saturday"),
    pytest.param(local(2026, 3, 18, 18), 120, local(2026, 3, 20, 10), id="san-jose-vc"),
    pytest.param(local(2026, 10, 8, 18), 120, local(2026, 10, 13, 10),
                 id="comunitat-valenciana-day-weekend-and-national-day"),
    pytest.param(local(2026, 4, 2, 18), 120, local(2026, 4, 7, 10),
                 id="good-friday-and-easter-monday-vc"),
    pytest.param(local(2026, 12, 7, 18), 120, local(2026, 12, 9, 10), id="inmaculada"),
    pytest.param(local(2026, 12, 24, 18), 120, local(2026, 12, 28, 10), id="christmas"),
    pytest.param(local(2026, 12, 31, 18), 120, local(2027, 1, 4, 10), id="new-year-2027"),
    pytest.param(local(2026, 3, 27, 18), 120, local(2026, 3, 30, 10), id="dst-starts-march"),
    pytest.param(local(2026, 10, 23, 18), 120, local(2026, 10, 26, 10), id="dst-ends-october"),
    pytest.param(local(2026, 11, 24, 9), 1800, local(2026, 11, 26, 19), id="three-days"),
    pytest.param(local(2026, 11, 24, 10), 0, local(2026, 11, 24, 10), id="zero"),
])
def test_add_business_minutes(calendar, start, minutes, due):
    assert sla.add_business_minutes(calendar, start, minutes) == due
    assert sla.business_minutes_between(calendar, start, due) == minutes


def test_the_clock_follows_the_local_hours_across_a_clock_change(calendar):
    # 9:00 in Madrid is 08:00 UTC before the last Sunday of March and 07:00 UTC after it.
    assert local(2026, 3, 27, 9) == datetime(2026, 3, 27, 8)
    assert local(2026, 3, 30, 9) == datetime(2026, 3, 30, 7)
    assert sla.add_business_minutes(calendar, local(2026, 3, 27, 18), 120) == \
        datetime(2026, 3, 30, 8)
    assert sla.add_business_minutes(calendar, local(2026, 10, 23, 18), 120) == \
        datetime(2026, 10, 26, 9)
    # The Sunday of the change is 23 or 25 hours long; closed either way.
    assert sla.business_minutes_between(calendar, local(2026, 10, 23, 19),
                                        local(2026, 10, 26, 9)) == 0


def test_an_extra_closed_day_stops_the_clock():
    calendar = sla.Calendar(WEEK, closed=frozenset({date(2026, 11, 23)}))
    assert sla.add_business_minutes(calendar, local(2026, 11, 20, 18), 120) == \
        local(2026, 11, 24, 10)


def test_several_spans_a_day_and_a_saturday_morning():
    week = {**{d: ((time(9), time(14)), (time(16), time(19))) for d in range(5)},
            5: ((time(10), time(13)),)}
    calendar = sla.Calendar(week)
    assert sla.add_business_minutes(calendar, local(2026, 11, 24, 13), 120) == \
        local(2026, 11, 24, 17)
    assert sla.add_business_minutes(calendar, local(2026, 11, 20, 18), 120) == \
        local(2026, 11, 21, 11)


def test_a_calendar_without_public_holidays_opens_on_them():
    calendar = sla.Calendar(WEEK, country=None)
    assert sla.add_business_minutes(calendar, local(2026, 3, 18, 18), 120) == \
        local(2026, 3, 19, 10)


@pytest.mark.parametrize(("pauses", "due"), [
    pytest.param([(local(2026, 11, 24, 18), local(2026, 11, 25, 10))], local(2026, 11, 25, 13),
                 id="pending-overnight"),
    pytest.param([(local(2026, 11, 24, 20), local(2026, 11, 25, 8))], local(2026, 11, 25, 11),
                 id="pause-while-closed-costs-nothing"),
    pytest.param([(local(2026, 11, 24, 17, 30), local(2026, 11, 24, 18)),
                  (local(2026, 11, 24, 17, 45), local(2026, 11, 25, 9, 30))],
                 local(2026, 11, 25, 13), id="overlapping-pauses"),
    pytest.param([(local(2026, 11, 24, 15), local(2026, 11, 24, 16))], local(2026, 11, 25, 11),
                 id="pause-before-start"),
])
def test_pauses_stop_the_clock(calendar, pauses, due):
    start = local(2026, 11, 24, 17)
    assert sla.add_business_minutes(calendar, start, 240, pauses) == due
    assert sla.business_minutes_between(calendar, start, due, pauses) == 240


def test_a_pause_without_end_never_reaches_the_due_time(calendar):
    with pytest.raises(ValueError):
        sla.add_business_minutes(calendar, local(2026, 11, 24, 10), 60,
                                 [(local(2026, 11, 24, 10, 30), None)])


def test_business_minutes_between_counts_backwards(calendar):
    a, b = local(2026, 11, 20, 18), local(2026, 11, 23, 10)
    assert sla.business_minutes_between(calendar, b, a) == -120


TARGETS = sla.Targets(first_response=240, next_response=480, resolution=1800)
CREATED = local(2026, 11, 24, 9)
AN_HOUR_LATER = local(2026, 11, 24, 10)


def dues(*, visits=(), first_response_at=None, awaiting_since=None, state=CaseState.OPEN,
         now=AN_HOUR_LATER) -> sla.DueTimes:
    return sla.due_times(calendar=sla.Calendar(WEEK), targets=TARGETS, created_at=CREATED,
                         visits=visits, first_response_at=first_response_at,
                         awaiting_since=awaiting_since, state=state, now=now)


def test_a_new_case_runs_first_response_and_resolution():
    d = dues(state=CaseState.NEW)
    assert d == sla.DueTimes(local(2026, 11, 24, 13), None, local(2026, 11, 26, 19))
    assert d.next_due == local(2026, 11, 24, 13)


def test_after_the_first_response_the_next_response_runs_only_while_the_requester_waits():
    answered = dues(first_response_at=local(2026, 11, 24, 10))
    assert (answered.first_response, answered.next_response) == (None, None)
    waiting = dues(first_response_at=local(2026, 11, 24, 10),
                   awaiting_since=local(2026, 11, 24, 15))
    assert waiting.next_response == local(2026, 11, 25, 13)


@pytest.mark.parametrize("state", [CaseState.SOLVED, CaseState.CLOSED, CaseState.MERGED])
def test_a_stopped_case_has_no_clock_running(state):
    assert dues(first_response_at=CREATED, state=state).resolution is None
    # A thank-you after the solution waits for nobody; a case solved unanswered owes no
    # first response.
    thanked = dues(first_response_at=CREATED, awaiting_since=local(2026, 11, 24, 15),
                   state=state)
    assert thanked.items() == [] and dues(state=state).items() == []


def test_a_pending_stay_moves_every_clock():
    visits = [visit(CaseState.NEW, CREATED, local(2026, 11, 24, 10)),
              visit(CaseState.PENDING, local(2026, 11, 24, 10), local(2026, 11, 25, 10)),
              visit(CaseState.OPEN, local(2026, 11, 25, 10))]
    d = dues(visits=visits, now=local(2026, 11, 25, 11))
    assert not d.paused
    # Ten business hours paused (Tue 10-19, Wed 9-10): both clocks move by them.
    assert d.first_response == local(2026, 11, 25, 13)
    assert d.resolution == local(2026, 11, 27, 19)


def test_a_case_on_hold_is_paused_with_the_times_it_would_have_if_resumed_now():
    visits = [visit(CaseState.NEW, CREATED, local(2026, 11, 24, 10)),
              visit(CaseState.ON_HOLD, local(2026, 11, 24, 10))]
    d = dues(visits=visits, state=CaseState.ON_HOLD, now=local(2026, 11, 24, 12))
    assert d.paused
    assert d.first_response == local(2026, 11, 24, 15)
    later = dues(visits=visits, state=CaseState.ON_HOLD, now=local(2026, 11, 25, 12))
    assert later.first_response == local(2026, 11, 25, 15)


def test_time_spent_solved_does_not_count_when_the_case_reopens():
    visits = [visit(CaseState.OPEN, CREATED, local(2026, 11, 24, 11)),
              visit(CaseState.SOLVED, local(2026, 11, 24, 11), local(2026, 11, 25, 11)),
              visit(CaseState.OPEN, local(2026, 11, 25, 11))]
    d = dues(visits=visits, first_response_at=local(2026, 11, 24, 10),
             now=local(2026, 11, 25, 12))
    assert d.resolution == local(2026, 11, 27, 19)


@pytest.mark.parametrize(("now", "colour"), [
    (local(2026, 11, 24, 11, 59), "green"),
    (local(2026, 11, 24, 12), "amber"),
    (local(2026, 11, 24, 12, 59), "amber"),
    (local(2026, 11, 24, 13), "red"),
    (local(2026, 11, 25, 13), "red"),
])
def test_progress_and_badge(calendar, now, colour):
    due = sla.add_business_minutes(calendar, CREATED, 240)
    assert sla.badge(sla.progress(CREATED, due, now, calendar)) == colour


def test_progress_counts_business_time_only(calendar):
    # Created Friday 17:00 with 4 h: 2 h used by Friday's closing, half at 10:00 Monday.
    start = local(2026, 11, 20, 17)
    due = sla.add_business_minutes(calendar, start, 240)
    assert sla.progress(start, due, local(2026, 11, 22, 12), calendar) == 0.5
    assert sla.progress(start, due, local(2026, 11, 23, 9), calendar) == 0.5
    assert sla.progress(start, due, local(2026, 11, 23, 10), calendar) == 0.75


def test_badge_shows_the_worst_clock():
    assert sla.badge() == "green"
    assert sla.badge(0.1, None, 0.8) == "amber"
    assert sla.badge(0.1, 1.2) == "red"


@pytest.mark.parametrize("start", [
    local(2026, 11, 24, 9), local(2026, 11, 20, 18, 30), local(2026, 3, 18, 17),
    local(2026, 3, 27, 16), local(2026, 10, 23, 15, 10), local(2026, 12, 31, 12),
])
@pytest.mark.parametrize("minutes", [30, 240, 1800])
def test_the_warn_horizon_is_the_due_time_of_a_clock_at_75_percent(calendar, start, minutes):
    due = sla.add_business_minutes(calendar, start, minutes)
    at_75 = sla.add_business_minutes(calendar, start, 0.75 * minutes)
    assert sla.warn_horizon(calendar, at_75, minutes) >= due
    # A minute of business time earlier the clock is under 75%: its due lies past the horizon.
    before = sla.add_business_minutes(calendar, start, 0.75 * minutes - 1)
    assert sla.warn_horizon(calendar, before, minutes) < due
