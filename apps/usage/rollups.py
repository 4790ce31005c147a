"""The daily rollup of usage buckets that the spend pages and detectors read."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import islice

from django.db import connection as db
from django.db.models import Case, F, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate

from apps.connectors.models import Connection
from apps.usage.attribution import key_ids_by_vendor_key_id
from apps.usage.models import DailySpend, UsageBucket

BATCH = 5000
ALL_TOKENS = (
    F("uncached_input")
    + F("cache_read")
    + F("cache_write_5m")
    + F("cache_write_1h")
    + F("output")
)


def refresh(connection: Connection, days: list[date]) -> int:
    """Rebuild the per-key, per-model rows of ``days`` from the stored buckets.

    Call inside the transaction that changed the buckets, so the rollup and the
    buckets never disagree. Derived rows (balances, billing exports) are not
    touched. Returns the number of rollup rows written.
    """
    if not days:
        return 0
    first = datetime.combine(min(days), time.min, tzinfo=UTC)
    last = datetime.combine(max(days) + timedelta(days=1), time.min, tzinfo=UTC)
    DailySpend.objects.filter(
        connection=connection, day__in=days, derived=False
    ).delete()

    key_ids = key_ids_by_vendor_key_id(connection.vendor)
    if db.vendor == "postgresql":
        return _refresh_in_the_database(connection, days, first, last, key_ids)
    groups = (
        UsageBucket.objects.filter(
            connection=connection, start__gte=first, start__lt=last
        )
        .annotate(day=TruncDate("start", tzinfo=UTC))
        .filter(day__in=days)
        .values("day", "vendor_key_id", "vendor_project_id", "model")
        .annotate(
            sum_uncached=Sum("uncached_input"),
            sum_cache_read=Sum("cache_read"),
            sum_cache_write=Sum(F("cache_write_5m") + F("cache_write_1h")),
            sum_output=Sum("output"),
            sum_requests=Coalesce(Sum("requests"), Value(0)),
            sum_cost=Sum("cost_usd"),
            sum_unpriced=Sum(
                Case(When(cost_usd=None, then=ALL_TOKENS), default=Value(0))
            ),
        )
        .order_by()
    )
    rows = (
        DailySpend(
            day=group["day"],
            connection=connection,
            vendor=connection.vendor,
            vendor_key_id=group["vendor_key_id"],
            vendor_project_id=group["vendor_project_id"],
            key_id=key_ids.get(group["vendor_key_id"]),
            model=group["model"],
            uncached_input=group["sum_uncached"],
            cache_read=group["sum_cache_read"],
            cache_write=group["sum_cache_write"],
            output=group["sum_output"],
            requests=group["sum_requests"],
            cost_usd=group["sum_cost"] or 0,
            unpriced_tokens=group["sum_unpriced"],
        )
        for group in groups.iterator(chunk_size=BATCH)
    )
    written = 0
    # In slices, so a day of a large organization never sits in memory at once.
    while chunk := list(islice(rows, BATCH)):
        DailySpend.objects.bulk_create(chunk)
        written += len(chunk)
    return written


# One statement on PostgreSQL: the groups never travel to Python and back. Only
# table and column names are interpolated, from the models.
ROLLUP_SQL = f"""
INSERT INTO {DailySpend._meta.db_table} (
    day, connection_id, vendor, vendor_key_id, vendor_project_id, key_id, model,
    derived, uncached_input, cache_read, cache_write, output, requests, cost_usd,
    unpriced_tokens, amount, currency
)
SELECT
    (b.start AT TIME ZONE 'UTC')::date, b.connection_id, %(vendor)s,
    b.vendor_key_id, b.vendor_project_id, k.key_id, b.model, false,
    SUM(b.uncached_input), SUM(b.cache_read),
    SUM(b.cache_write_5m + b.cache_write_1h), SUM(b.output),
    COALESCE(SUM(b.requests), 0), COALESCE(SUM(b.cost_usd), 0),
    SUM(CASE WHEN b.cost_usd IS NULL THEN b.uncached_input + b.cache_read
        + b.cache_write_5m + b.cache_write_1h + b.output ELSE 0 END),
    NULL, ''
FROM {UsageBucket._meta.db_table} b
LEFT JOIN unnest(%(vendor_key_ids)s::text[], %(key_ids)s::bigint[])
    AS k (vendor_key_id, key_id) ON k.vendor_key_id = b.vendor_key_id
WHERE b.connection_id = %(connection)s
    AND b.start >= %(first)s AND b.start < %(last)s
    AND (b.start AT TIME ZONE 'UTC')::date = ANY(%(days)s::date[])
GROUP BY 1, b.connection_id, b.vendor_key_id, b.vendor_project_id, k.key_id, b.model
"""  # noqa: S608


def _refresh_in_the_database(connection, days, first, last, key_ids) -> int:
    with db.cursor() as cursor:
        # A large organization's day is sorted in memory, not on disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            ROLLUP_SQL,
            {
                "vendor": connection.vendor,
                "vendor_key_ids": list(key_ids),
                "key_ids": list(key_ids.values()),
                "connection": connection.pk,
                "first": first,
                "last": last,
                "days": list(days),
            },
        )
        return cursor.rowcount


def reattribute(vendor: str) -> int:
    """Attach unattributed rollup rows to keys registered since they were written.

    Only rows without a key are looked at, and only ids the vault now knows, so
    this stays cheap however much history there is.
    """
    key_ids = key_ids_by_vendor_key_id(vendor)
    orphans = set(
        DailySpend.objects.filter(vendor=vendor, key=None)
        .exclude(vendor_key_id="")
        .values_list("vendor_key_id", flat=True)
        .distinct()
    )
    updated = 0
    for vendor_key_id in orphans & key_ids.keys():
        updated += DailySpend.objects.filter(
            vendor=vendor, key=None, vendor_key_id=vendor_key_id
        ).update(key_id=key_ids[vendor_key_id])
    return updated
