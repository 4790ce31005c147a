from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.services import Actor
from apps.keyrequests import services
from apps.keyrequests.models import KeyRequest, RequestState
from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory
from apps.vault.tests.factories import make_secret
from conftest import PERSONAS

State = RequestState


@pytest.fixture
def issued(approved, admin):
    secret = make_secret("openai")
    services.issue(Actor(admin), approved, secret=secret, name="fraud-staging")
    return approved, secret


def request_data(scope, **fields):
    return {
        "project": scope.project_id,
        "environment": scope.pk,
        "vendor": "openai",
        "allowed_models": "gpt-4o-mini, gpt-4o",
        "monthly_cap_usd": "25.00",
        "justification": "Nightly fraud scoring batch",
        **fields,
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_list_by_persona(client_as, persona, make_request, engineer, admin):
    mine = make_request(engineer)
    admins = make_request(admin)
    response = client_as(persona).get(reverse("request-list"))
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
        return
    assert response.status_code == 200
    expected = {
        "admin": {mine, admins},
        "finance": {mine, admins},
        "engineer": {mine},
        "outsider": set(),
    }
    assert set(response.context["page"]) == expected[persona]
    assert (b"Request a key" in response.content) == (persona != "finance")


def test_request_list_filters_by_state(client_as, make_request, engineer, admin):
    pending = make_request(engineer)
    services.reject(Actor(admin), make_request(engineer), reason="No")
    response = client_as("admin").get(reverse("request-list"), {"state": "pending"})
    assert list(response.context["page"]) == [pending]


def test_htmx_filter_returns_only_the_panel(client_as, pending):
    response = client_as("admin").get(
        reverse("request-list"), {"state": "pending"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="request-panel">')
    assert "<html" not in html


def test_request_list_query_count_is_constant(
    client_as, make_request, engineer, django_assert_num_queries
):
    make_request(engineer)
    client = client_as("admin")
    # session, user, count, page (requests with their related rows in one join)
    with django_assert_num_queries(4):
        client.get(reverse("request-list"))
    for _ in range(5):
        make_request(engineer)
    with django_assert_num_queries(4):
        client.get(reverse("request-list"))


CREATE_STATUS = {
    "admin": 302,
    "finance": 403,
    "engineer": 302,
    "outsider": 200,
    "anonymous": 302,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_create_by_persona(client_as, persona, staging):
    client = client_as(persona)
    page = client.get(reverse("request-create"))
    assert page.status_code == {"finance": 403, "anonymous": 302}.get(persona, 200)
    response = client.post(reverse("request-create"), request_data(staging))
    assert response.status_code == CREATE_STATUS[persona]
    created = KeyRequest.objects.first()
    if persona in ("admin", "engineer"):
        assert response.url == reverse("request-detail", args=[created.pk])
        assert created.allowed_models == ["gpt-4o-mini", "gpt-4o"]
    else:
        # The outsider is shown the form again: Checkout is not one of their choices.
        assert created is None


def test_invalid_request_keeps_what_was_typed(client_as, staging):
    data = request_data(staging, justification="", monthly_cap_usd="12.50")
    response = client_as("engineer").post(reverse("request-create"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required" in html
    assert 'value="12.50"' in html
    assert 'value="gpt-4o-mini, gpt-4o"' in html
    assert not KeyRequest.objects.exists()


def test_environment_of_another_project_is_refused_on_the_form(
    client_as, staging, team
):
    sibling = EnvironmentFactory(project=ProjectFactory(team=team), name="prod")
    data = request_data(staging, environment=sibling.pk)
    response = client_as("engineer").post(reverse("request-create"), data)
    assert response.status_code == 200
    assert "is not an environment of Checkout" in response.content.decode()


def test_past_expiry_is_refused_on_the_form(client_as, staging):
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_as("engineer").post(
        reverse("request-create"), request_data(staging, expires_at=past)
    )
    assert "must be in the future" in response.content.decode()


DETAIL_STATUS = {
    "admin": 200,
    "finance": 200,
    "engineer": 200,
    "outsider": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_detail_by_persona(client_as, persona, pending):
    response = client_as(persona).get(reverse("request-detail", args=[pending.pk]))
    assert response.status_code == DETAIL_STATUS[persona]
    if response.status_code == 200:
        html = response.content.decode()
        assert "Fraud scoring experiments" in html
        assert ("Approve" in html) == (persona == "admin")
        assert ("Cancel request" in html) == (persona == "engineer")


APPROVE_STATUS = {
    "admin": 302,
    "finance": 403,
    "engineer": 403,
    "outsider": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_approve_by_persona(client_as, persona, pending):
    url = reverse("request-approve", args=[pending.pk])
    response = client_as(persona).post(url, {})
    assert response.status_code == APPROVE_STATUS[persona]
    state = KeyRequest.objects.get(pk=pending.pk).state
    assert state == (State.APPROVED if persona == "admin" else State.PENDING)


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_reject_by_persona(client_as, persona, pending):
    url = reverse("request-reject", args=[pending.pk])
    response = client_as(persona).post(url, {"reason": "No budget"})
    assert response.status_code == APPROVE_STATUS[persona]
    state = KeyRequest.objects.get(pk=pending.pk).state
    assert state == (State.REJECTED if persona == "admin" else State.PENDING)


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_issue_by_persona(client_as, persona, approved):
    url = reverse("request-issue", args=[approved.pk])
    data = {"secret": make_secret("openai"), "name": "fraud-staging"}
    response = client_as(persona).post(url, data)
    assert response.status_code == APPROVE_STATUS[persona]
    state = KeyRequest.objects.get(pk=approved.pk).state
    assert state == (State.ISSUED if persona == "admin" else State.APPROVED)


CANCEL_PENDING_STATUS = {
    "admin": 403,
    "finance": 403,
    "engineer": 302,
    "outsider": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_cancel_by_persona(client_as, persona, pending):
    url = reverse("request-cancel", args=[pending.pk])
    response = client_as(persona).post(url, {})
    assert response.status_code == CANCEL_PENDING_STATUS[persona]
    state = KeyRequest.objects.get(pk=pending.pk).state
    assert state == (State.CANCELLED if persona == "engineer" else State.PENDING)


def test_admin_approves_and_issues_in_one_step_with_htmx(client_as, pending):
    response = client_as("admin").post(
        reverse("request-approve", args=[pending.pk]),
        {"secret": make_secret("openai"), "name": "fraud-staging"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="request-detail">')
    assert "Request approved." in html
    pending.refresh_from_db()
    assert pending.state == State.ISSUED
    assert pending.key.name == "fraud-staging"


def test_a_refused_secret_is_shown_as_an_error_and_not_echoed(client_as, pending):
    response = client_as("admin").post(
        reverse("request-approve", args=[pending.pk]),
        {"secret": "not-a-vendor-key", "name": "fraud-staging"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "not-a-vendor-key" not in html
    assert 'value="fraud-staging"' in html
    assert "OpenAI" in html
    assert KeyRequest.objects.get(pk=pending.pk).state == State.PENDING


def test_reject_without_reason_keeps_the_request_pending(client_as, pending):
    response = client_as("admin").post(
        reverse("request-reject", args=[pending.pk]), {"reason": ""}
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert KeyRequest.objects.get(pk=pending.pk).state == State.PENDING


def test_admin_approving_their_own_request_gets_a_clear_refusal(
    client_as, make_request, admin
):
    own = make_request(admin)
    detail = client_as("admin").get(reverse("request-detail", args=[own.pk]))
    assert "Another admin must decide" in detail.content.decode()
    assert detail.context["approve_form"] is None
    response = client_as("admin").post(reverse("request-approve", args=[own.pk]))
    assert response.status_code == 403
    assert "cannot decide on your own request" in response.content.decode()


def test_illegal_transition_is_explained_on_the_page(client_as, approved):
    response = client_as("admin").post(
        reverse("request-reject", args=[approved.pk]), {"reason": "Late"}
    )
    assert response.status_code == 200
    assert "only pending requests can be rejected" in response.content.decode()


def test_approving_says_the_key_is_pasted_from_the_vendor_console(client_as, pending):
    response = client_as("admin").get(reverse("request-detail", args=[pending.pk]))
    assert "create the key in the vendor's console" in response.content.decode()


# --- the one-time view ------------------------------------------------------------

SECRET_STATUS = {
    "admin": 403,
    "finance": 403,
    "engineer": 200,
    "outsider": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_secret_view_by_persona(client_as, persona, issued):
    key_request, secret = issued
    response = client_as(persona).post(reverse("request-secret", args=[key_request.pk]))
    assert response.status_code == SECRET_STATUS[persona]
    assert (secret in response.content.decode()) == (persona == "engineer")


def test_requester_sees_the_button_then_the_secret_once(client_as, issued):
    key_request, secret = issued
    client = client_as("engineer")
    detail = client.get(reverse("request-detail", args=[key_request.pk]))
    assert "View your key once" in detail.content.decode()
    assert secret not in detail.content.decode()

    url = reverse("request-secret", args=[key_request.pk])
    first = client.post(url)
    assert secret in first.content.decode()
    assert "no-store" in first["Cache-Control"]

    again = client.post(url)
    assert secret not in again.content.decode()
    assert "already viewed" in again.content.decode()
    assert "by eli" in again.content.decode()
    reload = client.get(url)
    assert "already viewed" in reload.content.decode()
    detail = client.get(reverse("request-detail", args=[key_request.pk]))
    assert "View your key once" not in detail.content.decode()


def test_get_never_opens_the_view(client_as, issued):
    key_request, secret = issued
    response = client_as("engineer").get(
        reverse("request-secret", args=[key_request.pk])
    )
    assert secret not in response.content.decode()
    assert "View your key once" in response.content.decode()
    assert KeyRequest.objects.get(pk=key_request.pk).viewed_at is None


def test_expired_view_tells_the_requester_to_ask_an_admin(client_as, issued):
    key_request, secret = issued
    KeyRequest.objects.filter(pk=key_request.pk).update(
        issued_at=timezone.now() - timedelta(hours=25)
    )
    client = client_as("engineer")
    response = client.post(reverse("request-secret", args=[key_request.pk]))
    html = response.content.decode()
    assert secret not in html
    assert "expired" in html
    assert "Ask an admin" in html
    detail = client.get(reverse("request-detail", args=[key_request.pk]))
    assert "Ask an admin" in detail.content.decode()
