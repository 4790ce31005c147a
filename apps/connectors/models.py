from django.db import models

from apps.vault.models import Secret, Vendor


class ConnectionStatus(models.TextChoices):
    NEVER_CHECKED = "never_checked", "Never checked"
    OK = "ok", "OK"
    ERROR = "error", "Error"


class Connection(models.Model):
    """A vendor organization Keyhold reads through its admin API."""

    name = models.CharField(max_length=100, unique=True)
    vendor = models.CharField(max_length=32, choices=Vendor)
    base_url = models.URLField(
        max_length=300,
        help_text="The vendor's API, or a proxy or simulator standing in for it.",
    )
    admin_key = models.OneToOneField(Secret, on_delete=models.PROTECT, related_name="+")
    admin_key_hint = models.CharField(max_length=40)
    enabled = models.BooleanField(default=True)
    sync_interval_minutes = models.PositiveIntegerField(default=60)
    status = models.CharField(
        max_length=16,
        choices=ConnectionStatus,
        default=ConnectionStatus.NEVER_CHECKED,
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # Null until usage ingestion exists and has run.
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name
