"""Write a window of usage: staged as vendor pages stream in, swapped in at once.

Pages go into a temporary staging table outside any transaction, so a slow vendor
holds no lock and memory stays flat whatever the window's size. The swap (delete
the window's buckets, insert the staged ones, refresh the day's rollup) is one short
transaction: a window that fails anywhere leaves the stored figures as they were.
"""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction

from apps.catalog.names import normalize_model_name
from apps.catalog.pricing import PriceBook
from apps.connectors.models import Connection
from apps.connectors.rows import UsageRow
from apps.connectors.vendors import ConnectorError
from apps.usage import rollups
from apps.usage.models import UsageBucket

logger = logging.getLogger(__name__)

STAGING = "keyhold_usage_staging"
COLUMNS = (
    "connection_id",
    "start",
    "width",
    "vendor_key_id",
    "vendor_project_id",
    "vendor_model",
    "model",
    "service_tier",
    "batch",
    "context_band",
    "uncached_input",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "requests",
    "cost_usd",
)
TABLE = UsageBucket._meta.db_table
# Only identifiers from this module are interpolated; values always go as parameters.
_COLUMN_LIST = ", ".join(COLUMNS)
CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE {STAGING} AS "  # noqa: S608
    f"SELECT {_COLUMN_LIST} FROM {TABLE} WHERE 1 = 0"
)
COPY_STAGING = f"COPY {STAGING} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
# Binary COPY skips formatting every value as text and parsing it back.
COPY_TYPES = (
    "int8",
    "timestamptz",
    "int4",
    "text",
    "text",
    "text",
    "text",
    "text",
    "bool",
    "text",
    "int8",
    "int8",
    "int8",
    "int8",
    "int8",
    "int8",
    "numeric",
)
INSERT_STAGING = (
    f"INSERT INTO {STAGING} ({_COLUMN_LIST}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
)
SWAP_IN = f"INSERT INTO {TABLE} ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {STAGING}"  # noqa: S608
START = COLUMNS.index("start")
COST = COLUMNS.index("cost_usd")
SQLITE_BATCH = 2000


class UsageWindow:
    """The buckets of one connection starting in [start, end), replaced as a whole.

    Use as a context manager: ``add`` each page, then ``commit``. Leaving without
    committing discards what was staged.
    """

    def __init__(self, conn: Connection, start: datetime, end: datetime, prices=None):
        self.connection = conn
        self.start, self.end = start, end
        self.prices = prices or PriceBook(conn.vendor)
        self.rows = 0
        self.pages = 0
        self._models: dict[str, str] = {}

    def __enter__(self) -> "UsageWindow":
        _create_staging()
        return self

    def __exit__(self, *exc_info) -> None:
        _drop_staging()

    def add(self, page: Iterable[UsageRow]) -> int:
        """Normalize, price and stage one page; return how many rows it held."""
        start, end = self.start, self.end
        records = [self._record(row) for row in page if start <= row.start < end]
        _stage(records)
        self.pages += 1
        self.rows += len(records)
        return len(records)

    def commit(self, after_swap=None) -> None:
        """Swap the staged rows in for the window's stored buckets.

        ``after_swap`` runs inside the same transaction, for other figures of the
        window (the vendor's reported costs) that must land or fail with it.
        """
        with transaction.atomic():
            # One writer per connection at a time: a manual sync racing the
            # scheduled one waits here instead of colliding on the natural key.
            Connection.objects.select_for_update().filter(pk=self.connection.pk).get()
            UsageBucket.objects.filter(
                connection=self.connection, start__gte=self.start, start__lt=self.end
            ).delete()
            try:
                with transaction.atomic():
                    _swap_in()
            except IntegrityError:
                raise ConnectorError(
                    "the vendor reported the same bucket twice in one window"
                ) from None
            if after_swap is not None:
                after_swap()
            rollups.refresh(self.connection, days_between(self.start, self.end))

    def _record(self, row: UsageRow) -> tuple:
        model = self._models.get(row.model)
        if model is None:
            model = self._models[row.model] = normalize_model_name(row.model)
        return (
            self.connection.pk,
            row.start,
            row.width,
            row.vendor_key_id,
            row.vendor_project_id,
            row.model,
            model,
            row.service_tier,
            row.batch,
            row.context_band,
            row.uncached_input,
            row.cache_read,
            row.cache_write_5m,
            row.cache_write_1h,
            row.output,
            row.requests,
            self.prices.cost(row),
        )


def days_between(start: datetime, end: datetime) -> list:
    """The UTC dates of the days that [start, end) touches."""
    day = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    days = []
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


def _create_staging() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")
        # The bucket table's columns without its constraints: staging accepts
        # whatever the vendor sent; the swap is where the natural key applies.
        cursor.execute(CREATE_STAGING)


def _drop_staging() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")


def _stage(records: list[tuple]) -> None:
    if not records:
        return
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = connection.connection
        with raw.cursor() as cursor, cursor.copy(COPY_STAGING) as copy:
            copy.set_types(COPY_TYPES)
            for record in records:
                copy.write_row(record)
        return
    with connection.cursor() as cursor:
        for offset in range(0, len(records), SQLITE_BATCH):
            batch = records[offset : offset + SQLITE_BATCH]
            cursor.executemany(
                INSERT_STAGING, [_sqlite_values(record) for record in batch]
            )


def _sqlite_values(record: tuple) -> tuple:
    # SQLite has no timestamp or decimal type: store them the way the ORM does, or
    # the window's date comparisons and sums would see two spellings.
    values = list(record)
    values[START] = connection.ops.adapt_datetimefield_value(values[START])
    if values[COST] is not None:
        values[COST] = str(values[COST])
    return tuple(values)


def _swap_in() -> None:
    with connection.cursor() as cursor:
        cursor.execute(SWAP_IN)
