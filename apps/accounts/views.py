from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts import services
from apps.accounts.forms import (
    MemberAddForm,
    TeamForm,
    UserEditForm,
    UserFilterForm,
    UserForm,
)
from apps.accounts.models import User
from apps.audit.services import Actor
from apps.projects.services import visible_projects
from console.htmx import render_page

PAGE_SIZE = 50


@login_required
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.set_password(
            Actor.from_request(request),
            request.user,
            form.cleaned_data["new_password1"],
        )
        update_session_auth_hash(request, request.user)
        messages.success(request, "Your password was changed.")
        return redirect("home")
    return render(request, "registration/password_change_form.html", {"form": form})


@login_required
def user_list(request):
    _require_admin(request)
    return _render_user_list(request, UserForm())


@login_required
@require_POST
def user_create(request):
    _require_admin(request)
    form = UserForm(request.POST)
    if not form.is_valid():
        return _render_user_list(request, form)
    data = dict(form.cleaned_data)
    person = services.create_user(
        Actor.from_request(request),
        password=data.pop("password"),
        teams=list(data.pop("teams")),
        **data,
    )
    if request.htmx:
        return _render_user_list(request, UserForm(), created=person)
    messages.success(request, f"User {person.username} created.")
    return redirect("user-list")


@login_required
def user_edit(request, pk):
    _require_admin(request)
    person = get_object_or_404(User, pk=pk)
    form = UserEditForm(request.POST or None, instance=person)
    if request.method == "POST" and form.is_valid():
        try:
            _save_user(request, person, form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"User {person.username} saved.")
            return redirect("user-list")
    if form.is_bound:
        person.refresh_from_db()  # validation copied the rejected values onto it
    return render(request, "accounts/user_edit.html", {"person": person, "form": form})


@login_required
def team_list(request):
    return _render_team_list(request, TeamForm() if request.user.is_admin else None)


@login_required
@require_POST
def team_create(request):
    _require_admin(request)
    form = TeamForm(request.POST)
    if not form.is_valid():
        return _render_team_list(request, form)
    team = services.create_team(Actor.from_request(request), **form.cleaned_data)
    if request.htmx:
        return _render_team_list(request, TeamForm(), created=team)
    messages.success(request, f"Team {team.name} created.")
    return redirect("team-detail", team.slug)


@login_required
def team_detail(request, slug):
    team = _get_team(request, slug)
    return _render_team_detail(request, team, MemberAddForm(team=team))


@login_required
def team_edit(request, slug):
    team = _get_team(request, slug)
    _require_admin(request)
    form = TeamForm(request.POST or None, instance=team)
    if request.method == "POST" and form.is_valid():
        services.update_team(Actor.from_request(request), team, **form.cleaned_data)
        messages.success(request, f"Team {team.name} saved.")
        return redirect("team-detail", team.slug)
    if form.is_bound:
        team.refresh_from_db()
    return render(request, "accounts/team_edit.html", {"team": team, "form": form})


@login_required
@require_POST
def team_delete(request, slug):
    team = _get_team(request, slug)
    try:
        services.delete_team(Actor.from_request(request), team)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        target = reverse("team-detail", args=[team.slug])
    else:
        messages.success(request, f"Team {team.name} deleted.")
        target = reverse("team-list")
    # The delete button asks for confirmation through htmx; the page it left is
    # either gone or should show the refusal, so both cases load a page afresh.
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


@login_required
@require_POST
def member_add(request, slug):
    team = _get_team(request, slug)
    _require_admin(request)
    form = MemberAddForm(request.POST, team=team)
    added = None
    if form.is_valid():
        added = form.cleaned_data["user"]
        services.add_member(Actor.from_request(request), team, added)
        if not request.htmx:
            messages.success(request, f"{added.username} added to {team.name}.")
            return redirect("team-detail", team.slug)
        form = MemberAddForm(team=team)
    return _render_team_detail(request, team, form, added=added)


@login_required
@require_POST
def member_remove(request, slug, user_id):
    team = _get_team(request, slug)
    _require_admin(request)
    person = get_object_or_404(User, pk=user_id)
    services.remove_member(Actor.from_request(request), team, person)
    if not request.htmx:
        messages.success(request, f"{person.username} removed from {team.name}.")
        return redirect("team-detail", team.slug)
    return _render_team_detail(request, team, MemberAddForm(team=team), removed=person)


def _save_user(request, person, data):
    """Apply the edit form; a new password, if given, is set after the other fields."""
    actor = Actor.from_request(request)
    data = dict(data)
    password = data.pop("password")
    services.update_user(actor, person, teams=list(data.pop("teams")), **data)
    if password:
        services.set_password(actor, person, password)
        if person == request.user:
            update_session_auth_hash(request, person)


def _render_user_list(request, form, created=None):
    filters = UserFilterForm(request.GET or None)
    people = User.objects.prefetch_related("teams")
    if filters.is_valid():
        people = _filter_users(people, filters.cleaned_data)
    else:
        people = people.filter(is_active=True)
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"page": page, "filters": filters, "form": form, "created": created}
    return render_page(request, "accounts/user_list.html", ctx, partial="user-panel")


def _filter_users(people, data):
    if data["q"]:
        people = people.filter(
            Q(username__icontains=data["q"])
            | Q(first_name__icontains=data["q"])
            | Q(last_name__icontains=data["q"])
            | Q(email__icontains=data["q"])
        )
    if data["role"]:
        people = people.filter(role=data["role"])
    if data["team"]:
        people = people.filter(memberships__team=data["team"])
    status = data["status"] or "active"
    if status != "all":
        people = people.filter(is_active=status == "active")
    return people


def _render_team_list(request, form, created=None):
    # Grouped queries ignore Meta.ordering, so the order is given here.
    teams = services.teams_with_counts(request.user).order_by("name")
    page = Paginator(teams, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"page": page, "form": form, "created": created}
    return render_page(request, "accounts/team_list.html", ctx, partial="team-panel")


def _render_team_detail(request, team, form, added=None, removed=None):
    ctx = {
        "team": team,
        "memberships": team.memberships.select_related("user").order_by(
            "user__username"
        ),
        "projects": visible_projects(request.user).filter(team=team),
        "member_form": form if request.user.is_admin else None,
        "added": added,
        "removed": removed,
    }
    return render_page(
        request, "accounts/team_detail.html", ctx, partial="member-panel"
    )


def _get_team(request, slug):
    return get_object_or_404(services.visible_teams(request.user), slug=slug)


def _require_admin(request):
    if not request.user.is_admin:
        raise PermissionDenied("Only admins can manage users and teams.")
