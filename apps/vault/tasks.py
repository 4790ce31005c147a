import logging
import time
from datetime import datetime

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import SYSTEM, record
from apps.vault import services
from apps.vault.warnings import keys_needing_attention

logger = logging.getLogger(__name__)


# Both tasks claim each row with a conditional UPDATE, so a retry or an overlapping
# run does no work twice; a lock or a database restart is worth retrying.
@shared_task(
    bind=True,
    name="apps.vault.tasks.retire_overlapped_versions",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=30,
    retry_jitter=True,
)
def retire_overlapped_versions(self) -> int:
    """Retire the key versions whose rotation overlap has ended; beat runs it often."""
    started = time.monotonic()
    retired = services.retire_overlapped_versions()
    logger.info(
        "task %s: retired %d key version(s) past their overlap (%.1fs)",
        self.request.id,
        retired,
        time.monotonic() - started,
    )
    return retired


@shared_task(
    bind=True,
    name="apps.vault.tasks.expire_keys",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=30,
    retry_jitter=True,
)
def expire_keys(self) -> int:
    """Mark active keys whose expiry has passed as expired."""
    started = time.monotonic()
    expired = services.expire_keys()
    logger.info(
        "task %s: marked %d key(s) expired (%.1fs)",
        self.request.id,
        expired,
        time.monotonic() - started,
    )
    return expired


WARNING_ACTION = "key.expiry_warning"


# A database restart or a SQLite lock held past its timeout passes; a retry writes
# only the warnings the failed run had not written yet.
@shared_task(
    bind=True,
    name="apps.vault.tasks.send_key_warnings",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=30,
    retry_jitter=True,
)
def send_key_warnings(self, now: str | None = None) -> dict:
    """Record one audit event per key, reason, step and due date; beat runs it daily.

    Warnings are in-app only (the dashboard and the audit log) until notification
    channels exist. ``now`` (ISO 8601) replays a given day.
    """
    now = datetime.fromisoformat(now) if now else timezone.now()
    warnings = keys_needing_attention(now)
    already = _warnings_sent({str(w.key.pk) for w in warnings})

    sent = 0
    for warning in warnings:
        details = _details(warning)
        if _identity(str(warning.key.pk), details) in already:
            continue
        record(SYSTEM, WARNING_ACTION, warning.key, **details)
        sent += 1

    overdue = sum(warning.is_overdue for warning in warnings)
    logger.info(
        "task %s: key warnings: %d due within the horizon (%d overdue), %d new",
        self.request.id,
        len(warnings),
        overdue,
        sent,
    )
    return {"due": len(warnings), "overdue": overdue, "sent": sent}


def _details(warning) -> dict:
    return {
        "reason": warning.reason,
        "level": warning.level,
        "due_at": warning.due_at.isoformat(),
    }


def _warnings_sent(key_ids) -> set:
    """(key id, reason, level, due_at) of the warnings already recorded."""
    events = AuditEvent.objects.filter(
        action=WARNING_ACTION, target_type="vendorkey", target_id__in=key_ids
    ).values_list("target_id", "details")
    return {_identity(target_id, details) for target_id, details in events}


def _identity(key_id: str, details: dict) -> tuple:
    return (key_id, details.get("reason"), details.get("level"), details.get("due_at"))
