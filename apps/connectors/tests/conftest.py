import pytest

from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.simulator.server import running_simulator


def no_sleep(sleeps: list):
    """A sleep that records how long it was asked to wait and returns at once."""
    return sleeps.append


@pytest.fixture
def simulator():
    with running_simulator() as sim:
        yield sim


@pytest.fixture
def connect(admin):
    """Return ``connect(sim, vendor, **fields)``: a connection to the simulator."""

    def create(sim, vendor="openai", **fields):
        fields.setdefault("name", f"{vendor} org")
        if "admin_key" not in fields:
            fields["admin_key"] = sim.admin_keys[vendor]
        return services.create_connection(
            Actor(admin), vendor=vendor, base_url=sim.url, **fields
        )

    return create
