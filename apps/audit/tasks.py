import logging
import time

from celery import shared_task
from django.db import OperationalError

from apps.audit.services import verify_chain

logger = logging.getLogger(__name__)


# A database restart or a SQLite lock held past its timeout passes; a broken chain is
# the task's answer, not a failure, and is never retried.
@shared_task(
    bind=True,
    name="apps.audit.tasks.verify_audit_chain",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=30,
    retry_jitter=True,
)
def verify_audit_chain(self) -> dict:
    """Walk the audit chain and log the outcome; beat runs it daily."""
    started = time.monotonic()
    report = verify_chain()
    elapsed = time.monotonic() - started

    if report.ok:
        logger.info(
            "task %s: audit chain intact: %d events, head %s (%.1fs)",
            self.request.id,
            report.checked,
            report.head,
            elapsed,
        )
    else:
        logger.error(
            "task %s: audit chain broken at event %s: %s (%d events intact before it, "
            "last good hash %s)",
            self.request.id,
            report.broken_event_id,
            report.reason,
            report.checked,
            report.head,
        )
    return {
        "ok": report.ok,
        "checked": report.checked,
        "head": report.head,
        "broken_event_id": report.broken_event_id,
    }
