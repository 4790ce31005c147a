from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.services import Actor
from apps.keyrequests import services
from apps.keyrequests.models import KeyRequest, RequestState
from apps.vault.tests.factories import make_secret
from conftest import PERSONAS

State = RequestState
URL = "/api/v1/key-requests/"


def payload(environment, **fields):
    return {
        "project": environment.project_id,
        "environment": environment.pk,
        "vendor": "openai",
        "allowed_models": ["gpt-4o-mini"],
        "monthly_cap_usd": "40.00",
        "justification": "Search ranking evaluation",
        **fields,
    }


@pytest.fixture
def issued(approved, admin):
    secret = make_secret("openai")
    services.issue(Actor(admin), approved, secret=secret, name="fraud-staging")
    return approved, secret


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_by_persona(api_as, persona, make_request, engineer, admin):
    mine = make_request(engineer)
    admins = make_request(admin)
    response = api_as(persona).get(URL)
    if persona == "anonymous":
        assert response.status_code == 401
        return
    ids = {row["id"] for row in response.json()["results"]}
    expected = {
        "admin": {mine.pk, admins.pk},
        "finance": {mine.pk, admins.pk},
        "engineer": {mine.pk},
        "outsider": set(),
    }
    assert ids == expected[persona]


def test_fields_follow_the_contract_and_never_carry_a_secret(api_as, issued):
    key_request, secret = issued
    response = api_as("admin").get(URL)
    assert secret not in response.content.decode()
    row = response.json()["results"][0]
    assert set(row) == {
        "id",
        "requester",
        "project",
        "environment",
        "vendor",
        "allowed_models",
        "monthly_cap_usd",
        "expires_at",
        "justification",
        "state",
        "decided_by",
        "key",
        "reason",
        "created_at",
        "decided_at",
    }
    assert row["state"] == "issued"
    assert row["key"] == key_request.key_id
    assert row["monthly_cap_usd"] == "50.00"
    assert row["requester"] == key_request.requester_id


def test_list_query_count_is_constant(
    api_as, make_request, engineer, django_assert_num_queries
):
    make_request(engineer)
    api = api_as("admin")
    with django_assert_num_queries(3):  # token and user, count, page
        api.get(URL)
    for _ in range(5):
        make_request(engineer)
    with django_assert_num_queries(3):
        api.get(URL)


CREATE_STATUS = {
    "admin": 201,
    "finance": 403,
    "engineer": 201,
    "outsider": 400,
    "anonymous": 401,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_create_by_persona(api_as, persona, staging, people):
    response = api_as(persona).post(URL, payload(staging), format="json")
    assert response.status_code == CREATE_STATUS[persona]
    if response.status_code == 201:
        created = KeyRequest.objects.get()
        assert response.json()["state"] == "pending"
        assert created.requester == people[persona]
    else:
        assert not KeyRequest.objects.exists()


def test_outsider_is_told_why_their_request_is_refused(api_as, staging):
    response = api_as("outsider").post(URL, payload(staging), format="json")
    assert "not a project of one of your teams" in response.json()["detail"]


def test_past_expiry_is_a_clear_400(api_as, staging):
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = api_as("engineer").post(
        URL, payload(staging, expires_at=past), format="json"
    )
    assert response.status_code == 400
    assert "in the future" in response.json()["detail"]


DECIDE_STATUS = {
    "admin": 200,
    "finance": 403,
    "engineer": 403,
    "outsider": 404,
    "anonymous": 401,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_approve_by_persona(api_as, persona, pending):
    response = api_as(persona).post(f"{URL}{pending.pk}/approve/")
    assert response.status_code == DECIDE_STATUS[persona]
    state = KeyRequest.objects.get(pk=pending.pk).state
    assert state == (State.APPROVED if persona == "admin" else State.PENDING)


@pytest.mark.parametrize("persona", PERSONAS)
def test_reject_by_persona(api_as, persona, pending):
    response = api_as(persona).post(
        f"{URL}{pending.pk}/reject/", {"reason": "No budget"}, format="json"
    )
    assert response.status_code == DECIDE_STATUS[persona]
    if persona == "admin":
        assert response.json()["reason"] == "No budget"


@pytest.mark.parametrize("persona", PERSONAS)
def test_issue_by_persona(api_as, persona, approved):
    body = {"secret": make_secret("openai"), "name": "fraud", "vendor_key_id": "k1"}
    response = api_as(persona).post(f"{URL}{approved.pk}/issue/", body, format="json")
    assert response.status_code == DECIDE_STATUS[persona]
    if persona == "admin":
        assert response.json()["state"] == "issued"
        assert body["secret"] not in response.content.decode()


CANCEL_STATUS = {
    "admin": 403,
    "finance": 403,
    "engineer": 200,
    "outsider": 404,
    "anonymous": 401,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_cancel_pending_by_persona(api_as, persona, pending):
    response = api_as(persona).post(f"{URL}{pending.pk}/cancel/")
    assert response.status_code == CANCEL_STATUS[persona]
    state = KeyRequest.objects.get(pk=pending.pk).state
    assert state == (State.CANCELLED if persona == "engineer" else State.PENDING)


def test_approve_with_a_secret_issues_in_the_same_call(api_as, pending):
    body = {"secret": make_secret("openai"), "name": "fraud-staging"}
    response = api_as("admin").post(f"{URL}{pending.pk}/approve/", body, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "issued"
    assert response.json()["key"] is not None


def test_approve_with_a_secret_but_no_name_is_refused(api_as, pending):
    body = {"secret": make_secret("openai")}
    response = api_as("admin").post(f"{URL}{pending.pk}/approve/", body, format="json")
    assert response.status_code == 400
    assert KeyRequest.objects.get(pk=pending.pk).state == State.PENDING


def test_illegal_transition_is_a_400_with_the_reason(api_as, approved):
    response = api_as("admin").post(f"{URL}{approved.pk}/approve/")
    assert response.status_code == 400
    assert "only pending requests can be approved" in response.json()["detail"]


def test_admin_cannot_approve_their_own_request(api_as, make_request, admin):
    own = make_request(admin)
    response = api_as("admin").post(f"{URL}{own.pk}/approve/")
    assert response.status_code == 403
    assert "your own request" in response.json()["detail"]


SECRET_STATUS = {
    "admin": 403,
    "finance": 403,
    "engineer": 200,
    "outsider": 404,
    "anonymous": 401,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_secret_by_persona(api_as, persona, issued):
    key_request, secret = issued
    response = api_as(persona).post(f"{URL}{key_request.pk}/secret/")
    assert response.status_code == SECRET_STATUS[persona]
    if persona == "engineer":
        assert response.json() == {"secret": secret}


def test_secret_is_returned_once_then_gone(api_as, issued):
    key_request, secret = issued
    api = api_as("engineer")
    first = api.post(f"{URL}{key_request.pk}/secret/")
    assert first.json() == {"secret": secret}
    assert first["Cache-Control"] == "no-store"
    second = api.post(f"{URL}{key_request.pk}/secret/")
    assert second.status_code == 410
    assert "already viewed" in second.json()["detail"]
    assert secret not in second.content.decode()


def test_secret_is_gone_after_24_hours(api_as, issued):
    key_request, _ = issued
    KeyRequest.objects.filter(pk=key_request.pk).update(
        issued_at=timezone.now() - timedelta(days=2)
    )
    response = api_as("engineer").post(f"{URL}{key_request.pk}/secret/")
    assert response.status_code == 410
    assert response.json()["code"] == "expired"


def test_secret_before_issue_is_a_400(api_as, approved):
    response = api_as("engineer").post(f"{URL}{approved.pk}/secret/")
    assert response.status_code == 400


def test_schema_documents_the_actions(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    for action in ("approve", "reject", "issue", "cancel", "secret"):
        assert f"/api/v1/key-requests/{{id}}/{action}/" in paths
