"""The scheduler process: APScheduler runs every domain's jobs, never inside web workers."""

import logging
from datetime import datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from backoffice import clock
from backoffice.boundary import Boundary
from backoffice.optional import optional_module

log = logging.getLogger("backoffice.scheduler")
JOB_MODULES = ("backoffice.jobs", "assignment.jobs", "vetting.jobs", "billing.jobs", "cases.jobs",
               "surveys.jobs", "notifications.jobs", "figures.jobs")


def run_job(boundary: Boundary, func, *, now: datetime | None = None):
    """Run one job in its own transaction, attributed to system:<job>."""
    name = getattr(func, "__name__", str(func))
    try:
        with boundary.session(f"system:{name}") as session:
            return func(session=session, now=now or clock.now_in(boundary.config),
                        config=boundary.config)
    except Exception:
        log.exception("job %s failed; it runs again on its next trigger", name)
        raise


def job_specs() -> list[tuple]:
    """Collect (func, trigger, trigger_args) from each domain's jobs.SCHEDULE."""
    specs = []
    for module_name in JOB_MODULES:
        if module := optional_module(module_name):
            specs.extend(getattr(module, "SCHEDULE", ()))
    return specs


def build_scheduler(boundary: Boundary) -> BlockingScheduler:
    """Return a scheduler with every job registered; each run catches up once if it was missed."""
    scheduler = BlockingScheduler(timezone=boundary.config["BABEL_DEFAULT_TIMEZONE"])
    for func, trigger, args in job_specs():
        scheduler.add_job(
            _safe_run, trigger, args=[boundary, func], id=func.__name__, name=func.__name__,
            coalesce=True, max_instances=1, misfire_grace_time=3600, **args,
        )
    return scheduler


def _safe_run(boundary: Boundary, func) -> None:
    try:
        run_job(boundary, func)
    except Exception:  # logged in run_job; the scheduler must keep running
        pass
