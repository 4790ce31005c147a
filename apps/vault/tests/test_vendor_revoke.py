"""Revoking a key at its vendor through its connection, over HTTP to the simulator."""

from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.connectors.services import create_connection
from apps.connectors.simulator.faults import Fault
from apps.vault import services
from apps.vault.models import KeyStatus, Vendor
from apps.vault.tests.conftest import vendor_keys
from apps.vault.tests.factories import make_key
from conftest import PERSONAS

PAGE = {"admin": 302, "finance": 403, "engineer": 403, "outsider": 404}
API = {"admin": 200, "finance": 403, "engineer": 403, "outsider": 403}


@pytest.fixture
def linked_key(admin, engineer, payments_env, openai_org, simulator):
    """A vault key for the simulated organization's first key, a user's own."""
    key, _ = make_key(
        admin,
        environment=payments_env,
        owner=engineer,
        name="Checkout",
        connection=openai_org,
        vendor_key_id=simulator.org.openai_keys[0].id,
    )
    return key


def events(action):
    return AuditEvent.objects.filter(action=action)


def test_revoking_at_openai_deletes_the_key_there_then_revokes_it_here(
    admin, linked_key, openai_org
):
    assert linked_key.vendor_key_id in vendor_keys(openai_org)
    services.revoke_key(Actor(admin), linked_key, reason="leaked", at_vendor=True)

    assert linked_key.vendor_key_id not in vendor_keys(openai_org)
    linked_key.refresh_from_db()
    assert linked_key.status == KeyStatus.REVOKED
    assert not linked_key.versions.filter(retired_at=None).exists()
    assert events("key.revoked").get().details["at_vendor"] is True


def test_revoking_a_service_accounts_only_key_at_openai_removes_the_account(
    admin, payments_env, openai_org, simulator
):
    batch_key = simulator.org.openai_keys[3]
    assert batch_key.owner.type == "service_account"
    key, _ = make_key(
        admin,
        environment=payments_env,
        connection=openai_org,
        vendor_key_id=batch_key.id,
    )
    services.revoke_key(Actor(admin), key, reason="job retired", at_vendor=True)
    assert batch_key.id not in vendor_keys(openai_org)
    # The same account's key in another project is another account at OpenAI.
    assert simulator.org.openai_keys[7].id in vendor_keys(openai_org)


def test_revoking_at_anthropic_deactivates_the_key(
    admin, payments_env, anthropic_org, simulator
):
    vendor_key = simulator.org.anthropic_keys[1]
    key, _ = make_key(
        admin,
        environment=payments_env,
        vendor=Vendor.ANTHROPIC,
        connection=anthropic_org,
        vendor_key_id=vendor_key.id,
    )
    assert vendor_keys(anthropic_org)[vendor_key.id].status == "active"
    services.revoke_key(Actor(admin), key, reason="leaked", at_vendor=True)
    assert vendor_keys(anthropic_org)[vendor_key.id].status == "inactive"
    key.refresh_from_db()
    assert key.status == KeyStatus.REVOKED


def test_a_vendor_outage_changes_nothing_in_keyhold(
    admin, linked_key, openai_org, simulator, instant_retries
):
    simulator.faults.add(Fault("500"))
    with pytest.raises(ValidationError) as refused:
        services.revoke_key(Actor(admin), linked_key, reason="leak", at_vendor=True)
    message = " ".join(refused.value.messages)
    assert message.startswith(
        "OpenAI did not revoke the key: vendor unavailable (500) after 3 attempts."
    )
    assert "Nothing changed in Keyhold" in message
    assert "untick “Also revoke at OpenAI”" in message

    simulator.faults.clear()
    assert linked_key.vendor_key_id in vendor_keys(openai_org)
    linked_key.refresh_from_db()
    assert linked_key.status == KeyStatus.ACTIVE
    assert linked_key.versions.filter(retired_at=None).exists()
    assert not events("key.revoked").exists()
    failed = events("key.vendor_revoke_failed").get()
    assert failed.details["reason"] == "vendor unavailable (500) after 3 attempts"


def test_a_key_its_connection_never_listed_asks_for_a_sync(
    admin, payments_env, simulator
):
    unsynced = create_connection(
        Actor(admin),
        name="OpenAI new",
        vendor=Vendor.OPENAI,
        base_url=simulator.url,
        admin_key=simulator.admin_keys["openai"],
    )
    vendor_key_id = simulator.org.openai_keys[0].id
    key, _ = make_key(
        admin,
        environment=payments_env,
        connection=unsynced,
        vendor_key_id=vendor_key_id,
    )
    with pytest.raises(ValidationError, match="sync the connection first so Keyhold"):
        services.revoke_key(Actor(admin), key, reason="leak", at_vendor=True)
    assert vendor_key_id in vendor_keys(unsynced)
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE


def test_revoking_in_keyhold_only_leaves_the_vendor_key_alone(
    admin, linked_key, openai_org
):
    services.revoke_key(Actor(admin), linked_key, reason="moved away")
    assert linked_key.vendor_key_id in vendor_keys(openai_org)
    assert events("key.revoked").get().details["at_vendor"] is False


def test_why_keyhold_cannot_revoke_at_the_vendor_is_said(
    admin, payments_env, openai_org, simulator
):
    unlinked, _ = make_key(admin, environment=payments_env, vendor_key_id="key_x")
    no_id, _ = make_key(admin, environment=payments_env, connection=openai_org)
    deepseek = create_connection(
        Actor(admin),
        name="DeepSeek",
        vendor=Vendor.DEEPSEEK,
        base_url=simulator.url,
        admin_key=simulator.admin_keys["deepseek"],
    )
    balance_only, _ = make_key(
        admin,
        environment=payments_env,
        vendor=Vendor.DEEPSEEK,
        connection=deepseek,
        vendor_key_id="key_y",
    )
    reasons = {
        unlinked: "it is linked to no connection",
        no_id: "its vendor key id is not known",
        balance_only: "DeepSeek's API cannot revoke keys",
    }
    for key, reason in reasons.items():
        assert reason in services.vendor_revoke_blocker(key)
        with pytest.raises(ValidationError, match=reason):
            services.revoke_key(Actor(admin), key, reason="leak", at_vendor=True)
        key.refresh_from_db()
        assert key.status == KeyStatus.ACTIVE


# --- the page ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_revoke_at_vendor_page_by_persona(client_as, persona, linked_key, openai_org):
    response = client_as(persona).post(
        reverse("key-revoke", args=[linked_key.pk]),
        {"reason": "leaked", "at_vendor": "on"},
    )
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == PAGE[persona]
    at_vendor = linked_key.vendor_key_id in vendor_keys(openai_org)
    assert at_vendor == (persona != "admin")
    linked_key.refresh_from_db()
    assert (linked_key.status == KeyStatus.REVOKED) == (persona == "admin")


def test_revoke_page_offers_the_vendor_checked(client_as, linked_key):
    page = client_as("admin").get(reverse("key-revoke", args=[linked_key.pk]))
    html = page.content.decode()
    assert "Also revoke at OpenAI" in html
    assert 'name="at_vendor" id="id_at_vendor" checked' in html
    assert "through the connection OpenAI prod" in html


def test_revoke_page_says_when_the_vendor_api_cannot(
    client_as, admin, payments_env, simulator
):
    moonshot = create_connection(
        Actor(admin),
        name="Moonshot",
        vendor=Vendor.MOONSHOT,
        base_url=simulator.url,
        admin_key=simulator.admin_keys["moonshot"],
    )
    key, _ = make_key(
        admin,
        environment=payments_env,
        vendor=Vendor.MOONSHOT,
        connection=moonshot,
        vendor_key_id="key_m",
    )
    page = client_as("admin").get(reverse("key-revoke", args=[key.pk]))
    html = unescape(page.content.decode())
    assert "Moonshot's API cannot revoke keys" in html
    assert "at_vendor" not in html


def test_revoke_page_shows_the_vendors_refusal_and_the_way_out(
    client_as, linked_key, openai_org, simulator, instant_retries
):
    client = client_as("admin")
    simulator.faults.add(Fault("503"))
    refused = client.post(
        reverse("key-revoke", args=[linked_key.pk]),
        {"reason": "leaked", "at_vendor": "on"},
    )
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "OpenAI did not revoke the key: vendor unavailable (503)" in html
    assert "untick “Also revoke at OpenAI”" in html
    linked_key.refresh_from_db()
    assert linked_key.status == KeyStatus.ACTIVE

    unticked = client.post(
        reverse("key-revoke", args=[linked_key.pk]), {"reason": "leaked"}, follow=True
    )
    assert "Key Checkout revoked in Keyhold." in unticked.content.decode()
    simulator.faults.clear()
    assert linked_key.vendor_key_id in vendor_keys(openai_org)


def test_revoked_at_vendor_is_said_on_the_key_page(client_as, linked_key):
    response = client_as("admin").post(
        reverse("key-revoke", args=[linked_key.pk]),
        {"reason": "leaked", "at_vendor": "on"},
        follow=True,
    )
    assert "Key Checkout revoked at OpenAI and in Keyhold." in response.content.decode()


# --- the API ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_revoke_at_vendor_api_by_persona(api_as, persona, linked_key, openai_org):
    response = api_as(persona).post(
        f"/api/v1/keys/{linked_key.pk}/revoke/",
        {"reason": "leaked", "at_vendor": True},
        format="json",
    )
    assert response.status_code == API.get(persona, 401)
    at_vendor = linked_key.vendor_key_id in vendor_keys(openai_org)
    assert at_vendor == (persona != "admin")
    if persona == "admin":
        assert response.json()["status"] == "revoked"


def test_api_vendor_failure_is_a_400_that_leaves_the_key_active(
    api_as, linked_key, simulator, instant_retries
):
    simulator.faults.add(Fault("500"))
    response = api_as("admin").post(
        f"/api/v1/keys/{linked_key.pk}/revoke/",
        {"reason": "leaked", "at_vendor": True},
        format="json",
    )
    assert response.status_code == 400
    assert "OpenAI did not revoke the key" in response.json()["detail"]
    assert "at_vendor false" in response.json()["detail"]
    linked_key.refresh_from_db()
    assert linked_key.status == KeyStatus.ACTIVE


def test_api_revokes_in_keyhold_only_by_default(api_as, linked_key, openai_org):
    response = api_as("admin").post(
        f"/api/v1/keys/{linked_key.pk}/revoke/", {"reason": "gone"}, format="json"
    )
    assert response.status_code == 200
    assert linked_key.vendor_key_id in vendor_keys(openai_org)
