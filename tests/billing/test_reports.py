"""Aging, recovery by step and reason, write-offs; the CLI in JSON and CSV."""

import contextlib
import csv
import io
import json
from datetime import date, timedelta

from click.testing import CliRunner

from billing import dunning, reports, service
from billing.commands import billing_group
from tests.billing.conftest import FAILS, LOST, PAYS, at


class _Runtime:
    def __init__(self, session, config):
        self._session, self.config = session, config

    @contextlib.contextmanager
    def session(self, actor):
        yield self._session


def _scenario(session, billing, gateway):
    due = date(2026, 8, 3)
    a = billing.invoice(due_on=due, card=FAILS, prices=(10000,))  # recovered on day 3
    b = billing.invoice(due_on=due, card=LOST, prices=(5000,))  # never recovered
    c = billing.invoice(due_on=due + timedelta(days=40), card=PAYS)  # not due yet
    dunning.run_pass(session=session, now=at(due), gateway=gateway)
    billing.save_card(a.client, PAYS)
    dunning.run_pass(session=session, now=at(due + timedelta(days=3)), gateway=gateway)
    return due, a, b, c


def test_report_figures(session, billing, gateway):
    due, a, b, c = _scenario(session, billing, gateway)
    rep = reports.full_report(session, as_of=due + timedelta(days=45))
    aging = {x["bucket"]: x for x in rep["aging"]}
    assert aging["31-60"]["amount_cents"] >= b.due_cents
    assert aging["1-30"]["amount_cents"] >= c.due_cents
    rec = rep["recovery"]
    assert rec["entered_cents"] >= a.total_cents + b.total_cents
    step3 = next(s for s in rec["by_step"] if s["step"] == "day 3")
    assert step3["recovered_cents"] >= a.total_cents
    lost = next(r for r in rec["by_reason"] if r["reason"] == "lost_card")
    assert lost["entered_cents"] >= b.total_cents
    assert any(s["step"] == "day 3" for s in rep["by_dunning_step"])


def test_cli_report_json_and_csv(session, billing, gateway, app):
    due, *_ = _scenario(session, billing, gateway)
    runner = CliRunner()
    obj = _Runtime(session, app.config)
    out = runner.invoke(billing_group, ["report", "--as-of", "2026-09-20"], obj=obj)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["as_of"] == "2026-09-20"
    out = runner.invoke(billing_group, ["report", "--as-of", "2026-09-20", "--format", "csv"],
                        obj=obj)
    rows = list(csv.reader(io.StringIO(out.output)))
    assert rows[0][:2] == ["section", "key"] and ["aging", "31-60"] in [r[:2] for r in rows]


def test_cli_dunning_run_with_now(session, billing, gateway, app):
    inv = billing.invoice(due_on=date(2026, 8, 3), card=FAILS)
    out = CliRunner().invoke(billing_group, ["dunning-run", "--now", "2026-08-03T09:00"],
                             obj=_Runtime(session, app.config))
    assert out.exit_code == 0, out.output
    assert "1 charges (0 paid, 1 declined" in out.output
    assert [e.kind for e in service.timeline(session, inv)][:2] == ["attempt", "status"]
