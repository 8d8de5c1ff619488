"""`backoffice surveys send [--now ISO]` and the scheduler's survey job."""

import os
import subprocess
import sys
from datetime import datetime

import sqlalchemy as sa
from click.testing import CliRunner

from backoffice import migrate
from backoffice.cli import main
from backoffice.db import make_engine, make_sessionmaker
from backoffice.scheduler import job_specs
from cases import service as cases
from cases import workflow
from cases.models import CaseCategory, CaseState
from surveys import jobs
from tests.factories import Factories


def test_the_scheduler_runs_the_survey_job():
    assert (jobs.send_surveys, "interval", {"minutes": 15}) in job_specs()


def test_the_command_sends_the_due_surveys_without_loading_flask(tmp_path):
    url = f"sqlite:///{tmp_path / 'surveys.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        client = Factories(session).client(email="ana@example.com")
        other = session.scalar(sa.select(CaseCategory).where(CaseCategory.code == "other"))
        case = cases.open_case(session, subject="Factura", channel="mail", requester=client,
                               category=other, offer=False, now=datetime(2026, 12, 1, 8))
        workflow.transition(session, case=case, to=CaseState.SOLVED,
                            now=datetime(2026, 12, 1, 9))  # 10:00 in Madrid
        session.commit()
    env = {**os.environ, "DATABASE_URL": url, "BACKOFFICE_INSTANCE": str(tmp_path / "instance"),
           "PUBLIC_URL": "https://servicios.example.com/"}
    code = ("import sys\nfrom backoffice.cli import main\nmain(standalone_mode=False)\n"
            "print('flask loaded' if 'flask' in sys.modules else 'no flask')")

    def send(now: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", code, "surveys", "send", "--now", now],
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert send("2026-12-02T09:59") == [
        "Surveys at 2026-12-02 09:59 CET: 0 made (0 not to be sent), 0 mailed, 0 expired.",
        "no flask"]
    assert send("2026-12-02T10:15")[0] == (
        "Surveys at 2026-12-02 10:15 CET: 1 made (0 not to be sent), 1 mailed, 0 expired.")
    with engine.connect() as conn:
        to, body = conn.execute(sa.text(
            "SELECT to_address, body FROM outbox_message WHERE entity = 'survey'")).one()
        actor = conn.scalar(sa.text(
            "SELECT actor FROM audit_event WHERE entity = 'survey' ORDER BY id LIMIT 1"))
    engine.dispose()
    assert to == "ana@example.com" and "https://servicios.example.com/survey/" in body
    assert actor == "cli:surveys-send"


def test_a_bad_moment_is_refused_naming_the_option():
    result = CliRunner().invoke(main, ["surveys", "send", "--now", "yesterday"])
    assert result.exit_code == 2 and "--now" in result.output
    assert "not an ISO date or datetime: yesterday" in result.output
