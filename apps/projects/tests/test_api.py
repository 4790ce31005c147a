import pytest

from apps.audit.models import AuditEvent
from apps.projects.models import Environment, Project
from conftest import PERSONAS

LIST_STATUS = {"anonymous": 401}
WRITE_STATUS = {"admin": None, "finance": 403, "engineer": 403, "outsider": 403}


@pytest.mark.parametrize("persona", PERSONAS)
def test_projects_list_is_scoped_by_persona(api_as, persona, project, other_project):
    response = api_as(persona).get("/api/v1/projects/")
    assert response.status_code == LIST_STATUS.get(persona, 200)
    if response.status_code != 200:
        return
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    names = {row["name"] for row in body["results"]}
    expected = {
        "admin": {"Checkout", "Ranking"},
        "finance": {"Checkout", "Ranking"},
        "engineer": {"Checkout"},
        "outsider": {"Ranking"},
    }
    assert names == expected[persona]


def test_project_fields_follow_the_contract(api_as, project):
    row = api_as("admin").get(f"/api/v1/projects/{project.pk}/").json()
    assert row == {
        "id": project.pk,
        "name": "Checkout",
        "slug": "checkout",
        "team": project.team_id,
        "description": "",
        "archived_at": None,
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_create_by_persona(api_as, persona, team):
    payload = {"name": "Fraud", "slug": "fraud", "team": team.pk}
    response = api_as(persona).post("/api/v1/projects/", payload, format="json")
    expected = {"admin": 201, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
    assert Project.objects.filter(slug="fraud").exists() == (persona == "admin")


def test_admin_creates_updates_and_archives_a_project_through_the_api(api_as, team):
    api = api_as("admin")
    created = api.post(
        "/api/v1/projects/",
        {"name": "Fraud", "slug": "fraud", "team": team.pk},
        format="json",
    ).json()
    url = f"/api/v1/projects/{created['id']}/"
    assert (
        api.patch(url, {"name": "Fraud v2"}, format="json").json()["name"] == "Fraud v2"
    )
    assert api.delete(url).status_code == 204
    assert api.get("/api/v1/projects/").json()["count"] == 0
    archived = api.get("/api/v1/projects/", {"archived": "true"}).json()["results"]
    assert [row["slug"] for row in archived] == ["fraud"]
    restored = api.post(f"{url}restore/").json()
    assert restored["archived_at"] is None
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"project.created", "project.updated", "project.archived"} <= actions
    assert "project.restored" in actions


def test_outsider_cannot_read_another_teams_project(api_as, project):
    assert api_as("outsider").get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_duplicate_slug_is_a_clear_400(api_as, project, team):
    response = api_as("admin").post(
        "/api/v1/projects/", {"name": "X", "slug": "checkout", "team": team.pk}
    )
    assert response.status_code == 400
    assert "slug" in response.json()


def test_projects_filter_by_team(api_as, project, other_project, other_team):
    rows = api_as("finance").get("/api/v1/projects/", {"team": other_team.pk}).json()
    assert [row["slug"] for row in rows["results"]] == ["ranking"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_environments_list_is_scoped_by_persona(api_as, persona, staging):
    response = api_as(persona).get("/api/v1/environments/")
    assert response.status_code == LIST_STATUS.get(persona, 200)
    if response.status_code == 200:
        count = response.json()["count"]
        assert count == (0 if persona == "outsider" else 1)


def test_environment_fields_and_default_tier(api_as, project):
    api = api_as("admin")
    response = api.post(
        "/api/v1/environments/",
        {"project": project.pk, "name": "dev", "kind": "development"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "project": project.pk,
        "name": "dev",
        "kind": "development",
        "max_tier": "economy",
        "max_key_age_days": None,
        "archived_at": None,
    }


def test_environment_rotation_limit_is_set_and_audited_through_the_api(api_as, staging):
    api = api_as("admin")
    url = f"/api/v1/environments/{staging.pk}/"
    response = api.patch(url, {"max_key_age_days": 90}, format="json")
    assert response.status_code == 200
    assert response.json()["max_key_age_days"] == 90
    event = AuditEvent.objects.get(action="environment.updated")
    assert event.details == {"changes": {"max_key_age_days": [None, 90]}}
    cleared = api.patch(url, {"max_key_age_days": None}, format="json")
    assert cleared.json()["max_key_age_days"] is None


@pytest.mark.parametrize("persona", PERSONAS)
def test_environment_rotation_limit_change_by_persona(api_as, persona, staging):
    response = api_as(persona).patch(
        f"/api/v1/environments/{staging.pk}/", {"max_key_age_days": 30}, format="json"
    )
    expected = {"admin": 200, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
    staging.refresh_from_db()
    assert (staging.max_key_age_days == 30) == (persona == "admin")


@pytest.mark.parametrize("value", [0, -5, "soon"])
def test_rotation_limit_must_be_a_positive_number_of_days(api_as, staging, value):
    response = api_as("admin").patch(
        f"/api/v1/environments/{staging.pk}/", {"max_key_age_days": value}
    )
    assert response.status_code == 400
    assert "max_key_age_days" in response.json()
    staging.refresh_from_db()
    assert staging.max_key_age_days is None


@pytest.mark.parametrize("persona", PERSONAS)
def test_environment_policy_change_by_persona(api_as, persona, staging):
    response = api_as(persona).patch(
        f"/api/v1/environments/{staging.pk}/", {"max_tier": "premium"}, format="json"
    )
    expected = {"admin": 200, "outsider": 403, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
    staging.refresh_from_db()
    assert (staging.max_tier == "premium") == (persona == "admin")


def test_bad_tier_is_refused_with_the_choices(api_as, staging):
    response = api_as("admin").patch(
        f"/api/v1/environments/{staging.pk}/", {"max_tier": "gold"}, format="json"
    )
    assert response.status_code == 400
    assert "max_tier" in response.json()


def test_environment_in_archived_project_is_refused(api_as, project):
    api = api_as("admin")
    api.delete(f"/api/v1/projects/{project.pk}/")
    response = api.post(
        "/api/v1/environments/",
        {"project": project.pk, "name": "qa", "kind": "staging"},
        format="json",
    )
    assert response.status_code == 400
    assert "restore it" in response.json()["detail"]
    assert not Environment.objects.exists()


def test_session_authenticated_writes_need_csrf(client, admin, team):
    from rest_framework.test import APIClient

    api = APIClient(enforce_csrf_checks=True)
    api.force_login(admin)
    response = api.post(
        "/api/v1/projects/", {"name": "X", "slug": "x", "team": team.pk}
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_project_list_query_count_does_not_grow(
    api_as, team, django_assert_num_queries
):
    from apps.projects.tests.factories import ProjectFactory

    api = api_as("engineer")
    ProjectFactory.create_batch(3, team=team)
    with django_assert_num_queries(3):  # token and user, count, page
        api.get("/api/v1/projects/")
    ProjectFactory.create_batch(30, team=team)
    with django_assert_num_queries(3):
        api.get("/api/v1/projects/")
