"""A window of usage lands whole or not at all."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connections, transaction
from django.db import connection as db
from django.db.models import Sum

from apps.connectors.rows import HOUR, UsageRow
from apps.connectors.vendors import ConnectorError
from apps.usage.ingest import UsageWindow, days_between
from apps.usage.models import DailySpend, SyncRun, UsageBucket

pytestmark = pytest.mark.django_db
# Other sessions see only what was committed: these tests commit for real.
committing = pytest.mark.django_db(transaction=True)
postgresql_only = pytest.mark.skipif(
    db.vendor != "postgresql", reason="row locks are PostgreSQL's"
)

DAY = datetime(2026, 11, 16, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)


def row(hour: int, output: int, key: str = "key_a", model: str = "gpt-4o") -> UsageRow:
    return UsageRow(
        start=DAY + timedelta(hours=hour),
        width=HOUR,
        vendor_key_id=key,
        vendor_project_id="proj_a",
        model=model,
        service_tier="default",
        batch=False,
        context_band="",
        uncached_input=1000,
        cache_read=0,
        cache_write_5m=0,
        cache_write_1h=0,
        output=output,
        requests=1,
    )


def store(connection, *pages) -> UsageWindow:
    with UsageWindow(connection, DAY, NEXT_DAY) as window:
        for page in pages:
            window.add(page)
        window.commit()
    return window


def outputs(connection) -> tuple:
    buckets = UsageBucket.objects.filter(connection=connection)
    rollup = DailySpend.objects.filter(connection=connection)
    return (
        buckets.aggregate(total=Sum("output"))["total"],
        rollup.aggregate(total=Sum("output"))["total"],
    )


def elsewhere(work):
    """Run ``work`` on a database connection of its own, as another process would."""

    def run():
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def waiting_at_most_a_second(work):
    def run():
        with transaction.atomic(), db.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
            return work()

    return run


@pytest.fixture
def connection(simulator, connect):
    return connect(simulator, "openai")


def test_a_window_replaces_what_was_stored_for_it(connection):
    store(connection, [row(0, 10), row(1, 20)], [row(2, 30)])
    store(connection, [row(0, 5)])

    assert outputs(connection) == (5, 5)
    assert UsageBucket.objects.filter(connection=connection).count() == 1


def test_a_window_left_without_commit_stores_nothing(connection):
    store(connection, [row(0, 10)])

    with UsageWindow(connection, DAY, NEXT_DAY) as window:
        window.add([row(0, 99), row(1, 99)])

    assert outputs(connection) == (10, 10)


def test_a_failure_during_the_swap_keeps_the_previous_figures(connection):
    store(connection, [row(0, 10)])

    def fail():
        raise ConnectorError("unexpected response: the cost report broke")

    with (
        pytest.raises(ConnectorError),
        UsageWindow(connection, DAY, NEXT_DAY) as window,
    ):
        window.add([row(0, 99)])
        window.commit(alongside=fail)

    assert outputs(connection) == (10, 10)


def test_the_same_bucket_twice_fails_the_window_and_keeps_the_previous_figures(
    connection,
):
    store(connection, [row(0, 10)])

    with (
        pytest.raises(ConnectorError, match="same bucket twice"),
        UsageWindow(connection, DAY, NEXT_DAY) as window,
    ):
        window.add([row(3, 1)])
        window.add([row(3, 2)])
        window.commit()

    assert outputs(connection) == (10, 10)


def test_a_vendor_failure_after_some_pages_keeps_the_previous_figures(connection):
    store(connection, [row(0, 10)])

    with (
        pytest.raises(ConnectorError),
        UsageWindow(connection, DAY, NEXT_DAY) as window,
    ):
        window.add([row(0, 99), row(1, 99)])
        window.add([row(2, 99)])
        raise ConnectorError("unexpected response: the third page was truncated")

    assert outputs(connection) == (10, 10)


def test_a_window_that_refused_a_bucket_cannot_be_committed(connection):
    store(connection, [row(0, 10)])

    with UsageWindow(connection, DAY, NEXT_DAY) as window:
        with pytest.raises(ConnectorError, match="same bucket twice"):
            window.add([row(3, 1), row(3, 2)])
        with pytest.raises(transaction.TransactionManagementError):
            window.commit()

    assert outputs(connection) == (10, 10)


@committing
def test_other_sessions_see_the_stored_figures_until_the_window_commits(connection):
    store(connection, [row(0, 10)])

    with UsageWindow(connection, DAY, NEXT_DAY) as window:
        window.add([row(0, 99), row(1, 99)])
        during = elsewhere(lambda: outputs(connection))
        window.commit()

    assert during == (10, 10)
    assert elsewhere(lambda: outputs(connection)) == (198, 198)


@committing
@postgresql_only
def test_a_second_window_of_the_connection_waits_for_the_first(connection):
    def open_another():
        with UsageWindow(connection, DAY, NEXT_DAY):
            pass

    with UsageWindow(connection, DAY, NEXT_DAY) as window:
        window.add([row(0, 10)])
        with pytest.raises(OperationalError, match="lock timeout"):
            elsewhere(waiting_at_most_a_second(open_another))
        window.commit()


@committing
@postgresql_only
def test_an_open_window_lets_other_sessions_add_rows_for_the_connection(connection):
    def record_a_run():
        return SyncRun.objects.create(
            connection=connection,
            trigger="manual",
            window_start=DAY,
            window_end=NEXT_DAY,
            started_at=DAY,
        )

    with UsageWindow(connection, DAY, NEXT_DAY) as window:
        window.add([row(0, 10)])
        elsewhere(waiting_at_most_a_second(record_a_run))
        window.commit()

    assert SyncRun.objects.filter(connection=connection).count() == 1


def test_rows_outside_the_window_are_left_out(connection):
    early = row(0, 7)
    early.start = DAY - timedelta(hours=1)

    window = store(connection, [early, row(0, 10)])

    assert window.rows == 1
    assert outputs(connection) == (10, 10)


def test_the_rollup_groups_by_key_and_normalized_model(connection):
    store(
        connection,
        [
            row(0, 10, model="gpt-4o-2024-08-06"),
            row(1, 20, model="gpt-4o"),
            row(1, 5, key="key_b"),
        ],
    )

    rollup = {
        (spend.vendor_key_id, spend.model): spend.output
        for spend in DailySpend.objects.filter(connection=connection)
    }
    assert rollup == {("key_a", "gpt-4o"): 30, ("key_b", "gpt-4o"): 5}


def test_days_between_covers_every_day_touched():
    assert days_between(DAY, NEXT_DAY) == [DAY.date()]
    assert days_between(DAY + timedelta(hours=23), NEXT_DAY + timedelta(hours=1)) == [
        DAY.date(),
        NEXT_DAY.date(),
    ]
