"""Spend derived from balance snapshots, checked against figures worked by hand.

Each balance is the vendor's documented payload, served over HTTP by the simulator
and read by the real connector.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.simulator.server import running_simulator
from apps.connectors.vendors import CONNECTORS
from apps.spend.report import spend_report
from apps.usage.derived import sync_balance
from apps.usage.models import BalanceSnapshot, DailySpend
from apps.vault.tests.factories import make_secret

pytestmark = pytest.mark.django_db

NOV_1, NOV_2, NOV_3 = date(2025, 11, 1), date(2025, 11, 2), date(2025, 11, 3)
# Where each vendor's balance is read: (below the base URL, the full path).
BALANCE_AT = {
    "deepseek": ("", "/user/balance"),
    "openai_compatible": ("/api/v1", "/api/v1/credits"),
}


def deepseek(available: str, currency: str = "CNY") -> dict:
    """DeepSeek's documented balance payload, all of it topped up."""
    info = {"currency": currency, "total_balance": available}
    info |= {"granted_balance": "0.00", "topped_up_balance": available}
    return {"is_available": True, "balance_infos": [info]}


def gateway(credits: float, usage: float) -> dict:
    """OpenRouter's documented credits payload (USD)."""
    return {"data": {"total_credits": credits, "total_usage": usage}}


def sync_all(connection, *polls) -> list[int]:
    """Sync once per (moment, payload); the simulator answers each poll in turn."""
    vendor, key = connection.vendor, connection.admin_key.reveal()
    base, path = BALANCE_AT[vendor]
    canned = {path: [payload for _, payload in polls]}
    with (
        running_simulator(admin_keys={vendor: key}, canned=canned) as sim,
        CONNECTORS[vendor](sim.url + base, key) as connector,
    ):
        return [sync_balance(connection, connector, when) for when, _ in polls]


def create(admin, vendor: str, **fields):
    fields.setdefault("base_url", "https://api.example.com")
    fields.setdefault("admin_key", make_secret(vendor))
    return services.create_connection(
        Actor(admin), name=f"{vendor} org", vendor=vendor, **fields
    )


@pytest.fixture
def connection(admin):
    return create(admin, "deepseek")


def at(day: int, hour: int) -> datetime:
    return datetime(2025, 11, day, hour, tzinfo=UTC)


def spend(connection) -> dict:
    """What the derived rows hold: day -> (amount, currency, cost_usd)."""
    rows = DailySpend.objects.filter(connection=connection, derived=True)
    return {row.day: (row.amount, row.currency, row.cost_usd) for row in rows}


def test_a_first_poll_stores_the_balance_and_no_spend(connection):
    assert sync_all(connection, (at(1, 8), deepseek("100.00"))) == [0]

    snapshot = BalanceSnapshot.objects.get(connection=connection)
    assert (snapshot.currency, snapshot.available) == ("CNY", Decimal("100.00"))
    assert spend(connection) == {}


def test_a_balance_fall_is_that_days_spend(connection):
    written = sync_all(
        connection,
        (at(1, 10), deepseek("100.00")),
        (at(1, 14), deepseek("90.50")),
    )

    assert written == [0, 1]
    assert spend(connection) == {NOV_1: (Decimal("9.5"), "CNY", None)}
    row = DailySpend.objects.get(connection=connection)
    assert (row.vendor, row.vendor_key_id, row.model, row.key) == (
        "deepseek",
        "",
        "",
        None,
    )
    assert row.uncached_input == row.output == row.requests == 0


def test_a_usd_rate_counts_the_spend_in_usd(admin):
    connection = create(admin, "deepseek", usd_per_unit=Decimal("0.14"))

    sync_all(
        connection,
        (at(1, 10), deepseek("100.00")),
        (at(1, 14), deepseek("90.50")),
    )

    assert spend(connection) == {NOV_1: (Decimal("9.5"), "CNY", Decimal("1.33"))}


def test_setting_a_usd_rate_later_converts_the_spend_already_derived(admin, connection):
    sync_all(
        connection,
        (at(1, 10), deepseek("100.00")),
        (at(1, 14), deepseek("90.50")),
    )

    services.update_connection(Actor(admin), connection, usd_per_unit=Decimal("0.14"))

    assert spend(connection) == {NOV_1: (Decimal("9.5"), "CNY", Decimal("1.33"))}
    report = spend_report(admin, NOV_1, NOV_1 + timedelta(days=1), "vendor")
    assert [(row.group, row.cost_usd) for row in report.rows] == [
        ("deepseek", Decimal("1.33"))
    ]


def test_spend_across_midnight_is_split_in_proportion_to_time(connection):
    # Six hours, two before midnight and four after.
    sync_all(
        connection,
        (at(1, 22), deepseek("100.00")),
        (at(2, 4), deepseek("88.00")),
    )

    assert spend(connection) == {
        NOV_1: (Decimal("4"), "CNY", None),
        NOV_2: (Decimal("8"), "CNY", None),
    }


def test_a_two_day_gap_shares_the_fall_over_three_days(connection):
    written = sync_all(
        connection,
        (at(1, 12), deepseek("100.00")),
        (at(3, 12), deepseek("70.00")),
    )

    assert written == [0, 3]
    assert spend(connection) == {
        NOV_1: (Decimal("7.5"), "CNY", None),
        NOV_2: (Decimal("15"), "CNY", None),
        NOV_3: (Decimal("7.5"), "CNY", None),
    }


def test_a_top_up_is_not_negative_spend(connection):
    sync_all(
        connection,
        (at(1, 8), deepseek("100.00")),
        (at(1, 10), deepseek("90.00")),
        (at(1, 12), deepseek("590.00")),  # 500 topped up, nothing spent
        (at(1, 14), deepseek("580.00")),
    )

    assert spend(connection) == {NOV_1: (Decimal("20"), "CNY", None)}


def test_a_top_up_hides_the_spend_of_its_own_interval(connection):
    # 100 topped up while 40 was spent: the balance only shows a rise of 60.
    sync_all(
        connection,
        (at(1, 8), deepseek("100.00")),
        (at(1, 10), deepseek("160.00")),
    )

    assert spend(connection) == {NOV_1: (Decimal("0"), "CNY", None)}


def test_a_running_total_counts_spend_through_a_top_up(admin):
    connection = create(admin, "openai_compatible")

    # 100 bought and 10 spent: the balance rose, the running total tells.
    sync_all(
        connection,
        (at(1, 8), gateway(60.0, 10.0)),
        (at(1, 10), gateway(160.0, 20.0)),
    )

    assert spend(connection) == {NOV_1: (Decimal("10"), "USD", Decimal("10"))}
    latest = BalanceSnapshot.objects.filter(connection=connection).last()
    assert (latest.available, latest.spent_to_date) == (Decimal(140), Decimal(20))


def test_a_currency_change_starts_a_new_series(connection):
    sync_all(
        connection,
        (at(1, 8), deepseek("100.00", "CNY")),
        (at(2, 8), deepseek("20.00", "USD")),
        (at(2, 20), deepseek("15.00", "USD")),
    )

    assert spend(connection) == {NOV_2: (Decimal("5"), "USD", Decimal("5"))}


def test_a_day_in_two_currencies_has_no_native_amount(connection):
    sync_all(
        connection,
        (at(1, 8), deepseek("100.00", "CNY")),
        (at(1, 10), deepseek("90.00", "CNY")),
        (at(1, 12), deepseek("20.00", "USD")),
        (at(1, 14), deepseek("15.00", "USD")),
    )
    assert spend(connection) == {NOV_1: (None, "", None)}

    connection.usd_per_unit = Decimal("0.14")
    connection.save()
    sync_all(connection, (at(1, 16), deepseek("15.00", "USD")))

    # 10 CNY at 0.14 and 5 USD.
    assert spend(connection) == {NOV_1: (None, "", Decimal("6.4"))}


def test_polling_twice_at_the_same_moment_changes_nothing(connection):
    written = sync_all(
        connection,
        (at(1, 8), deepseek("100.00")),
        (at(1, 10), deepseek("90.00")),
        (at(1, 10), deepseek("80.00")),
    )

    assert written == [0, 1, 0]
    assert spend(connection) == {NOV_1: (Decimal("10"), "CNY", None)}
    assert BalanceSnapshot.objects.filter(connection=connection).count() == 2


def test_a_late_snapshot_reshapes_its_neighbours_and_keeps_the_total(connection):
    written = sync_all(
        connection,
        (at(1, 8), deepseek("100.00")),
        (at(2, 8), deepseek("80.00")),
        (at(1, 20), deepseek("90.00")),  # found later: the balance in between
    )

    assert written == [0, 2, 2]
    # 10 on the 1st by 20:00; then 10 over 12 hours, 4 of them before midnight.
    assert spend(connection) == {
        NOV_1: (Decimal("13.3333333333"), "CNY", None),
        NOV_2: (Decimal("6.6666666667"), "CNY", None),
    }


def test_the_simulated_deepseek_account_spends_3_70_a_day(admin):
    now = {"unix": 1761955200}  # 2025-11-01T00:00:00Z
    with running_simulator(clock=lambda: now["unix"]) as sim:
        key = sim.admin_keys["deepseek"]
        connection = create(admin, "deepseek", base_url=sim.url, admin_key=key)
        with CONNECTORS["deepseek"](sim.url, key) as vendor:
            sync_balance(connection, vendor, at(1, 0))
            now["unix"] += 12 * 3600
            sync_balance(connection, vendor, at(1, 0) + timedelta(hours=12))

    assert spend(connection) == {NOV_1: (Decimal("1.85"), "CNY", None)}
