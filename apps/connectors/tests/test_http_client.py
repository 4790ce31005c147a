"""The shared vendor HTTP client, against the simulator over real HTTP."""

import logging
import random

import httpx
import pytest

from apps.connectors.simulator.server import running_simulator
from apps.connectors.tests.conftest import no_sleep
from apps.connectors.vendors.base import (
    MAX_RETRY_AFTER_SECONDS,
    ConnectorError,
    VendorClient,
    field,
)
from apps.vault.tests.factories import make_secret

BALANCE = "/user/balance"


def client_for(sim, sleeps, key=None, **options):
    token = key or sim.admin_keys["deepseek"]
    headers = {"Authorization": f"Bearer {token}"}
    return VendorClient(
        sim.url, headers, sleep=no_sleep(sleeps), rng=random.Random(1), **options
    )


def test_returns_the_decoded_json_object():
    with running_simulator() as sim, client_for(sim, []) as client:
        answer = client.get_json(BALANCE)
    assert answer["balance_infos"][0]["currency"] == "CNY"


def test_honours_retry_after_on_429_then_succeeds():
    sleeps = []
    faults = [{"mode": "429", "count": 1, "retry_after": 7}]
    with running_simulator(faults=faults) as sim, client_for(sim, sleeps) as client:
        answer = client.get_json(BALANCE)
    assert "balance_infos" in answer
    assert sleeps == [7.0]


def test_caps_a_long_retry_after():
    sleeps = []
    faults = [{"mode": "429", "count": 1, "retry_after": 3600}]
    with running_simulator(faults=faults) as sim, client_for(sim, sleeps) as client:
        client.get_json(BALANCE)
    assert sleeps == [MAX_RETRY_AFTER_SECONDS]


def test_backs_off_exponentially_with_jitter_on_5xx():
    sleeps = []
    faults = [{"mode": "503", "count": 2}]
    with running_simulator(faults=faults) as sim, client_for(sim, sleeps) as client:
        client.get_json(BALANCE)
    first, second = sleeps
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


def failure(faults, sleeps=None, key=None, **options) -> str:
    """What the client raises for BALANCE against a simulator with ``faults``."""
    with running_simulator(faults=faults) as sim:
        client = client_for(sim, [] if sleeps is None else sleeps, key, **options)
        with client, pytest.raises(ConnectorError) as raised:
            client.get_json(BALANCE)
    return str(raised.value)


def test_gives_up_after_three_attempts_of_5xx(caplog):
    sleeps = []
    reason = failure([{"mode": "503"}], sleeps)
    assert reason == "vendor unavailable (503) after 3 attempts"
    assert len(sleeps) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert "503" in warnings[-1].getMessage()


def test_persistent_429_says_rate_limited():
    reason = failure([{"mode": "429", "retry_after": 1}])
    assert reason == "rate limited by vendor (429) after 3 attempts"


def test_a_rejected_key_is_not_retried_and_says_what_to_do(caplog):
    sleeps, wrong = [], make_secret("deepseek")
    reason = failure([], sleeps, key=wrong)
    assert reason == "rejected by vendor (401): check the admin key"
    assert sleeps == []
    assert wrong not in caplog.text


def test_slow_vendor_times_out_with_the_read_timeout():
    timeout = httpx.Timeout(0.2, connect=1.0)
    reason = failure([{"mode": "slow", "delay": 5}], timeout=timeout)
    assert reason == "timed out after 0.2 s"


def test_malformed_body_is_not_json():
    assert failure([{"mode": "malformed"}]) == "unexpected response: not JSON"


def test_truncated_body_is_retried_then_reported():
    reason = failure([{"mode": "truncated"}])
    assert reason == "unexpected response: cut short 3 times"


def test_unreachable_vendor_says_so():
    with running_simulator() as sim:
        url = sim.url
    client = VendorClient(url, {}, sleep=no_sleep([]))
    with client, pytest.raises(ConnectorError) as raised:
        client.get_json(BALANCE)
    assert str(raised.value) == "could not reach 127.0.0.1 after 3 attempts"


def test_missing_field_names_what_is_missing():
    with pytest.raises(ConnectorError, match=r"unexpected response: no data\.0\.name"):
        field({"data": [{}]}, "data", 0, "name")


def test_warning_excerpt_redacts_credentials(caplog):
    with running_simulator() as sim:
        key = sim.admin_keys["deepseek"]
        client = client_for(sim, [])
    # A vendor echoing the key back in an error body must not put it in the log.
    client._warn("GET", "/x", 400, httpx.Response(400, text=f"bad key {key}"))
    assert key not in caplog.text
    assert "[redacted]" in caplog.text


def openai_client(sim, sleeps, **options):
    headers = {"Authorization": f"Bearer {sim.admin_keys['openai']}"}
    return VendorClient(
        sim.url, headers, sleep=no_sleep(sleeps), rng=random.Random(1), **options
    )


def accounts_path(sim) -> str:
    return f"/v1/organization/projects/{sim.org.projects[0].id}/service_accounts"


def test_a_creating_post_is_not_resent_after_a_5xx():
    sleeps = []
    faults = [{"mode": "503", "count": 1}]
    with running_simulator(faults=faults) as sim, openai_client(sim, sleeps) as client:
        with pytest.raises(ConnectorError) as raised:
            client.post_json(accounts_path(sim), {"name": "once"})
        accounts = client.get_json(accounts_path(sim))["data"]

    assert str(raised.value) == (
        "vendor answered 503 and may have acted on the request: "
        "check at the vendor before trying again"
    )
    assert sleeps == []
    assert "once" not in {account["name"] for account in accounts}


def test_a_creating_post_is_not_resent_after_a_timeout():
    faults = [{"mode": "slow", "count": 1, "delay": 5}]
    timeout = httpx.Timeout(0.2, connect=1.0)
    with (
        running_simulator(faults=faults) as sim,
        openai_client(sim, [], timeout=timeout) as client,
        pytest.raises(ConnectorError) as raised,
    ):
        client.post_json(accounts_path(sim), {"name": "once"})

    assert str(raised.value).startswith("vendor timed out and may have acted")


def test_a_creating_post_is_resent_after_a_429():
    sleeps = []
    faults = [{"mode": "429", "count": 1, "retry_after": 2}]
    with running_simulator(faults=faults) as sim, openai_client(sim, sleeps) as client:
        created = client.post_json(accounts_path(sim), {"name": "after throttling"})

    assert created["name"] == "after throttling"
    assert sleeps == [2.0]


def test_an_idempotent_post_is_resent_after_a_5xx():
    sleeps = []
    with running_simulator(faults=[{"mode": "502", "count": 1}]) as sim:
        headers = {
            "x-api-key": sim.admin_keys["anthropic"],
            "anthropic-version": "2023-06-01",
        }
        client = VendorClient(sim.url, headers, sleep=no_sleep(sleeps))
        key_id = sim.org.anthropic_keys[0].id
        with client:
            key = client.post_json(
                f"/v1/organizations/api_keys/{key_id}",
                {"status": "inactive"},
                idempotent=True,
            )

    assert key["status"] == "inactive"
    assert len(sleeps) == 1


def test_delete_is_resent_after_a_5xx_and_returns_the_answer():
    sleeps = []
    with running_simulator(faults=[{"mode": "500", "count": 1}]) as sim:
        key = sim.org.openai_keys[0]
        path = f"/v1/organization/projects/{key.project_id}/api_keys/{key.id}"
        with openai_client(sim, sleeps) as client:
            answer = client.delete_json(path)

    assert answer["deleted"] is True
    assert len(sleeps) == 1


def test_a_refused_post_carries_the_vendors_message():
    with (
        running_simulator() as sim,
        openai_client(sim, []) as client,
        pytest.raises(ConnectorError) as raised,
    ):
        client.post_json(accounts_path(sim), {})

    assert str(raised.value) == "refused by vendor (400): name is required"
