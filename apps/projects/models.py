from django.core.validators import MinValueValidator
from django.db import models

from apps.accounts.models import Team


class Tier(models.TextChoices):
    """How expensive a model is; an environment's policy caps the tier it may use."""

    ECONOMY = "economy", "Economy"
    STANDARD = "standard", "Standard"
    PREMIUM = "premium", "Premium"


class EnvironmentKind(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    DEVELOPMENT = "development", "Development"


# What a new environment of each kind may use unless an admin decides otherwise.
DEFAULT_MAX_TIER = {
    EnvironmentKind.PRODUCTION: Tier.PREMIUM,
    EnvironmentKind.STAGING: Tier.STANDARD,
    EnvironmentKind.DEVELOPMENT: Tier.ECONOMY,
}


class Project(models.Model):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Environment(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="environments"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=EnvironmentKind)
    max_tier = models.CharField(max_length=16, choices=Tier)
    max_key_age_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Keys older than this must be rotated",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="unique_environment_name"
            )
        ]

    def __str__(self):
        return f"{self.project.name} / {self.name}"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None
