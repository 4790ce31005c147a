"""Creating, changing and testing vendor connections, over real HTTP."""

import logging

import httpx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.connectors import services
from apps.connectors.models import Connection, ConnectionStatus
from apps.connectors.simulator.server import running_simulator
from apps.connectors.tests.conftest import no_sleep
from apps.vault.models import Secret
from apps.vault.tests.factories import make_secret

pytestmark = pytest.mark.django_db

ANSWERS = {
    "openai": "organization reachable: project",
    "anthropic": "organization reachable: workspace",
    "deepseek": "CNY available",
    "moonshot": "CNY available",
}


@pytest.mark.parametrize("vendor", sorted(ANSWERS))
def test_a_good_admin_key_checks_ok_for_each_vendor(simulator, connect, admin, vendor):
    connection = connect(simulator, vendor)

    answer = services.test_connection(Actor(admin), connection)

    connection.refresh_from_db()
    assert ANSWERS[vendor] in answer
    assert connection.status == ConnectionStatus.OK
    assert connection.last_success_at == connection.last_checked_at
    assert connection.last_error == ""
    event = AuditEvent.objects.get(action="connection.tested")
    assert event.details == {"outcome": "ok", "answer": answer, "error": ""}


def test_a_wrong_key_is_an_error_and_nothing_else_changes(simulator, connect, admin):
    connection = connect(simulator, "openai")
    services.test_connection(Actor(admin), connection)
    connection.refresh_from_db()
    succeeded_at, secret_id = connection.last_success_at, connection.admin_key_id
    services.update_connection(Actor(admin), connection, admin_key=make_secret())

    answer = services.test_connection(Actor(admin), connection)

    connection.refresh_from_db()
    assert answer == "rejected by vendor (401): check the admin key"
    assert connection.status == ConnectionStatus.ERROR
    assert connection.last_error == answer
    assert connection.last_success_at == succeeded_at
    assert connection.last_checked_at > succeeded_at
    assert connection.admin_key_id != secret_id
    assert connection.name == "openai org"


def test_429_then_success_waits_as_told(connect, admin):
    sleeps = []
    faults = [{"mode": "429", "count": 1, "retry_after": 2}]
    with running_simulator(faults=faults) as sim:
        connection = connect(sim, "anthropic")
        services.test_connection(Actor(admin), connection, sleep=no_sleep(sleeps))
    assert connection.status == ConnectionStatus.OK
    assert sleeps == [2.0]


def test_5xx_then_success_is_ok(connect, admin):
    faults = [{"mode": "502", "count": 2}]
    with running_simulator(faults=faults) as sim:
        connection = connect(sim, "moonshot")
        services.test_connection(Actor(admin), connection, sleep=no_sleep([]))
    assert connection.status == ConnectionStatus.OK


def test_persistent_5xx_is_an_error_after_three_attempts(connect, admin):
    with running_simulator(faults=[{"mode": "500"}]) as sim:
        connection = connect(sim, "deepseek")
        answer = services.test_connection(Actor(admin), connection, sleep=no_sleep([]))
    connection.refresh_from_db()
    assert answer == "vendor unavailable (500) after 3 attempts"
    assert connection.status == ConnectionStatus.ERROR
    assert connection.last_success_at is None
    event = AuditEvent.objects.get(action="connection.tested")
    assert event.details["outcome"] == "error"
    assert event.details["error"] == answer


def test_a_slow_vendor_times_out(connect, admin):
    timeout = httpx.Timeout(0.2, connect=1.0)
    with running_simulator(faults=[{"mode": "slow", "delay": 5}]) as sim:
        connection = connect(sim, "openai")
        answer = services.test_connection(
            Actor(admin), connection, timeout=timeout, sleep=no_sleep([])
        )
    assert answer == "timed out after 0.2 s"
    assert connection.status == ConnectionStatus.ERROR


def test_a_malformed_body_is_not_json(connect, admin):
    with running_simulator(faults=[{"mode": "malformed"}]) as sim:
        connection = connect(sim, "anthropic")
        answer = services.test_connection(Actor(admin), connection)
    assert answer == "unexpected response: not JSON"


def test_a_missing_field_is_an_unexpected_response(connect, admin):
    with running_simulator(faults=[{"mode": "missing_fields"}]) as sim:
        connection = connect(sim, "deepseek")
        answer = services.test_connection(Actor(admin), connection)
    assert answer == "unexpected response: no total_balance"


def test_a_vendor_without_connector_says_so(admin):
    connection = services.create_connection(
        Actor(admin),
        name="gemini",
        vendor="google",
        base_url="https://generativelanguage.googleapis.com",
        admin_key=make_secret("google"),
    )
    answer = services.test_connection(Actor(admin), connection)
    assert answer == "no API connector yet for Google"
    assert connection.status == ConnectionStatus.ERROR


def test_a_vendor_without_default_url_needs_one(admin):
    with pytest.raises(ValidationError, match="no default API address for Qwen"):
        services.create_connection(
            Actor(admin), name="qwen", vendor="qwen", admin_key=make_secret("qwen")
        )


def test_base_url_defaults_to_the_vendors_api(admin):
    connection = services.create_connection(
        Actor(admin), name="kimi", vendor="moonshot", admin_key=make_secret("moonshot")
    )
    assert connection.base_url == "https://api.moonshot.cn"


def test_update_without_a_key_keeps_the_stored_one(simulator, connect, admin):
    connection = connect(simulator, "openai")
    secret_id = connection.admin_key_id

    services.update_connection(Actor(admin), connection, name="main org", admin_key="")

    connection.refresh_from_db()
    assert connection.admin_key_id == secret_id
    assert connection.admin_key.reveal() == simulator.admin_keys["openai"]
    event = AuditEvent.objects.get(action="connection.updated")
    assert event.details == {"changes": {"name": ["openai org", "main org"]}}


def test_replacing_the_key_deletes_the_old_secret(simulator, connect, admin):
    connection = connect(simulator, "openai")
    old_secret_id = connection.admin_key_id

    services.update_connection(Actor(admin), connection, admin_key=make_secret())

    assert not Secret.objects.filter(pk=old_secret_id).exists()
    assert AuditEvent.objects.filter(action="connection.admin_key_replaced").exists()


def test_delete_removes_the_connection_and_its_secret(simulator, connect, admin):
    connection = connect(simulator, "openai")
    secret_id = connection.admin_key_id

    services.delete_connection(Actor(admin), connection)

    assert not Connection.objects.exists()
    assert not Secret.objects.filter(pk=secret_id).exists()
    assert AuditEvent.objects.filter(action="connection.deleted").exists()


@pytest.mark.parametrize("persona", ["finance", "engineer", "outsider"])
def test_only_admins_change_or_test_connections(simulator, connect, people, persona):
    connection = connect(simulator, "openai")
    actor = Actor(people[persona])
    with pytest.raises(PermissionDenied):
        services.test_connection(actor, connection)
    with pytest.raises(PermissionDenied):
        services.update_connection(actor, connection, name="taken over")
    with pytest.raises(PermissionDenied):
        services.delete_connection(actor, connection)


@pytest.mark.parametrize(
    "persona, sees", [("admin", True), ("finance", True), ("engineer", False)]
)
def test_only_admins_and_finance_see_connections(people, persona, sees):
    if sees:
        assert services.visible_connections(people[persona]).count() == 0
    else:
        with pytest.raises(PermissionDenied):
            services.visible_connections(people[persona])


def test_the_admin_key_never_reaches_the_database_or_logs(connect, admin, caplog):
    caplog.set_level(logging.DEBUG)
    with running_simulator(faults=[{"mode": "503", "count": 1}]) as sim:
        connection = connect(sim, "openai")
        services.test_connection(Actor(admin), connection, sleep=no_sleep([]))
        plaintext = sim.admin_keys["openai"]
        services.update_connection(Actor(admin), connection, admin_key=make_secret())
        services.test_connection(Actor(admin), connection)

    assert plaintext not in caplog.text
    assert plaintext[-12:] not in _database_dump()


def _database_dump() -> str:
    rows = [
        *Connection.objects.values_list(),
        *Secret.objects.values_list(),
        *AuditEvent.objects.values_list(),
    ]
    return repr(rows)
