"""Syncs in other processes: a real Celery worker, and a command killed midway."""

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from celery.exceptions import TimeoutError as ResultTimeout
from django.conf import settings
from django.db.models import Sum

from apps.connectors.simulator.faults import Fault
from apps.usage.models import SyncOutcome, UsageBucket
from apps.usage.services import due_connections, sync_connection
from apps.usage.tasks import sync_connection_task
from apps.usage.tests.conftest import NOW

START = datetime(2026, 11, 15, tzinfo=UTC)
END = datetime(2026, 11, 18, tzinfo=UTC)
DAYS = [START + timedelta(days=n) for n in range(3)]
RESULT_TIMEOUT = 60


def day_totals(connection) -> dict:
    """Output tokens per stored day, for the window's days."""
    totals = {}
    for day in DAYS:
        totals[day.date()] = UsageBucket.objects.filter(
            connection=connection, start__gte=day, start__lt=day + timedelta(days=1)
        ).aggregate(output=Sum("output"), rows=Sum("requests"))
    return totals


@pytest.mark.worker
def test_a_real_worker_syncs_a_connection(
    simulator, connect, worker, celery_client, child_env
):
    connection = connect(simulator, "openai")
    connection.synced_through = NOW
    connection.save()

    result = celery_client.send_task(
        sync_connection_task.name, args=[connection.pk], queue=worker.queue
    )
    deadline = time.monotonic() + RESULT_TIMEOUT
    while True:
        try:
            outcome = result.get(timeout=1)
            break
        except ResultTimeout:
            if worker.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no result from the worker:\n{worker.log()}")

    assert outcome == "ok", worker.log()
    run = connection.sync_runs.get()
    assert run.outcome == SyncOutcome.OK
    assert run.trigger == "schedule"
    assert UsageBucket.objects.filter(connection=connection).count() == run.rows > 0
    assert f"task {result.id}: connection {connection.pk}" in worker.log()


def test_a_sync_killed_mid_window_resumes_with_no_gap_and_no_duplicate(
    simulator, connect, child_env
):
    connection = connect(simulator, "openai")
    # Every vendor call takes a while, so the kill lands inside a window.
    simulator.faults.add(Fault("slow", delay=0.4))
    command = [
        sys.executable, "manage.py", "sync_usage", "--connection", connection.name,
        "--start", START.isoformat(), "--end", END.isoformat(),
    ]  # fmt: skip
    child = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
        command,
        cwd=settings.BASE_DIR,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_first_day(connection, child)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    simulator.faults.clear()
    killed = day_totals(connection)

    sync_connection(connection, start=START, end=END)

    complete = day_totals(connection)
    stored_days = [day for day, totals in killed.items() if totals["output"]]
    assert stored_days and len(stored_days) < len(DAYS)
    for day in stored_days:
        assert killed[day] == complete[day], "a day was stored incompletely"
    assert all(totals["output"] for totals in complete.values())
    assert connection.sync_runs.filter(outcome=SyncOutcome.RUNNING).count() == 1


def _wait_for_first_day(connection, child) -> None:
    deadline = time.monotonic() + 60
    while not UsageBucket.objects.filter(connection=connection).exists():
        if child.poll() is not None:
            pytest.fail(f"sync_usage ended early: {child.stderr.read().decode()}")
        if time.monotonic() > deadline:
            pytest.fail("sync_usage stored nothing within a minute")
        time.sleep(0.1)


@pytest.mark.django_db
def test_only_enabled_connections_past_their_interval_are_due(simulator, connect):
    fresh = connect(simulator, "openai", name="fresh")
    recent = connect(simulator, "anthropic", name="recent", sync_interval_minutes=60)
    disabled = connect(simulator, "deepseek", name="off", enabled=False)
    billing_only = connect(
        simulator, "google", name="gemini", admin_key="AIza" + "g" * 35
    )
    recent.sync_runs.create(
        trigger="schedule",
        window_start=START,
        window_end=END,
        started_at=NOW - timedelta(minutes=30),
    )

    due = due_connections(NOW)
    later = due_connections(NOW + timedelta(minutes=31))

    assert due == [fresh]
    assert set(later) == {fresh, recent}
    assert disabled not in later
    assert billing_only not in later
