import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.projects.models import Environment
from conftest import PERSONAS

WRITE = {
    "admin": 302,
    "finance": 403,
    "engineer": 403,
    "outsider": 404,
    "anonymous": 302,
}
READ = {
    "admin": 200,
    "finance": 200,
    "engineer": 200,
    "outsider": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_environment_create_by_persona(client_as, persona, project):
    url = reverse("environment-create", args=[project.slug])
    response = client_as(persona).post(url, {"name": "qa", "kind": "staging"})
    assert response.status_code == WRITE[persona]
    assert project.environments.filter(name="qa").exists() == (persona == "admin")


def test_new_environment_gets_the_default_tier_of_its_kind(client_as, project):
    client = client_as("admin")
    url = reverse("environment-create", args=[project.slug])
    client.post(url, {"name": "prod", "kind": "production"})
    client.post(url, {"name": "dev", "kind": "development"})
    client.post(url, {"name": "stg", "kind": "staging", "max_tier": "premium"})
    tiers = dict(project.environments.values_list("name", "max_tier"))
    assert tiers == {"prod": "premium", "dev": "economy", "stg": "premium"}
    assert AuditEvent.objects.filter(action="environment.created").count() == 3


def test_htmx_environment_create_swaps_the_panel(client_as, project):
    response = client_as("admin").post(
        reverse("environment-create", args=[project.slug]),
        {"name": "qa", "kind": "staging"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="environment-panel">')
    assert "Environment qa added." in html


def test_duplicate_environment_name_keeps_the_typed_form(client_as, project, staging):
    response = client_as("admin").post(
        reverse("environment-create", args=[project.slug]),
        {"name": "staging", "kind": "development"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "already has an environment named" in html
    assert '<option value="development" selected>' in html
    assert project.environments.count() == 1


def test_environment_cannot_be_added_to_an_archived_project(client_as, project):
    client = client_as("admin")
    client.post(reverse("project-archive", args=[project.slug]))
    response = client.post(
        reverse("environment-create", args=[project.slug]),
        {"name": "qa", "kind": "staging"},
    )
    assert response.status_code == 200
    assert "is archived: restore it" in response.content.decode()
    assert not project.environments.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_environment_edit_page_by_persona(client_as, persona, staging):
    response = client_as(persona).get(reverse("environment-edit", args=[staging.pk]))
    expected = {**READ, "finance": 403, "engineer": 403}
    assert response.status_code == expected[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_environment_edit_by_persona(client_as, persona, staging):
    response = client_as(persona).post(
        reverse("environment-edit", args=[staging.pk]),
        {"name": "staging", "kind": "staging", "max_tier": "economy"},
    )
    assert response.status_code == WRITE[persona]
    staging.refresh_from_db()
    assert (staging.max_tier == "economy") == (persona == "admin")


def test_policy_change_is_audited_with_old_and_new_tier(client_as, staging):
    client_as("admin").post(
        reverse("environment-edit", args=[staging.pk]),
        {"name": "staging", "kind": "staging", "max_tier": "economy"},
    )
    event = AuditEvent.objects.get(action="environment.updated")
    assert event.details == {"changes": {"max_tier": ["standard", "economy"]}}


def test_htmx_inline_edit_swaps_one_row(client_as, staging):
    client = client_as("admin")
    url = reverse("environment-edit", args=[staging.pk])
    form = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert form.lstrip().startswith(f'<tr id="environment-{staging.pk}">')
    assert "<form" in form
    saved = client.post(
        url,
        {"name": "staging", "kind": "staging", "max_tier": "premium"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert saved.lstrip().startswith(f'<tr id="environment-{staging.pk}"')
    assert "Premium" in saved and "<form method" in saved  # the archive button


def test_htmx_cancel_returns_the_plain_row(client_as, staging):
    response = client_as("engineer").get(reverse("environment-row", args=[staging.pk]))
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="environment-{staging.pk}"')
    assert "Edit" not in html  # engineers get no actions


@pytest.mark.parametrize("persona", PERSONAS)
def test_environment_archive_and_restore_by_persona(client_as, persona, staging):
    client = client_as(persona)
    response = client.post(reverse("environment-archive", args=[staging.pk]))
    assert response.status_code == WRITE[persona]
    staging.refresh_from_db()
    assert staging.is_archived == (persona == "admin")
    response = client.post(reverse("environment-restore", args=[staging.pk]))
    staging.refresh_from_db()
    assert not staging.is_archived


def test_detail_page_query_count_does_not_grow(
    client_as, project, django_assert_num_queries
):
    client = client_as("engineer")
    Environment.objects.bulk_create(
        Environment(project=project, name=f"e{i}", kind="staging", max_tier="standard")
        for i in range(3)
    )
    with django_assert_num_queries(4):
        client.get(reverse("project-detail", args=[project.slug]))
    Environment.objects.bulk_create(
        Environment(project=project, name=f"f{i}", kind="staging", max_tier="standard")
        for i in range(30)
    )
    with django_assert_num_queries(4):
        client.get(reverse("project-detail", args=[project.slug]))


def test_rotation_limit_is_set_in_the_form_audited_and_shown_in_the_row(
    client_as, project, staging
):
    client = client_as("admin")
    client.post(
        reverse("environment-edit", args=[staging.pk]),
        {
            "name": "staging",
            "kind": "staging",
            "max_tier": "standard",
            "max_key_age_days": "90",
        },
    )
    staging.refresh_from_db()
    assert staging.max_key_age_days == 90
    event = AuditEvent.objects.get(action="environment.updated")
    assert event.details == {"changes": {"max_key_age_days": [None, 90]}}
    html = client.get(reverse("project-detail", args=[project.slug])).content.decode()
    assert "<td>90 days</td>" in html


def test_new_environment_takes_a_rotation_limit_and_has_none_by_default(
    client_as, project
):
    client = client_as("admin")
    url = reverse("environment-create", args=[project.slug])
    client.post(url, {"name": "prod", "kind": "production", "max_key_age_days": "30"})
    client.post(url, {"name": "dev", "kind": "development"})
    limits = dict(project.environments.values_list("name", "max_key_age_days"))
    assert limits == {"prod": 30, "dev": None}
    html = client.get(reverse("project-detail", args=[project.slug])).content.decode()
    assert "Maximum key age (days)" in html
    assert '<span class="muted">no limit</span>' in html


def test_zero_day_rotation_limit_keeps_the_typed_form(client_as, staging):
    response = client_as("admin").post(
        reverse("environment-edit", args=[staging.pk]),
        {"name": "staging", "kind": "staging", "max_key_age_days": "0"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "greater than or equal to 1" in html
    assert 'value="0"' in html
    staging.refresh_from_db()
    assert staging.max_key_age_days is None
