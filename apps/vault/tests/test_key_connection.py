"""Linking a key to the connection of its vendor organization, in pages and the API."""

from html import unescape

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.connectors.services import create_connection, delete_connection
from apps.connectors.simulator.server import generate_admin_keys
from apps.vault.models import Vendor, VendorKey
from apps.vault.tests.factories import make_key, make_secret
from apps.vault.tests.test_keys_views import registration


@pytest.fixture
def connections(admin):
    """One connection to OpenAI and one to Anthropic; nothing is called."""
    admin_keys = generate_admin_keys()
    return {
        vendor: create_connection(
            Actor(admin), name=name, vendor=vendor, admin_key=admin_keys[vendor]
        )
        for vendor, name in (("openai", "OpenAI prod"), ("anthropic", "Claude org"))
    }


def test_admin_registers_a_key_linked_to_its_connection(
    client_as, connections, payments_env, engineer
):
    secret = make_secret()
    data = registration(payments_env, engineer, secret)
    response = client_as("admin").post(
        reverse("key-create"), data | {"connection": connections["openai"].pk}
    )
    assert response.status_code == 200
    key = VendorKey.objects.get()
    assert key.connection == connections["openai"]
    registered = AuditEvent.objects.get(action="key.registered")
    assert registered.details["connection"] == "OpenAI prod"


def test_a_connection_of_another_vendor_is_refused_on_the_form(
    client_as, connections, payments_env, engineer
):
    secret = make_secret()
    data = registration(payments_env, engineer, secret)
    response = client_as("admin").post(
        reverse("key-create"), data | {"connection": connections["anthropic"].pk}
    )
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert (
        "Claude org is a connection to Anthropic, not to OpenAI: choose one of the "
        "OpenAI connections, or none." in html
    )
    assert secret not in html
    assert not VendorKey.objects.exists()


def test_editing_offers_only_the_keys_vendor_connections(
    client_as, admin, connections, payments_env
):
    key, _ = make_key(admin, environment=payments_env)
    client = client_as("admin")
    form = client.get(reverse("key-edit", args=[key.pk]))
    offered = form.context["form"].fields["connection"].queryset
    assert list(offered) == [connections["openai"]]

    data = {
        "name": key.name,
        "vendor_key_id": "key_abc",
        "connection": connections["openai"].pk,
        "project": key.project_id,
        "environment": key.environment_id,
        "owner": key.owner_id,
        "allowed_models": "",
        "monthly_cap_usd": "",
        "expires_at": "",
    }
    assert client.post(reverse("key-edit", args=[key.pk]), data).status_code == 302
    key.refresh_from_db()
    assert key.connection == connections["openai"]
    changed = AuditEvent.objects.get(action="key.updated").details["changes"]
    assert changed["connection"] == [None, "OpenAI prod"]


def test_list_and_detail_show_the_connection(
    client_as, admin, connections, payments_env
):
    key, _ = make_key(admin, environment=payments_env, connection=connections["openai"])
    listing = client_as("engineer").get(reverse("key-list")).content.decode()
    assert "<td>OpenAI prod</td>" in listing

    link = reverse("connection-detail", args=[connections["openai"].pk])
    as_admin = client_as("admin").get(reverse("key-detail", args=[key.pk]))
    assert f'<a href="{link}">OpenAI prod</a>' in as_admin.content.decode()
    # Engineers may not open connections: they see the name only.
    as_engineer = client_as("engineer").get(reverse("key-detail", args=[key.pk]))
    assert "OpenAI prod" in as_engineer.content.decode()
    assert link not in as_engineer.content.decode()


def test_key_list_query_count_stays_constant_with_linked_keys(
    client_as, admin, connections, payments_env, django_assert_num_queries
):
    client = client_as("engineer")
    make_key(admin, environment=payments_env, connection=connections["openai"])
    # As without connections: session, user, the filter choices, page ids, page
    # rows (their connections joined), count.
    with django_assert_num_queries(9):
        client.get(reverse("key-list"))
    for _ in range(5):
        make_key(admin, environment=payments_env, connection=connections["openai"])
    with django_assert_num_queries(9):
        client.get(reverse("key-list"))


def test_deleting_a_connection_unlinks_its_keys(admin, connections, payments_env):
    key, _ = make_key(admin, environment=payments_env, connection=connections["openai"])
    delete_connection(Actor(admin), connections["openai"])
    key.refresh_from_db()
    assert key.connection is None
    assert key.is_active


# --- the API ----------------------------------------------------------------------


def test_api_registers_and_relinks_a_key_by_connection_id(
    api_as, connections, payments_env, engineer
):
    api = api_as("admin")
    created = api.post(
        "/api/v1/keys/",
        {
            "name": "Fraud",
            "vendor": Vendor.OPENAI,
            "secret": make_secret(),
            "connection": connections["openai"].pk,
            "project": payments_env.project_id,
            "environment": payments_env.pk,
            "owner": engineer.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["connection"] == connections["openai"].pk
    key_url = f"/api/v1/keys/{created.json()['id']}/"

    unlinked = api.patch(key_url, {"connection": None}, format="json")
    assert unlinked.status_code == 200
    assert unlinked.json()["connection"] is None
    assert api_as("engineer").get(key_url).json()["connection"] is None


def test_api_refuses_a_connection_of_another_vendor(
    api_as, admin, connections, payments_env
):
    key, _ = make_key(admin, environment=payments_env)
    response = api_as("admin").patch(
        f"/api/v1/keys/{key.pk}/",
        {"connection": connections["anthropic"].pk},
        format="json",
    )
    assert response.status_code == 400
    assert "is a connection to Anthropic, not to OpenAI" in response.json()["detail"]
    key.refresh_from_db()
    assert key.connection is None
