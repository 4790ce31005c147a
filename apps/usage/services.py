"""Syncing a connection: its usage, the vendor's own costs, its keys and its balance."""

import logging
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, F, Max, Sum
from django.utils import timezone

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record
from apps.connectors.models import Connection, ConnectionStatus
from apps.connectors.rows import CostRow
from apps.connectors.services import open_connector
from apps.connectors.vendors import CONNECTORS, ConnectorError
from apps.connectors.vendors.base import Unsupported
from apps.usage import derived, rollups
from apps.usage.attribution import key_ids_by_vendor_key_id
from apps.usage.ingest import UsageWindow, days_between
from apps.usage.models import (
    DailySpend,
    InventoryKey,
    ReportedCost,
    SyncOutcome,
    SyncRun,
)
from apps.usage.signals import usage_synced

logger = logging.getLogger(__name__)

# Vendors finish counting an hour late and sometimes revise a day: every run
# fetches this much again, whatever the high-water mark says.
REPULL = timedelta(hours=48)
# How far back a connection's first sync reaches.
FIRST_SYNC = timedelta(days=7)
# A run still marked running after this long died with its worker.
STALE_RUN = timedelta(hours=1)


class SyncFailed(Exception):
    """A sync ended in error; ``str(error)`` is one line for the connection page."""


def sync_connection(
    connection: Connection,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    trigger: str = "schedule",
    **client_options,
) -> SyncRun:
    """Fetch and store one connection's figures for a window; return the run.

    1. The window defaults to 48 hours before the high-water mark up to now.
    2. The key inventory is refreshed.
    3. Usage is fetched day by day; each day lands whole or not at all and then
       advances the high-water mark, so a run killed midway resumes with no gap.
    4. Balance-based vendors record a balance and their derived spend.

    A vendor failure is recorded on the run and the connection and raised as
    SyncFailed; figures of the days already stored stay.
    """
    now = timezone.now()
    start, end = _window(connection, start, end, now)
    _close_abandoned_runs(connection, now)
    run = SyncRun.objects.create(
        connection=connection,
        trigger=trigger,
        window_start=start,
        window_end=end,
        started_at=now,
    )
    try:
        with open_connector(connection, **client_options) as vendor:
            if vendor.lists_keys:
                _sync_inventory(connection, vendor)
            if vendor.reports_usage:
                _sync_usage(connection, vendor, run, start, end)
            if vendor.reports_balance:
                run.rows += derived.sync_balance(connection, vendor, timezone.now())
                run.pages += 1
        rollups.reattribute(connection.vendor)
    except ConnectorError as failure:
        reason = _one_line(failure)
        logger.warning("sync of connection %s failed: %s", connection.pk, reason)
        _finish(run, connection, error=reason)
        raise SyncFailed(reason) from None
    except BaseException:
        # A bug or a kill: the run must not stay "running" for ever.
        logger.exception("sync of connection %s crashed", connection.pk)
        _finish(run, connection, error="internal error: see the worker log")
        raise
    _finish(run, connection)
    usage_synced.send(
        sender=Connection, connection=connection, days=days_between(start, end)
    )
    logger.info(
        "synced connection %s: %s to %s, %d pages, %d rows in %.1f s",
        connection.pk,
        start.isoformat(),
        end.isoformat(),
        run.pages,
        run.rows,
        run.duration.total_seconds(),
    )
    return run


def request_sync(actor: Actor, connection: Connection) -> None:
    """Queue a sync of ``connection`` now, on behalf of an admin."""
    from apps.usage.tasks import sync_connection_task

    require_admin(actor.user)
    with transaction.atomic():
        record(actor, "connection.sync_requested", connection)
        transaction.on_commit(
            lambda: sync_connection_task.delay(connection.pk, trigger="manual")
        )


def due_connections(now: datetime) -> list[Connection]:
    """Enabled connections whose interval has passed since their last run began.

    Connections of vendors with no API (Google's billing export is uploaded) are
    never due.
    """
    connections = Connection.objects.filter(
        enabled=True, vendor__in=CONNECTORS
    ).annotate(last_started=Max("sync_runs__started_at"))
    return [
        connection
        for connection in connections
        if connection.last_started is None
        or connection.last_started + timedelta(minutes=connection.sync_interval_minutes)
        <= now
    ]


def sync_history(connection: Connection, limit: int = 20) -> list[SyncRun]:
    return list(connection.sync_runs.all()[:limit])


def _window(connection, start, end, now) -> tuple[datetime, datetime]:
    if end is None:
        end = now
    if start is None:
        mark = connection.synced_through
        start = (min(mark, now) - REPULL) if mark else now - FIRST_SYNC
    start, end = _floor_day(start), _ceil_day(end)
    if start >= end:
        raise SyncFailed("the window is empty: its start must come before its end")
    return start, end


def _floor_day(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time.min, tzinfo=UTC)


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else floor + timedelta(days=1)


def _sync_usage(connection, vendor, run, start, end) -> None:
    day = start
    while day < end:
        next_day = day + timedelta(days=1)
        with UsageWindow(connection, day, next_day) as window:
            for page in vendor.usage_pages(day, next_day):
                window.add(page)
            costs = _reported_costs(vendor, day, next_day)
            window.commit(
                alongside=lambda day=day, costs=costs: _store_costs(
                    connection, day, costs
                )
            )
        run.pages += window.pages
        run.rows += window.rows
        _advance_mark(connection, min(next_day, timezone.now()))
        SyncRun.objects.filter(pk=run.pk).update(pages=run.pages, rows=run.rows)
        day = next_day


def _reported_costs(vendor, start, end) -> list[CostRow]:
    try:
        return [row for page in vendor.cost_pages(start, end) for row in page]
    except Unsupported:
        return []


def _store_costs(connection, day, costs: list[CostRow]) -> None:
    days = days_between(day, day + timedelta(days=1))
    ReportedCost.objects.filter(connection=connection, day__in=days).delete()
    ReportedCost.objects.bulk_create(
        ReportedCost(
            connection=connection,
            day=cost.day,
            vendor_project_id=cost.vendor_project_id,
            vendor_key_id=cost.vendor_key_id,
            line_item=cost.line_item,
            amount=cost.amount,
            currency=cost.currency,
        )
        for cost in costs
        if cost.day in days
    )


INVENTORY_FIELDS = [
    "vendor_project_id",
    "name",
    "redacted",
    "status",
    "created_at",
    "last_used_at",
    "last_seen_at",
    "gone_at",
]


def _sync_inventory(connection, vendor) -> None:
    """Upsert the vendor's key list; keys it no longer lists are marked gone."""
    now = timezone.now()
    listed = {key.vendor_key_id: key for key in vendor.list_keys()}
    with transaction.atomic():
        known = {
            key.vendor_key_id: key
            for key in InventoryKey.objects.select_for_update().filter(
                connection=connection
            )
        }
        new, seen = [], []
        for vendor_key_id, key in listed.items():
            stored = known.get(vendor_key_id)
            if stored is None:
                stored = InventoryKey(
                    connection=connection,
                    vendor_key_id=vendor_key_id,
                    first_seen_at=now,
                )
                new.append(stored)
            else:
                seen.append(stored)
            stored.vendor_project_id = key.vendor_project_id
            stored.name = key.name[:300]
            stored.redacted = key.redacted[:100]
            stored.status = key.status[:32]
            stored.created_at = key.created_at
            stored.last_used_at = key.last_used_at
            stored.last_seen_at = now
            stored.gone_at = None
        # Two statements whatever the organization's size, not one per key.
        InventoryKey.objects.bulk_create(new, batch_size=1000)
        InventoryKey.objects.bulk_update(seen, INVENTORY_FIELDS, batch_size=1000)
        InventoryKey.objects.filter(connection=connection, gone_at=None).exclude(
            vendor_key_id__in=listed
        ).update(gone_at=now)


def _advance_mark(connection, mark: datetime) -> None:
    if connection.synced_through is None or mark > connection.synced_through:
        connection.synced_through = mark
        Connection.objects.filter(pk=connection.pk).update(synced_through=mark)


def _close_abandoned_runs(connection, now) -> None:
    connection.sync_runs.filter(
        outcome=SyncOutcome.RUNNING, started_at__lt=now - STALE_RUN
    ).update(
        outcome=SyncOutcome.FAILED,
        finished_at=now,
        error="interrupted: the worker stopped before the run ended",
    )


def _finish(run: SyncRun, connection: Connection, error: str = "") -> None:
    now = timezone.now()
    run.finished_at = now
    run.outcome = SyncOutcome.FAILED if error else SyncOutcome.OK
    run.error = error
    run.save(update_fields=["finished_at", "outcome", "error", "pages", "rows"])
    connection.status = ConnectionStatus.ERROR if error else ConnectionStatus.OK
    connection.last_error = error
    fields = ["status", "last_error"]
    if not error:
        connection.last_synced_at = connection.last_success_at = now
        fields += ["last_synced_at", "last_success_at"]
    connection.save(update_fields=fields)


def _one_line(failure: Exception) -> str:
    return " ".join(str(failure).split())[:300]


def inventory_summary(connection: Connection, days: int = 14) -> dict:
    """The vendor's keys the vault does not know, and the usage on such keys.

    Usage is counted over the last ``days`` days; it is kept, never dropped, and
    attributed as soon as the key is registered with its vendor key id.
    """
    listed = list(connection.inventory.filter(gone_at=None))
    known = key_ids_by_vendor_key_id(connection.vendor)
    since = timezone.now().date() - timedelta(days=days - 1)
    unattributed = DailySpend.objects.filter(
        connection=connection, derived=False, key=None, day__gte=since
    ).aggregate(
        cost=Sum("cost_usd"),
        tokens=Sum(
            F("uncached_input") + F("cache_read") + F("cache_write") + F("output")
        ),
        ids=Count("vendor_key_id", distinct=True),
    )
    return {
        "listed": len(listed),
        "unknown": [key for key in listed if key.vendor_key_id not in known],
        "unattributed": unattributed,
        "days": days,
    }
