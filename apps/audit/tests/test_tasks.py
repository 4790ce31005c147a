import time

import pytest
from celery.exceptions import TimeoutError as ResultTimeout
from django.conf import settings

from apps.audit.services import SYSTEM, record
from apps.audit.tasks import verify_audit_chain
from apps.audit.tests.tampering import change_details
from console.celery import app

RESULT_TIMEOUT = 30


def run_on(worker, celery_client) -> tuple[str, dict]:
    result = celery_client.send_task(verify_audit_chain.name, queue=worker.queue)
    deadline = time.monotonic() + RESULT_TIMEOUT
    while True:
        try:
            return result.id, result.get(timeout=1)
        except ResultTimeout:
            if worker.process.poll() is not None:
                pytest.fail(f"the worker exited early:\n{worker.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no result in {RESULT_TIMEOUT}s:\n{worker.log()}")


def test_the_beat_schedule_names_the_registered_task():
    name = settings.CELERY_BEAT_SCHEDULE["verify-audit-chain"]["task"]

    assert name == verify_audit_chain.name == "apps.audit.tasks.verify_audit_chain"
    assert name in app.tasks


@pytest.mark.worker
def test_worker_verifies_the_chain_and_logs_a_break(worker, celery_client):
    events = [record(SYSTEM, "team.created", name=name) for name in "ABC"]

    intact_id, intact = run_on(worker, celery_client)
    change_details(events[1], '{"name": "Z"}')
    broken_id, broken = run_on(worker, celery_client)
    worker.stop()

    assert intact == {
        "ok": True,
        "checked": 3,
        "head": events[-1].hash,
        "broken_event_id": None,
    }
    assert broken == {
        "ok": False,
        "checked": 1,
        "head": events[0].hash,
        "broken_event_id": events[1].pk,
    }
    log = worker.log()
    assert f"task {intact_id}: audit chain intact: 3 events" in log
    assert f"ERROR/MainProcess] task {broken_id}: audit chain broken at event" in log
