import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from django.utils import timezone

from apps.connectors.models import Connection
from apps.usage import repricing, services
from apps.vault.models import Vendor

logger = logging.getLogger(__name__)

# A sync stores each day as it completes, so a run cut short by the soft limit
# loses at most the day in hand, and the next run starts from the high-water mark.
SYNC_SOFT_LIMIT = 20 * 60
SYNC_HARD_LIMIT = 22 * 60


@shared_task(name="apps.usage.tasks.sync_due_connections")
def sync_due_connections() -> int:
    """Queue one sync task per enabled connection whose interval has passed."""
    due = services.due_connections(timezone.now())
    for connection in due:
        sync_connection_task.delay(connection.pk)
    return len(due)


# A lost worker (killed, out of memory) hands the message back to the queue, and the
# rerun resumes from the high-water mark; a vendor failure is final for this run
# and retried by the next scheduled one.
@shared_task(
    bind=True,
    name="apps.usage.tasks.sync_connection",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=30,
    retry_jitter=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SYNC_SOFT_LIMIT,
    time_limit=SYNC_HARD_LIMIT,
)
def sync_connection_task(self, connection_id: int, trigger: str = "schedule") -> str:
    connection = Connection.objects.filter(pk=connection_id, enabled=True).first()
    if connection is None:
        logger.info(
            "task %s: connection %s is gone or disabled", self.request.id, connection_id
        )
        return "skipped"
    try:
        run = services.sync_connection(connection, trigger=trigger)
    except services.SyncFailed as failure:
        logger.warning(
            "task %s: connection %s: %s", self.request.id, connection_id, failure
        )
        return "failed"
    except SoftTimeLimitExceeded:
        last_run = connection.sync_runs.first()
        last_run.error = "ran out of time: the next run resumes where this one stopped"
        last_run.save(update_fields=["error"])
        logger.warning(
            "task %s: connection %s ran out of time", self.request.id, connection_id
        )
        return "timed out"
    logger.info(
        "task %s: connection %s: %d rows", self.request.id, connection_id, run.rows
    )
    return "ok"


@shared_task(name="apps.usage.tasks.reprice_model")
def reprice_model(vendor: str, model: str) -> int:
    """Price a model's stored usage again after its override changed."""
    return repricing.reprice(vendor, model)


@shared_task(name="apps.usage.tasks.reprice_unpriced")
def reprice_unpriced() -> int:
    """Price usage that had no price, now that the catalog or an override may."""
    return sum(
        repricing.reprice(vendor, only_unpriced=True) for vendor in Vendor.values
    )
