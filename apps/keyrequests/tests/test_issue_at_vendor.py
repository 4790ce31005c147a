"""Issuing a request with a key its vendor creates, over HTTP to the simulator."""

from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.connectors.simulator.faults import Fault
from apps.keyrequests import services
from apps.keyrequests.models import KeyRequest, RequestState
from apps.vault.models import VendorKey
from apps.vault.tests.conftest import vendor_keys
from apps.vault.tests.factories import make_secret
from conftest import PERSONAS

State = RequestState
PAGE = {"admin": 302, "finance": 403, "engineer": 403, "outsider": 404}
API = {"admin": 200, "finance": 403, "engineer": 403, "outsider": 404}


@pytest.fixture
def project_id(simulator):
    """A project of the simulated OpenAI organization."""
    return simulator.org.projects[1].id


def test_issuing_through_openai_hands_the_requester_the_vendors_key(
    admin, engineer, approved, openai_org, project_id
):
    services.issue(
        Actor(admin),
        approved,
        name="fraud-staging",
        connection=openai_org,
        vendor_project_id=project_id,
    )

    approved.refresh_from_db()
    assert approved.state == State.ISSUED
    key = approved.key
    assert (key.connection, key.owner) == (openai_org, engineer)
    assert vendor_keys(openai_org)[key.vendor_key_id].vendor_project_id == project_id
    issued = AuditEvent.objects.get(action="key_request.issued")
    assert issued.details["created_at_vendor"] is True

    secret = services.reveal_once(Actor(engineer), approved)
    assert secret.startswith("sk-svcacct-")
    assert key.versions.get().secret.reveal() == secret


def test_a_vendor_failure_leaves_the_request_approved(
    admin, approved, openai_org, project_id, simulator
):
    before = set(vendor_keys(openai_org))
    simulator.faults.add(Fault("500", count=1))
    with pytest.raises(ValidationError, match="OpenAI did not create a key"):
        services.issue(
            Actor(admin),
            approved,
            name="fraud-staging",
            connection=openai_org,
            vendor_project_id=project_id,
        )
    approved.refresh_from_db()
    assert approved.state == State.APPROVED
    assert not VendorKey.objects.exists()
    assert set(vendor_keys(openai_org)) == before


def test_nothing_is_created_for_a_request_no_longer_approved(
    admin, approved, openai_org, project_id, simulator
):
    services.cancel(Actor(admin), approved, reason="not needed")
    with pytest.raises(ValidationError, match="only approved requests can be issued"):
        services.issue(
            Actor(admin),
            approved,
            name="fraud-staging",
            connection=openai_org,
            vendor_project_id=project_id,
        )
    assert simulator.openai_state.service_accounts == {}


def test_anthropic_requests_say_keyhold_cannot_create_there(
    admin, make_request, engineer, anthropic_org, simulator
):
    key_request = make_request(engineer, vendor="anthropic")
    services.approve(Actor(admin), key_request)
    with pytest.raises(ValidationError, match="Admin API cannot create keys"):
        services.issue(
            Actor(admin),
            key_request,
            name="claude-staging",
            connection=anthropic_org,
            vendor_project_id="wrkspc_x",
        )
    assert KeyRequest.objects.get(pk=key_request.pk).state == State.APPROVED


def test_a_pasted_secret_can_be_linked_to_its_connection(admin, approved, openai_org):
    services.issue(
        Actor(admin),
        approved,
        secret=make_secret(),
        name="fraud-staging",
        vendor_key_id="key_pasted",
        connection=openai_org,
    )
    approved.refresh_from_db()
    assert approved.key.connection == openai_org
    assert approved.key.vendor_key_id == "key_pasted"


# --- the page ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_issue_at_vendor_page_by_persona(
    client_as, persona, approved, openai_org, project_id, simulator
):
    response = client_as(persona).post(
        reverse("request-issue", args=[approved.pk]),
        {
            "name": "fraud-staging",
            "connection": openai_org.pk,
            "vendor_project_id": project_id,
        },
    )
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == PAGE[persona]
    state = KeyRequest.objects.get(pk=approved.pk).state
    assert state == (State.ISSUED if persona == "admin" else State.APPROVED)
    accounts = simulator.openai_state.service_accounts
    assert sum(len(owners) for owners in accounts.values()) == (
        1 if persona == "admin" else 0
    )


def test_issue_form_offers_the_connections_and_their_projects(
    client_as, approved, openai_org, simulator
):
    html = client_as("admin").get(reverse("request-detail", args=[approved.pk]))
    html = unescape(html.content.decode())
    assert f'<option value="{openai_org.pk}">OpenAI prod</option>' in html
    for project in simulator.org.projects:
        assert f'<option value="{project.id}">OpenAI prod</option>' in html
    assert "leave the secret empty" in html


def test_issue_form_explains_anthropic_cannot_create(
    client_as, admin, make_request, engineer, anthropic_org
):
    key_request = make_request(engineer, vendor="anthropic")
    services.approve(Actor(admin), key_request)
    response = client_as("admin").get(reverse("request-detail", args=[key_request.pk]))
    html = unescape(response.content.decode())
    assert "Anthropic's Admin API cannot create keys" in html
    assert "vendor_project_id" not in html


def test_issue_form_asks_for_the_vendor_project(client_as, approved, openai_org):
    response = client_as("admin").post(
        reverse("request-issue", args=[approved.pk]),
        {"name": "fraud-staging", "connection": openai_org.pk},
    )
    assert "Give the vendor project to create the key in." in response.content.decode()
    assert KeyRequest.objects.get(pk=approved.pk).state == State.APPROVED


def test_issue_page_shows_a_vendor_failure(
    client_as, approved, openai_org, project_id, simulator
):
    simulator.faults.add(Fault("500", count=1))
    response = client_as("admin").post(
        reverse("request-issue", args=[approved.pk]),
        {
            "name": "fraud-staging",
            "connection": openai_org.pk,
            "vendor_project_id": project_id,
        },
    )
    assert response.status_code == 200
    assert "OpenAI did not create a key" in response.content.decode()
    assert KeyRequest.objects.get(pk=approved.pk).state == State.APPROVED


# --- the API ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_issue_at_vendor_api_by_persona(
    api_as, persona, approved, openai_org, project_id, engineer
):
    response = api_as(persona).post(
        f"/api/v1/key-requests/{approved.pk}/issue/",
        {
            "name": "fraud",
            "connection": openai_org.pk,
            "vendor_project_id": project_id,
        },
        format="json",
    )
    assert response.status_code == API.get(persona, 401)
    if persona != "admin":
        assert KeyRequest.objects.get(pk=approved.pk).state == State.APPROVED
        return
    assert response.json()["state"] == "issued"
    assert "secret" not in response.json()
    key = VendorKey.objects.get(pk=response.json()["key"])
    assert key.vendor_key_id in vendor_keys(openai_org)
    viewed = api_as("engineer").post(f"/api/v1/key-requests/{approved.pk}/secret/")
    assert viewed.json() == {"secret": key.versions.get().secret.reveal()}


def test_issue_api_needs_a_secret_or_a_connection(api_as, approved):
    response = api_as("admin").post(
        f"/api/v1/key-requests/{approved.pk}/issue/", {"name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "or a connection and a vendor_project_id" in str(response.json())


def test_issue_api_explains_anthropic_cannot_create(
    api_as, admin, make_request, engineer, anthropic_org
):
    key_request = make_request(engineer, vendor="anthropic")
    services.approve(Actor(admin), key_request)
    response = api_as("admin").post(
        f"/api/v1/key-requests/{key_request.pk}/issue/",
        {"name": "claude", "connection": anthropic_org.pk, "vendor_project_id": "w"},
        format="json",
    )
    assert response.status_code == 400
    assert "Admin API cannot create keys" in response.json()["detail"]


def test_issue_api_refuses_another_vendors_connection(api_as, approved, anthropic_org):
    response = api_as("admin").post(
        f"/api/v1/key-requests/{approved.pk}/issue/",
        {"name": "x", "connection": anthropic_org.pk, "vendor_project_id": "p"},
        format="json",
    )
    assert response.status_code == 400
    assert "not to OpenAI" in response.json()["detail"]
