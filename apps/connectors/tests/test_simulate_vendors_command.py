"""simulate_vendors: the admin keys it accepts, over real HTTP, and what it prints."""

import os
import signal
import socket
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command

from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.simulator import generate_admin_keys
from apps.connectors.vendors import CONNECTORS, ConnectorError

pytestmark = pytest.mark.django_db

# vendor, path after the simulator's URL
SERVED = [
    ("openai", ""),
    ("anthropic", ""),
    ("deepseek", ""),
    ("moonshot", ""),
    ("openai_compatible", "/api/v1"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def simulate(
    port: int, *options, calls: dict, stop_signal=signal.SIGINT
) -> tuple[str, str, dict]:
    """Run simulate_vendors on ``port``, make ``calls`` to it, then signal it.

    ``calls`` maps a label to (vendor, base URL, admin key); each answer is the
    vendor's check, or "refused: " and why. Return stdout, stderr and the answers.
    """
    answers = {}

    def call_then_stop():
        if not _listening(port):
            return
        for label, (vendor, base_url, admin_key) in calls.items():
            with CONNECTORS[vendor](base_url, admin_key) as connector:
                try:
                    answers[label] = connector.check()
                except ConnectorError as error:
                    answers[label] = f"refused: {error}"
        # As Ctrl-C or `make run` stops it: the command serves until then.
        os.kill(os.getpid(), stop_signal)

    out, err = StringIO(), StringIO()
    caller = threading.Thread(target=call_then_stop, daemon=True)
    caller.start()
    call_command(
        "simulate_vendors", "--port", str(port), *options, stdout=out, stderr=err
    )
    caller.join(timeout=10)
    return out.getvalue(), err.getvalue(), answers


def _listening(port: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return True
    return False


@pytest.fixture
def connect_all(admin):
    """Return ``connect_all(url)``: one connection per served vendor at ``url``."""

    def create(url, prefix=""):
        keys = generate_admin_keys()
        return [
            services.create_connection(
                Actor(admin),
                vendor=vendor,
                name=f"{prefix}{vendor}",
                base_url=url + path,
                admin_key=keys[vendor],
            )
            for vendor, path in SERVED
        ]

    return create


def calls_to(connections, at: str = "") -> dict:
    """Calls with each connection's stored key, to its base URL or to ``at``."""
    paths = dict(SERVED)
    return {
        connection.name: (
            connection.vendor,
            at + paths[connection.vendor] if at else connection.base_url,
            connection.admin_key.reveal(),
        )
        for connection in connections
    }


def test_demo_connections_keys_are_accepted_and_only_their_hints_printed(
    connect_all,
):
    port = free_port()
    connections = connect_all(f"http://127.0.0.1:{port}")

    out, err, answers = simulate(
        port, "--demo-connections", calls=calls_to(connections)
    )

    assert len(answers) == 5
    assert not [answer for answer in answers.values() if "refused" in answer]
    for connection in connections:
        assert f"{connection.admin_key_hint} (connection {connection.name})" in out
        assert connection.admin_key.reveal() not in out + err


def test_demo_connections_at_localhost_count_as_the_simulators(connect_all):
    port = free_port()
    connections = connect_all(f"http://localhost:{port}")

    _, _, answers = simulate(port, "--demo-connections", calls=calls_to(connections))

    assert not [answer for answer in answers.values() if "refused" in answer]


def test_connections_pointing_elsewhere_are_refused(connect_all):
    port = free_port()
    elsewhere = connect_all(f"http://127.0.0.1:{port + 1}")
    calls = calls_to(elsewhere, at=f"http://127.0.0.1:{port}")

    out, _, answers = simulate(port, "--demo-connections", calls=calls)

    assert answers["openai"] == (
        "refused: rejected by vendor (401): check the admin key"
    )
    assert all(answer.startswith("refused") for answer in answers.values())
    assert "(connection " not in out


def test_without_the_option_stored_keys_are_refused(connect_all):
    port = free_port()
    connections = connect_all(f"http://127.0.0.1:{port}")

    _, _, answers = simulate(port, calls=calls_to(connections))

    assert all(answer.startswith("refused") for answer in answers.values())


def test_a_key_given_on_the_command_line_is_accepted_and_printed(connect_all):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    connections = {c.vendor: c for c in connect_all(url)}
    given = generate_admin_keys()["openai"]
    calls = {
        "given": ("openai", url, given),
        "stored": ("openai", url, connections["openai"].admin_key.reveal()),
        "anthropic": calls_to([connections["anthropic"]])["anthropic"],
    }

    out, err, answers = simulate(
        port, "--demo-connections", "--openai-key", given, calls=calls
    )

    assert "refused" not in answers["given"]
    assert answers["stored"].startswith("refused")
    assert "refused" not in answers["anthropic"]
    assert f"openai key: {given}" in out
    assert "openai: its key is refused, the simulator accepts --openai-key's" in err


def test_only_one_connection_per_vendor_is_accepted(connect_all):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = connect_all(url, prefix="a ")
    second = connect_all(url, prefix="b ")

    _, err, answers = simulate(
        port, "--demo-connections", calls=calls_to(first + second)
    )

    assert "refused" not in answers["a openai"]
    assert answers["b openai"].startswith("refused")
    assert "b openai: its key is refused, the simulator accepts a openai's" in err


def test_a_term_signal_stops_it_as_quietly_as_ctrl_c(connect_all):
    port = free_port()
    connections = connect_all(f"http://127.0.0.1:{port}")
    before = signal.getsignal(signal.SIGTERM)

    _, err, answers = simulate(
        port,
        "--demo-connections",
        calls=calls_to(connections[:1]),
        stop_signal=signal.SIGTERM,
    )

    assert "refused" not in answers["openai"]
    assert err == ""
    assert signal.getsignal(signal.SIGTERM) == before
