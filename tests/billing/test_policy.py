"""The pure policy: which step is owed, aging buckets, VAT."""

from datetime import date, timedelta

import pytest

from billing import policy

DUE = date(2026, 3, 2)
STEPS = policy.DEFAULT_POLICY


@pytest.mark.parametrize("overdue,done,step,skipped", [
    (-1, set(), None, ()),
    (0, set(), 0, ()),
    (2, {0}, None, ()),
    (3, {0}, 3, ()),
    (9, set(), 7, (0, 3)),  # catch-up after downtime: the latest step only
    (9, {0}, 7, (3,)),
    (16, {0, 3, 7}, 14, ()),
    (30, {0, 3, 7, 14, 21}, 30, ()),
    (45, {0, 3, 7, 14, 21, 30}, None, ()),
    (10, {0, 14}, None, ()),  # never go back to an earlier step
])
def test_due_step(overdue, done, step, skipped):
    due = policy.due_step(STEPS, due_on=DUE, today=DUE + timedelta(days=overdue),
                          done_days=done)
    assert (due.step.day if due else None) == step
    assert (due.skipped if due else ()) == skipped


@pytest.mark.parametrize("overdue,bucket", [(-5, "current"), (0, "current"), (1, "1-30"),
                                            (30, "1-30"), (31, "31-60"), (61, "61-90"),
                                            (90, "61-90"), (91, "over_90")])
def test_aging_bucket(overdue, bucket):
    assert policy.aging_bucket(DUE, DUE + timedelta(days=overdue)) == bucket


@pytest.mark.parametrize("code,hard", [("lost_card", True), ("stolen_card", True),
                                       ("fraudulent", True), ("generic_decline", False),
                                       ("insufficient_funds", False), (None, False)])
def test_hard_declines(code, hard):
    assert policy.is_hard_decline(code) is hard


def test_vat_rounds_half_up():
    assert policy.split_vat(7550, 2100) == (1586, 9136)
    assert policy.split_vat(50, 2100) == (11, 61)
