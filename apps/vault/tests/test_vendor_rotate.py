"""Rotating a key to a replacement its vendor creates, over HTTP to the simulator."""

from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.connectors.simulator.faults import Fault
from apps.connectors.simulator.org import SyntheticOrg
from apps.connectors.simulator.server import running_simulator
from apps.vault import services
from apps.vault.models import KeyStatus, Vendor
from apps.vault.tests.conftest import connected, vendor_keys
from apps.vault.tests.factories import make_key
from conftest import PERSONAS

PAGE = {"admin": 200, "finance": 403, "engineer": 403, "outsider": 404}
API = {"admin": 200, "finance": 403, "engineer": 403, "outsider": 403}


@pytest.fixture
def linked_key(admin, engineer, payments_env, openai_org, simulator):
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


def created_accounts(simulator) -> dict:
    """{service account name: project id} of the accounts Keyhold had created."""
    return {
        owner.name: project_id
        for project_id, owners in simulator.openai_state.service_accounts.items()
        for owner in owners
    }


def test_rotation_at_openai_stores_the_new_key_as_the_next_version(
    admin, linked_key, openai_org, simulator
):
    old_project = simulator.org.openai_keys[0].project_id
    version, secret = services.rotate_key_at_vendor(
        Actor(admin), linked_key, overlap_hours=24
    )

    listed = vendor_keys(openai_org)
    assert listed[version.vendor_key_id].vendor_project_id == old_project
    assert version.number == 2
    assert version.secret.reveal() == secret
    assert listed[version.vendor_key_id].redacted.endswith(secret[-4:])
    linked_key.refresh_from_db()
    assert linked_key.vendor_key_id == version.vendor_key_id
    assert linked_key.hint == version.hint
    previous = linked_key.versions.get(number=1)
    assert previous.valid_until is not None and previous.retired_at is None
    rotated = events("key.rotated").get()
    assert rotated.details["created_at_vendor"] is True
    assert secret not in str(rotated.details)
    [name] = created_accounts(simulator)
    assert name.startswith("Checkout (rotated ")


def test_rotation_creates_the_key_in_the_project_the_admin_names(
    admin, linked_key, openai_org, simulator
):
    other_project = simulator.org.projects[2].id
    version, _ = services.rotate_key_at_vendor(
        Actor(admin), linked_key, vendor_project_id=other_project
    )
    assert vendor_keys(openai_org)[version.vendor_key_id].vendor_project_id == (
        other_project
    )


def test_rotation_without_a_known_project_creates_nothing(
    admin, payments_env, openai_org, simulator
):
    key, _ = make_key(
        admin, environment=payments_env, connection=openai_org, vendor_key_id="key_x"
    )
    with pytest.raises(ValidationError, match="sync the connection first, or give"):
        services.rotate_key_at_vendor(Actor(admin), key)
    assert created_accounts(simulator) == {}
    assert key.versions.count() == 1
    assert events("key.rotation_failed").count() == 1


def test_anthropic_cannot_create_keys_and_says_so(
    admin, payments_env, anthropic_org, simulator
):
    key, _ = make_key(
        admin,
        environment=payments_env,
        vendor=Vendor.ANTHROPIC,
        connection=anthropic_org,
        vendor_key_id=simulator.org.anthropic_keys[0].id,
    )
    with pytest.raises(ValidationError, match="Admin API cannot create keys"):
        services.rotate_key_at_vendor(Actor(admin), key)
    assert key.versions.count() == 1
    assert "Claude Console" in services.rotation_create_blocker(key)


def test_a_vendor_failure_while_creating_changes_nothing(
    admin, linked_key, openai_org, simulator
):
    before = set(vendor_keys(openai_org))
    simulator.faults.add(Fault("500", count=1))
    with pytest.raises(ValidationError) as refused:
        services.rotate_key_at_vendor(Actor(admin), linked_key)
    message = " ".join(refused.value.messages)
    assert message.startswith("OpenAI did not create a key: vendor answered 500")
    assert "Nothing changed in Keyhold" in message
    assert set(vendor_keys(openai_org)) == before
    linked_key.refresh_from_db()
    assert linked_key.versions.count() == 1
    assert linked_key.rotated_at is None
    assert events("key.rotation_failed").count() == 1


def test_a_created_key_keyhold_cannot_store_is_reported_for_deletion(
    admin, payments_env, caplog
):
    _, held_secret = make_key(admin, environment=payments_env)
    project = SyntheticOrg(1).projects[0].id
    account = {
        "object": "organization.project.service_account",
        "id": "svc_acct_dup",
        "name": "Checkout (rotated)",
        "role": "member",
        "created_at": 1,
        "api_key": {
            "object": "organization.project.service_account.api_key",
            "value": held_secret,  # a secret the vault already holds
            "name": "Secret Key",
            "created_at": 1,
            "id": "key_duplicate",
        },
    }
    path = f"/v1/organization/projects/{project}/service_accounts"
    with running_simulator(canned={path: [account]}) as sim:
        connection = connected(sim, admin, "openai", "OpenAI canned")
        key, _ = make_key(
            admin,
            environment=payments_env,
            connection=connection,
            vendor_key_id=sim.org.openai_keys[0].id,
        )
        with pytest.raises(ValidationError) as refused:
            services.rotate_key_at_vendor(Actor(admin), key)

    message = " ".join(refused.value.messages)
    assert message.startswith(
        f"OpenAI created the key key_duplicate (project {project}) but Keyhold "
        "could not store it: the secret is already in the vault. Delete that key "
        "at OpenAI"
    )
    assert key.versions.count() == 1
    orphan = events("connection.created_key_not_stored").get()
    assert orphan.details["vendor_key_id"] == "key_duplicate"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("key_duplicate" in line for line in warnings)
    assert not any(held_secret in line for line in warnings)


# --- the page ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_rotate_at_vendor_page_by_persona(
    client_as, persona, linked_key, openai_org, simulator
):
    response = client_as(persona).post(
        reverse("key-rotate", args=[linked_key.pk]),
        {"create_at_vendor": "on", "vendor_project_id": "", "overlap": "24"},
    )
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == PAGE[persona]
    linked_key.refresh_from_db()
    assert linked_key.versions.count() == (2 if persona == "admin" else 1)
    assert len(created_accounts(simulator)) == (1 if persona == "admin" else 0)


def test_rotate_page_shows_the_vendors_secret_once(client_as, linked_key):
    client = client_as("admin")
    form = client.get(reverse("key-rotate", args=[linked_key.pk])).content.decode()
    assert "Create the new key at OpenAI" in form
    assert f'value="{services.known_vendor_project(linked_key)}"' in form

    response = client.post(
        reverse("key-rotate", args=[linked_key.pk]),
        {"create_at_vendor": "on", "overlap": "0"},
    )
    assert "no-store" in response["Cache-Control"]
    linked_key.refresh_from_db()
    version = linked_key.versions.get(number=2)
    secret = version.secret.reveal()
    html = unescape(response.content.decode())
    assert "This is the only time Keyhold shows its secret" in html
    assert f'value="{secret}"' in html
    assert version.vendor_key_id in html

    detail = client.get(reverse("key-detail", args=[linked_key.pk]))
    assert secret not in detail.content.decode()
    assert version.vendor_key_id in detail.content.decode()


def test_rotate_page_refuses_a_pasted_secret_with_create_at_vendor(
    client_as, linked_key
):
    response = client_as("admin").post(
        reverse("key-rotate", args=[linked_key.pk]),
        {"create_at_vendor": "on", "secret": "sk-anything", "overlap": "0"},
    )
    assert response.status_code == 200
    assert "Leave this empty: the vendor makes the new key." in unescape(
        response.content.decode()
    )
    assert linked_key.versions.count() == 1


def test_rotate_page_explains_anthropic_cannot_create(
    client_as, admin, payments_env, anthropic_org, simulator
):
    key, _ = make_key(
        admin,
        environment=payments_env,
        vendor=Vendor.ANTHROPIC,
        connection=anthropic_org,
        vendor_key_id=simulator.org.anthropic_keys[0].id,
    )
    html = unescape(
        client_as("admin").get(reverse("key-rotate", args=[key.pk])).content.decode()
    )
    assert "Anthropic's Admin API cannot create keys" in html
    assert "create_at_vendor" not in html


def test_rotate_page_shows_a_vendor_failure(client_as, linked_key, simulator):
    simulator.faults.add(Fault("500", count=1))
    response = client_as("admin").post(
        reverse("key-rotate", args=[linked_key.pk]),
        {"create_at_vendor": "on", "overlap": "0"},
    )
    assert response.status_code == 200
    assert "OpenAI did not create a key" in response.content.decode()
    linked_key.refresh_from_db()
    assert linked_key.status == KeyStatus.ACTIVE
    assert linked_key.versions.count() == 1


# --- the API ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_rotate_at_vendor_api_by_persona(api_as, persona, linked_key, openai_org):
    response = api_as(persona).post(
        f"/api/v1/keys/{linked_key.pk}/rotate/",
        {"create_at_vendor": True, "overlap_hours": 1},
        format="json",
    )
    assert response.status_code == API.get(persona, 401)
    assert linked_key.versions.count() == (2 if persona == "admin" else 1)
    if persona != "admin":
        return
    body = response.json()
    version = linked_key.versions.get(number=2)
    assert body["secret"] == version.secret.reveal()
    assert body["vendor_key_id"] == version.vendor_key_id
    assert body["vendor_key_id"] in vendor_keys(openai_org)
    assert body["connection"] == openai_org.pk
    assert "no-store" in response["Cache-Control"]


def test_rotate_api_without_create_at_vendor_returns_no_secret(api_as, linked_key):
    response = api_as("admin").post(
        f"/api/v1/keys/{linked_key.pk}/rotate/", {"secret": ""}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"secret": ["This field is required."]}


def test_rotate_api_explains_anthropic_cannot_create(
    api_as, admin, payments_env, anthropic_org, simulator
):
    key, _ = make_key(
        admin,
        environment=payments_env,
        vendor=Vendor.ANTHROPIC,
        connection=anthropic_org,
        vendor_key_id=simulator.org.anthropic_keys[0].id,
    )
    response = api_as("admin").post(
        f"/api/v1/keys/{key.pk}/rotate/", {"create_at_vendor": True}, format="json"
    )
    assert response.status_code == 400
    assert "Admin API cannot create keys" in response.json()["detail"]
