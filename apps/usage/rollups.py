"""The daily rollup of usage buckets that the spend pages and detectors read."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice

from django.db import connection as db
from django.db import transaction
from django.db.models import Case, F, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate

from apps.connectors.models import Connection
from apps.usage.attribution import key_ids_by_vendor_key_id
from apps.usage.models import (
    DailySpend,
    MonthlySpend,
    ScopeSpend,
    SpendFigures,
    UsageBucket,
)

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
        written = _refresh_in_the_database(connection, days, first, last, key_ids)
    else:
        written = _refresh_in_python(connection, days, first, last, key_ids)
    refresh_summaries(connection, days)
    return written


def _refresh_in_python(connection, days, first, last, key_ids) -> int:
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
    return _create_in_batches(DailySpend, rows)


def _create_in_batches(model, rows) -> int:
    """Insert ``rows`` (an iterator) in slices, so a day of a large organization
    never sits in memory at once; return how many there were."""
    written = 0
    while chunk := list(islice(rows, BATCH)):
        model.objects.bulk_create(chunk)
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


def refresh_summaries(connection: Connection, days) -> int:
    """Rebuild the coarser rollups of one connection's ``days`` from its daily rows:
    ``ScopeSpend`` for those days and ``MonthlySpend`` for their months.

    Call in the transaction that changed those ``DailySpend`` rows (alone, it is a
    transaction of its own). It takes the lock a usage window takes on the
    connection, so a rebuild never interleaves with a sync of the same connection.
    Returns the number of ScopeSpend rows written.
    """
    with transaction.atomic():
        Connection.objects.select_for_update(no_key=True).filter(pk=connection.pk).get()
        written = rebuild_scopes(DailySpend, ScopeSpend, connection.pk, days)
        rebuild_months(connection.pk, days)
    return written


def rebuild_scopes(daily_model, scope_model, connection_id: int, days) -> int:
    """The ScopeSpend part of ``refresh_summaries``, over the given models and
    without the lock, so a migration can use it too."""
    days = sorted(set(days))
    if not days:
        return 0
    where = {"connection_id": connection_id, "day__in": days}
    scope_model.objects.filter(**where).delete()
    groups = (
        daily_model.objects.filter(**where)
        .values("day", "vendor", "key__environment_id", "model", "derived")
        .annotate(**{f"sum_{name}": Sum(name) for name in SpendFigures.FIGURES})
        .order_by()
    )
    rows = (
        scope_model(
            day=group["day"],
            connection_id=connection_id,
            vendor=group["vendor"],
            environment_id=group["key__environment_id"],
            model=group["model"],
            derived=group["derived"],
            **{name: group[f"sum_{name}"] for name in SpendFigures.FIGURES},
        )
        for group in groups.iterator(chunk_size=BATCH)
    )
    return _create_in_batches(scope_model, rows)


# Standard SQL, the same on PostgreSQL and SQLite; only names from the models are
# interpolated.
MONTH_SQL = f"""
INSERT INTO {MonthlySpend._meta.db_table} (
    month, connection_id, vendor, vendor_key_id, vendor_project_id, key_id, model,
    derived, uncached_input, cache_read, cache_write, output, requests, cost_usd,
    unpriced_tokens
)
SELECT %s, connection_id, vendor, vendor_key_id, vendor_project_id, key_id, model,
    derived, SUM(uncached_input), SUM(cache_read), SUM(cache_write), SUM(output),
    SUM(requests), SUM(cost_usd), SUM(unpriced_tokens)
FROM {DailySpend._meta.db_table}
WHERE connection_id = %s AND day >= %s AND day < %s
GROUP BY connection_id, vendor, vendor_key_id, vendor_project_id, key_id, model,
    derived
"""  # noqa: S608


def days_by_connection(daily_rows) -> dict[int, set]:
    """The days of ``daily_rows`` (a model or a queryset), per connection id."""
    rows = getattr(daily_rows, "objects", daily_rows)
    days = defaultdict(set)
    pairs = rows.values_list("connection_id", "day").distinct()
    for connection_id, day in pairs:
        days[connection_id].add(day)
    return days


def rebuild_months(connection_id: int, days) -> None:
    """Rebuild the ``MonthlySpend`` rows of the months that hold ``days``."""
    for month in sorted({day.replace(day=1) for day in days}):
        MonthlySpend.objects.filter(connection_id=connection_id, month=month).delete()
        following = (month + timedelta(days=32)).replace(day=1)
        with db.cursor() as cursor:
            cursor.execute(MONTH_SQL, [month, connection_id, month, following])


def refresh_key_summaries(key_ids) -> int:
    """Rebuild the coarser rollups of every day that holds usage of ``key_ids``:
    for keys that moved to another environment or were just attributed."""
    touched = days_by_connection(DailySpend.objects.filter(key_id__in=key_ids))
    written = 0
    for connection in Connection.objects.filter(pk__in=touched).order_by("pk"):
        written += refresh_summaries(connection, touched[connection.pk])
    return written


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
    found = orphans & key_ids.keys()
    updated = 0
    with transaction.atomic():
        for vendor_key_id in found:
            updated += DailySpend.objects.filter(
                vendor=vendor, key=None, vendor_key_id=vendor_key_id
            ).update(key_id=key_ids[vendor_key_id])
        if updated:
            refresh_key_summaries({key_ids[vendor_key_id] for vendor_key_id in found})
    return updated
