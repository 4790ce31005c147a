"""The simulator misbehaves on request, and its command serves over HTTP."""

# Every URL opened here is the local simulator's own http:// address.
# ruff: noqa: S310

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from apps.connectors.simulator import running_simulator
from apps.connectors.simulator.faults import ADDED_FIELD

from .test_simulator_vendors import NOW, WEEK_AGO, auth_headers, call

COSTS = f"/v1/organization/costs?start_time={WEEK_AGO}&limit=1"
KEYS = "/v1/organizations/api_keys"


@pytest.fixture
def sim():
    with running_simulator(clock=lambda: NOW) as simulator:
        yield simulator


def set_fault(sim, **spec):
    request = urllib.request.Request(
        sim.url + "/_simulator/faults",
        json.dumps(spec).encode(),
        {"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_429_burst_carries_retry_after_then_clears(sim):
    set_fault(sim, mode="429", count=2, retry_after=3)

    statuses = [call(sim, COSTS)[0] for _ in range(3)]

    assert statuses == [429, 429, 200]
    status, headers, raw = call(sim, COSTS + "&_fault=429&_retry_after=3")
    assert status == 429 and headers["Retry-After"] == "3"
    assert json.loads(raw)["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors_use_the_vendor_error_shape(sim, status):
    got, _, raw = call(sim, f"{KEYS}?_fault={status}", "anthropic")

    assert got == status
    assert json.loads(raw)["type"] == "error"


def test_faults_given_at_start_apply_to_every_request():
    with running_simulator(clock=lambda: NOW, faults=[{"mode": "503"}]) as sim:
        statuses = {call(sim, COSTS)[0] for _ in range(3)}

    assert statuses == {503}


def test_slow_response_outlasts_a_short_client_timeout(sim):
    request = urllib.request.Request(
        sim.url + COSTS + "&_fault=slow&_delay=2", headers=auth_headers(sim, "openai")
    )
    started = time.monotonic()

    with pytest.raises(TimeoutError):
        urllib.request.urlopen(request, timeout=0.3).read()
    assert time.monotonic() - started < 1.5


def test_malformed_body_is_not_json(sim):
    status, _, raw = call(sim, COSTS + "&_fault=malformed")

    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)


def test_truncated_body_stops_short_of_its_length(sim):
    with pytest.raises(http.client.IncompleteRead):
        call(sim, COSTS + "&_fault=truncated")


def test_extra_fields_are_added_everywhere(sim):
    status, _, raw = call(sim, f"{KEYS}?_fault=extra_fields", "anthropic")

    body = json.loads(raw)
    assert status == 200
    assert ADDED_FIELD in body and ADDED_FIELD in body["data"][0]
    assert body["data"][0]["status"] in {"active", "inactive", "archived"}


def test_missing_fields_drop_required_ones(sim):
    status, _, raw = call(sim, COSTS + "&_fault=missing_fields")

    result = json.loads(raw)["data"][0]
    assert status == 200
    assert "start_time" not in result
    assert "amount" not in result["results"][0]


def test_fault_admin_endpoint_lists_and_clears_faults(sim):
    listed = set_fault(sim, mode="malformed", count=5)
    request = urllib.request.Request(sim.url + "/_simulator/faults", method="DELETE")
    with urllib.request.urlopen(request, timeout=5) as response:
        cleared = json.loads(response.read())

    assert listed["faults"][0]["mode"] == "malformed"
    assert cleared == {"faults": []}
    assert call(sim, COSTS)[0] == 200


def test_fault_admin_endpoint_refuses_unknown_modes(sim):
    with pytest.raises(urllib.error.HTTPError) as refused:
        set_fault(sim, mode="teapot")

    assert refused.value.code == 400


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_command_starts_and_answers_with_the_given_key():
    port = _free_port()
    key = "simulator-test-" + str(port)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [
            sys.executable,
            "manage.py",
            "simulate_vendors",
            "--port",
            str(port),
            "--deepseek-key",
            key,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/user/balance",
            headers={"Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            balance = json.loads(response.read())
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()

    assert f"127.0.0.1:{port}" in banner
    assert balance["balance_infos"][0]["currency"] == "CNY"
