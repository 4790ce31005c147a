"""Write a window of usage straight into the bucket table, in one transaction.

Opening a window starts the transaction: it locks the connection's row, so a second
sync of the same connection waits for this one instead of colliding on the natural
key, and deletes the window's stored buckets. Each vendor page is then written into
the table as it arrives (binary COPY on PostgreSQL), so every bucket is written
once and memory follows the page, not the window. Committing adds the window's other
figures and the days' rollup, then commits; leaving the window any other way rolls
back. Until the commit other sessions keep reading the figures stored before, and a
failure or a killed process leaves them as they were.

The lock is FOR NO KEY UPDATE, not FOR UPDATE: inserting a row that points at the
connection (a sync run, a balance, a vault key) takes FOR KEY SHARE on it, which FOR
UPDATE would make wait for as long as a slow vendor takes to send the window. SQLite
has no row locks and one writer at a time: there a window holds the database's write
lock from opening to commit.
"""

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

from django.db import IntegrityError, connection, transaction

from apps.catalog.names import normalize_model_name
from apps.catalog.pricing import PriceBook
from apps.connectors.models import Connection
from apps.connectors.rows import UsageRow
from apps.connectors.vendors import ConnectorError
from apps.usage import rollups
from apps.usage.models import UsageBucket

logger = logging.getLogger(__name__)

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
COPY_BUCKETS = f"COPY {TABLE} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
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
INSERT_BUCKETS = (
    f"INSERT INTO {TABLE} ({_COLUMN_LIST}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
)
START = COLUMNS.index("start")
COST = COLUMNS.index("cost_usd")
SQLITE_BATCH = 2000
TWICE = "the vendor reported the same bucket twice in one window"


class UsageWindow:
    """The buckets of one connection starting in [start, end), replaced as a whole.

    Use as a context manager: ``add`` each page, then ``commit``. Leaving without
    committing rolls back everything the window wrote.
    """

    def __init__(self, conn: Connection, start: datetime, end: datetime, prices=None):
        self.connection = conn
        self.start, self.end = start, end
        self.prices = prices or PriceBook(conn.vendor)
        self.rows = 0
        self.pages = 0
        self._models: dict[str, str] = {}
        self._transaction = None

    def __enter__(self) -> "UsageWindow":
        self._transaction = transaction.atomic()
        self._transaction.__enter__()
        try:
            Connection.objects.select_for_update(no_key=True).filter(
                pk=self.connection.pk
            ).get()
            UsageBucket.objects.filter(
                connection=self.connection, start__gte=self.start, start__lt=self.end
            ).delete()
        except BaseException as error:
            self._end(type(error), error, error.__traceback__)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if self._transaction is None:
            return  # commit() has ended the transaction already
        if exc_info[0] is None:
            transaction.set_rollback(True)
        self._end(*exc_info)

    def add(self, page: Iterable[UsageRow]) -> int:
        """Normalize, price and write one page; return how many rows it held."""
        start, end = self.start, self.end
        records = (self._record(row) for row in page if start <= row.start < end)
        try:
            written = _write(records)
        except IntegrityError:
            # The unique natural key refused a row: nothing of this window may land.
            transaction.set_rollback(True)
            raise ConnectorError(TWICE) from None
        self.pages += 1
        self.rows += written
        return written

    def commit(self, alongside=None) -> None:
        """Refresh the window's days' rollup and commit what the pages wrote.

        ``alongside`` runs inside the same transaction, for other figures of the
        window (the vendor's reported costs) that must land or fail with it.
        """
        if alongside is not None:
            alongside()
        rollups.refresh(self.connection, days_between(self.start, self.end))
        self._end(None, None, None)

    def _end(self, *exc_info) -> None:
        # Cleared first: a COMMIT that fails has already rolled back, and leaving
        # the window afterwards must not end the transaction a second time.
        ending, self._transaction = self._transaction, None
        ending.__exit__(*exc_info)

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


def _write(records: Iterator[tuple]) -> int:
    """Insert the records; return how many there were."""
    written = 0
    if connection.vendor == "postgresql":
        raw = connection.connection
        # The driver's errors as Django's, so a repeated bucket is an IntegrityError
        # on either database. Rows go out as they are built: the server inserts
        # one while the next is priced.
        with (
            connection.wrap_database_errors,
            raw.cursor() as cursor,
            cursor.copy(COPY_BUCKETS) as copy,
        ):
            copy.set_types(COPY_TYPES)
            for record in records:
                copy.write_row(record)
                written += 1
        return written
    with connection.cursor() as cursor:
        while batch := [
            _sqlite_values(record) for record in islice(records, SQLITE_BATCH)
        ]:
            cursor.executemany(INSERT_BUCKETS, batch)
            written += len(batch)
    return written


def _sqlite_values(record: tuple) -> tuple:
    # SQLite has no timestamp or decimal type: store them the way the ORM does, or
    # the window's date comparisons and sums would see two spellings.
    values = list(record)
    values[START] = connection.ops.adapt_datetimefield_value(values[START])
    if values[COST] is not None:
        values[COST] = str(values[COST])
    return tuple(values)
