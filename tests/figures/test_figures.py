"""Every figure of the page against counts made by hand on the small world of conftest."""

import pytest

from figures import report, rollup, service
from tests.figures.conftest import NOW, W1, W2


@pytest.fixture()
def data(session, world):
    service.refresh(session, now=NOW, since=W1)
    return report.build(report.StoredSource(session), weeks=[W1, W2])


def _week(data, monday):
    return next(w for w in data["weekly"] if w["week"] == monday)


def test_csat_is_the_share_of_4_and_5_among_answers(data, world):
    w1, w2 = _week(data, W1), _week(data, W2)
    assert (w1["csat_n"], round(w1["csat"], 4)) == (3, 0.6667)  # 5, 2, 4
    assert (w2["csat_n"], w2["csat"]) == (1, 0.0)  # a 3; the unanswered survey is left out
    agent = next(a for a in data["agents"] if a["key"] == str(world.a.id))
    assert (agent["csat_n"], agent["csat"]) == (2, 0.5)
    category = next(c for c in data["categories"] if c["key"] == "booking_change")
    assert (category["csat_n"], category["csat"]) == (2, 0.5)
    assert data["subjects"]["service"] == {"n": 2, "csat": 0.5}
    # p1: a 4 then a 3, below the three answers a ranking needs
    assert data["professionals"]["csat_low"] == []


def test_first_response_and_resolution_median_and_90th_percentile(data, world):
    w1, w2 = _week(data, W1), _week(data, W2)
    assert w1["first_response"] == {"n": 3, "median": 30, "p90": 90}  # 30, 90, 10 minutes
    assert w2["first_response"] == {"n": 1, "median": 45, "p90": 45}
    assert w1["resolution"] == {"n": 2, "median": 120, "p90": 1560}  # 2 h and 26 h
    assert w2["resolution"] == {"n": 1, "median": 1440, "p90": 1440}
    agent_b = next(a for a in data["agents"] if a["key"] == str(world.b.id))
    assert agent_b["first_response"] == {"n": 2, "median": 10, "p90": 45}


def test_sla_compliance_counts_solved_cases_under_a_policy(data):
    w1, w2 = _week(data, W1), _week(data, W2)
    assert (w1["sla_n"], w1["sla"]) == (2, 0.5)  # c2 breached its first response
    assert (w2["sla_n"], w2["sla"]) == (0, None)  # c5 has no policy


def test_handling_time_per_agent(data, world):
    a = next(x for x in data["agents"] if x["key"] == str(world.a.id))
    b = next(x for x in data["agents"] if x["key"] == str(world.b.id))
    # a: a 120 s case call and a 60 s timeline call (the call without a length is left out)
    assert a["calls"] == {"n": 2, "seconds": 180, "mean": 90, "median": 60}
    assert b["calls"] == {"n": 1, "seconds": 300, "mean": 300, "median": 300}
    assert a["case_work"] == {"n": 2, "median": 120, "p90": 1560}
    assert b["case_work"] == {"n": 1, "median": 1440, "p90": 1440}
    assert _week(data, W1)["calls"]["n"] == 3


def test_backlog_by_age_at_the_end_of_each_week(data):
    w1, w2 = _week(data, W1), _week(data, W2)
    # End of W1: c3 only, opened 4 days 14 hours before.
    assert w1["backlog"] == 1 and w1["backlog_ages"][3] == 1
    # Now (Wednesday of W2): c3 (7 days old) and c4 (2 days old); c5 was solved.
    assert w2["backlog"] == 2
    assert (w2["backlog_ages"][7], w2["backlog_ages"][1]) == (1, 1)


def test_fill_rate_time_to_fill_cancellations_and_no_shows(data):
    w1 = _week(data, W1)
    assert (w1["asked"], w1["covered"], w1["fill"]) == (4, 3, 0.75)
    assert (w1["booked_cents"], w1["asked_cents"]) == (7500, 11500)
    assert w1["time_to_fill"] == {"n": 3, "median": 60, "p90": 180}  # 60, 180, 30 minutes
    assert (w1["requests"], w1["cancelled"], w1["cancel"]) == (5, 1, 0.2)
    assert (w1["took_place"], w1["no_shows"], w1["no_show"]) == (2, 1, 0.5)
    skill = data["skills"][0]
    assert (skill["key"], skill["asked"], skill["fill"]) == ("cleaning", 4, 0.75)


def test_utilisation_is_booked_minutes_over_shift_minutes(data, world):
    w1 = _week(data, W1)
    # p1: 180 booked of 6 days x 480 (a day off); p2: 90 of 7 x 480.
    assert (w1["booked_minutes"], w1["shift_minutes"]) == (270, 2880 + 3360)
    # Over both weeks: p1 180 of 2880 + 3360, p2 90 of 3360 + 3360.
    low = data["professionals"]["utilisation_low"]
    assert [r["key"] for r in low] == [str(world.p2.id), str(world.p1.id)]
    assert (low[1]["part"], low[1]["whole"]) == (180, 6240)
    assert data["professionals"]["utilisation_high"][0]["key"] == str(world.p1.id)


def test_recurring_issues_by_category_and_tag_and_the_movers(data):
    w1, w2 = _week(data, W1), _week(data, W2)
    assert (w1["cases"], w2["cases"]) == (3, 2)
    categories = {c["key"]: dict(c["weeks"]) for c in data["issues"]["category"]}
    assert categories["booking_change"] == {W1: 2, W2: 1}
    assert categories["cancellation"] == {W1: 1, W2: 0}
    assert categories[rollup.NO_CATEGORY] == {W1: 0, W2: 1}
    tags = {t["key"]: dict(t["weeks"]) for t in data["issues"]["tag"]}
    assert tags == {"vip": {W1: 2, W2: 0}, "late": {W1: 1, W2: 1}}
    movers = [(m["dim"], m["key"], m["before"], m["now"]) for m in data["issues"]["movers"]]
    assert movers == [("tag", "vip", 2, 0), ("category", "booking_change", 2, 1),
                      ("category", "cancellation", 1, 0), ("category", "none", 0, 1)]


def test_the_figures_from_raw_rows_are_the_stored_ones(session, world, data):
    rows = rollup.compute(session, mondays=[W1 - (W2 - W1), W1, W2], now=NOW)
    assert report.build(report.MemorySource(rows), weeks=[W1, W2]) == data
