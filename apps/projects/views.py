from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.services import visible_teams
from apps.audit.services import Actor
from apps.projects import services
from apps.projects.forms import EnvironmentForm, ProjectFilterForm, ProjectForm
from console.htmx import render_page

PAGE_SIZE = 50


@login_required
def project_list(request):
    return _render_list(request, ProjectForm() if request.user.is_admin else None)


@login_required
@require_POST
def project_create(request):
    _require_admin(request)
    form = ProjectForm(request.POST)
    if not form.is_valid():
        return _render_list(request, form)
    project = services.create_project(Actor.from_request(request), **form.cleaned_data)
    if request.htmx:
        return _render_list(request, ProjectForm(), created=project)
    messages.success(request, f"Project {project.name} created.")
    return redirect("project-detail", project.slug)


@login_required
def project_detail(request, slug):
    project = _get_project(request, slug)
    ctx = _detail_context(request, project, EnvironmentForm(project=project))
    return render(request, "projects/project_detail.html", ctx)


@login_required
def project_edit(request, slug):
    project = _get_project(request, slug)
    _require_admin(request)
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        services.update_project(
            Actor.from_request(request), project, **form.cleaned_data
        )
        if request.htmx:
            ctx = _detail_context(request, project, EnvironmentForm(project=project))
            return render(request, "projects/project_detail.html#project-summary", ctx)
        messages.success(request, f"Project {project.name} saved.")
        return redirect("project-detail", project.slug)
    if form.is_bound:
        project.refresh_from_db()  # validation copied the rejected values onto it
    ctx = {"project": project, "form": form}
    return render_page(request, "projects/project_edit.html", ctx, "project-edit-form")


@login_required
@require_POST
def project_archive(request, slug):
    return _change_project_state(request, slug, services.archive_project, "archived")


@login_required
@require_POST
def project_restore(request, slug):
    return _change_project_state(request, slug, services.restore_project, "restored")


@login_required
@require_POST
def environment_create(request, slug):
    project = _get_project(request, slug)
    _require_admin(request)
    form = EnvironmentForm(request.POST, project=project)
    created = None
    if form.is_valid():
        try:
            created = services.create_environment(
                Actor.from_request(request), project=project, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if created and not request.htmx:
        messages.success(request, f"Environment {created.name} added.")
        return redirect("project-detail", project.slug)
    if created:
        form = EnvironmentForm(project=project)
    ctx = _detail_context(request, project, form, created=created)
    return render_page(
        request, "projects/project_detail.html", ctx, "environment-panel"
    )


@login_required
def environment_edit(request, pk):
    environment = _get_environment(request, pk)
    _require_admin(request)
    form = EnvironmentForm(request.POST or None, instance=environment)
    if request.method == "POST" and form.is_valid():
        services.update_environment(
            Actor.from_request(request), environment, **form.cleaned_data
        )
        if request.htmx:
            return _render_environment_row(request, environment)
        messages.success(request, f"Environment {environment.name} saved.")
        return redirect("project-detail", environment.project.slug)
    if form.is_bound:
        environment.refresh_from_db()
    ctx = {"environment": environment, "form": form}
    return render_page(
        request, "projects/environment_edit.html", ctx, "environment-edit-row"
    )


@login_required
def environment_row(request, pk):
    """The read-only row, for cancelling an inline edit."""
    return _render_environment_row(request, _get_environment(request, pk))


@login_required
@require_POST
def environment_archive(request, pk):
    return _change_environment_state(request, pk, services.archive_environment)


@login_required
@require_POST
def environment_restore(request, pk):
    return _change_environment_state(request, pk, services.restore_environment)


def _render_list(request, form, created=None):
    teams = visible_teams(request.user)
    filters = ProjectFilterForm(request.GET or None, teams=teams)
    projects = services.visible_projects(request.user).annotate(
        environment_count=Count(
            "environments", filter=Q(environments__archived_at=None)
        )
    )
    if filters.is_valid():
        projects = _apply_filters(projects, filters.cleaned_data)
    else:
        projects = projects.filter(archived_at=None)
    projects = projects.order_by("name", "pk")
    page = Paginator(projects, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"page": page, "filters": filters, "form": form, "created": created}
    return render_page(request, "projects/project_list.html", ctx, "project-panel")


def _apply_filters(projects, data):
    if data["q"]:
        projects = projects.filter(
            Q(name__icontains=data["q"]) | Q(slug__icontains=data["q"])
        )
    if data["team"]:
        projects = projects.filter(team=data["team"])
    status = data["status"] or "active"
    if status == "active":
        projects = projects.filter(archived_at=None)
    elif status == "archived":
        projects = projects.exclude(archived_at=None)
    return projects


def _detail_context(request, project, form, created=None):
    environments = project.environments.all()
    return {
        "project": project,
        "environments": environments,
        "environment_form": form if request.user.is_admin else None,
        "created": created,
    }


def _change_project_state(request, slug, change, verb):
    project = _get_project(request, slug)
    change(Actor.from_request(request), project)
    if request.htmx:
        ctx = _detail_context(request, project, EnvironmentForm(project=project))
        return render(request, "projects/project_detail.html#project-detail", ctx)
    messages.success(request, f"Project {project.name} {verb}.")
    return redirect("project-detail", project.slug)


def _change_environment_state(request, pk, change):
    environment = _get_environment(request, pk)
    try:
        change(Actor.from_request(request), environment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if request.htmx:
        return _render_environment_row(request, environment)
    return redirect("project-detail", environment.project.slug)


def _render_environment_row(request, environment):
    ctx = {"environment": environment, "project": environment.project}
    return render(request, "projects/project_detail.html#environment-row", ctx)


def _get_project(request, slug):
    return get_object_or_404(services.visible_projects(request.user), slug=slug)


def _get_environment(request, pk):
    return get_object_or_404(services.visible_environments(request.user), pk=pk)


def _require_admin(request):
    if not request.user.is_admin:
        raise PermissionDenied("Only admins can change projects and environments.")
