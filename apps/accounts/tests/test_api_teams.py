import pytest

from apps.accounts.models import Team
from apps.audit.models import AuditEvent
from apps.projects.tests.factories import ProjectFactory

URL = "/api/v1/teams/"


def detail_url(team):
    return f"{URL}{team.pk}/"


@pytest.mark.parametrize(
    ("persona", "status", "slugs"),
    [
        ("admin", 200, ["payments", "search"]),
        ("finance", 200, ["payments", "search"]),
        ("engineer", 200, ["payments"]),
        ("outsider", 200, ["search"]),
        ("anonymous", 401, None),
    ],
)
def test_each_persona_lists_the_teams_they_may_see(api_as, persona, status, slugs):
    response = api_as(persona).get(URL)

    assert response.status_code == status
    if slugs is not None:
        assert [row["slug"] for row in response.json()["results"]] == slugs


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 200),
        ("engineer", 200),
        ("outsider", 404),
        ("anonymous", 401),
    ],
)
def test_engineer_cannot_read_another_teams_record(api_as, team, persona, status):
    assert api_as(persona).get(detail_url(team)).status_code == status


def test_team_has_the_documented_fields(api_as, team):
    response = api_as("engineer").get(detail_url(team))

    assert response.json() == {"id": team.pk, "name": "Payments", "slug": "payments"}


def test_teams_filter_by_slug(api_as):
    response = api_as("admin").get(URL, {"slug": "search"})

    assert [row["name"] for row in response.json()["results"]] == ["Search"]


WRITE_DENIED = [
    ("finance", 403),
    ("engineer", 403),
    ("outsider", 403),
    ("anonymous", 401),
]


@pytest.mark.parametrize(("persona", "status"), [("admin", 201), *WRITE_DENIED])
def test_only_admins_create_teams(api_as, persona, status):
    data = {"name": "Research", "slug": "research"}

    response = api_as(persona).post(URL, data, format="json")

    assert response.status_code == status
    assert Team.objects.filter(slug="research").exists() == (status == 201)


@pytest.mark.parametrize(("persona", "status"), [("admin", 200), *WRITE_DENIED])
def test_only_admins_rename_teams(api_as, team, persona, status):
    response = api_as(persona).patch(
        detail_url(team), {"name": "Payments EU"}, format="json"
    )

    assert response.status_code == status
    team.refresh_from_db()
    assert (team.name == "Payments EU") == (status == 200)


@pytest.mark.parametrize(("persona", "status"), [("admin", 204), *WRITE_DENIED])
def test_only_admins_delete_teams(api_as, team, persona, status):
    response = api_as(persona).delete(detail_url(team))

    assert response.status_code == status
    assert Team.objects.filter(pk=team.pk).exists() == (status != 204)


def test_team_changes_are_audited(api_as):
    api = api_as("admin")

    created = api.post(URL, {"name": "Research", "slug": "research"}, format="json")
    team = Team.objects.get(pk=created.json()["id"])
    api.patch(detail_url(team), {"name": "Research EU"}, format="json")
    api.delete(detail_url(team))

    events = AuditEvent.objects.filter(target_type="team").order_by("id")
    assert [event.action for event in events] == [
        "team.created",
        "team.updated",
        "team.deleted",
    ]
    assert events[1].details["changes"] == {"name": ["Research", "Research EU"]}


def test_duplicate_slug_is_refused(api_as, team):
    data = {"name": "Payments 2", "slug": "payments"}

    response = api_as("admin").post(URL, data, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()


def test_deleting_a_team_with_projects_gives_400_and_keeps_it(api_as, team):
    ProjectFactory.create_batch(2, team=team)

    response = api_as("admin").delete(detail_url(team))

    assert response.status_code == 400
    assert "still owns 2 project(s)" in response.json()["detail"]
    assert Team.objects.filter(pk=team.pk).exists()
    assert not AuditEvent.objects.filter(action="team.deleted").exists()
