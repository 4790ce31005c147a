"""Spend seen from one team, project or key, and two views across them all: what
prompt caching saves, and how Keyhold's computed cost compares with the vendors' bills.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Case, Exists, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.catalog.pricing import MTOK, PriceBook
from apps.spend.charts import chart, daily_chart
from apps.spend.query import month_start, today
from apps.spend.report import (
    SUMS,
    SpendFilters,
    SpendRow,
    daily_costs,
    spend_report,
    visible_spend,
)
from apps.usage.attribution import key_ids_by_vendor_key_id
from apps.usage.models import DailySpend, ReportedCost, UsageBucket
from apps.usage.reconciliation import ReconciliationDay, reconcile
from apps.vault.models import VendorKey

TREND_DAYS = 30
HOURLY_HOURS = 48
DEFAULT_TARGET = Decimal(50)
TARGET_RANGE = (Decimal(1), Decimal(95))
UNPRICED = "unpriced"
NO_DISCOUNT = "no cache discount"


# A team or a project: its months, its trend and its breakdowns.


@dataclass
class ScopeSpend:
    first: date
    tomorrow: date
    previous_first: date
    month: Decimal
    last_month: Decimal
    same_point_last_month: Decimal
    chart: dict
    reports: dict


def scope_spend(user, filters: SpendFilters, groups) -> ScopeSpend:
    """This month, last month and the last 30 days of what ``filters`` select.

    The breakdowns (one report per group-by in ``groups``) cover this month to date.
    """
    now = today()
    first, tomorrow = month_start(now), now + timedelta(days=1)
    previous_first = month_start(first - timedelta(days=1))
    trend_start = tomorrow - timedelta(days=TREND_DAYS)
    daily = daily_costs(user, min(previous_first, trend_start), tomorrow, filters)

    # The same point last month: as many days into it as today is into this one.
    same_point = min(previous_first + (tomorrow - first), first)
    return ScopeSpend(
        first=first,
        tomorrow=tomorrow,
        previous_first=previous_first,
        month=_sum_days(daily, first, tomorrow),
        last_month=_sum_days(daily, previous_first, first),
        same_point_last_month=_sum_days(daily, previous_first, same_point),
        chart=daily_chart(daily, trend_start, tomorrow),
        reports={
            group: spend_report(user, first, tomorrow, group, filters)
            for group in groups
        },
    )


def with_idle(rows: list[SpendRow], objects, group_by: str) -> list[SpendRow]:
    """The report's rows, then a zero row for each of ``objects`` that spent nothing."""
    spent = {row.group_id for row in rows}
    idle = [
        SpendRow(group=str(item), group_id=item.pk, slug=f"{group_by}:{item.pk}")
        for item in objects
        if item.pk not in spent
    ]
    return rows + idle


def _sum_days(daily: dict, start: date, end: date) -> Decimal:
    return sum((cost for day, cost in daily.items() if start <= day < end), Decimal(0))


# One key: per day and model from the rollup, per hour from the buckets.


@dataclass
class KeyUsage:
    start: date
    tomorrow: date
    vendor_key_ids: list[str]
    daily: list[dict]
    hourly: list[dict]
    hourly_chart: dict
    since: datetime


def key_usage(key: VendorKey, user) -> KeyUsage:
    """A key's last 30 days per day and model, and its last 48 hours per hour.

    The hourly figures come from the vendor's buckets under every vendor key id the
    key has had, so usage reported on a rotated-out id still counts.
    """
    tomorrow = today() + timedelta(days=1)
    start = tomorrow - timedelta(days=TREND_DAYS)
    daily = (
        visible_spend(user)
        .filter(key=key, derived=False, day__gte=start, day__lt=tomorrow)
        .values("day", "model")
        .annotate(**SUMS)
        .order_by()
    )
    daily = sorted(
        daily, key=lambda r: (-r["day"].toordinal(), -r["cost_usd"], r["model"])
    )

    mapping = key_ids_by_vendor_key_id(key.vendor)
    vendor_key_ids = sorted(vid for vid, pk in mapping.items() if pk == key.pk)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    since = hour - timedelta(hours=HOURLY_HOURS - 1)
    hourly = list(_hourly(key.vendor, vendor_key_ids, since))
    return KeyUsage(
        start=start,
        tomorrow=tomorrow,
        vendor_key_ids=vendor_key_ids,
        daily=daily,
        hourly=hourly,
        hourly_chart=_hourly_chart(hourly, since),
        since=since,
    )


def _hourly(vendor: str, vendor_key_ids: list[str], since: datetime):
    if not vendor_key_ids:
        return UsageBucket.objects.none()
    priced = Q(cost_usd__isnull=False)
    every_token = (
        F("uncached_input")
        + F("cache_read")
        + F("cache_write_5m")
        + F("cache_write_1h")
        + F("output")
    )
    return (
        UsageBucket.objects.filter(
            connection__vendor=vendor,
            vendor_key_id__in=vendor_key_ids,
            start__gte=since,
        )
        .values("start", "model")
        .annotate(
            input_tokens=Sum("uncached_input"),
            cached_input_tokens=Sum("cache_read"),
            cache_write_tokens=Sum(F("cache_write_5m") + F("cache_write_1h")),
            output_tokens=Sum("output"),
            requests=Coalesce(Sum("requests"), Value(0)),
            cost=Coalesce(Sum("cost_usd"), Value(Decimal(0))),
            unpriced=Coalesce(Sum(every_token, filter=~priced), Value(0)),
        )
        .order_by("-start", "model")
    )


def _hourly_chart(hourly: list[dict], since: datetime) -> dict:
    """Tokens per hour, stacked by model, with every hour of the window shown."""
    hours = [since + timedelta(hours=n) for n in range(HOURLY_HOURS)]
    position = {hour: index for index, hour in enumerate(hours)}
    series = defaultdict(lambda: [0] * len(hours))
    for row in reversed(hourly):
        total = (
            row["input_tokens"]
            + row["cached_input_tokens"]
            + row["cache_write_tokens"]
            + row["output_tokens"]
        )
        # A bucket not starting on the hour counts in the hour it starts in.
        hour = row["start"].replace(minute=0, second=0, microsecond=0)
        if hour in position:
            series[row["model"]][position[hour]] += total
    labels = [f"{hour:%m-%d %H:00}" for hour in hours]
    return chart(labels, dict(series), stacked=True, unit="tokens")


# Caching: what cache reads saved per key and model, and what a target would add.


def parse_target(value: str | None) -> Decimal:
    """The target cache-read share in percent; raises ValueError saying what to type."""
    if value is None or not value.strip():
        return DEFAULT_TARGET
    low, high = TARGET_RANGE
    try:
        target = Decimal(value.strip())
    except InvalidOperation:
        target = None
    if target is None or not target.is_finite() or not low <= target <= high:
        raise ValueError(
            f"target must be a percentage from {low} to {high}, such as 50; "
            f"not {value!r}."
        )
    return target


@dataclass
class CachingRow:
    vendor: str
    key_id: int | None
    key: str
    model: str
    uncached_input: int
    cache_read: int
    cache_write: int
    input_price: Decimal | None = None
    cached_price: Decimal | None = None
    status: str = ""
    saved: Decimal = Decimal(0)
    potential: Decimal = Decimal(0)

    @property
    def total_input(self) -> int:
        return self.uncached_input + self.cache_read + self.cache_write

    @property
    def share(self) -> Decimal | None:
        """Cache reads' part of all input, in percent."""
        if not self.total_input:
            return None
        return Decimal(self.cache_read) * 100 / self.total_input

    @property
    def prices_per_mtok(self) -> str:
        """Input and cached input prices per million tokens, such as "$2.5 / $1.25"."""
        if self.input_price is None:
            return ""
        return f"${self.input_price.normalize():f} / ${self.cached_price.normalize():f}"


@dataclass
class CachingReport:
    start: date
    end: date
    target: Decimal
    priced_at: datetime
    rows: list[CachingRow] = field(default_factory=list)

    @property
    def saved(self) -> Decimal:
        return sum((row.saved for row in self.rows), Decimal(0))

    @property
    def potential(self) -> Decimal:
        return sum((row.potential for row in self.rows), Decimal(0))


def caching_report(
    user, start: date, end: date, target: Decimal, filters: SpendFilters | None = None
) -> CachingReport:
    """Cache savings per key and model in [start, end), at today's prices.

    1. Sum each key and model's input tokens: uncached, cache reads, cache writes.
    2. Saved: cache reads x (input price - cached input price).
    3. Potential: the cache reads missing to reach ``target`` percent of all input,
       at the same discount. Models without a price or a discount add nothing.
    """
    spend = (filters or SpendFilters()).apply(visible_spend(user))
    groups = (
        spend.filter(derived=False, day__gte=start, day__lt=end)
        # A vault key groups all its vendor ids; an unknown key groups by its id.
        .annotate(
            g_vendor_key=Case(
                When(key__isnull=True, then=F("vendor_key_id")), default=Value("")
            )
        )
        .values("vendor", "key_id", "g_vendor_key", "model")
        .annotate(
            uncached_input=Sum("uncached_input"),
            cache_read=Sum("cache_read"),
            cache_write=Sum("cache_write"),
        )
        .filter(Q(uncached_input__gt=0) | Q(cache_read__gt=0) | Q(cache_write__gt=0))
        .order_by()
    )
    groups = list(groups)
    names = dict(
        VendorKey.objects.filter(
            pk__in={g["key_id"] for g in groups if g["key_id"]}
        ).values_list("pk", "name")
    )
    priced_at = timezone.now()
    books = {}
    report = CachingReport(start, end, target, priced_at)
    for item in groups:
        vendor = item["vendor"]
        if vendor not in books:
            books[vendor] = PriceBook(vendor)
        row = CachingRow(
            vendor=vendor,
            key_id=item["key_id"],
            key=names.get(item["key_id"]) or item["g_vendor_key"] or "unattributed",
            model=item["model"],
            uncached_input=item["uncached_input"],
            cache_read=item["cache_read"],
            cache_write=item["cache_write"],
        )
        _price(row, books[vendor], priced_at, target / 100)
        report.rows.append(row)
    report.rows.sort(key=lambda r: (-r.potential, -r.saved, r.key, r.model))
    return report


def _price(row: CachingRow, book: PriceBook, at: datetime, target: Decimal) -> None:
    prices = book.unit_prices(row.model, at)
    if prices is None:
        row.status = UNPRICED
        return
    row.input_price, row.cached_price = prices.uncached_input, prices.cache_read
    discount = prices.uncached_input - prices.cache_read
    if discount <= 0:
        row.status = NO_DISCOUNT
        return
    row.saved = row.cache_read * discount / MTOK
    missing = max(Decimal(0), target * row.total_input - row.cache_read)
    row.potential = missing * discount / MTOK


# Reconciliation: the computed cost beside each vendor's bill.


@dataclass
class ConnectionReconciliation:
    connection: object
    days: list[ReconciliationDay]

    @property
    def computed_usd(self) -> Decimal:
        return sum((day.computed_usd for day in self.days), Decimal(0))

    @property
    def unpriced_tokens(self) -> int:
        return sum(day.unpriced_tokens for day in self.days)

    @property
    def reported_usd(self) -> Decimal | None:
        reported = [d.reported_usd for d in self.days if d.reported_usd is not None]
        return sum(reported, Decimal(0)) if reported else None

    @property
    def drift_usd(self) -> Decimal | None:
        """Computed minus reported, over the days the vendor reported only."""
        if self.reported_usd is None:
            return None
        compared = (day for day in self.days if day.reported_usd is not None)
        return sum((day.computed_usd for day in compared), Decimal(0)) - (
            self.reported_usd
        )

    @property
    def drift_percent(self) -> Decimal | None:
        if self.drift_usd is None or not self.reported_usd:
            return None
        return self.drift_usd * 100 / self.reported_usd


def reconciliation(
    connections, start: date, end: date
) -> list[ConnectionReconciliation]:
    """Each of ``connections`` with usage or a bill in [start, end), day by day."""
    period = {"day__gte": start, "day__lt": end}
    usage = DailySpend.objects.filter(
        connection=OuterRef("pk"), derived=False, **period
    )
    billed = ReportedCost.objects.filter(connection=OuterRef("pk"), **period)
    active = connections.filter(Q(Exists(usage)) | Q(Exists(billed)))
    return [
        ConnectionReconciliation(connection, reconcile(connection, start, end))
        for connection in active.order_by("name", "pk")
    ]
