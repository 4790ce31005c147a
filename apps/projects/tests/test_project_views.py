import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.projects.models import Project
from apps.projects.tests.factories import ProjectFactory
from conftest import PERSONAS

# What each persona gets for a page of the team "Payments" (engineer's own team).
READ = {
    "admin": 200,
    "finance": 200,
    "engineer": 200,
    "outsider": 404,
    "anonymous": 302,
}
WRITE = {
    "admin": 302,
    "finance": 403,
    "engineer": 403,
    "outsider": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_list_by_persona(client_as, persona, project, other_project):
    response = client_as(persona).get(reverse("project-list"))
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
        return
    assert response.status_code == 200
    names = {p.name for p in response.context["page"]}
    expected = {
        "admin": {"Checkout", "Ranking"},
        "finance": {"Checkout", "Ranking"},
        "engineer": {"Checkout"},
        "outsider": {"Ranking"},
    }
    assert names == expected[persona]
    # Only admins get the form that creates projects.
    assert (response.context["form"] is not None) == (persona == "admin")


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_detail_by_persona(client_as, persona, project, staging):
    response = client_as(persona).get(reverse("project-detail", args=[project.slug]))
    assert response.status_code == READ[persona]
    if response.status_code == 200:
        assert b"staging" in response.content
        assert (b"Add an environment" in response.content) == (persona == "admin")


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_create_by_persona(client_as, persona, team):
    data = {"name": "Fraud scoring", "team": team.pk}
    response = client_as(persona).post(reverse("project-create"), data)
    created = Project.objects.filter(name="Fraud scoring").exists()
    if persona == "admin":
        assert response.status_code == 302
        assert created
    else:
        assert response.status_code == (302 if persona == "anonymous" else 403)
        assert not created


def test_admin_creates_project_and_slug_is_made_from_name(client_as, team):
    response = client_as("admin").post(
        reverse("project-create"), {"name": "Fraud Scoring", "team": team.pk}
    )
    project = Project.objects.get(slug="fraud-scoring")
    assert response.url == reverse("project-detail", args=["fraud-scoring"])
    event = AuditEvent.objects.get(action="project.created")
    assert event.target_id == str(project.pk)
    assert event.actor_name == "ada"
    assert event.details["team"] == "Payments"


def test_htmx_create_returns_the_panel_with_the_new_project(client_as, team):
    response = client_as("admin").post(
        reverse("project-create"),
        {"name": "Fraud scoring", "team": team.pk},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="project-panel">')
    assert "Project <a" in html and "Fraud scoring" in html
    assert "<html" not in html


def test_invalid_project_form_keeps_what_was_typed(client_as, team, project):
    response = client_as("admin").post(
        reverse("project-create"),
        {
            "name": "Checkout again",
            "slug": "checkout",
            "team": team.pk,
            "description": "x",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "is taken by another project" in html
    assert 'value="Checkout again"' in html
    assert Project.objects.count() == 1


def test_reserved_slug_is_refused(client_as, team):
    response = client_as("admin").post(
        reverse("project-create"), {"name": "New", "team": team.pk}
    )
    assert "is reserved" in response.content.decode()
    assert not Project.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_edit_by_persona(client_as, persona, project, team):
    url = reverse("project-edit", args=[project.slug])
    data = {"name": "Checkout v2", "slug": "checkout", "team": team.pk}
    response = client_as(persona).post(url, data)
    assert response.status_code == WRITE[persona]
    project.refresh_from_db()
    assert (project.name == "Checkout v2") == (persona == "admin")


def test_edit_records_only_changed_fields(client_as, project, team):
    client_as("admin").post(
        reverse("project-edit", args=[project.slug]),
        {"name": "Checkout v2", "slug": "checkout", "team": team.pk},
    )
    event = AuditEvent.objects.get(action="project.updated")
    assert event.details == {"changes": {"name": ["Checkout", "Checkout v2"]}}


def test_htmx_edit_form_and_save_swap_the_summary(client_as, project, team):
    client = client_as("admin")
    url = reverse("project-edit", args=[project.slug])
    form = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert form.lstrip().startswith('<section class="card" id="project-summary">')
    assert 'value="Checkout"' in form
    saved = client.post(
        url,
        {"name": "Checkout v2", "slug": "checkout", "team": team.pk},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert saved.lstrip().startswith('<section class="card" id="project-summary">')
    assert "Checkout v2" in saved


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_archive_by_persona(client_as, persona, project, staging):
    response = client_as(persona).post(reverse("project-archive", args=[project.slug]))
    assert response.status_code == WRITE[persona]
    project.refresh_from_db()
    staging.refresh_from_db()
    archived = persona == "admin"
    assert project.is_archived == archived
    assert staging.is_archived == archived


def test_archived_projects_leave_the_default_list_and_can_be_restored(
    client_as, project
):
    client = client_as("admin")
    client.post(reverse("project-archive", args=[project.slug]))
    assert project not in client.get(reverse("project-list")).context["page"]
    archived = client.get(reverse("project-list"), {"status": "archived"})
    assert project in archived.context["page"]
    client.post(reverse("project-restore", args=[project.slug]))
    assert project in client.get(reverse("project-list")).context["page"]
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "project.archived" in actions and "project.restored" in actions


def test_list_filters_by_team_and_search(client_as, project, other_project, team):
    client = client_as("finance")
    by_team = client.get(reverse("project-list"), {"team": team.pk})
    assert list(by_team.context["page"]) == [project]
    by_text = client.get(reverse("project-list"), {"q": "rank"})
    assert list(by_text.context["page"]) == [other_project]


def test_htmx_filter_returns_only_the_panel(client_as, project):
    response = client_as("finance").get(
        reverse("project-list"), {"q": "check"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="project-panel">')
    assert "Checkout" in html


def test_project_list_query_count_does_not_grow(
    client_as, team, django_assert_num_queries
):
    client = client_as("engineer")
    ProjectFactory.create_batch(3, team=team)
    # session, user, teams for the filter form, count, page of projects
    with django_assert_num_queries(5):
        client.get(reverse("project-list"))
    ProjectFactory.create_batch(30, team=team)
    with django_assert_num_queries(5):
        client.get(reverse("project-list"))
