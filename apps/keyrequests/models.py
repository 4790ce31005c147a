from datetime import timedelta

from django.conf import settings
from django.db import models

from apps.projects.models import Environment, Project
from apps.vault.models import Vendor, VendorKey

# How long the requester has, after issue, to open the one-time view of the secret.
SECRET_VIEW_WINDOW = timedelta(hours=24)


class RequestState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ISSUED = "issued", "Issued"
    CANCELLED = "cancelled", "Cancelled"


class KeyRequest(models.Model):
    """An engineer's request for a scoped vendor key, from asking to issue."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="key_requests"
    )
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="key_requests"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="key_requests"
    )
    vendor = models.CharField(max_length=32, choices=Vendor)
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="Empty: any model the policy allows."
    )
    monthly_cap_usd = models.DecimalField(max_digits=12, decimal_places=2)
    expires_at = models.DateTimeField(null=True, blank=True)
    justification = models.TextField()
    state = models.CharField(
        max_length=16,
        choices=RequestState,
        default=RequestState.PENDING,
        db_index=True,
    )
    # Why it was rejected or cancelled.
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    key = models.OneToOneField(
        VendorKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="request",
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    viewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requester", "-created_at"])]

    def __str__(self):
        return f"request #{self.pk} for {self.environment}"

    @property
    def view_deadline(self):
        """Until when the requester may open the one-time view; None before issue."""
        return self.issued_at + SECRET_VIEW_WINDOW if self.issued_at else None
