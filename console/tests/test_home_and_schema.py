from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory
from apps.vault.models import VendorKey
from apps.vault.tests.factories import make_key
from conftest import PERSONAS


@pytest.mark.parametrize("persona", PERSONAS)
def test_home_by_persona(client_as, persona, team, other_team):
    ProjectFactory(team=team, name="Checkout")
    ProjectFactory(team=other_team, name="Ranking")
    response = client_as(persona).get(reverse("home"))
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next=/"
        return
    assert response.status_code == 200
    expected = {"admin": 2, "finance": 2, "engineer": 1, "outsider": 1}
    assert response.context["project_count"] == expected[persona]


def test_engineer_without_team_is_told_what_to_do(client, db):
    from apps.accounts.tests.factories import UserFactory

    client.force_login(UserFactory(username="new"))
    html = client.get(reverse("home")).content.decode()
    assert "ask an admin to add you to one" in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_openapi_schema_and_docs_are_served_to_everyone(client_as, persona):
    client = client_as(persona)
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for resource in ("users", "teams", "projects", "environments", "audit"):
        assert f"/api/v1/{resource}/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_api_root_lists_the_resources(api_as, people):
    body = api_as("engineer").get("/api/v1/").json()
    assert set(body) == {
        "users",
        "teams",
        "projects",
        "environments",
        "audit",
        "keys",
        "key-requests",
        "leak-check",
        "models",
        "connections",
    }


def _expiring_key(admin, team, name, days):
    environment = EnvironmentFactory(project=ProjectFactory(team=team))
    expires_at = timezone.now() + timedelta(days=days)
    key, _ = make_key(admin, environment=environment, name=name, expires_at=expires_at)
    return key


@pytest.mark.parametrize("persona", PERSONAS)
def test_keys_needing_attention_by_persona(client_as, persona, admin, team, other_team):
    _expiring_key(admin, team, "payments-prod", days=2)
    _expiring_key(admin, other_team, "search-prod", days=-1)
    response = client_as(persona).get(reverse("home"))
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    shown = [warning.key.name for warning in response.context["key_warnings"]]
    expected = {
        "admin": ["search-prod", "payments-prod"],
        "finance": ["search-prod", "payments-prod"],
        "engineer": ["payments-prod"],
        "outsider": ["search-prod"],
    }
    assert shown == expected[persona]


def test_warning_row_shows_key_scope_owner_and_level(client_as, admin, engineer, team):
    environment = EnvironmentFactory(
        project=ProjectFactory(team=team, name="Checkout"),
        name="production",
        max_key_age_days=90,
    )
    key, secret = make_key(admin, environment=environment, owner=engineer, name="pay")
    VendorKey.objects.filter(pk=key.pk).update(
        created_at=timezone.now() - timedelta(days=95)
    )
    html = client_as("engineer").get(reverse("home")).content.decode()
    assert f'href="{reverse("key-detail", args=[key.pk])}">pay</a>' in html
    assert key.hint in html and secret not in html
    assert "Checkout / production" in html
    assert "<td>eli</td>" in html
    assert "Maximum age (90 days)" in html
    assert '<span class="badge level-overdue">overdue</span>' in html


def test_home_says_warnings_are_in_app_only(client_as, engineer):
    html = client_as("engineer").get(reverse("home")).content.decode()
    assert "No active key expires or passes its maximum age" in html
    assert "email and chat notifications come later" in html


def test_home_query_count_does_not_grow_with_warnings(
    client_as, admin, team, django_assert_num_queries
):
    client = client_as("engineer")
    for day in range(2):
        _expiring_key(admin, team, f"first-{day}", days=day)
    # session, user, teams, project count, recent projects, key warnings
    with django_assert_num_queries(6):
        client.get(reverse("home"))
    for day in range(10):
        _expiring_key(admin, team, f"more-{day}", days=day - 3)
    with django_assert_num_queries(6):
        response = client.get(reverse("home"))
    assert len(response.context["key_warnings"]) == 12


def test_admins_are_pointed_at_pending_key_requests(client_as, engineer, team):
    from decimal import Decimal

    from apps.audit.services import Actor
    from apps.keyrequests.services import create_request
    from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory

    environment = EnvironmentFactory(project=ProjectFactory(team=team))
    for _ in range(2):
        create_request(
            Actor(engineer),
            project=environment.project,
            environment=environment,
            vendor="openai",
            monthly_cap_usd=Decimal("10"),
            justification="tests",
        )
    admin_home = client_as("admin").get(reverse("home")).content.decode()
    assert "2 key requests waiting for a decision" in admin_home
    assert "/requests/?state=pending" in admin_home
    engineer_home = client_as("engineer").get(reverse("home")).content.decode()
    assert "waiting for a decision" not in engineer_home
