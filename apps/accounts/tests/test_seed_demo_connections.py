"""seed_demo: vendor connections to the simulator, and usage that lands on projects."""

import socket
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import Actor
from apps.connectors.models import Connection, ConnectionStatus
from apps.connectors.services import create_connection
from apps.connectors.services import test_connection as check_connection
from apps.connectors.simulator import generate_admin_keys, running_simulator
from apps.connectors.simulator.org import SyntheticOrg
from apps.usage.models import DailySpend
from apps.vault.models import KeyVersion, VendorKey

pytestmark = pytest.mark.django_db

SERVED = {"openai", "anthropic", "deepseek", "moonshot", "openai_compatible"}


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.fixture
def simulator_url(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    # With the trailing slash people often type.
    monkeypatch.setenv("KEYHOLD_SIMULATOR_URL", url + "/")
    return url


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def stored_admin_keys() -> dict[str, str]:
    return {
        connection.vendor: connection.admin_key.reveal()
        for connection in Connection.objects.select_related("admin_key")
    }


def test_seed_demo_connects_every_simulated_vendor_at_the_simulator_url(
    debug, simulator_url
):
    output = seed()

    connections = {c.vendor: c for c in Connection.objects.all()}
    assert set(connections) == SERVED
    assert connections["openai"].base_url == simulator_url
    assert connections["openai_compatible"].base_url == simulator_url + "/api/v1"
    assert {c.sync_interval_minutes for c in connections.values()} == {15}
    assert {c.enabled for c in connections.values()} == {True}
    assert connections["openai"].admin_key_hint.startswith("sk-admin-")
    assert connections["anthropic"].admin_key_hint.startswith("sk-ant-admin01-")
    assert f"5 vendor connections to the simulator at {simulator_url}" in output


def test_seed_demo_gives_the_cny_balances_a_usd_rate_and_no_other(debug):
    seed()

    rates = dict(Connection.objects.values_list("vendor", "usd_per_unit"))
    assert rates.pop("deepseek") == rates.pop("moonshot") > Decimal("0")
    assert set(rates.values()) == {None}


def test_seed_demo_points_at_the_default_simulator_without_the_variable(
    debug, monkeypatch
):
    monkeypatch.delenv("KEYHOLD_SIMULATOR_URL", raising=False)

    seed()

    assert set(Connection.objects.values_list("base_url", flat=True)) == {
        "http://127.0.0.1:8765",
        "http://127.0.0.1:8765/api/v1",
    }


def test_seed_demo_refuses_a_simulator_url_that_is_not_a_url(debug, monkeypatch):
    monkeypatch.setenv("KEYHOLD_SIMULATOR_URL", "127.0.0.1 8765")

    with pytest.raises(CommandError, match="KEYHOLD_SIMULATOR_URL is not a URL"):
        seed()

    assert not User.objects.exists()


def test_seed_demo_refuses_a_database_with_a_connection_of_a_demo_name(debug, admin):
    create_connection(
        Actor(admin),
        vendor="openai",
        name="OpenAI (simulated)",
        base_url="https://api.openai.com",
        admin_key=generate_admin_keys()["openai"],
    )

    with pytest.raises(CommandError, match=r"\(OpenAI \(simulated\)\)"):
        seed()

    assert Connection.objects.count() == 1


def test_seed_demo_twice_keeps_the_same_connections_and_admin_keys(debug):
    seed()
    keys = stored_admin_keys()

    seed()

    assert Connection.objects.count() == 5
    assert stored_admin_keys() == keys


def test_seed_demo_never_prints_an_admin_key(debug):
    output = seed() + seed()

    keys = stored_admin_keys().values()
    assert len(set(keys)) == 5
    for key in keys:
        assert key not in output
        assert key[-12:] not in output


def test_seed_demo_keys_carry_the_simulators_key_ids(debug):
    seed()

    org = SyntheticOrg(1)
    simulated = {key.id for key in org.openai_keys + org.anthropic_keys}
    known = set(
        KeyVersion.objects.exclude(vendor_key_id="").values_list(
            "vendor_key_id", flat=True
        )
    )
    assert known < simulated
    assert len(known) == 8  # one of them rotated: both of its versions count
    rotated = VendorKey.objects.get(name="checkout-prod-openai")
    old, new = rotated.versions.order_by("number")
    assert old.vendor_key_id != new.vendor_key_id == rotated.vendor_key_id
    assert VendorKey.objects.get(
        name="disputes-staging-anthropic"
    ).vendor_key_id.startswith("apikey_")


def test_the_seeded_connections_sync_from_the_simulator_onto_demo_keys(
    debug, simulator_url
):
    seed()
    admin = Actor(User.objects.get(username="admin"))
    port = urlsplit(simulator_url).port

    with running_simulator(port, admin_keys=stored_admin_keys()):
        for connection in Connection.objects.all():
            check_connection(admin, connection)
        start = (timezone.now() - timedelta(days=1)).isoformat()
        call_command("sync_usage", "--start", start, stdout=StringIO())

    statuses = set(Connection.objects.values_list("status", flat=True))
    assert statuses == {ConnectionStatus.OK}
    spend = DailySpend.objects.filter(derived=False)
    attributed = set(spend.exclude(key=None).values_list("key__name", flat=True))
    assert {
        "checkout-prod-openai",
        "checkout-staging-openai",
        "search-prod-openai",
        "emails-prod-openai",
        "checkout-dev-anthropic",
        "disputes-prod-anthropic",
        "disputes-staging-anthropic",
    } <= attributed
    assert spend.filter(key=None, vendor="openai").exists()
    assert spend.filter(key=None, vendor="anthropic").exists()
