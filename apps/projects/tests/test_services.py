import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.projects import services
from apps.projects.tests.factories import EnvironmentFactory


def test_archiving_a_project_archives_its_environments_and_restore_undoes_it(
    admin, project
):
    actor = Actor(admin, "10.0.0.1")
    dev = EnvironmentFactory(project=project, name="dev")
    old = EnvironmentFactory(project=project, name="old")
    services.archive_environment(actor, old)

    services.archive_project(actor, project)
    dev.refresh_from_db()
    assert project.is_archived and dev.is_archived

    services.restore_project(actor, project)
    dev.refresh_from_db()
    old.refresh_from_db()
    assert not project.is_archived and not dev.is_archived
    # An environment archived on its own before stays archived.
    assert old.is_archived


def test_archiving_twice_records_one_event(admin, project):
    actor = Actor(admin)
    services.archive_project(actor, project)
    services.archive_project(actor, project)
    assert AuditEvent.objects.filter(action="project.archived").count() == 1


@pytest.mark.parametrize("persona", ["finance", "engineer", "outsider"])
def test_only_admins_change_projects(people, persona, team):
    with pytest.raises(PermissionDenied):
        services.create_project(Actor(people[persona]), team=team, name="X", slug="x")
    assert not AuditEvent.objects.exists()


def test_update_without_changes_records_nothing(admin, project):
    services.update_project(Actor(admin), project, name=project.name)
    assert not AuditEvent.objects.filter(action="project.updated").exists()


def test_events_carry_actor_ip_and_target(admin, team):
    project = services.create_project(
        Actor(admin, "2001:db8::1"), team=team, name="Fraud", slug="fraud"
    )
    event = AuditEvent.objects.get()
    assert (event.actor_name, event.ip) == ("ada", "2001:db8::1")
    assert (event.target_type, event.target_id) == ("project", str(project.pk))


def test_environment_in_archived_project_is_refused(admin, project):
    services.archive_project(Actor(admin), project)
    with pytest.raises(ValidationError, match="restore it"):
        services.create_environment(
            Actor(admin), project=project, name="qa", kind="staging", max_tier="economy"
        )


def test_engineers_see_only_their_teams(engineer, outsider, project, other_project):
    assert list(services.visible_projects(engineer)) == [project]
    assert list(services.visible_projects(outsider)) == [other_project]
