import uuid

from django.conf import settings
from django.db import models

from apps.projects.models import Environment, Project
from apps.vault import crypto


class Vendor(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    GOOGLE = "google", "Google"
    DEEPSEEK = "deepseek", "DeepSeek"
    MOONSHOT = "moonshot", "Moonshot"
    QWEN = "qwen", "Qwen"
    ZHIPU = "zhipu", "Zhipu"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible gateway"


class KeyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class Secret(models.Model):
    """One encrypted secret; its plaintext never touches the database.

    Create with ``Secret.seal(text)``, read with ``secret.reveal()``; see crypto.py.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    master_key_id = models.CharField(max_length=16, db_index=True)
    wrapped_data_key = models.BinaryField()
    ciphertext = models.BinaryField()
    fingerprint = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"secret {self.id}"

    @classmethod
    def seal(cls, plaintext: str) -> "Secret":
        secret = cls(id=uuid.uuid4(), fingerprint=crypto.fingerprint(plaintext))
        secret.master_key_id, secret.wrapped_data_key, secret.ciphertext = crypto.seal(
            secret.id, plaintext
        )
        secret.save()
        return secret

    def reveal(self) -> str:
        return crypto.unseal(
            self.id, self.master_key_id, self.wrapped_data_key, self.ciphertext
        )


class VendorKey(models.Model):
    """A vendor API key the company holds, with its scope and owner."""

    name = models.CharField(max_length=100)
    vendor = models.CharField(max_length=32, choices=Vendor, db_index=True)
    vendor_key_id = models.CharField(
        max_length=200, blank=True, db_index=True, help_text="The vendor's own key id."
    )
    # A string reference: connectors.models imports this module for Secret.
    connection = models.ForeignKey(
        "connectors.Connection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="keys",
        help_text="The vendor organization that holds the key: through it Keyhold "
        "revokes the key, or creates its replacement, at the vendor.",
    )
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="keys")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="keys"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_keys"
    )
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="Empty: any model the policy allows."
    )
    monthly_cap_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=16, choices=KeyStatus, default=KeyStatus.ACTIVE, db_index=True
    )
    # The current version's, copied here so lists never join the versions.
    hint = models.CharField(max_length=40)
    fingerprint = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["project", "status"]),
            # An engineer's inventory: their projects' keys, newest first.
            models.Index(fields=["project", "-created_at", "-id"]),
        ]

    def __str__(self):
        return f"{self.name} ({self.hint})"

    @property
    def is_active(self) -> bool:
        return self.status == KeyStatus.ACTIVE


class KeyVersion(models.Model):
    """One secret a key has had; rotation adds a version and retires the old one."""

    key = models.ForeignKey(
        VendorKey, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    secret = models.OneToOneField(Secret, on_delete=models.PROTECT, related_name="+")
    vendor_key_id = models.CharField(max_length=200, blank=True)
    hint = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Set on rotation: the old secret keeps working until then, for the overlap.
    valid_until = models.DateTimeField(null=True, blank=True, db_index=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["key", "number"], name="unique_key_version")
        ]

    def __str__(self):
        return f"{self.key.name} v{self.number}"
