"""The key pages, tried by every persona, and what each page shows or changes."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import PASSWORD
from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.vault import services
from apps.vault.models import KeyStatus, VendorKey
from apps.vault.tests.factories import make_key, make_secret
from conftest import PERSONAS

# A key of the team "Payments": the engineer's own team, not the outsider's.
READ = {"admin": 200, "finance": 200, "engineer": 200, "outsider": 404}
WRITE = {"admin": 200, "finance": 403, "engineer": 403, "outsider": 404}


@pytest.fixture
def key_and_secret(admin, payments_env, engineer):
    return make_key(admin, environment=payments_env, owner=engineer, name="Checkout")


@pytest.fixture
def key(key_and_secret):
    return key_and_secret[0]


def expect_status(response, persona, expected):
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == expected[persona]


def registration(env, owner, secret, **fields):
    return {
        "vendor": "openai",
        "name": "Fraud scoring",
        "secret": secret,
        "vendor_key_id": "key_fraud",
        "project": env.project.pk,
        "environment": env.pk,
        "owner": owner.pk,
        "allowed_models": "gpt-4o-mini, gpt-4o\ngpt-4o-mini",
        "monthly_cap_usd": "250.00",
        "expires_at": "",
        **fields,
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_list_by_persona(client_as, persona, admin, payments_env, search_env):
    make_key(admin, environment=payments_env, name="Checkout")
    make_key(admin, environment=search_env, name="Ranking")
    response = client_as(persona).get(reverse("key-list"))
    expect_status(response, persona, READ | {"outsider": 200})
    if response.status_code != 200:
        return
    expected = {
        "admin": {"Checkout", "Ranking"},
        "finance": {"Checkout", "Ranking"},
        "engineer": {"Checkout"},
        "outsider": {"Ranking"},
    }
    assert {key.name for key in response.context["page"]} == expected[persona]
    assert (b"Register a key" in response.content) == (persona == "admin")


def test_key_list_query_count_stays_constant_as_keys_grow(
    client_as, admin, payments_env, django_assert_num_queries
):
    client = client_as("engineer")
    make_key(admin, environment=payments_env)
    # session, user, team/project/environment/owner choices, page ids, page rows,
    # count.
    with django_assert_num_queries(9):
        client.get(reverse("key-list"))
    for _ in range(5):
        make_key(admin, environment=payments_env)
    with django_assert_num_queries(9):
        client.get(reverse("key-list"), {"status": "active", "q": "key"})


def test_key_list_filters_by_vendor_status_age_and_search(
    client_as, admin, payments_env
):
    old, _ = make_key(admin, environment=payments_env, name="Old one")
    VendorKey.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=100)
    )
    google, _ = make_key(admin, environment=payments_env, vendor="google", name="Maps")
    revoked, _ = make_key(admin, environment=payments_env, name="Gone")
    services.revoke_key(Actor(admin), revoked, reason="leaked")
    client = client_as("admin")

    def names(**query):
        response = client.get(reverse("key-list"), query)
        return {key.name for key in response.context["page"]}

    assert names(vendor="google") == {"Maps"}
    assert names(status="revoked") == {"Gone"}
    assert names(age="90") == {"Old one"}
    assert names(q=google.hint[-4:]) == {"Maps"}
    assert names(project=payments_env.project.pk) == {"Old one", "Maps", "Gone"}


def test_engineer_cannot_filter_by_another_teams_project(client_as, admin, search_env):
    make_key(admin, environment=search_env)
    response = client_as("engineer").get(
        reverse("key-list"), {"project": search_env.project.pk}
    )
    assert list(response.context["page"]) == []
    assert b"Select a valid choice" in response.content


def test_key_list_pages_by_fifty(client_as, admin, payments_env, monkeypatch):
    monkeypatch.setattr("apps.vault.views.PAGE_SIZE", 2)
    for _ in range(3):
        make_key(admin, environment=payments_env)
    client = client_as("admin")
    first = client.get(reverse("key-list"))
    second = client.get(reverse("key-list"), {"page": 2})
    assert len(first.context["page"].rows) == 2 and first.context["page"].has_next
    assert len(second.context["page"].rows) == 1
    assert b"Keys 3\xe2\x80\x933 of 3" in second.content


def test_htmx_filter_returns_only_the_panel(client_as, key):
    response = client_as("admin").get(
        reverse("key-list"), {"q": "Check"}, HTTP_HX_REQUEST="true"
    )
    assert response.content.lstrip().startswith(b'<div id="key-panel">')


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_detail_by_persona(client_as, persona, key):
    response = client_as(persona).get(reverse("key-detail", args=[key.pk]))
    expect_status(response, persona, READ)
    if response.status_code == 200:
        assert key.hint.encode() in response.content
        assert b"key.registered" in response.content
        assert (b"Rotate" in response.content) == (persona == "admin")


def test_key_detail_never_shows_the_secret(client_as, key_and_secret):
    key, secret = key_and_secret
    response = client_as("admin").get(reverse("key-detail", args=[key.pk]))
    assert secret.encode() not in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_register_page_by_persona(client_as, persona):
    response = client_as(persona).get(reverse("key-create"))
    expect_status(response, persona, WRITE | {"outsider": 403})


@pytest.mark.parametrize("persona", PERSONAS)
def test_register_key_by_persona(client_as, persona, people, payments_env, engineer):
    data = registration(payments_env, engineer, make_secret())
    response = client_as(persona).post(reverse("key-create"), data)
    expect_status(response, persona, WRITE | {"outsider": 403})
    assert VendorKey.objects.filter(name="Fraud scoring").exists() == (
        persona == "admin"
    )


def test_registration_shows_the_secret_once_and_is_never_cached(
    client_as, payments_env, engineer
):
    secret = make_secret()
    client = client_as("admin")
    response = client.post(
        reverse("key-create"), registration(payments_env, engineer, secret)
    )
    key = VendorKey.objects.get(name="Fraud scoring")
    assert secret.encode() in response.content
    assert "no-store" in response["Cache-Control"]
    assert key.allowed_models == ["gpt-4o-mini", "gpt-4o"]
    assert str(key.monthly_cap_usd) == "250.00"

    detail = client.get(reverse("key-detail", args=[key.pk]))
    assert secret.encode() not in detail.content
    again = client.post(
        reverse("key-create"), registration(payments_env, engineer, secret)
    )
    assert secret.encode() not in again.content
    assert b"already in the vault" in again.content


def test_duplicate_secret_links_to_the_existing_key(
    client_as, key_and_secret, payments_env, engineer
):
    key, secret = key_and_secret
    response = client_as("admin").post(
        reverse("key-create"), registration(payments_env, engineer, secret)
    )
    assert response.status_code == 200
    link = f'<a href="{reverse("key-detail", args=[key.pk])}">Checkout</a>'
    assert link.encode() in response.content


def test_invalid_registration_keeps_the_input_but_not_the_secret(
    client_as, payments_env, engineer
):
    response = client_as("admin").post(
        reverse("key-create"),
        registration(payments_env, engineer, "sk-too-short", name="Kept name"),
    )
    assert response.status_code == 200
    assert b"not in the format of OpenAI keys" in response.content
    assert b'value="Kept name"' in response.content
    assert b"sk-too-short" not in response.content
    assert not VendorKey.objects.exists()


def test_registration_refuses_an_environment_of_another_project(
    client_as, payments_env, search_env, engineer
):
    data = registration(payments_env, engineer, make_secret())
    data["environment"] = search_env.pk
    response = client_as("admin").post(reverse("key-create"), data)
    assert b"belongs to Ranking" in response.content
    assert not VendorKey.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_key_edit_by_persona(client_as, persona, key):
    data = {
        "name": "Renamed",
        "vendor_key_id": "key_1",
        "project": key.project_id,
        "environment": key.environment_id,
        "owner": key.owner_id,
        "allowed_models": "",
        "monthly_cap_usd": "10",
        "expires_at": "2030-01-01T12:00",
    }
    response = client_as(persona).post(reverse("key-edit", args=[key.pk]), data)
    expect_status(response, persona, WRITE | {"admin": 302})
    key.refresh_from_db()
    assert (key.name == "Renamed") == (persona == "admin")
    if persona == "admin":
        assert key.expires_at.isoformat() == "2030-01-01T12:00:00+00:00"
        assert AuditEvent.objects.filter(action="key.updated").exists()


def test_htmx_edit_returns_the_summary(client_as, key):
    response = client_as("admin").get(
        reverse("key-edit", args=[key.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.content.lstrip().startswith(b'<section class="card" id="key-')


@pytest.mark.parametrize("persona", PERSONAS)
def test_reveal_page_by_persona(client_as, persona, key):
    response = client_as(persona).get(reverse("key-reveal", args=[key.pk]))
    expect_status(response, persona, WRITE)
    assert not AuditEvent.objects.filter(action="key.revealed").exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_reveal_with_password_by_persona(client_as, persona, key_and_secret):
    key, secret = key_and_secret
    response = client_as(persona).post(
        reverse("key-reveal", args=[key.pk]), {"password": PASSWORD}
    )
    expect_status(response, persona, WRITE)
    assert (secret.encode() in response.content) == (persona == "admin")
    revealed = AuditEvent.objects.filter(action="key.revealed").count()
    assert revealed == (persona == "admin")


def test_reveal_page_is_never_cached_and_elevation_lasts(client_as, key_and_secret):
    key, secret = key_and_secret
    client = client_as("admin")
    url = reverse("key-reveal", args=[key.pk])
    first = client.post(url, {"password": PASSWORD})
    assert "no-store" in first["Cache-Control"]

    # In elevated mode the page offers a plain button; the password is not asked.
    assert b"Reveal the secret" in client.get(url).content
    second = client.post(url)
    assert secret.encode() in second.content
    assert AuditEvent.objects.filter(action="key.revealed").count() == 2


def test_elevation_ends_after_its_minutes(client_as, key_and_secret, monkeypatch):
    key, secret = key_and_secret
    client = client_as("admin")
    url = reverse("key-reveal", args=[key.pk])
    client.post(url, {"password": PASSWORD})
    later = timezone.now() + services.ELEVATION + timedelta(seconds=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    response = client.post(url)
    assert secret.encode() not in response.content
    assert b"Confirm your password" in response.content


def test_wrong_password_shows_an_error_and_is_audited(client_as, key_and_secret):
    key, secret = key_and_secret
    response = client_as("admin").post(
        reverse("key-reveal", args=[key.pk]), {"password": "guess"}
    )
    assert b"That password is not correct." in response.content
    assert secret.encode() not in response.content
    assert AuditEvent.objects.filter(action="key.reveal_denied").count() == 1


@pytest.mark.parametrize("persona", PERSONAS)
def test_rotate_by_persona(client_as, persona, key):
    data = {"secret": make_secret(), "vendor_key_id": "key_2", "overlap": "24"}
    response = client_as(persona).post(reverse("key-rotate", args=[key.pk]), data)
    expect_status(response, persona, WRITE | {"admin": 302})
    assert key.versions.count() == (2 if persona == "admin" else 1)


def test_rotate_with_a_custom_overlap(client_as, key):
    data = {"secret": make_secret(), "overlap": "custom", "overlap_hours": "36"}
    client_as("admin").post(reverse("key-rotate", args=[key.pk]), data)
    key.refresh_from_db()
    old = key.versions.get(number=1)
    assert old.valid_until - key.rotated_at == timedelta(hours=36)


def test_rejected_rotation_shows_why_and_is_audited(client_as, key_and_secret):
    key, secret = key_and_secret
    response = client_as("admin").post(
        reverse("key-rotate", args=[key.pk]), {"secret": secret, "overlap": "0"}
    )
    assert response.status_code == 200
    assert b"already in the vault" in response.content
    assert secret.encode() not in response.content
    assert AuditEvent.objects.filter(action="key.rotation_failed").count() == 1


def test_rotate_page_says_why_keyhold_cannot_create_the_key(client_as, key):
    response = client_as("admin").get(reverse("key-rotate", args=[key.pk]))
    assert b"this key is linked to none" in response.content
    assert b"Create the new key at" not in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_revoke_by_persona(client_as, persona, key):
    response = client_as(persona).post(
        reverse("key-revoke", args=[key.pk]), {"reason": "leaked"}
    )
    expect_status(response, persona, WRITE | {"admin": 302})
    key.refresh_from_db()
    assert (key.status == KeyStatus.REVOKED) == (persona == "admin")


def test_revoke_needs_a_reason_and_warns_about_the_vendor(client_as, key):
    client = client_as("admin")
    page = client.get(reverse("key-revoke", args=[key.pk]))
    assert b"recorded in Keyhold only" in page.content
    assert b"it is linked to no connection" in page.content
    assert b"Also revoke at" not in page.content
    response = client.post(reverse("key-revoke", args=[key.pk]), {"reason": ""})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE


def test_revoking_twice_is_refused_clearly(client_as, admin, key):
    services.revoke_key(Actor(admin), key, reason="leaked")
    response = client_as("admin").post(
        reverse("key-revoke", args=[key.pk]), {"reason": "again"}
    )
    assert response.status_code == 200
    assert b"already revoked on" in response.content
    assert AuditEvent.objects.filter(action="key.revoked").count() == 1
