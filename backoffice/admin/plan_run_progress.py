"""A plan run's progress as its page shows it and polls it: stage, coverage, travel, time left."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from flask_babel import format_decimal, get_timezone, gettext
from flask_babel import lazy_gettext as _l

from assignment import runs
from assignment.models import PlanRun, RunStatus
from backoffice.db import db, utcnow

STAGES = {
    "queued": _l("waiting for a worker"),
    "building": _l("reading services and professionals"),
    "greedy": _l("first placement"),
    "chains": _l("covering by passing services along"),
    "whole_model": _l("re-solving the whole horizon at once"),
    "leftovers": _l("covering the hardest services"),
    "travel": _l("cutting travel"),
    "finish": _l("checking and explaining the plan"),
}


def when(value: datetime | None) -> str:
    """Return a stored (UTC) time as dd/mm/yyyy hh:mm in the panel's time zone (Madrid)."""
    if value is None:
        return ""
    zone = ZoneInfo(str(get_timezone()))
    return value.replace(tzinfo=UTC).astimezone(zone).strftime("%d/%m/%Y %H:%M:%S")


def failure_text(run: PlanRun) -> str:
    """Return why a run failed, in the reader's words (never the engine's internals)."""
    error = run.error or ""
    if error == runs.WORKER_LOST:
        return gettext(
            "The worker %(worker)s stopped answering at %(when)s: it was stopped or "
            "it crashed. Nothing was published; retry to compute the plan again.",
            worker=run.worker or "?",
            when=when(run.heartbeat_at),
        )
    if error == runs.NO_WORKER:
        return gettext(
            "No worker took this plan in time: is the plan worker (backoffice "
            "worker) running? Nothing was published."
        )
    kind = error.removeprefix("engine: ").split(":", 1)[0] or "?"
    return gettext(
        "The engine stopped with an error (%(kind)s); the worker's log has the "
        "details. Nothing was published.",
        kind=kind,
    )


def _stage_label(progress: dict) -> str:
    """Return the stage under way; for a run split into parts (assignment.parts), how many of
    them are solved too: its seconds left are each part's, and parts may wait for a worker."""
    label = str(STAGES.get(progress.get("stage"), progress.get("stage") or ""))
    parts = progress.get("parts")
    if isinstance(parts, int) and parts > 1:
        solved = gettext("%(done)d of %(n)d parts solved", done=progress.get("parts_done") or 0,
                         n=parts)
        label = f"{label} · {solved}" if label else solved
    return label


def run_progress(run: PlanRun, now: datetime | None = None) -> dict:
    """Return what the run's page shows while it is queued or running, and once it ended."""
    now = now or utcnow()
    p = run.progress or {}
    status = RunStatus(run.status)
    left = None
    if status == RunStatus.RUNNING and run.started_at is not None:
        left = max(0, round(run.time_limit_s - (now - run.started_at).total_seconds()))
    stale_s = float(current_app.config.get("PLAN_RUN_STALE_S", runs.STALE_S))
    stale = (
        status == RunStatus.RUNNING
        and run.heartbeat_at is not None
        and (now - run.heartbeat_at).total_seconds() > stale_s
    )
    covered, requests, km = p.get("covered"), p.get("requests"), p.get("travel_km")
    waiting = runs.queue_position(db.session, run=run) if status == RunStatus.QUEUED else None
    return {
        "id": run.id,
        "status": status.value,
        "status_label": gettext(status.value),
        "active": status in runs.ACTIVE,
        "stage": p.get("stage"),
        "stage_label": _stage_label(p),
        "covered": covered,
        "requests": requests,
        "covered_text": f"{covered} / {requests}" if covered is not None else "",
        "travel_km": km,
        "travel_text": f"{format_decimal(km, '#,##0.0')} km" if km is not None else "",
        "seconds_left": left,
        "seconds_left_text": gettext("%(s)d s", s=left) if left is not None else "",
        "waiting_behind": waiting,
        "waiting_text": gettext("%(n)d runs ahead of it", n=waiting) if waiting else "",
        "stale": stale,
        "stale_text": gettext(
            "The worker has not answered since %(when)s.", when=when(run.heartbeat_at)
        )
        if stale
        else "",
        "stopping": run.stop_requested_at is not None,
        "error_text": failure_text(run) if status == RunStatus.FAILED else "",
        "url": url_for(".run_page", run_id=run.id),
    }
