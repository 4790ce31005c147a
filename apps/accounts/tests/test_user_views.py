import re

import pytest
from django.urls import reverse

from apps.accounts.models import Membership, Role, User
from apps.accounts.tests.factories import PASSWORD, TeamFactory, UserFactory
from apps.audit.models import AuditEvent

HTMX = {"HTTP_HX_REQUEST": "true"}
NEW_PASSWORD = "correct horse battery staple, again"


def new_user_data(**overrides):
    data = {
        "username": "nia",
        "email": "nia@example.com",
        "first_name": "Nia",
        "last_name": "Kerr",
        "role": Role.ENGINEER,
        "is_active": "on",
        "password": NEW_PASSWORD,
    }
    return {**data, **overrides}


def edit_data(person, **overrides):
    data = {
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "role": person.role,
        "teams": [team.pk for team in person.teams.all()],
        "is_active": "on" if person.is_active else "",
        "password": "",
    }
    return {**data, **overrides}


def actions():
    """The recorded actions, oldest first, less the sign-ins of the test client."""
    events = AuditEvent.objects.exclude(action__startswith="auth.").order_by("id")
    return list(events.values_list("action", flat=True))


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 403),
        ("engineer", 403),
        ("outsider", 403),
        ("anonymous", 302),
    ],
)
def test_only_admins_open_the_users_page(client_as, persona, status):
    response = client_as(persona).get(reverse("user-list"))

    assert response.status_code == status
    if persona == "anonymous":
        assert response["Location"].startswith(reverse("login"))


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
def test_only_admins_create_users(client_as, persona, status):
    response = client_as(persona).post(reverse("user-create"), new_user_data())

    assert response.status_code == status
    assert User.objects.filter(username="nia").exists() == (persona == "admin")


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 403),
        ("engineer", 403),
        ("outsider", 403),
        ("anonymous", 302),
    ],
)
def test_only_admins_open_a_users_edit_page(client_as, engineer, persona, status):
    response = client_as(persona).get(reverse("user-edit", args=[engineer.pk]))

    assert response.status_code == status


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
def test_only_admins_edit_users(client_as, engineer, persona, status):
    data = edit_data(engineer, role=Role.FINANCE)

    response = client_as(persona).post(reverse("user-edit", args=[engineer.pk]), data)

    assert response.status_code == status
    engineer.refresh_from_db()
    assert (engineer.role == Role.FINANCE) == (persona == "admin")


def test_engineer_cannot_open_users_page(client_as):
    response = client_as("engineer").get(reverse("user-list"))

    assert response.status_code == 403
    assert b"Only admins can manage users and teams." in response.content


def test_user_create_refuses_get(client_as):
    assert client_as("admin").get(reverse("user-create")).status_code == 405


def test_users_page_shows_each_users_details(client_as, engineer):
    engineer.first_name, engineer.last_name = "Eli", "Moss"
    engineer.save()

    response = client_as("admin").get(reverse("user-list"))

    row = _row(response, "eli")
    assert "Eli Moss" in row
    assert "eli@example.com" in row
    assert "Engineer" in row
    assert reverse("team-detail", args=["payments"]) in row
    assert "never" in row


def test_created_user_can_sign_in_with_the_password(client_as, team, client):
    data = new_user_data(teams=[team.pk])

    response = client_as("admin").post(reverse("user-create"), data)

    assert response.status_code == 302
    created = User.objects.get(username="nia")
    assert list(created.teams.all()) == [team]
    client.logout()
    signed_in = client.post(
        reverse("login"), {"username": "nia", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302
    assert signed_in["Location"] == reverse("home")


def test_creating_a_user_is_audited_without_the_password(client_as, team):
    client_as("admin").post(reverse("user-create"), new_user_data(teams=[team.pk]))

    event = AuditEvent.objects.get(action="user.created")
    assert event.actor_name == "ada"
    assert event.details["username"] == "nia"
    assert NEW_PASSWORD not in str(event.details)
    joined = AuditEvent.objects.get(action="membership.added")
    assert joined.details == {"user": "nia", "team": "payments"}


def test_htmx_create_swaps_the_panel_with_a_fresh_form(client_as):
    response = client_as("admin").post(reverse("user-create"), new_user_data(), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="user-panel"' in html
    assert "<html" not in html
    assert "User <a" in html and "nia</a> created." in html
    assert 'value="nia@example.com"' not in html  # the form is empty again


def test_bad_create_form_keeps_typed_input_and_shows_the_error(client_as, engineer):
    data = new_user_data(username="eli", email="typed@example.com")

    response = client_as("admin").post(reverse("user-create"), data, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "A user with that username already exists." in html
    assert 'value="typed@example.com"' in html
    assert not User.objects.filter(email="typed@example.com").exists()


def test_weak_password_is_refused_with_the_validators_message(client_as):
    data = new_user_data(password="password123")

    response = client_as("admin").post(reverse("user-create"), data)

    assert response.status_code == 200
    assert b"This password is too common." in response.content
    assert b'value="Kerr"' in response.content
    assert not User.objects.filter(username="nia").exists()


def test_role_change_shows_in_the_user_list(client_as, engineer):
    client = client_as("admin")
    data = edit_data(engineer, role=Role.FINANCE)

    response = client.post(reverse("user-edit", args=[engineer.pk]), data, follow=True)

    assert response.redirect_chain[-1][0] == reverse("user-list")
    assert "User eli saved." in response.content.decode()
    assert "Finance" in _row(response, "eli")
    event = AuditEvent.objects.get(action="user.updated")
    assert event.details["changes"] == {"role": ["engineer", "finance"]}


def test_editing_teams_adds_and_removes_memberships(client_as, engineer, team):
    search = TeamFactory(name="Billing", slug="billing")
    data = edit_data(engineer, teams=[search.pk])

    client_as("admin").post(reverse("user-edit", args=[engineer.pk]), data)

    assert list(engineer.teams.all()) == [search]
    assert actions()[-2:] == ["membership.removed", "membership.added"]


def test_admin_sets_a_new_password_the_user_can_sign_in_with(client_as, engineer):
    data = edit_data(engineer, password=NEW_PASSWORD)

    client_as("admin").post(reverse("user-edit", args=[engineer.pk]), data)

    engineer.refresh_from_db()
    assert engineer.check_password(NEW_PASSWORD)
    assert "user.password_set" in actions()
    assert NEW_PASSWORD not in str(list(AuditEvent.objects.values("details")))


def test_leaving_the_password_empty_keeps_it(client_as, engineer):
    client_as("admin").post(
        reverse("user-edit", args=[engineer.pk]), edit_data(engineer)
    )

    engineer.refresh_from_db()
    assert engineer.check_password(PASSWORD)
    assert actions() == []  # nothing changed, nothing recorded


def test_admin_cannot_demote_themselves(client_as, admin):
    data = edit_data(admin, role=Role.ENGINEER, email="typed@example.com")

    response = client_as("admin").post(reverse("user-edit", args=[admin.pk]), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "You cannot remove your own admin role or deactivate yourself." in html
    assert 'value="typed@example.com"' in html
    assert '<option value="engineer" selected>' in html
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    assert admin.email == "ada@example.com"
    assert actions() == []


def test_admin_cannot_deactivate_themselves(client_as, admin):
    data = edit_data(admin, is_active="")

    response = client_as("admin").post(reverse("user-edit", args=[admin.pk]), data)

    assert response.status_code == 200
    assert b"deactivate yourself" in response.content
    admin.refresh_from_db()
    assert admin.is_active


def test_admin_changing_their_own_password_stays_signed_in(client_as, admin):
    client = client_as("admin")
    data = edit_data(admin, password=NEW_PASSWORD)

    client.post(reverse("user-edit", args=[admin.pk]), data)

    assert client.get(reverse("user-list")).status_code == 200


def test_deactivated_user_cannot_sign_in(client_as, engineer, client):
    data = edit_data(engineer, is_active="")
    client_as("admin").post(reverse("user-edit", args=[engineer.pk]), data)

    client.logout()
    response = client.post(reverse("login"), {"username": "eli", "password": PASSWORD})

    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated


def test_unknown_user_gives_404(client_as):
    assert client_as("admin").get(reverse("user-edit", args=[9999])).status_code == 404


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"role": "finance"}, ["fay"], ["eli", "oz", "ada"]),
        ({"q": "OZ@"}, ["oz"], ["eli", "fay"]),
        ({"status": "inactive"}, ["gone"], ["eli", "ada"]),
        ({"status": "all"}, ["gone", "eli"], []),
        ({}, ["eli", "ada"], ["gone"]),
    ],
)
def test_users_page_filters(client_as, query, shown, hidden):
    UserFactory(username="gone", is_active=False)

    response = client_as("admin").get(reverse("user-list"), query)

    names = _usernames(response)
    assert all(name in names for name in shown)
    assert not any(name in names for name in hidden)


def test_users_page_filters_by_team(client_as, team):
    response = client_as("admin").get(reverse("user-list"), {"team": team.pk})

    assert _usernames(response) == ["eli"]


def test_htmx_filter_returns_only_the_panel(client_as):
    response = client_as("admin").get(reverse("user-list"), {"role": "admin"}, **HTMX)

    html = response.content.decode()
    assert "<html" not in html
    assert 'id="user-panel"' in html
    assert _usernames(response) == ["ada"]


def test_htmx_history_restore_gets_the_whole_page(client_as):
    response = client_as("admin").get(
        reverse("user-list"),
        {"role": "admin"},
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
        **HTMX,
    )

    assert b"<html" in response.content
    assert "HX-Request" in response["Vary"]


def test_users_page_has_no_duplicate_element_ids(client_as):
    response = client_as("admin").get(reverse("user-list"))

    ids = re.findall(r' id="([^"]+)"', response.content.decode())
    assert len(ids) == len(set(ids))


def test_users_page_is_paginated_by_50(client_as):
    UserFactory.create_batch(60)

    first = client_as("admin").get(reverse("user-list"))
    second = client_as("admin").get(reverse("user-list"), {"page": 2})

    assert len(_usernames(first)) == 50
    assert len(_usernames(second)) == 64 - 50
    assert b"Page 2 of 2" in second.content


def test_users_page_query_count_does_not_grow_with_rows(
    client_as, django_assert_num_queries, team, other_team
):
    client = client_as("admin")
    # session, user, count, page, teams prefetch, the two team selects
    for _ in range(2):
        UserFactory.create_batch(10, teams=[team, other_team])
        with django_assert_num_queries(7):
            response = client.get(reverse("user-list"))
        assert response.status_code == 200


def test_membership_rows_do_not_duplicate_users_in_the_list(
    client_as, engineer, other_team
):
    Membership.objects.create(user=engineer, team=other_team)

    response = client_as("admin").get(reverse("user-list"))

    assert _usernames(response).count("eli") == 1


def _row(response, username):
    html = response.content.decode()
    start = html.index(f">{username}</a></td>")
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def _usernames(response):
    table = response.content.decode().split('id="user-table"')[1]
    return re.findall(r'href="/users/\d+/">([^<]+)</a>', table)
