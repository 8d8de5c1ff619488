"""A committed database of its own with a town to plan, and `backoffice worker` processes on it.

The queue tests cannot use the per-test rolled-back transaction: the worker is another
process and sees only what is committed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from assignment import runs
from assignment.models import PlanRun, RunStatus
from backoffice import migrate
from backoffice.boundary import Boundary
from backoffice.db import make_engine, normalise_url

TODAY = date.today()
ROOT = Path(__file__).resolve().parents[2]


def own_database(tmp: Path, suffix: str) -> str:
    """Return a fresh database for these tests: <DATABASE_URL>_<suffix>, or a SQLite file."""
    base = os.environ.get("DATABASE_URL")
    if base and normalise_url(base).startswith("postgresql"):
        url = normalise_url(base)
        name = url.rsplit("/", 1)[1] + "_" + suffix
        _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        return url.rsplit("/", 1)[0] + "/" + name
    return f"sqlite:///{tmp / (suffix + '.sqlite3')}"


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(url: str, *statements: str) -> None:
    admin = make_engine(url.rsplit("/", 1)[0] + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    admin.dispose()


def town(
    tmp: Path,
    *,
    queue_url: str,
    suffix: str = "plans",
    professionals: int = 20,
    requests: int = 400,
) -> Boundary:
    """Migrate a database, seed a town with two weeks of services; return its boundary."""
    from backoffice.seed import seed

    url = own_database(tmp, suffix)
    migrate.upgrade(url)
    boundary = Boundary({"DATABASE_URL": url, "QUEUE_URL": queue_url, "INSTANCE_PATH": str(tmp)})
    with boundary.session("test-setup") as session:
        seed(
            session,
            clients=80,
            professionals=professionals,
            requests=requests,
            days=14,
            start=TODAY,
            today=TODAY,
        )
    return boundary


def close(boundary: Boundary) -> None:
    boundary.sessionmaker.kw["bind"].dispose()
    drop_database(boundary.config["DATABASE_URL"])


@contextlib.contextmanager
def worker_process(boundary: Boundary, log: Path, *, workers: int = 1):
    """Run `backoffice worker` on the boundary's database and queue; stop it at the end."""
    env = dict(
        os.environ,
        DATABASE_URL=boundary.config["DATABASE_URL"],
        QUEUE_URL=boundary.config["QUEUE_URL"],
        BACKOFFICE_INSTANCE=boundary.config["INSTANCE_PATH"],
    )
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backoffice.cli", "worker", "--workers", str(workers)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)  # huey: stop now, workers too
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ask(boundary: Boundary, *, time_limit_s: float, days: int = 14) -> tuple[int, bool]:
    """Ask for a plan as the page does; return the run's id and whether it joined another."""
    with boundary.session("agent@test") as session:
        run, joined = runs.request_run(
            session, start=TODAY, days=days, time_limit_s=time_limit_s, config=boundary.config
        )
        return run.id, joined


def load(boundary: Boundary, run_id: int) -> PlanRun:
    with boundary.session("test") as session:
        return session.get(PlanRun, run_id)


def wait_for(
    boundary: Boundary, run_id: int, until, *, timeout: float = 60.0, seen: list | None = None
) -> PlanRun:
    """Poll the run (every 0.2 s) until until(run) holds; keep each (status, progress) seen."""
    end = time.monotonic() + timeout
    while True:
        run = load(boundary, run_id)
        if seen is not None:
            seen.append((run.status, dict(run.progress or {})))
        if until(run):
            return run
        if time.monotonic() > end:
            raise AssertionError(f"run #{run_id} still {run.status} {run.progress}")
        time.sleep(0.2)


def ended(run: PlanRun) -> bool:
    return run.status not in runs.ACTIVE


def running_with_progress(run: PlanRun) -> bool:
    return run.status == RunStatus.RUNNING and (run.progress or {}).get("covered") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server(tmp: Path):
    """Start redis-server on a free loopback port, no persistence; yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing: apt-get install redis-server")
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
