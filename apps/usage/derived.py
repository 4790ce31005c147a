"""Spend derived from balance snapshots, for vendors that publish nothing finer.

DeepSeek and Moonshot publish only what a prepaid account holds; gateways publish
a running total of what they billed. Each poll is stored as a BalanceSnapshot, and
the spend between consecutive snapshots becomes one derived DailySpend row per
connection and UTC day: no key, no model, no tokens, the amount in the account's
own currency and in USD where a rate is known.
"""

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

from django.db import transaction

from apps.connectors.models import Connection
from apps.connectors.vendors import Connector
from apps.usage import rollups
from apps.usage.models import BalanceSnapshot, DailySpend

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
# DailySpend keeps ten decimal places; shares are rounded to that, not further.
MONEY_STEP = Decimal("1e-10")
DERIVED_ROW = {
    "vendor_key_id": "",
    "vendor_project_id": "",
    "model": "",
    "derived": True,
}


def sync_balance(connection: Connection, connector: Connector, at: datetime) -> int:
    """Store the balance as of ``at`` and re-derive the days it touched.

    The vendor is called outside the transaction, so a slow vendor holds no lock.
    A second poll at the same moment keeps the first snapshot and changes nothing.
    Returns the number of derived daily rows written.
    """
    balance = connector.balance()
    with transaction.atomic():
        # Polls of one connection take turns: two at once could each derive a
        # day without the other's snapshot, and the last commit would win.
        Connection.objects.select_for_update().only("pk").get(pk=connection.pk)
        snapshot, created = BalanceSnapshot.objects.get_or_create(
            connection=connection,
            at=at,
            defaults={
                "currency": balance.currency,
                "available": balance.available,
                "spent_to_date": balance.spent_to_date,
            },
        )
        if not created:
            return 0
        written = rederive(connection, _days_touched(snapshot))
    logger.info(
        "connection %s balance %s %s: %d derived days written",
        connection.pk,
        balance.available,
        balance.currency,
        written,
    )
    return written


def rederive(connection: Connection, days: list[date]) -> int:
    """Rewrite the derived balance rows of ``days`` from the stored snapshots."""
    if not days:
        return 0
    spend = _spend_by_day(connection, days)
    DailySpend.objects.filter(
        connection=connection, day__in=days, **DERIVED_ROW
    ).delete()
    rows = [_row(connection, day, spend[day]) for day in sorted(days) if day in spend]
    DailySpend.objects.bulk_create(rows)
    rollups.refresh_summaries(connection, days)
    return len(rows)


def derived_days(connection: Connection) -> list[date]:
    """Every day that has balance-derived spend for ``connection``."""
    return list(
        DailySpend.objects.filter(connection=connection, **DERIVED_ROW)
        .values_list("day", flat=True)
        .distinct()
    )


def interval_spend(before: BalanceSnapshot, after: BalanceSnapshot) -> Decimal | None:
    """What was spent between two snapshots, or None when they are not comparable.

    1. A change of currency starts a new series: nothing is spent across it.
    2. With a running total on both sides, spend is its increase; a top-up does
       not touch it.
    3. Otherwise spend is the fall of the balance, and a rise is a top-up, never
       negative spend. Known limitation: a top-up and spend in the same interval
       hide each other (topping up 100 while spending 30 reads as a rise of 70,
       so no spend). Polling more often than the account is topped up keeps the
       loss to the one interval that holds the top-up; only a vendor's running
       total (as gateways publish) removes it.
    """
    if before.currency != after.currency:
        return None
    if before.spent_to_date is not None and after.spent_to_date is not None:
        return max(after.spent_to_date - before.spent_to_date, ZERO)
    return max(before.available - after.available, ZERO)


def split_by_day(start: datetime, end: datetime, amount: Decimal):
    """Share ``amount`` over the UTC days of [start, end) in proportion to time.

    The shares add up to ``amount`` exactly: the last day takes what rounding the
    others left.
    """
    pieces = list(_day_pieces(start, end))
    whole = _microseconds(end - start)
    left = amount
    for index, (day, length) in enumerate(pieces):
        if index == len(pieces) - 1:
            yield day, left
        else:
            share = (amount * _microseconds(length) / whole).quantize(MONEY_STEP)
            left -= share
            yield day, share


def _days_touched(snapshot: BalanceSnapshot) -> list[date]:
    """The UTC days of the intervals that end or begin at ``snapshot``."""
    neighbours = BalanceSnapshot.objects.filter(connection=snapshot.connection)
    before = neighbours.filter(at__lt=snapshot.at).order_by("-at").first()
    after = neighbours.filter(at__gt=snapshot.at).order_by("at").first()
    first = (before or snapshot).at.astimezone(UTC).date()
    last = (after or snapshot).at.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _spend_by_day(connection, days: list[date]) -> dict[date, dict[str, Decimal]]:
    """Spend per day and currency, for each day that a comparable interval covers."""
    start = datetime.combine(min(days), time.min, tzinfo=UTC)
    end = datetime.combine(max(days) + timedelta(days=1), time.min, tzinfo=UTC)
    snapshots = _snapshots_around(connection, start, end)
    wanted = set(days)
    # Ordered by first appearance, so a day's last currency is its last key.
    spend: dict[date, dict[str, Decimal]] = defaultdict(dict)
    for before, after in pairwise(snapshots):
        amount = interval_spend(before, after)
        if amount is None:
            continue
        for day, share in split_by_day(before.at, after.at, amount):
            if day in wanted:
                by_currency = spend[day]
                by_currency[after.currency] = (
                    by_currency.get(after.currency, ZERO) + share
                )
    return spend


def _snapshots_around(connection, start, end) -> list[BalanceSnapshot]:
    """The snapshots inside [start, end] and the nearest one on either side."""
    snapshots = BalanceSnapshot.objects.filter(connection=connection)
    before = snapshots.filter(at__lte=start).order_by("-at").first()
    inside = snapshots.filter(at__gt=start, at__lt=end).order_by("at")
    after = snapshots.filter(at__gte=end).order_by("at").first()
    return [s for s in (before, *inside, after) if s is not None]


def _row(connection, day: date, by_currency: dict[str, Decimal]) -> DailySpend:
    spent = {currency: amount for currency, amount in by_currency.items() if amount}
    if len(spent) > 1:
        # The account changed currency that day: no single native amount exists,
        # but USD can still add up both series.
        usd = [_usd(amount, currency, connection) for currency, amount in spent.items()]
        amount, currency = None, ""
        cost_usd = None if None in usd else sum(usd, ZERO)
    else:
        currency = next(iter(spent), list(by_currency)[-1])
        amount = spent.get(currency, ZERO)
        cost_usd = _usd(amount, currency, connection)
    return DailySpend(
        day=day,
        connection=connection,
        vendor=connection.vendor,
        cost_usd=cost_usd,
        amount=amount,
        currency=currency,
        **DERIVED_ROW,
    )


def _usd(amount: Decimal, currency: str, connection: Connection) -> Decimal | None:
    """``amount`` in USD, or None when no rate for the account currency is set."""
    if currency == "USD":
        return amount
    if connection.usd_per_unit is None:
        return None
    return (amount * connection.usd_per_unit).quantize(MONEY_STEP)


def _day_pieces(start: datetime, end: datetime) -> Iterator[tuple[date, timedelta]]:
    cursor = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while cursor < end:
        midnight = datetime.combine(
            cursor.date() + timedelta(days=1), time.min, tzinfo=UTC
        )
        piece_end = min(midnight, end)
        yield cursor.date(), piece_end - cursor
        cursor = piece_end


def _microseconds(length: timedelta) -> Decimal:
    return Decimal(length // timedelta(microseconds=1))
