"""The keys/ resource of the REST API, by persona, as CONTRACT.md describes it."""

import json

import pytest

from apps.accounts.tests.factories import PASSWORD
from apps.audit.models import AuditEvent
from apps.vault.models import KeyStatus, VendorKey
from apps.vault.tests.factories import make_key, make_secret
from conftest import PERSONAS

URL = "/api/v1/keys/"
READ = {
    "admin": 200,
    "finance": 200,
    "engineer": 200,
    "outsider": 404,
    "anonymous": 401,
}
WRITE = {"finance": 403, "engineer": 403, "outsider": 403, "anonymous": 401}
CONTRACT_FIELDS = {
    "id",
    "name",
    "vendor",
    "connection",
    "vendor_key_id",
    "hint",
    "fingerprint",
    "project",
    "environment",
    "owner",
    "allowed_models",
    "monthly_cap_usd",
    "expires_at",
    "status",
    "created_at",
    "rotated_at",
}


@pytest.fixture
def key_and_secret(admin, payments_env, engineer):
    return make_key(
        admin,
        environment=payments_env,
        owner=engineer,
        name="Checkout",
        monthly_cap_usd="120.50",
        allowed_models=["gpt-4o-mini"],
    )


@pytest.fixture
def key(key_and_secret):
    return key_and_secret[0]


def url(key, action=""):
    return f"{URL}{key.pk}/{action + '/' if action else ''}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_list_is_scoped_by_persona(
    api_as, persona, admin, payments_env, search_env
):
    make_key(admin, environment=payments_env, name="Checkout")
    make_key(admin, environment=search_env, name="Ranking")
    response = api_as(persona).get(URL)
    assert response.status_code == (401 if persona == "anonymous" else 200)
    if response.status_code != 200:
        return
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    expected = {
        "admin": {"Checkout", "Ranking"},
        "finance": {"Checkout", "Ranking"},
        "engineer": {"Checkout"},
        "outsider": {"Ranking"},
    }
    assert {row["name"] for row in body["results"]} == expected[persona]


def test_key_list_query_count_stays_constant(
    api_as, admin, payments_env, django_assert_num_queries
):
    api = api_as("engineer")
    make_key(admin, environment=payments_env)
    # token, count, the page's ids, its rows.
    with django_assert_num_queries(4):
        api.get(URL)
    for _ in range(5):
        make_key(admin, environment=payments_env)
    with django_assert_num_queries(4):
        api.get(URL)


def test_key_fields_follow_the_contract_and_never_hold_the_secret(
    api_as, key_and_secret, engineer
):
    key, secret = key_and_secret
    response = api_as("admin").get(url(key))
    row = response.json()
    assert set(row) == CONTRACT_FIELDS
    assert row["connection"] is None
    assert row["monthly_cap_usd"] == "120.50"
    assert row["allowed_models"] == ["gpt-4o-mini"]
    assert (row["owner"], row["status"], row["hint"]) == (
        engineer.pk,
        "active",
        key.hint,
    )
    assert secret not in response.content.decode()
    assert secret not in api_as("admin").get(URL).content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_detail_by_persona(api_as, persona, key):
    assert api_as(persona).get(url(key)).status_code == READ[persona]


def test_list_filters(api_as, admin, payments_env, search_env, team):
    make_key(admin, environment=payments_env, name="Checkout", vendor_key_id="k_a")
    make_key(admin, environment=search_env, name="Ranking", vendor="google")
    api = api_as("finance")

    def names(**query):
        return {row["name"] for row in api.get(URL, query).json()["results"]}

    assert names(vendor="google") == {"Ranking"}
    assert names(team=team.pk) == {"Checkout"}
    assert names(environment=search_env.pk) == {"Ranking"}
    assert names(q="K_A") == {"Checkout"}
    assert names(status="revoked") == set()


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_create_by_persona(api_as, persona, payments_env, engineer):
    secret = make_secret()
    payload = {
        "name": "Fraud",
        "vendor": "openai",
        "secret": secret,
        "project": payments_env.project.pk,
        "environment": payments_env.pk,
        "owner": engineer.pk,
        "monthly_cap_usd": "99.90",
    }
    response = api_as(persona).post(URL, payload, format="json")
    assert response.status_code == WRITE.get(persona, 201)
    assert VendorKey.objects.filter(name="Fraud").exists() == (persona == "admin")
    if persona == "admin":
        assert "secret" not in response.json()
        assert response.json()["allowed_models"] == []
        assert secret not in response.content.decode()


def test_create_with_a_duplicate_secret_is_a_clear_400(
    api_as, key_and_secret, payments_env, engineer
):
    _, secret = key_and_secret
    payload = {
        "name": "Copy",
        "vendor": "openai",
        "secret": secret,
        "project": payments_env.project.pk,
        "environment": payments_env.pk,
        "owner": engineer.pk,
    }
    response = api_as("admin").post(URL, payload, format="json")
    assert response.status_code == 400
    assert "already in the vault" in response.json()["detail"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_update_by_persona(api_as, persona, key):
    response = api_as(persona).patch(url(key), {"name": "Renamed"}, format="json")
    assert response.status_code == WRITE.get(persona, 200)
    key.refresh_from_db()
    assert (key.name == "Renamed") == (persona == "admin")


def test_update_cannot_change_the_vendor_or_the_secret(api_as, key):
    response = api_as("admin").patch(
        url(key), {"vendor": "google", "secret": make_secret()}, format="json"
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.vendor == "openai"
    assert key.versions.count() == 1


@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_is_refused_by_persona(api_as, persona, key):
    response = api_as(persona).delete(url(key))
    assert response.status_code == WRITE.get(persona, 405)
    assert VendorKey.objects.filter(pk=key.pk, status=KeyStatus.ACTIVE).exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_rotate_by_persona(api_as, persona, key):
    secret = make_secret()
    payload = {"secret": secret, "vendor_key_id": "key_2", "overlap_hours": 24}
    response = api_as(persona).post(url(key, "rotate"), payload, format="json")
    assert response.status_code == WRITE.get(persona, 200)
    assert key.versions.count() == (2 if persona == "admin" else 1)
    if persona == "admin":
        assert response.json()["vendor_key_id"] == "key_2"
        assert response.json()["rotated_at"] is not None
        assert secret not in response.content.decode()


def test_rejected_rotation_is_400_and_audited(api_as, key_and_secret):
    key, secret = key_and_secret
    response = api_as("admin").post(
        url(key, "rotate"), {"secret": secret}, format="json"
    )
    assert response.status_code == 400
    assert AuditEvent.objects.filter(action="key.rotation_failed").count() == 1


@pytest.mark.parametrize("persona", PERSONAS)
def test_revoke_by_persona(api_as, persona, key):
    response = api_as(persona).post(
        url(key, "revoke"), {"reason": "leaked"}, format="json"
    )
    assert response.status_code == WRITE.get(persona, 200)
    key.refresh_from_db()
    assert (key.status == KeyStatus.REVOKED) == (persona == "admin")


def test_revoke_needs_a_reason_and_twice_is_refused(api_as, key):
    api = api_as("admin")
    assert api.post(url(key, "revoke"), {}, format="json").status_code == 400
    assert api.post(url(key, "revoke"), {"reason": "x"}).json()["status"] == "revoked"
    again = api.post(url(key, "revoke"), {"reason": "x"}, format="json")
    assert again.status_code == 400
    assert "already revoked" in again.json()["detail"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_reveal_by_persona(api_as, persona, key_and_secret):
    key, secret = key_and_secret
    response = api_as(persona).post(
        url(key, "reveal"), {"password": PASSWORD}, format="json"
    )
    assert response.status_code == WRITE.get(persona, 200)
    if persona == "admin":
        assert response.json() == {"secret": secret}
        assert "no-store" in response["Cache-Control"]
    revealed = AuditEvent.objects.filter(action="key.revealed").count()
    assert revealed == (persona == "admin")


@pytest.mark.parametrize("body", [{"password": "guess"}, {}])
def test_reveal_with_a_wrong_or_missing_password_is_403_and_audited(
    api_as, key_and_secret, body
):
    key, secret = key_and_secret
    response = api_as("admin").post(url(key, "reveal"), body, format="json")
    assert response.status_code == 403
    assert secret not in response.content.decode()
    denied = AuditEvent.objects.get(action="key.reveal_denied")
    assert denied.target_id == str(key.pk)
    assert not AuditEvent.objects.filter(action="key.revealed").exists()


def test_audit_details_never_hold_a_secret(api_as, key_and_secret):
    key, secret = key_and_secret
    api = api_as("admin")
    new_secret = make_secret()
    api.post(url(key, "reveal"), {"password": PASSWORD}, format="json")
    api.post(url(key, "rotate"), {"secret": new_secret}, format="json")
    api.post(url(key, "rotate"), {"secret": secret}, format="json")
    api.post(url(key, "revoke"), {"reason": "done"}, format="json")
    details = json.dumps(list(AuditEvent.objects.values("details", "target_repr")))
    assert AuditEvent.objects.filter(action__startswith="key.").count() == 5
    assert secret not in details and new_secret not in details
