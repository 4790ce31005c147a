from django.core.validators import MinValueValidator
from django.db import models

from apps.projects.models import Tier
from apps.vault.models import Vendor

PRICE = {"max_digits": 12, "decimal_places": 6, "validators": [MinValueValidator(0)]}


class ModelTier(models.Model):
    """An admin's reclassification of a model; it wins over the price rule."""

    vendor = models.CharField(max_length=32, choices=Vendor)
    model = models.CharField(max_length=200)
    tier = models.CharField(max_length=16, choices=Tier)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "model"], name="unique_model_tier"
            )
        ]

    def __str__(self):
        return f"{self.vendor}/{self.model}: {self.tier}"


class PriceOverride(models.Model):
    """Local prices per million tokens, in USD, from ``effective_from`` on."""

    vendor = models.CharField(max_length=32, choices=Vendor)
    model = models.CharField(max_length=200)
    effective_from = models.DateField(
        null=True, blank=True, help_text="Empty: the price has always applied."
    )
    input_per_mtok = models.DecimalField(**PRICE)
    cached_input_per_mtok = models.DecimalField(**PRICE, null=True, blank=True)
    cache_write_per_mtok = models.DecimalField(**PRICE, null=True, blank=True)
    output_per_mtok = models.DecimalField(**PRICE)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vendor", "model", "effective_from"]
        indexes = [models.Index(fields=["vendor", "model"])]

    def __str__(self):
        since = self.effective_from or "always"
        return f"{self.vendor}/{self.model} from {since}"
