"""Usage as the vendors report it, its daily rollup, and the runs that fetched it."""

from django.db import models

from apps.connectors.models import Connection
from apps.projects.models import Environment
from apps.vault.models import VendorKey

TOKENS = {"default": 0}
MONEY = {"max_digits": 20, "decimal_places": 10}


class UsageBucket(models.Model):
    """One vendor-reported bucket for one key, model and pricing class.

    The natural key is unique, so a re-pull of a window replaces its rows and never
    doubles them. ``cost_usd`` is None while nothing prices the model: unpriced,
    never free.
    """

    # The natural key's index starts with the connection: a second one would only
    # slow every insert.
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="buckets", db_index=False
    )
    start = models.DateTimeField()
    width = models.PositiveIntegerField(help_text="Seconds.")
    vendor_key_id = models.CharField(max_length=200, blank=True)
    vendor_project_id = models.CharField(max_length=200, blank=True)
    vendor_model = models.CharField(max_length=200, help_text="As the vendor spelt it.")
    model = models.CharField(max_length=200, help_text="Normalized catalog name.")
    service_tier = models.CharField(max_length=32, blank=True)
    batch = models.BooleanField(default=False)
    context_band = models.CharField(max_length=16, blank=True)
    uncached_input = models.BigIntegerField(**TOKENS)
    cache_read = models.BigIntegerField(**TOKENS)
    cache_write_5m = models.BigIntegerField(**TOKENS)
    cache_write_1h = models.BigIntegerField(**TOKENS)
    output = models.BigIntegerField(**TOKENS)
    requests = models.BigIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "connection",
                    "start",
                    "vendor_key_id",
                    "vendor_project_id",
                    "vendor_model",
                    "service_tier",
                    "batch",
                    "context_band",
                ],
                name="usage_bucket_natural_key",
            )
        ]

    def __str__(self):
        return f"{self.connection_id} {self.start:%Y-%m-%d %H:%M} {self.model}"


class SpendFigures(models.Model):
    """The sums every spend rollup keeps, whatever it is grouped by."""

    uncached_input = models.BigIntegerField(**TOKENS)
    cache_read = models.BigIntegerField(**TOKENS)
    cache_write = models.BigIntegerField(**TOKENS)
    output = models.BigIntegerField(**TOKENS)
    requests = models.BigIntegerField(**TOKENS)
    # None only for derived spend in a currency with no USD rate set.
    cost_usd = models.DecimalField(**MONEY, null=True, blank=True, default=0)
    unpriced_tokens = models.BigIntegerField(**TOKENS)

    FIGURES = (
        "uncached_input",
        "cache_read",
        "cache_write",
        "output",
        "requests",
        "cost_usd",
        "unpriced_tokens",
    )

    class Meta:
        abstract = True


class DailySpend(SpendFigures):
    """Usage per connection, vendor key, model and UTC day: what dashboards read.

    Rows with ``derived`` set come from balance changes or a billing export rather
    than per-key usage: they have no tokens, and ``amount``/``currency`` keep the
    figure as the vendor stated it.
    """

    day = models.DateField()
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="daily_spend"
    )
    vendor = models.CharField(max_length=32)
    vendor_key_id = models.CharField(max_length=200, blank=True)
    vendor_project_id = models.CharField(max_length=200, blank=True)
    key = models.ForeignKey(
        VendorKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="daily_spend",
    )
    model = models.CharField(max_length=200, blank=True)
    derived = models.BooleanField(default=False)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "connection",
                    "vendor_key_id",
                    "vendor_project_id",
                    "model",
                    "derived",
                ],
                name="daily_spend_natural_key",
            )
        ]
        indexes = [
            models.Index(fields=["day", "key"]),
            models.Index(fields=["vendor_key_id", "day"]),
        ]

    def __str__(self):
        return f"{self.day} {self.vendor} {self.model or 'derived'}"


class MonthlySpend(SpendFigures):
    """``DailySpend`` summed per calendar month: what views by key read for whole
    months, so a month of a large organization is one row per key and model
    rather than thirty. Rebuilt from ``DailySpend`` by ``rollups.refresh_summaries``
    in the transaction that changed the month's daily rows.
    """

    month = models.DateField(help_text="The month's first day.")
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="monthly_spend"
    )
    vendor = models.CharField(max_length=32)
    vendor_key_id = models.CharField(max_length=200, blank=True)
    vendor_project_id = models.CharField(max_length=200, blank=True)
    key = models.ForeignKey(
        VendorKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="monthly_spend",
    )
    model = models.CharField(max_length=200, blank=True)
    derived = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["month", "key"]),
            models.Index(fields=["connection", "month"]),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.vendor} {self.model or 'derived'}"


class ScopeSpend(SpendFigures):
    """Usage per UTC day, connection, environment and model, without the keys.

    The spend pages read this coarser rollup whenever a view neither groups nor
    filters by key: an organization has many keys per environment and model, so a
    day here is a fraction of its ``DailySpend`` rows. It is always rebuilt from
    ``DailySpend`` (see ``rollups.refresh_summaries``), in the transaction that
    changed those rows. The environment is the key's; usage on no vault key has
    none.
    """

    day = models.DateField()
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="scope_spend"
    )
    vendor = models.CharField(max_length=32)
    environment = models.ForeignKey(
        Environment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scope_spend",
    )
    model = models.CharField(max_length=200, blank=True)
    derived = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["day", "environment"])]

    def __str__(self):
        return f"{self.day} {self.vendor} {self.model or 'derived'}"


class ReportedCost(models.Model):
    """One line of a vendor's own cost report, kept beside the computed cost."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="reported_costs"
    )
    day = models.DateField()
    vendor_project_id = models.CharField(max_length=200, blank=True)
    vendor_key_id = models.CharField(max_length=200, blank=True)
    line_item = models.CharField(max_length=300, blank=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "connection",
                    "day",
                    "vendor_project_id",
                    "vendor_key_id",
                    "line_item",
                    "currency",
                ],
                name="reported_cost_natural_key",
            )
        ]

    def __str__(self):
        return f"{self.day} {self.amount} {self.currency}"


class BalanceSnapshot(models.Model):
    """A prepaid balance (or a gateway's running spend) as polled at one moment."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="balances"
    )
    at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    available = models.DecimalField(**MONEY)
    spent_to_date = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["connection", "at"]
        indexes = [models.Index(fields=["connection", "at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.available} {self.currency}"


class InventoryKey(models.Model):
    """A key the vendor lists for a connection; never its secret."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="inventory"
    )
    vendor_key_id = models.CharField(max_length=200)
    vendor_project_id = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=300, blank=True)
    redacted = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=32)
    created_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="When the vendor stopped listing it."
    )

    class Meta:
        ordering = ["connection", "vendor_key_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "vendor_key_id"], name="unique_inventory_key"
            )
        ]

    def __str__(self):
        return self.vendor_key_id


class SyncOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One sync of one connection: the window asked for and what came of it."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="sync_runs"
    )
    trigger = models.CharField(max_length=16)  # schedule, manual, command
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=16, choices=SyncOutcome, default=SyncOutcome.RUNNING
    )
    pages = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["connection", "-started_at"])]

    def __str__(self):
        return f"{self.connection_id} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None
