import pytest

from apps.accounts.models import Role, User
from apps.audit.models import AuditEvent

URL = "/api/v1/users/"
NEW_PASSWORD = "correct horse battery staple, again"
DENIED = [("finance", 403), ("engineer", 403), ("outsider", 403), ("anonymous", 401)]


def detail_url(user):
    return f"{URL}{user.pk}/"


@pytest.mark.parametrize(("persona", "status"), [("admin", 200), *DENIED])
def test_only_admins_list_users(api_as, persona, status):
    response = api_as(persona).get(URL)

    assert response.status_code == status
    if status == 200:
        assert response.json()["count"] == 4


@pytest.mark.parametrize(("persona", "status"), [("admin", 200), *DENIED])
def test_only_admins_read_a_user(api_as, engineer, persona, status):
    assert api_as(persona).get(detail_url(engineer)).status_code == status


@pytest.mark.parametrize(("persona", "status"), [("admin", 201), *DENIED])
def test_only_admins_create_users(api_as, persona, status):
    data = {"username": "nia", "role": "engineer", "password": NEW_PASSWORD}

    response = api_as(persona).post(URL, data, format="json")

    assert response.status_code == status
    assert User.objects.filter(username="nia").exists() == (status == 201)


@pytest.mark.parametrize(("persona", "status"), [("admin", 200), *DENIED])
def test_only_admins_update_users(api_as, engineer, persona, status):
    response = api_as(persona).patch(
        detail_url(engineer), {"role": "finance"}, format="json"
    )

    assert response.status_code == status
    engineer.refresh_from_db()
    assert (engineer.role == Role.FINANCE) == (status == 200)


@pytest.mark.parametrize(("persona", "status"), [("admin", 204), *DENIED])
def test_only_admins_deactivate_users(api_as, engineer, persona, status):
    response = api_as(persona).delete(detail_url(engineer))

    assert response.status_code == status
    engineer.refresh_from_db()
    assert engineer.is_active == (status != 204)


def test_user_has_the_documented_fields(api_as, engineer, team):
    response = api_as("admin").get(detail_url(engineer))

    assert response.json() == {
        "id": engineer.pk,
        "username": "eli",
        "email": "eli@example.com",
        "role": "engineer",
        "teams": [team.pk],
        "is_active": True,
    }


def test_superuser_is_shown_as_admin(api_as, engineer):
    engineer.is_superuser = True
    engineer.save()

    response = api_as("admin").get(detail_url(engineer))

    assert response.json()["role"] == "admin"


def test_user_list_filters_by_role(api_as):
    response = api_as("admin").get(URL, {"role": "finance"})

    assert [row["username"] for row in response.json()["results"]] == ["fay"]


def test_created_user_can_sign_in_and_is_audited(api_as, client, team):
    data = {
        "username": "nia",
        "email": "nia@example.com",
        "role": "finance",
        "teams": [team.pk],
        "password": NEW_PASSWORD,
    }

    response = api_as("admin").post(URL, data, format="json")

    body = response.json()
    assert "password" not in body
    assert body["teams"] == [team.pk]
    assert body["role"] == "finance"
    signed_in = client.post("/login/", {"username": "nia", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    event = AuditEvent.objects.get(action="user.created")
    assert event.details["role"] == "finance"
    assert NEW_PASSWORD not in str(event.details)


def test_user_created_without_password_cannot_sign_in(api_as):
    data = {"username": "nia", "role": "engineer"}

    response = api_as("admin").post(URL, data, format="json")

    assert response.status_code == 201
    assert not User.objects.get(username="nia").has_usable_password()


def test_weak_password_is_refused(api_as):
    data = {"username": "nia", "role": "engineer", "password": "password123"}

    response = api_as("admin").post(URL, data, format="json")

    assert response.status_code == 400
    assert response.json()["password"] == ["This password is too common."]


def test_duplicate_username_is_refused(api_as, engineer):
    data = {"username": "eli", "role": "engineer"}

    response = api_as("admin").post(URL, data, format="json")

    assert response.status_code == 400
    assert "username" in response.json()


def test_update_changes_role_and_teams_and_is_audited(
    api_as, engineer, team, other_team
):
    data = {"role": "finance", "teams": [other_team.pk]}

    response = api_as("admin").patch(detail_url(engineer), data, format="json")

    assert response.json()["teams"] == [other_team.pk]
    assert list(engineer.teams.all()) == [other_team]
    event = AuditEvent.objects.get(action="user.updated")
    assert event.details["changes"] == {"role": ["engineer", "finance"]}
    assert AuditEvent.objects.filter(action="membership.removed").count() == 1
    assert AuditEvent.objects.filter(action="membership.added").count() == 1


def test_update_sets_a_new_password(api_as, engineer):
    data = {"password": NEW_PASSWORD}

    api_as("admin").patch(detail_url(engineer), data, format="json")

    engineer.refresh_from_db()
    assert engineer.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="user.password_set").exists()


def test_delete_keeps_the_user_inactive(api_as, engineer):
    api_as("admin").delete(detail_url(engineer))

    engineer.refresh_from_db()
    assert not engineer.is_active
    event = AuditEvent.objects.get(action="user.updated")
    assert event.details["changes"] == {"is_active": [True, False]}


@pytest.mark.parametrize(
    ("method", "data"),
    [
        ("patch", {"role": "engineer"}),
        ("patch", {"is_active": False}),
        ("delete", None),
    ],
)
def test_admin_cannot_demote_or_deactivate_themselves(api_as, admin, method, data):
    api = api_as("admin")

    response = getattr(api, method)(detail_url(admin), data, format="json")

    assert response.status_code == 400
    assert "cannot remove your own admin role" in response.json()["detail"]
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN and admin.is_active
