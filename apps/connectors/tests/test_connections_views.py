"""The connection pages, tried by every persona."""

import pytest
from django.urls import reverse

from apps.connectors.models import Connection, ConnectionStatus
from apps.vault.tests.factories import make_secret
from conftest import PERSONAS

pytestmark = pytest.mark.django_db

READ_STATUS = {"admin": 200, "finance": 200, "anonymous": 302}
ADMIN_ONLY = {"admin": 200, "anonymous": 302}


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_is_for_admins_and_finance(client_as, simulator, connect, persona):
    connect(simulator, "openai")
    response = client_as(persona).get(reverse("connection-list"))
    assert response.status_code == READ_STATUS.get(persona, 403)
    if response.status_code == 200:
        assert b"openai org" in response.content
        assert simulator.admin_keys["openai"].encode() not in response.content


def test_list_query_count_is_constant(
    client_as, simulator, connect, admin, django_assert_num_queries
):
    client = client_as("admin")
    connect(simulator, "openai")
    with django_assert_num_queries(3):
        client.get(reverse("connection-list"))
    for vendor in ("anthropic", "deepseek", "moonshot"):
        connect(simulator, vendor)
    with django_assert_num_queries(3):
        response = client.get(reverse("connection-list"))
    assert response.content.count(b"Test connection") == 4


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_open_the_create_form(client_as, persona):
    response = client_as(persona).get(reverse("connection-create"))
    assert response.status_code == ADMIN_ONLY.get(persona, 403)


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_create_connections(client_as, persona):
    data = {
        "name": "kimi",
        "vendor": "moonshot",
        "admin_key": make_secret("moonshot"),
        "enabled": "on",
        "sync_interval_minutes": 60,
    }
    response = client_as(persona).post(reverse("connection-create"), data)
    expected = {"admin": 302, "anonymous": 302}.get(persona, 403)
    assert response.status_code == expected
    assert Connection.objects.exists() == (persona == "admin")


def test_an_invalid_form_keeps_the_input_but_not_the_key(client_as):
    secret = make_secret("openai")
    data = {"name": "main", "vendor": "openai", "admin_key": secret}
    response = client_as("admin").post(reverse("connection-create"), data)
    assert response.status_code == 200
    assert b'value="main"' in response.content
    assert secret.encode() not in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_edit_connections(client_as, simulator, connect, persona):
    connection = connect(simulator, "openai")
    url = reverse("connection-edit", args=[connection.pk])
    response = client_as(persona).get(url)
    assert response.status_code == ADMIN_ONLY.get(persona, 403)
    if persona == "admin":
        assert simulator.admin_keys["openai"].encode() not in response.content
        assert connection.admin_key_hint.encode() in response.content


def test_editing_without_a_key_keeps_it(client_as, simulator, connect):
    connection = connect(simulator, "openai")
    url = reverse("connection-edit", args=[connection.pk])
    data = {
        "name": "renamed",
        "vendor": "openai",
        "base_url": simulator.url,
        "admin_key": "",
        "enabled": "on",
        "sync_interval_minutes": 30,
    }
    response = client_as("admin").post(url, data)
    connection.refresh_from_db()
    assert response.status_code == 302
    assert connection.name == "renamed"
    assert connection.admin_key.reveal() == simulator.admin_keys["openai"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_test_connections(client_as, simulator, connect, persona):
    connection = connect(simulator, "deepseek")
    url = reverse("connection-test", args=[connection.pk])
    response = client_as(persona).post(url)
    assert response.status_code == {"admin": 302, "anonymous": 302}.get(persona, 403)
    connection.refresh_from_db()
    tested = persona == "admin"
    assert (connection.status == ConnectionStatus.OK) == tested


def test_testing_without_javascript_redirects_with_the_answer(
    client_as, simulator, connect
):
    connection = connect(simulator, "deepseek")
    url = reverse("connection-test", args=[connection.pk])
    response = client_as("admin").post(url, follow=True)
    assert b"ok, balance" in response.content
    assert b"CNY available" in response.content


def test_testing_with_htmx_swaps_only_the_row(client_as, simulator, connect):
    connection = connect(simulator, "openai", admin_key=make_secret())
    url = reverse("connection-test", args=[connection.pk])
    response = client_as("admin").post(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="connection-{connection.pk}"')
    assert "rejected by vendor (401): check the admin key" in body
    assert "<html" not in body


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_delete_connections(client_as, simulator, connect, persona):
    connection = connect(simulator, "openai")
    url = reverse("connection-delete", args=[connection.pk])
    response = client_as(persona).post(url)
    assert response.status_code == {"admin": 302, "anonymous": 302}.get(persona, 403)
    assert Connection.objects.exists() == (persona != "admin")
