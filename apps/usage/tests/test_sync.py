from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from apps.connectors.models import ConnectionStatus
from apps.connectors.simulator.faults import Fault
from apps.usage.models import (
    DailySpend,
    InventoryKey,
    ReportedCost,
    SyncOutcome,
    UsageBucket,
)
from apps.usage.services import SyncFailed, inventory_summary, sync_connection
from apps.usage.signals import usage_synced
from apps.usage.tests.conftest import NOW, hours
from apps.vault.tests.factories import make_key

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 16, tzinfo=UTC)
END = datetime(2026, 11, 18, tzinfo=UTC)
TEN_PLACES = Decimal("1e-10")
TOKEN_FIELDS = ("uncached_input", "cache_read", "cache_write_5m", "cache_write_1h")


def stored_totals(connection) -> dict:
    buckets = UsageBucket.objects.filter(connection=connection)
    totals = buckets.aggregate(
        **{name: Sum(name) for name in (*TOKEN_FIELDS, "output", "requests")},
        cost=Sum("cost_usd"),
    )
    return totals | {"buckets": buckets.count()}


def openai_expected(sim, start=START, end=END) -> dict:
    totals = dict.fromkeys(("uncached", "cached", "write", "output", "requests"), 0)
    for hour in hours(start, end):
        for row in sim.org.openai_usage(hour):
            totals["uncached"] += row.uncached
            totals["cached"] += row.cached
            totals["write"] += row.cache_write
            totals["output"] += row.output
            totals["requests"] += row.requests
        for row in sim.org.openai_embeddings_usage(hour):
            totals["uncached"] += row.input_tokens
            totals["requests"] += row.requests
    return totals


def test_openai_sync_stores_every_token_the_vendor_reported(simulator, connect):
    connection = connect(simulator, "openai")

    run = sync_connection(connection, start=START, end=END)

    expected = openai_expected(simulator)
    stored = stored_totals(connection)
    assert run.outcome == SyncOutcome.OK
    assert run.pages >= 2
    assert stored["uncached_input"] == expected["uncached"]
    assert stored["cache_read"] == expected["cached"]
    assert stored["cache_write_5m"] == expected["write"]
    assert stored["cache_write_1h"] == 0
    assert stored["output"] == expected["output"]
    assert stored["requests"] == expected["requests"]
    assert run.rows == stored["buckets"]


def test_anthropic_sync_stores_both_cache_writes_and_no_request_counts(
    simulator, connect
):
    connection = connect(simulator, "anthropic")

    sync_connection(connection, start=START, end=END)

    rows = [
        row for hour in hours(START, END) for row in simulator.org.anthropic_usage(hour)
    ]
    stored = stored_totals(connection)
    assert stored["uncached_input"] == sum(row.uncached for row in rows)
    assert stored["cache_read"] == sum(row.cache_read for row in rows)
    assert stored["cache_write_5m"] == sum(row.cache_write_5m for row in rows)
    assert stored["cache_write_1h"] == sum(row.cache_write_1h for row in rows)
    assert stored["output"] == sum(row.output for row in rows)
    assert stored["requests"] is None


def test_three_syncs_of_one_window_give_identical_totals(simulator, connect):
    connection = connect(simulator, "openai")

    results = []
    for _ in range(3):
        sync_connection(connection, start=START, end=END)
        daily = DailySpend.objects.filter(connection=connection).aggregate(
            cost=Sum("cost_usd"), output=Sum("output"), rows=Sum("requests")
        )
        reported = ReportedCost.objects.filter(connection=connection).aggregate(
            total=Sum("amount")
        )
        results.append((stored_totals(connection), daily, reported))

    assert results[0] == results[1] == results[2]
    assert results[0][1]["output"] == results[0][0]["output"]


def test_the_rollup_matches_the_buckets_per_day(simulator, connect):
    connection = connect(simulator, "openai")

    sync_connection(connection, start=START, end=END)

    for day in (START.date(), (START + timedelta(days=1)).date()):
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        buckets = UsageBucket.objects.filter(
            connection=connection,
            start__gte=day_start,
            start__lt=day_start + timedelta(days=1),
        ).aggregate(output=Sum("output"), cost=Sum("cost_usd"))
        rollup = DailySpend.objects.filter(connection=connection, day=day).aggregate(
            output=Sum("output"), cost=Sum("cost_usd")
        )
        assert rollup["output"] == buckets["output"] > 0
        # SQLite sums decimals as floats; the stored rollup keeps 10 places.
        assert rollup["cost"].quantize(TEN_PLACES) == buckets["cost"].quantize(
            TEN_PLACES
        )


def test_reported_costs_are_stored_per_day(simulator, connect):
    connection = connect(simulator, "openai")

    sync_connection(connection, start=START, end=END)

    days = set(
        ReportedCost.objects.filter(connection=connection).values_list("day", flat=True)
    )
    assert days == {START.date(), (START + timedelta(days=1)).date()}
    assert ReportedCost.objects.filter(connection=connection, currency="USD").exists()


def test_the_key_inventory_is_stored_and_unknown_keys_are_listed(simulator, connect):
    connection = connect(simulator, "anthropic")

    sync_connection(connection, start=START, end=END)

    listed = set(
        InventoryKey.objects.filter(connection=connection).values_list(
            "vendor_key_id", flat=True
        )
    )
    assert listed == {key.id for key in simulator.org.anthropic_keys}


def test_the_default_window_re_pulls_two_days_before_the_high_water_mark(
    simulator, connect
):
    connection = connect(simulator, "openai")
    connection.synced_through = NOW
    connection.save()

    run = sync_connection(connection, end=NOW)

    assert run.window_start == datetime(2026, 11, 16, tzinfo=UTC)
    assert run.window_end == datetime(2026, 11, 19, tzinfo=UTC)


def test_a_successful_sync_advances_the_high_water_mark_and_the_health(
    simulator, connect
):
    connection = connect(simulator, "openai")

    sync_connection(connection, start=START, end=END)

    connection.refresh_from_db()
    assert connection.synced_through == END
    assert connection.status == ConnectionStatus.OK
    assert connection.last_synced_at is not None
    assert connection.last_error == ""


def test_a_wrong_admin_key_fails_with_the_vendors_answer_and_changes_nothing(
    simulator, connect
):
    connection = connect(simulator, "openai")
    sync_connection(connection, start=START, end=END)
    before = stored_totals(connection)
    connect_bad = connect(
        simulator, "openai", name="wrong key", admin_key="sk-admin-" + "x" * 40
    )

    with pytest.raises(SyncFailed, match=r"rejected by vendor \(401\)"):
        sync_connection(connect_bad, start=START, end=END)

    connect_bad.refresh_from_db()
    assert connect_bad.status == ConnectionStatus.ERROR
    assert "rejected by vendor (401)" in connect_bad.last_error
    assert connect_bad.sync_runs.get().outcome == SyncOutcome.FAILED
    assert not UsageBucket.objects.filter(connection=connect_bad).exists()
    assert stored_totals(connection) == before


@pytest.mark.parametrize("mode", ["malformed", "truncated", "missing_fields"])
def test_a_bad_response_fails_the_window_and_keeps_what_was_stored(
    simulator, connect, fast, mode
):
    connection = connect(simulator, "openai")
    sync_connection(connection, start=START, end=END)
    before = stored_totals(connection)
    simulator.faults.add(Fault(mode))

    with pytest.raises(SyncFailed, match="unexpected response"):
        sync_connection(connection, start=START, end=END, **fast)

    simulator.faults.clear()
    assert stored_totals(connection) == before
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ERROR
    assert connection.last_error.startswith("unexpected response")
    assert "\n" not in connection.last_error


def test_unknown_extra_fields_are_ignored(simulator, connect):
    connection = connect(simulator, "openai")
    sync_connection(connection, start=START, end=END)
    before = stored_totals(connection)
    simulator.faults.add(Fault("extra_fields"))

    sync_connection(connection, start=START, end=END)

    simulator.faults.clear()
    assert stored_totals(connection) == before


def test_throttling_is_waited_out_as_the_vendor_asks(simulator, connect, fast, sleeps):
    connection = connect(simulator, "anthropic")
    simulator.faults.add(Fault("429", count=1, retry_after=7))

    run = sync_connection(connection, start=START, end=END, **fast)

    assert run.outcome == SyncOutcome.OK
    assert sleeps == [7.0]


def test_a_vendor_outage_fails_the_run_after_bounded_retries(simulator, connect, fast):
    connection = connect(simulator, "openai")
    simulator.faults.add(Fault("503"))

    with pytest.raises(
        SyncFailed, match=r"vendor unavailable \(503\) after 2 attempts"
    ):
        sync_connection(connection, start=START, end=END, **fast)

    simulator.faults.clear()
    assert not UsageBucket.objects.filter(connection=connection).exists()


def test_a_vendor_without_a_connector_fails_with_a_reason(connect, simulator):
    connection = connect(simulator, "qwen", admin_key="sk-" + "q" * 32)

    with pytest.raises(SyncFailed, match="no API connector for Qwen"):
        sync_connection(connection, start=START, end=END)


def test_usage_on_unknown_keys_is_kept_and_attributed_once_registered(
    simulator, connect, admin
):
    connection = connect(simulator, "openai")
    sync_connection(connection, start=START, end=END)
    vendor_key = simulator.org.openai_keys[0]
    unattributed = DailySpend.objects.filter(connection=connection, key=None)
    total_output = unattributed.aggregate(output=Sum("output"))["output"]
    summary = inventory_summary(connection, days=30)

    key, _ = make_key(admin, vendor="openai", vendor_key_id=vendor_key.id)
    sync_connection(connection, start=START, end=END)

    attributed = DailySpend.objects.filter(key=key)
    assert total_output == stored_totals(connection)["output"]
    assert summary["unattributed"]["ids"] == len(simulator.org.openai_keys)
    assert {row.vendor_key_id for row in attributed} == {vendor_key.id}
    assert attributed.aggregate(output=Sum("output"))["output"] > 0
    assert not DailySpend.objects.filter(vendor_key_id=vendor_key.id, key=None)


def test_a_key_registered_between_syncs_is_attributed_without_a_re_pull(
    simulator, connect, admin
):
    connection = connect(simulator, "openai")
    sync_connection(connection, start=START, end=END)
    vendor_key = simulator.org.openai_keys[1]

    key, _ = make_key(admin, vendor="openai", vendor_key_id=vendor_key.id)
    later = datetime(2026, 11, 18, tzinfo=UTC)
    sync_connection(connection, start=later, end=later + timedelta(days=1))

    assert DailySpend.objects.filter(key=key, day=START.date()).exists()


def test_a_successful_sync_tells_listeners_which_days_it_refreshed(simulator, connect):
    connection = connect(simulator, "openai")
    heard = []

    def listen(sender, connection, days, **kwargs):
        heard.append((connection.pk, days))

    usage_synced.connect(listen)
    try:
        sync_connection(connection, start=START, end=END)
    finally:
        usage_synced.disconnect(listen)

    assert heard == [
        (connection.pk, [START.date(), (START + timedelta(days=1)).date()])
    ]


def test_sync_usage_reports_each_connection_and_fails_naming_the_broken_one(
    simulator, connect
):
    good = connect(simulator, "anthropic", name="claude org")
    connect(simulator, "openai", name="bad org", admin_key="sk-admin-" + "b" * 40)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as failure:
        call_command(
            "sync_usage", "--start", "2026-11-16", "--end", "2026-11-17",
            stdout=out, stderr=err,
        )  # fmt: skip

    assert (
        str(failure.value) == "bad org: rejected by vendor (401): check the admin key"
    )
    assert "claude org: 2026-11-16 to 2026-11-17," in out.getvalue()
    assert UsageBucket.objects.filter(connection=good).exists()


def test_sync_usage_refuses_an_unknown_connection_and_a_bad_date(connect, simulator):
    connect(simulator, "openai", name="openai org")

    with pytest.raises(CommandError, match="no connection named 'nope'"):
        call_command("sync_usage", "--connection", "nope")
    with pytest.raises(CommandError, match="'last week' is not an ISO date"):
        call_command("sync_usage", "--start", "last week")
