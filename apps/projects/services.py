"""Projects and environments: visibility, changes and their model policy."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record, save_changes, snapshot
from apps.projects.models import Environment, Project

PROJECT_FIELDS = ("team", "name", "slug", "description")
ENVIRONMENT_FIELDS = ("project", "name", "kind", "max_tier", "max_key_age_days")


def visible_projects(user):
    """Projects a user may read: all for admins and finance, their teams' otherwise."""
    projects = Project.objects.select_related("team")
    if not user.sees_everything:
        projects = projects.filter(team__memberships__user=user)
    return projects


def visible_environments(user):
    environments = Environment.objects.select_related("project__team")
    if not user.sees_everything:
        environments = environments.filter(project__team__memberships__user=user)
    return environments


def create_project(actor: Actor, **fields) -> Project:
    require_admin(actor.user)
    with transaction.atomic():
        project = Project.objects.create(**fields)
        record(actor, "project.created", project, **snapshot(project, PROJECT_FIELDS))
    return project


def update_project(actor: Actor, project: Project, **fields) -> Project:
    require_admin(actor.user)
    return save_changes(actor, project, "project.updated", fields)


def archive_project(actor: Actor, project: Project) -> Project:
    """Archive a project and its environments; history stays attributable."""
    require_admin(actor.user)
    if project.is_archived:
        return project
    with transaction.atomic():
        now = timezone.now()
        project.archived_at = now
        project.save(update_fields=["archived_at"])
        project.environments.filter(archived_at=None).update(archived_at=now)
        record(actor, "project.archived", project)
    return project


def restore_project(actor: Actor, project: Project) -> Project:
    require_admin(actor.user)
    if not project.is_archived:
        return project
    with transaction.atomic():
        project.environments.filter(archived_at=project.archived_at).update(
            archived_at=None
        )
        project.archived_at = None
        project.save(update_fields=["archived_at"])
        record(actor, "project.restored", project)
    return project


def create_environment(actor: Actor, **fields) -> Environment:
    require_admin(actor.user)
    project = fields["project"]
    if project.is_archived:
        raise ValidationError(
            f"{project.name} is archived: restore it before adding environments."
        )
    with transaction.atomic():
        environment = Environment.objects.create(**fields)
        record(
            actor,
            "environment.created",
            environment,
            **snapshot(environment, ENVIRONMENT_FIELDS),
        )
    return environment


def update_environment(actor: Actor, environment: Environment, **fields):
    require_admin(actor.user)
    return save_changes(actor, environment, "environment.updated", fields)


def archive_environment(actor: Actor, environment: Environment) -> Environment:
    require_admin(actor.user)
    if not environment.is_archived:
        with transaction.atomic():
            environment.archived_at = timezone.now()
            environment.save(update_fields=["archived_at"])
            record(actor, "environment.archived", environment)
    return environment


def restore_environment(actor: Actor, environment: Environment) -> Environment:
    require_admin(actor.user)
    if environment.is_archived:
        with transaction.atomic():
            environment.archived_at = None
            environment.save(update_fields=["archived_at"])
            record(actor, "environment.restored", environment)
    return environment
