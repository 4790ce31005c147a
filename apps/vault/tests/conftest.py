from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.services import Actor
from apps.connectors.services import create_connection
from apps.connectors.simulator.server import running_simulator
from apps.connectors.vendors import CONNECTORS
from apps.connectors.vendors import base as vendor_client
from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory
from apps.usage.services import sync_connection


@pytest.fixture
def payments_env(team):
    """Staging of the project Checkout, owned by the engineer's team Payments."""
    project = ProjectFactory(team=team, name="Checkout", slug="checkout")
    return EnvironmentFactory(project=project, name="staging", kind="staging")


@pytest.fixture
def search_env(other_team):
    """Production of the project Ranking, owned by the outsider's team Search."""
    project = ProjectFactory(team=other_team, name="Ranking", slug="ranking")
    return EnvironmentFactory(project=project, name="production", kind="production")


@pytest.fixture
def instant_retries(monkeypatch):
    """No pause between the HTTP client's retries of a failing vendor."""
    monkeypatch.setattr(vendor_client, "BACKOFF_SECONDS", 0.0)


@pytest.fixture
def simulator():
    with running_simulator() as sim:
        yield sim


@pytest.fixture
def openai_org(simulator, admin):
    """A connection to the simulated OpenAI organization, its key list synced."""
    return connected(simulator, admin, "openai", "OpenAI prod")


@pytest.fixture
def anthropic_org(simulator, admin):
    return connected(simulator, admin, "anthropic", "Anthropic prod")


def connected(sim, admin, vendor, name):
    """A connection to ``vendor`` at the simulator, its key list synced."""
    connection = create_connection(
        Actor(admin),
        name=name,
        vendor=vendor,
        base_url=sim.url,
        admin_key=sim.admin_keys[vendor],
    )
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=1)
    sync_connection(connection, start=start, end=end, trigger="manual")
    return connection


def vendor_keys(connection) -> dict:
    """The vendor's key list, read afresh over HTTP, by vendor key id."""
    connector = CONNECTORS[connection.vendor]
    with connector(connection.base_url, connection.admin_key.reveal()) as vendor:
        return {key.vendor_key_id: key for key in vendor.list_keys()}
