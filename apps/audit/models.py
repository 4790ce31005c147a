import hashlib
import ipaddress
import json

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")

    def bulk_create(
        self,
        objs,
        batch_size=None,
        ignore_conflicts=False,
        update_conflicts=False,
        **kw,
    ):
        if update_conflicts:
            raise AppendOnlyError("audit events cannot be updated")
        return super().bulk_create(objs, batch_size, ignore_conflicts, **kw)


class AuditEvent(models.Model):
    """One recorded action; each event's hash covers its fields and its predecessor.

    PostgreSQL also refuses UPDATE and DELETE on this table with a trigger (see the
    migrations), so the chain cannot be edited through the application at all.
    """

    at = models.DateTimeField(db_index=True)
    # No database constraint: events outlive users and must never be touched when a
    # user row changes.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True, db_index=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action}"
        )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        # An id given by the caller must not turn the INSERT into an UPDATE.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")

    def compute_hash(self) -> str:
        payload = {
            "prev": self.prev_hash,
            "at": self.at.isoformat(),
            "actor": self.actor_id,
            "actor_name": self.actor_name,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "target_repr": self.target_repr,
            "ip": _canonical_ip(self.ip),
            "details": self.details,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical_ip(ip: str | None) -> str | None:
    # Hash the address, not its spelling: PostgreSQL writes ::ffff:192.0.2.1 where
    # Python writes ::ffff:c000:201, so the stored text may differ from the recorded.
    try:
        return ipaddress.ip_address(ip).compressed if ip else None
    except ValueError:
        return ip
