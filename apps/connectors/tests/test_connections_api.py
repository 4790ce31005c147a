"""The connections/ API, tried by every persona."""

import pytest

from apps.connectors.models import Connection
from conftest import PERSONAS

pytestmark = pytest.mark.django_db

URL = "/api/v1/connections/"
READ_STATUS = {"admin": 200, "finance": 200, "anonymous": 401}


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_is_for_admins_and_finance_and_never_shows_the_key(
    api_as, simulator, connect, persona
):
    connect(simulator, "anthropic")
    response = api_as(persona).get(URL)
    assert response.status_code == READ_STATUS.get(persona, 403)
    if response.status_code == 200:
        row = response.json()["results"][0]
        assert "admin_key" not in row
        assert row["status"] == "never_checked"
        assert row["admin_key_hint"].startswith("sk-ant-admin01-")
        assert simulator.admin_keys["anthropic"] not in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_create_connections(api_as, simulator, persona):
    body = {
        "name": "deepseek org",
        "vendor": "deepseek",
        "base_url": simulator.url,
        "admin_key": simulator.admin_keys["deepseek"],
    }
    response = api_as(persona).post(URL, body, format="json")
    expected = {"admin": 201, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
    if expected == 201:
        assert "admin_key" not in response.json()
        assert simulator.admin_keys["deepseek"] not in response.content.decode()
        connection = Connection.objects.get()
        assert connection.admin_key.reveal() == simulator.admin_keys["deepseek"]


def test_a_vendor_without_default_url_is_a_400(api_as):
    body = {"name": "q", "vendor": "qwen", "admin_key": "x" * 20}
    response = api_as("admin").post(URL, body, format="json")
    assert response.status_code == 400
    assert "base URL" in response.json()["detail"]


def test_patch_without_a_key_keeps_it(api_as, simulator, connect):
    connection = connect(simulator, "openai")
    response = api_as("admin").patch(
        f"{URL}{connection.pk}/", {"enabled": False}, format="json"
    )
    connection.refresh_from_db()
    assert response.status_code == 200
    assert connection.enabled is False
    assert connection.admin_key.reveal() == simulator.admin_keys["openai"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_test_a_connection(api_as, simulator, connect, persona):
    connection = connect(simulator, "moonshot")
    response = api_as(persona).post(f"{URL}{connection.pk}/test/")
    expected = {"admin": 200, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
    if expected == 200:
        answer = response.json()
        assert answer["status"] == "ok"
        assert answer["result"].endswith("CNY available")
        assert answer["last_error"] == ""


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_delete_a_connection(api_as, simulator, connect, persona):
    connection = connect(simulator, "openai")
    response = api_as(persona).delete(f"{URL}{connection.pk}/")
    expected = {"admin": 204, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
