from datetime import UTC, datetime

import pytest

from apps.connectors.simulator.server import running_simulator
from apps.connectors.tests.conftest import connect, no_sleep  # noqa: F401

# A fixed "now" for the simulator, so every figure of a test is reproducible.
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
HOUR = 3600


@pytest.fixture
def simulator():
    with running_simulator(clock=NOW.timestamp) as sim:
        yield sim


@pytest.fixture
def sleeps():
    """The pauses the HTTP client was asked to make, in order."""
    return []


@pytest.fixture
def fast(sleeps):
    """Client options that make retries instant (recording them in ``sleeps``)."""
    return {"sleep": no_sleep(sleeps), "max_attempts": 2}


def hours(start: datetime, end: datetime) -> range:
    return range(int(start.timestamp()), int(end.timestamp()), HOUR)
