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
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # The high-water mark: usage before this moment has been fetched at least once.
    synced_through = models.DateTimeField(null=True, blank=True)
    usd_per_unit = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        null=True,
        blank=True,
        verbose_name="USD per unit of the account currency",
        help_text="For balances kept in another currency (CNY at DeepSeek or "
        "Moonshot): without it, their derived spend is shown but not counted in USD.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name
