"""The refresh: run twice it writes the same rows; later it rewrites only the weeks that
changed, besides the two most recent."""

from datetime import timedelta

import sqlalchemy as sa
from click.testing import CliRunner

from figures import service
from figures.models import FigureWeek
from tests.figures.conftest import NOW, W1, W2, at


def _rows(session) -> dict:
    return {(r.week, r.metric, r.dim, r.key): (r.n, r.hits, r.total, r.total2, r.hist)
            for r in session.scalars(sa.select(FigureWeek))}


def _refreshed(session) -> dict:
    return dict(session.execute(sa.select(FigureWeek.week, sa.func.max(FigureWeek.refreshed_at))
                                .group_by(FigureWeek.week)).all())


def test_a_refresh_run_twice_writes_the_same_rows(session, world):
    service.refresh(session, now=NOW, since=W1)
    first = _rows(session)
    assert first
    service.refresh(session, now=NOW, since=W1)
    assert _rows(session) == first
    service.refresh(session, now=NOW)  # no since: only what changed and the recent weeks
    assert _rows(session) == first


def test_the_first_refresh_rebuilds_the_history(session, world):
    result = service.refresh(session, now=NOW)
    assert result["first"] <= W1.isoformat()
    assert (W1, "cases", "all", "") in _rows(session)


def test_a_later_refresh_rewrites_only_the_weeks_changed(session, world):
    old = W1 - timedelta(weeks=6)
    service.refresh(session, now=NOW, since=old)
    before = _refreshed(session)
    # A case of six weeks ago is solved now: its week of creation and today's week change.
    later = NOW + timedelta(hours=1)
    old_case = world.c3
    session.execute(sa.update(old_case.__class__).where(old_case.__class__.id == old_case.id)
                    .values(created_at=at(old, 9), updated_at=later))
    result = service.refresh(session, now=later)
    after = _refreshed(session)
    assert result["weeks"] == 3  # the week of creation, W1 (first reply) and W2
    assert after[old] > before.get(old, NOW)
    assert after[W2] == later and after[W1] == later
    untouched = [w for w in before if w not in (old, W1, W2)]
    assert untouched and all(after.get(w) == before[w] for w in untouched)
    assert _rows(session)[(old, "cases", "category", "cancellation")][0] == 1


def test_the_cli_refreshes_from_a_date(tmp_path, monkeypatch):
    from backoffice import migrate
    from backoffice.cli import main

    url = f"sqlite:///{tmp_path / 'figures.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BACKOFFICE_INSTANCE", str(tmp_path / "instance"))
    migrate.upgrade(url)
    runner = CliRunner()
    result = runner.invoke(main, ["figures", "refresh", "--since", "2026-11-16",
                                  "--now", "2026-11-25T11:00"])
    assert result.exit_code == 0, result.output
    assert "Figures refreshed: 2 weeks (2026-11-16 to 2026-11-23)" in result.output
    bad = runner.invoke(main, ["figures", "refresh", "--since", "yesterday"])
    assert bad.exit_code != 0 and "--since" in bad.output


def test_the_scheduler_runs_the_refresh():
    from backoffice.scheduler import job_specs
    from figures.jobs import refresh_figures

    assert any(func is refresh_figures for func, _, _ in job_specs())
