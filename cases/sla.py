"""SLA clocks, pure: due times from a policy's targets, a business calendar and the state history.

Every moment here is a naive UTC datetime, as the database stores them; the calendar alone
knows the desk's time zone. A clock runs only while the desk is open and the case is not
paused (pending, on hold, or solved before a reopen). No database, no project imports beyond
the case states.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

from cases.models import CaseState

TARGETS = ("first_response", "next_response", "resolution")
WARN_AT = 0.75  # share of a target at which the assignee is warned
PAUSING = frozenset({CaseState.PENDING, CaseState.ON_HOLD, CaseState.SOLVED})
PAUSED_NOW = frozenset({CaseState.PENDING, CaseState.ON_HOLD})
STOPPED = frozenset({CaseState.SOLVED, CaseState.CLOSED, CaseState.MERGED})
# A calendar that never opens (or a pause without end) would walk forever: give up after this.
HORIZON_DAYS = 3 * 366

Interval = tuple[datetime, datetime]
Pause = tuple[datetime, datetime | None]  # None: still paused


@dataclass(frozen=True, eq=False)
class Calendar:
    """When the desk is open: weekly spans in local time, holidays and extra closed days."""

    weekly: dict[int, tuple[tuple[time, time], ...]]  # weekday 0 Monday -> (opens, closes)
    closed: frozenset[date] = frozenset()  # extra closed days besides the holidays
    tz: str = "Europe/Madrid"
    country: str | None = "ES"  # None: no public holidays (tests of the bare week)
    subdiv: str | None = "VC"
    # Per-day spans in UTC: a calendar is built once per process and content, so the clocks of
    # every case share them (deadlines.load_calendar).
    _days: dict[date, tuple[Interval, ...]] = field(default_factory=dict, repr=False)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @cached_property
    def public_holidays(self) -> holidays.HolidayBase | frozenset:
        # No years: the package fills in each year on first lookup, so a clock that runs
        # into next year meets next year's holidays.
        if self.country is None:
            return frozenset()
        return holidays.country_holidays(self.country, subdiv=self.subdiv)

    def is_closed(self, day: date) -> bool:
        """Tell whether the desk stays closed all of day (holiday or extra closed day)."""
        return day in self.closed or day in self.public_holidays

    def open_intervals(self, day: date) -> tuple[Interval, ...]:
        """Return the desk's opening spans of a local day as naive UTC intervals."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        spans: tuple[Interval, ...] = ()
        if not self.is_closed(day):
            zone = self.zone
            spans = tuple(
                (_utc(datetime.combine(day, opens, zone)), _utc(_close(day, closes, zone)))
                for opens, closes in sorted(self.weekly.get(day.weekday(), ()))
                if closes > opens or closes == time(0)
            )
        self._days[day] = spans
        return spans

    def local_day(self, moment: datetime) -> date:
        """Return the desk's local date of a naive UTC moment."""
        return moment.replace(tzinfo=UTC).astimezone(self.zone).date()


def to_local(calendar: Calendar, moment: datetime) -> datetime:
    """Return a naive UTC moment as an aware datetime in the desk's time zone."""
    return moment.replace(tzinfo=UTC).astimezone(calendar.zone)


def _utc(local: datetime) -> datetime:
    return local.astimezone(UTC).replace(tzinfo=None)


def _close(day: date, closes: time, zone: ZoneInfo) -> datetime:
    # 00:00 as a closing time means the end of the day.
    if closes == time(0):
        return datetime.combine(day + timedelta(days=1), time(0), zone)
    return datetime.combine(day, closes, zone)


def merge_pauses(pauses: Iterable[Pause]) -> list[Pause]:
    """Return pauses sorted and merged, so the clock walks them once."""
    out: list[list] = []
    for start, end in sorted(pauses, key=lambda p: p[0]):
        if end is not None and end <= start:
            continue
        if out and (out[-1][1] is None or start <= out[-1][1]):
            if out[-1][1] is not None and (end is None or end > out[-1][1]):
                out[-1][1] = end
            continue
        out.append([start, end])
    return [(s, e) for s, e in out]


def pauses_from(visits: Iterable, *, now: datetime | None = None) -> list[Pause]:
    """Return the stays of visits (state, entered_at, left_at) that stop the clocks.

    With now, a stay still going ends at now: the clocks as they would stand if resumed now."""
    out = []
    for v in visits:
        if CaseState(v.state) in PAUSING:
            end = v.left_at if v.left_at is not None else now
            out.append((v.entered_at, end))
    return merge_pauses(out)


def _running(calendar: Calendar, start: datetime, pauses: Sequence[Pause]) -> Iterator[Interval]:
    """Yield, in order from start, the intervals during which the clock runs."""
    i = 0
    day = calendar.local_day(start)
    for _ in range(HORIZON_DAYS):
        for s, e in calendar.open_intervals(day):
            if e <= start:
                continue
            s = max(s, start)
            # Cut [s, e) by the pauses that overlap it; pauses are merged and sorted.
            while i < len(pauses) and pauses[i][1] is not None and pauses[i][1] <= s:
                i += 1
            j = i
            while s < e:
                if j >= len(pauses) or pauses[j][0] >= e:
                    yield s, e
                    break
                p_start, p_end = pauses[j]
                if p_start > s:
                    yield s, p_start
                if p_end is None:
                    return  # paused for good: the clock never runs again
                s = max(s, p_end)
                j += 1
        day += timedelta(days=1)


def add_business_minutes(calendar: Calendar, start: datetime, minutes: float,
                         pauses: Sequence[Pause] = ()) -> datetime:
    """Return the moment the clock started at start has run minutes of business time.

    A target used up by a day's last minute falls due at that day's closing, not next opening."""
    left = timedelta(minutes=minutes)
    if left <= timedelta(0):
        return start
    for s, e in _running(calendar, start, merge_pauses(pauses)):
        if e - s >= left:
            return s + left
        left -= e - s
    raise ValueError(f"the clock started at {start} never runs {minutes} business minutes")


def business_minutes_between(calendar: Calendar, a: datetime, b: datetime,
                             pauses: Sequence[Pause] = ()) -> float:
    """Return the business minutes the clock runs from a to b (negative when b is before a)."""
    if b < a:
        return -business_minutes_between(calendar, b, a, pauses)
    total = timedelta(0)
    for s, e in _running(calendar, a, merge_pauses(pauses)):
        if s >= b:
            break
        total += min(e, b) - s
    return total / timedelta(minutes=1)


def warn_horizon(calendar: Calendar, now: datetime, target_minutes: float) -> datetime:
    """Return the latest due time whose running clock is at or past WARN_AT of target at now.

    A clock that runs on from now with no pause ahead has used WARN_AT of its target exactly
    when the business time left until its due is (1 - WARN_AT) of the target: one moment per
    target length, so a sweep compares stored due times with it instead of walking each case."""
    return add_business_minutes(calendar, now, (1 - WARN_AT) * target_minutes)


@dataclass(frozen=True)
class Targets:
    """A policy's targets in business minutes."""

    first_response: int
    next_response: int
    resolution: int

    def minutes(self, target: str) -> int:
        return getattr(self, target)


@dataclass(frozen=True)
class DueTimes:
    """When each clock falls due; None when that clock is not running (met, stopped)."""

    first_response: datetime | None
    next_response: datetime | None
    resolution: datetime | None
    paused: bool = False  # the case waits on someone: the times are those if resumed now

    def items(self) -> list[tuple[str, datetime]]:
        """Return (target, due) for the clocks that run."""
        return [(t, d) for t in TARGETS if (d := getattr(self, t)) is not None]

    @property
    def next_due(self) -> datetime | None:
        return min((d for _, d in self.items()), default=None)


def due_times(*, calendar: Calendar, targets: Targets, created_at: datetime, visits: Iterable,
              first_response_at: datetime | None, awaiting_since: datetime | None,
              state: CaseState | str, now: datetime) -> DueTimes:
    """Return a case's due times at now from its policy's targets and its state history.

    While the case is pending or on hold the clocks stand still; the times returned are those
    the clocks would give if the case were resumed now, with paused=True (a stored due time is
    None then: deadlines.apply)."""
    state = CaseState(state)
    if state in STOPPED:  # solved, closed or merged: nobody owes the requester anything now
        return DueTimes(None, None, None)
    pauses = pauses_from(visits, now=now)
    first = next_ = None
    if first_response_at is None:
        first = add_business_minutes(calendar, created_at, targets.first_response, pauses)
    elif awaiting_since is not None:
        next_ = add_business_minutes(calendar, awaiting_since, targets.next_response, pauses)
    resolution = add_business_minutes(calendar, created_at, targets.resolution, pauses)
    return DueTimes(first, next_, resolution, paused=state in PAUSED_NOW)


def progress(start: datetime, due: datetime, now: datetime, calendar: Calendar,
             pauses: Sequence[Pause] = ()) -> float:
    """Return the share of the clock from start to due used at now (1.0 at due, more after)."""
    total = business_minutes_between(calendar, start, due, pauses)
    used = business_minutes_between(calendar, start, now, pauses)
    if total <= 0:
        return 1.0 if now >= due else 0.0
    return used / total


def badge(*fractions: float | None) -> str:
    """Return the colour of the worst clock: green, amber from WARN_AT, red from 100%."""
    worst = max((f for f in fractions if f is not None), default=0.0)
    if worst >= 1:
        return "red"
    return "amber" if worst >= WARN_AT else "green"
