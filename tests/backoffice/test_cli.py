"""The backoffice command: db upgrade, users create, seed; jobs run from the command line and
the scheduler."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backoffice import migrate
from backoffice.boundary import Boundary
from backoffice.cli import main
from backoffice.db import make_engine, make_sessionmaker
from backoffice.models import Task
from backoffice.scheduler import run_job
from tests.factories import Factories
from vetting import service as vetting_service


def test_upgrade_users_and_seed_on_a_fresh_database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BACKOFFICE_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "latest revision" in result.output

    result = runner.invoke(main, ["users", "create", "--email", "Ana@Example.com", "--name", "Ana",
                                  "--role", "admin", "--role", "finance"],
                           input="long-enough-pass\nlong-enough-pass\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["users", "create", "--email", "bob@example.com", "--name", "Bob",
                                  "--role", "admin", "--password", "short"])
    assert result.exit_code == 2 and "password: must be at least 10 characters" in result.output

    result = runner.invoke(main, ["seed", "--clients", "30", "--professionals", "5",
                                  "--requests", "120", "--days", "4"])
    assert result.exit_code == 0, result.output
    assert "Seeded 30 clients, 5 professionals and 120 service requests" in result.output

    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT roles FROM staff_user WHERE email = 'ana@example.com'")
                           ) == "finance,admin"
        assert conn.scalar(sa.text("SELECT count(*) FROM service_request")) == 120
        assert conn.scalar(sa.text(
            "SELECT count(*) FROM service_request WHERE client_id NOT IN (SELECT id FROM client)"
        )) == 0
        # Booked over the past weeks, never later than now, and not all in the last day.
        booked = conn.execute(sa.text(
            "SELECT created_at, service_date FROM service_request")).all()
        clients = conn.scalars(sa.text("SELECT created_at FROM client ORDER BY id")).all()
    engine.dispose()
    now = datetime.now(UTC).replace(tzinfo=None)
    as_time = [at if isinstance(at, datetime) else datetime.fromisoformat(at)
               for at, _ in booked]
    assert max(as_time) <= now
    assert all(at.date() < date.fromisoformat(str(day)) or at >= now - timedelta(days=14)
               for at, (_, day) in zip(as_time, booked, strict=True))
    assert 0 < sum(at > now - timedelta(days=1) for at in as_time) < len(booked) / 4
    joined = [at if isinstance(at, datetime) else datetime.fromisoformat(at) for at in clients]
    assert joined == sorted(joined) and joined[-1] - joined[0] > timedelta(days=365)


@pytest.mark.postgres
def test_upgrade_creates_a_missing_postgresql_database(database_url, is_postgres, monkeypatch,
                                                       tmp_path):
    if not is_postgres:
        pytest.skip("creating a database is PostgreSQL's; SQLite makes its file itself")
    target = sa.make_url(database_url)
    name = f"{target.database}_made_by_cli"
    url = target.set(database=name).render_as_string(hide_password=False)
    server = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    drop = sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(drop)
    try:
        result = CliRunner().invoke(main, ["db", "upgrade", "--url", url])
        assert result.exit_code == 0, result.output
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM service_request")) == 0
        engine.dispose()
        # a second upgrade finds the database and leaves it as it is
        assert CliRunner().invoke(main, ["db", "upgrade", "--url", url]).exit_code == 0
        # Seeding copies the requests in (COPY); the clients' counts follow, per batch.
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("BACKOFFICE_INSTANCE", str(tmp_path / "instance"))
        result = CliRunner().invoke(main, ["seed", "--clients", "40", "--professionals", "5",
                                           "--requests", "300", "--days", "5"])
        assert result.exit_code == 0, result.output
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM service_request")) == 300
            assert conn.scalar(sa.text(
                "SELECT count(*) FROM client WHERE request_count <> "
                "(SELECT count(*) FROM service_request r WHERE r.client_id = client.id)")) == 0
            assert conn.scalar(sa.text("SELECT sum(request_count) FROM client")) == 300
        engine.dispose()
    finally:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(drop)
        server.dispose()


def _database(tmp_path) -> tuple[str, dict]:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    migrate.upgrade(url)
    return url, {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                 "UPLOAD_DIR": str(tmp_path / "uploads"), "BABEL_DEFAULT_LOCALE": "es"}


def test_a_job_command_starts_without_flask_and_writes_in_the_teams_language(tmp_path):
    url, config = _database(tmp_path)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        pro = Factories(session).professional(email="marta@example.com")
        doc = vetting_service.add_document(
            session, professional=pro, doc_type="insurance", data=b"%PDF-1.4\n%%EOF\n",
            filename="insurance.pdf", upload_dir=config["UPLOAD_DIR"], max_bytes=10**6,
            number="X1", issued_on=date(2024, 1, 1), expires_on=date(2026, 12, 10), user=None)
        vetting_service.review_document(session, document=doc, accept=True, user=None,
                                        now=datetime(2026, 11, 1))
        session.commit()
    env = {**os.environ, "DATABASE_URL": url, "BACKOFFICE_INSTANCE": config["INSTANCE_PATH"],
           "UPLOAD_DIR": config["UPLOAD_DIR"], "DEFAULT_LOCALE": "es"}
    # The operator's command, in a process of its own: start-up imports no Flask.
    code = ("import sys\nfrom backoffice.cli import main\nmain(standalone_mode=False)\n"
            "print('flask loaded' if 'flask' in sys.modules else 'no flask')")
    done = subprocess.run([sys.executable, "-c", code, "vetting", "check-documents",
                           "--now", "2026-11-20T06:00"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Document check at 2026-11-20 06:00: 1 expiry reminders, 0 professionals suspended.",
        "no flask"]
    with engine.connect() as conn:
        task_id, title = conn.execute(sa.text(
            "SELECT id, title FROM task WHERE kind = 'document_expiring'")).one()
        actors = conn.scalars(sa.text(
            "SELECT actor FROM audit_event WHERE entity = 'task' AND entity_id = :id"),
            {"id": str(task_id)}).all()
        queued = conn.scalar(sa.text("SELECT count(*) FROM outbox_message"))
    engine.dispose()
    assert title == f"{pro.name}: seguro de responsabilidad civil caduca el 10/12/2026"
    assert actors == ["cli:vetting-check-documents"] and queued == 1


def test_a_scheduled_job_commits_or_rolls_back_as_system(tmp_path):
    url, config = _database(tmp_path)
    boundary = Boundary(config)

    def make_task(*, session, now, config):
        session.add(Task(role="ops_agent", kind="check", title="made by a job"))
        session.flush()
        return config["BABEL_DEFAULT_LOCALE"]

    def fail_midway(*, session, now, config):
        session.add(Task(role="ops_agent", kind="check", title="never kept"))
        session.flush()
        raise RuntimeError("the job broke")

    assert run_job(boundary, make_task) == "es"
    with pytest.raises(RuntimeError):
        run_job(boundary, fail_midway)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.scalars(sa.text("SELECT title FROM task")).all() == ["made by a job"]
        assert conn.scalars(sa.text(
            "SELECT actor FROM audit_event WHERE entity = 'task'")).all() == ["system:make_task"]
    engine.dispose()
