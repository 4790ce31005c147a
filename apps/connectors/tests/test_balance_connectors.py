"""Balances of DeepSeek, Moonshot and OpenAI-compatible gateways, over real HTTP."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.rows import Balance
from apps.connectors.simulator.server import running_simulator
from apps.connectors.vendors import CONNECTORS, ConnectorError
from apps.connectors.vendors.moonshot import account_currency
from apps.vault.tests.factories import make_secret

pytestmark = pytest.mark.django_db

# 2025-11-01T00:00:00Z: 23 days into the simulator's 30-day top-up cycle and 304
# days after its gateway account opened.
NOW = 1761955200
HOUR = 3600


@pytest.fixture
def clock():
    """A simulator clock the test moves: ``clock["now"]`` is Unix seconds."""
    return {"now": NOW}


@pytest.fixture
def sim(clock):
    with running_simulator(clock=lambda: clock["now"]) as simulator:
        yield simulator


def read_balance(sim, vendor, path="") -> Balance:
    with CONNECTORS[vendor](sim.url + path, sim.admin_keys[vendor]) as connector:
        return connector.balance()


def test_deepseek_balance_is_the_total_in_the_currency_given(sim):
    # 500.00 topped up + 10.00 granted - 23 days at 3.70 a day.
    assert read_balance(sim, "deepseek") == Balance("CNY", Decimal("424.90"))


def test_deepseek_balance_falls_as_the_simulator_clock_runs(sim, clock):
    before = read_balance(sim, "deepseek")
    clock["now"] += 12 * HOUR

    after = read_balance(sim, "deepseek")

    assert before.available - after.available == Decimal("1.85")


def test_moonshot_balance_is_cny_on_the_cn_platform(sim):
    # voucher 46.58893 + cash (300.00001 - 23 days at 2.15 a day).
    assert read_balance(sim, "moonshot") == Balance("CNY", Decimal("297.13894"))


@pytest.mark.parametrize(
    ("base_url", "currency"),
    [
        ("https://api.moonshot.cn", "CNY"),
        ("https://api.moonshot.ai", "USD"),
        ("https://moonshot-proxy.internal.example", "CNY"),
    ],
)
def test_moonshot_currency_follows_the_platform_host(base_url, currency):
    assert account_currency(base_url) == currency


def test_gateway_credits_give_balance_and_spend_to_date(sim):
    balance = read_balance(sim, "openai_compatible", "/api/v1")

    # 31 purchases of 50 after 25 to start; 304 days at 4.20 a day.
    assert balance == Balance(
        "USD", available=Decimal("298.2"), spent_to_date=Decimal("1276.8")
    )


def test_gateway_spend_rises_and_credits_step_up_with_the_clock(sim, clock):
    before = read_balance(sim, "openai_compatible", "/api/v1")
    clock["now"] += 10 * 24 * HOUR

    after = read_balance(sim, "openai_compatible", "/api/v1")

    assert after.spent_to_date - before.spent_to_date == Decimal("42")
    assert after.available - before.available == Decimal("50") - Decimal("42")


def test_gateway_without_credits_endpoint_reads_the_key(sim):
    balance = read_balance(sim, "openai_compatible", "/key-only/v1")

    # The capped key: 200 a month, nothing spent yet on the first of the month.
    assert balance == Balance(
        "USD", available=Decimal("200.0"), spent_to_date=Decimal("1276.8")
    )


def test_gateway_with_neither_endpoint_says_so(sim):
    with pytest.raises(ConnectorError) as failure:
        read_balance(sim, "openai_compatible", "/v1")

    assert str(failure.value) == (
        "this gateway publishes no credit endpoint Keyhold understands "
        "(neither /credits nor /key)"
    )


def test_gateway_with_a_wrong_key_is_rejected(sim):
    gateway = CONNECTORS["openai_compatible"](
        sim.url + "/api/v1", make_secret("openai_compatible")
    )
    with gateway, pytest.raises(ConnectorError, match=r"rejected by vendor \(401\)"):
        gateway.balance()


@pytest.mark.parametrize(
    ("vendor", "path", "answer"),
    [
        ("deepseek", "", "balance 424.90 CNY available"),
        ("moonshot", "", "balance 297.14 CNY available"),
        ("openai_compatible", "/api/v1", "credits 298.20 USD left, 1276.80 USD used"),
        (
            "openai_compatible",
            "/key-only/v1",
            "key has spent 1276.80 USD, 200.00 USD left of its limit",
        ),
    ],
)
def test_testing_a_balance_connection_shows_the_balance(
    sim, admin, vendor, path, answer
):
    connection = services.create_connection(
        Actor(admin),
        name=f"{vendor} org",
        vendor=vendor,
        base_url=sim.url + path,
        admin_key=sim.admin_keys[vendor],
    )

    assert services.test_connection(Actor(admin), connection) == answer


def test_balance_connectors_say_spend_comes_from_the_balance():
    assert {
        vendor for vendor, connector in CONNECTORS.items() if connector.reports_balance
    } == {"deepseek", "moonshot", "openai_compatible"}


def test_a_gateway_connection_needs_its_base_url(admin):
    with pytest.raises(ValidationError, match="give its base URL"):
        services.create_connection(
            Actor(admin),
            name="router",
            vendor="openai_compatible",
            admin_key=make_secret("openai_compatible"),
        )
