import pytest
from django.urls import reverse

from apps.projects.tests.factories import ProjectFactory
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
    assert set(body) == {"users", "teams", "projects", "environments", "audit"}
