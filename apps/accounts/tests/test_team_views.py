import re

import pytest
from django.urls import reverse

from apps.accounts.models import Membership, Team
from apps.accounts.tests.factories import TeamFactory, UserFactory
from apps.audit.models import AuditEvent
from apps.projects.tests.factories import ProjectFactory

HTMX = {"HTTP_HX_REQUEST": "true"}

ADMIN_ONLY_ON_PAYMENTS = [
    ("admin", 302),
    ("finance", 403),
    ("engineer", 403),
    ("outsider", 404),
    ("anonymous", 302),
]


def actions():
    """The recorded actions, oldest first, less the sign-ins of the test client."""
    events = AuditEvent.objects.exclude(action__startswith="auth.").order_by("id")
    return list(events.values_list("action", flat=True))


def team_names(response):
    table = response.content.decode().split('id="team-table"')[1]
    return re.findall(r'href="/teams/[\w-]+/">([^<]+)</a>', table)


@pytest.mark.parametrize(
    ("persona", "status", "shown"),
    [
        ("admin", 200, ["Payments", "Search"]),
        ("finance", 200, ["Payments", "Search"]),
        ("engineer", 200, ["Payments"]),
        ("outsider", 200, ["Search"]),
        ("anonymous", 302, None),
    ],
)
def test_teams_page_shows_the_teams_each_persona_may_see(
    client_as, persona, status, shown
):
    response = client_as(persona).get(reverse("team-list"))

    assert response.status_code == status
    if shown is not None:
        assert team_names(response) == shown


@pytest.mark.parametrize(
    ("persona", "has_form"),
    [("admin", True), ("finance", False), ("engineer", False), ("outsider", False)],
)
def test_only_admins_see_the_new_team_form(client_as, persona, has_form):
    response = client_as(persona).get(reverse("team-list"))

    assert (b'action="/teams/new/"' in response.content) == has_form


def test_engineer_sees_the_whole_membership_count_of_their_team(client_as, team):
    UserFactory.create_batch(2, teams=[team])
    ProjectFactory(team=team)

    response = client_as("engineer").get(reverse("team-list"))

    html = response.content.decode()
    assert re.search(r'<td class="num">3</td>\s*<td class="num">1</td>', html)


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 302),
        ("finance", 403),
        ("engineer", 403),
        ("outsider", 403),
        ("anonymous", 302),
    ],
)
def test_only_admins_create_teams(client_as, persona, status):
    response = client_as(persona).post(reverse("team-create"), {"name": "Research"})

    assert response.status_code == status
    assert Team.objects.filter(name="Research").exists() == (persona == "admin")


def test_htmx_history_restore_gets_the_whole_teams_page(client_as):
    response = client_as("admin").get(
        reverse("team-list"), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )

    assert b"<html" in response.content
    assert "HX-Request" in response["Vary"]


def test_new_team_gets_a_slug_from_its_name_and_opens(client_as):
    response = client_as("admin").post(reverse("team-create"), {"name": "Data Science"})

    assert response["Location"] == reverse("team-detail", args=["data-science"])
    event = AuditEvent.objects.get(action="team.created")
    assert event.details == {"name": "Data Science", "slug": "data-science"}


def test_htmx_team_create_swaps_the_panel(client_as):
    response = client_as("admin").post(
        reverse("team-create"), {"name": "Research"}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="team-panel"' in html
    assert "Research</a> created." in html
    assert "Research" in team_names(response)


def test_duplicate_team_name_keeps_typed_input_and_shows_the_error(client_as, team):
    data = {"name": "Payments", "slug": "payments-two"}

    response = client_as("admin").post(reverse("team-create"), data, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Team with this Name already exists." in html
    assert 'value="payments-two"' in html
    assert Team.objects.count() == 2  # the conftest's two


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "New"}, "“new” is reserved"),
        ({"name": "Payments 2", "slug": "payments"}, "“payments” is taken"),
        ({"name": "!!!"}, "letters or digits"),
    ],
)
def test_team_slug_must_be_usable(client_as, team, data, message):
    response = client_as("admin").post(reverse("team-create"), data)

    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 200),
        ("engineer", 200),
        ("outsider", 404),
        ("anonymous", 302),
    ],
)
def test_team_page_is_open_to_its_members_admins_and_finance(
    client_as, persona, status
):
    response = client_as(persona).get(reverse("team-detail", args=["payments"]))

    assert response.status_code == status


def test_engineer_cannot_open_another_teams_page(client_as):
    response = client_as("engineer").get(reverse("team-detail", args=["search"]))

    assert response.status_code == 404


def test_team_page_lists_members_and_projects(client_as, team):
    project = ProjectFactory(team=team, name="Checkout", slug="checkout")
    ProjectFactory(name="Elsewhere")

    response = client_as("engineer").get(reverse("team-detail", args=["payments"]))

    html = response.content.decode()
    assert "eli" in html.split('id="member-table"')[1]
    projects = html.split('id="project-table"')[1]
    assert f'href="{reverse("project-detail", args=[project.slug])}"' in projects
    assert "Elsewhere" not in projects
    assert "Remove" not in html
    assert "Add member" not in html


def test_member_select_offers_only_active_non_members(client_as, team):
    UserFactory(username="gone", is_active=False)

    response = client_as("admin").get(reverse("team-detail", args=["payments"]))

    form = response.content.decode().split('action="/teams/payments/members/"')[1]
    options = re.findall(r'<option value="\d+">([^<]+)</option>', form)
    assert options == ["ada", "fay", "oz"]


@pytest.mark.parametrize(("persona", "status"), ADMIN_ONLY_ON_PAYMENTS)
def test_only_admins_add_members(client_as, finance, team, persona, status):
    url = reverse("member-add", args=["payments"])

    response = client_as(persona).post(url, {"user": finance.pk})

    assert response.status_code == status
    added = Membership.objects.filter(team=team, user=finance).exists()
    assert added == (persona == "admin")


def test_htmx_member_add_swaps_the_member_panel(client_as, finance, team):
    url = reverse("member-add", args=["payments"])

    response = client_as("admin").post(url, {"user": finance.pk}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith('<section class="card" id="member-panel">')
    assert "fay added." in html
    event = AuditEvent.objects.get(action="membership.added")
    assert event.details == {"user": "fay", "team": "payments"}


def test_member_add_without_javascript_redirects_to_the_team(client_as, finance):
    url = reverse("member-add", args=["payments"])

    response = client_as("admin").post(url, {"user": finance.pk}, follow=True)

    assert response.redirect_chain == [(reverse("team-detail", args=["payments"]), 302)]
    assert "fay added to Payments." in response.content.decode()


def test_adding_an_existing_member_shows_an_error(client_as, engineer):
    url = reverse("member-add", args=["payments"])

    response = client_as("admin").post(url, {"user": engineer.pk}, **HTMX)

    assert response.status_code == 200
    assert b"Select a valid choice." in response.content
    assert actions() == []


@pytest.mark.parametrize(("persona", "status"), ADMIN_ONLY_ON_PAYMENTS)
def test_only_admins_remove_members(client_as, engineer, team, persona, status):
    url = reverse("member-remove", args=["payments", engineer.pk])

    response = client_as(persona).post(url)

    assert response.status_code == status
    kept = Membership.objects.filter(team=team, user=engineer).exists()
    assert kept == (persona != "admin")


def test_htmx_member_remove_swaps_the_member_panel(client_as, engineer):
    url = reverse("member-remove", args=["payments", engineer.pk])

    response = client_as("admin").post(url, **HTMX)

    html = response.content.decode()
    assert 'id="member-panel"' in html and "<html" not in html
    assert "eli removed." in html
    assert "No members yet." in html
    assert AuditEvent.objects.get(action="membership.removed").details["user"] == "eli"


def test_member_remove_without_javascript_redirects_to_the_team(client_as, engineer):
    url = reverse("member-remove", args=["payments", engineer.pk])

    response = client_as("admin").post(url)

    assert response["Location"] == reverse("team-detail", args=["payments"])


def test_member_remove_refuses_get(client_as, engineer):
    url = reverse("member-remove", args=["payments", engineer.pk])

    assert client_as("admin").get(url).status_code == 405


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 403),
        ("engineer", 403),
        ("outsider", 404),
        ("anonymous", 302),
    ],
)
def test_only_admins_open_the_team_edit_page(client_as, persona, status):
    response = client_as(persona).get(reverse("team-edit", args=["payments"]))

    assert response.status_code == status


@pytest.mark.parametrize(("persona", "status"), ADMIN_ONLY_ON_PAYMENTS)
def test_only_admins_rename_teams(client_as, team, persona, status):
    data = {"name": "Payments EU", "slug": "payments"}

    response = client_as(persona).post(reverse("team-edit", args=["payments"]), data)

    assert response.status_code == status
    team.refresh_from_db()
    assert (team.name == "Payments EU") == (persona == "admin")


def test_renaming_a_team_moves_it_to_its_new_slug(client_as, team):
    data = {"name": "Payments EU", "slug": ""}

    response = client_as("admin").post(reverse("team-edit", args=["payments"]), data)

    assert response["Location"] == reverse("team-detail", args=["payments-eu"])
    event = AuditEvent.objects.get(action="team.updated")
    assert event.details["changes"] == {
        "name": ["Payments", "Payments EU"],
        "slug": ["payments", "payments-eu"],
    }


def test_bad_team_edit_keeps_typed_input(client_as, team, other_team):
    data = {"name": "Search", "slug": "typed-slug"}

    response = client_as("admin").post(reverse("team-edit", args=["payments"]), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Team with this Name already exists." in html
    assert 'value="typed-slug"' in html
    assert "<h1>Edit Payments</h1>" in html
    team.refresh_from_db()
    assert team.slug == "payments"


@pytest.mark.parametrize(("persona", "status"), ADMIN_ONLY_ON_PAYMENTS)
def test_only_admins_delete_teams(client_as, team, persona, status):
    response = client_as(persona).post(reverse("team-delete", args=["payments"]))

    assert response.status_code == status
    assert Team.objects.filter(slug="payments").exists() == (persona != "admin")


def test_deleting_a_team_removes_its_memberships_and_is_audited(client_as, engineer):
    response = client_as("admin").post(
        reverse("team-delete", args=["payments"]), follow=True
    )

    assert response.redirect_chain == [(reverse("team-list"), 302)]
    assert "Team Payments deleted." in response.content.decode()
    assert not engineer.teams.exists()
    event = AuditEvent.objects.get(action="team.deleted")
    assert event.details == {"name": "Payments", "slug": "payments"}


def test_team_that_owns_projects_is_kept_with_an_error(client_as, team):
    ProjectFactory(team=team)

    response = client_as("admin").post(
        reverse("team-delete", args=["payments"]), follow=True
    )

    assert response.redirect_chain == [(reverse("team-detail", args=["payments"]), 302)]
    assert "still owns 1 project(s)" in response.content.decode()
    assert Team.objects.filter(slug="payments").exists()
    assert "team.deleted" not in actions()


def test_htmx_delete_sends_the_browser_to_the_team_list(client_as, team):
    response = client_as("admin").post(
        reverse("team-delete", args=["payments"]), **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("team-list")


def test_team_delete_refuses_get(client_as, team):
    response = client_as("admin").get(reverse("team-delete", args=["payments"]))

    assert response.status_code == 405


def test_teams_page_query_count_does_not_grow_with_rows(
    client_as, django_assert_num_queries
):
    client = client_as("admin")
    # session, user, count, page
    for _ in range(2):
        for team in TeamFactory.create_batch(10):
            UserFactory(teams=[team])
            ProjectFactory(team=team)
        with django_assert_num_queries(4):
            response = client.get(reverse("team-list"))
        assert response.status_code == 200


def test_team_page_query_count_does_not_grow_with_members(
    client_as, django_assert_num_queries, team
):
    client = client_as("admin")
    url = reverse("team-detail", args=["payments"])
    # session, user, team, members, member choices, projects
    for _ in range(2):
        UserFactory.create_batch(10, teams=[team])
        ProjectFactory.create_batch(5, team=team)
        with django_assert_num_queries(6):
            client.get(url)
