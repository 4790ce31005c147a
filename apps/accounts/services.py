"""Users, teams and memberships: who may see and change what, each change audited."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, ProtectedError

from apps.accounts.models import Membership, Role, Team, User
from apps.audit.services import Actor, record, save_changes

USER_FIELDS = ("username", "email", "first_name", "last_name", "role", "is_active")


def visible_teams(user):
    """Teams a user may read: all for admins and finance, their own for engineers."""
    teams = Team.objects.all()
    if not user.sees_everything:
        # A subquery, not a join: a join on memberships would also narrow the
        # member counts that teams_with_counts annotates to the one user.
        teams = teams.filter(pk__in=Membership.objects.filter(user=user).values("team"))
    return teams


def require_admin(user):
    if not (user and user.is_authenticated and user.is_admin):
        raise PermissionDenied("Only admins can do this.")


def create_user(actor: Actor, *, password: str | None, teams=(), **fields) -> User:
    require_admin(actor.user)
    with transaction.atomic():
        user = User(**fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        record(
            actor,
            "user.created",
            user,
            **{name: getattr(user, name) for name in USER_FIELDS},
        )
        for team in teams:
            _add_membership(actor, user, team)
    return user


def update_user(actor: Actor, user: User, *, teams=None, **fields) -> User:
    require_admin(actor.user)
    if user == actor.user and (
        fields.get("role", user.role) != Role.ADMIN or not fields.get("is_active", True)
    ):
        raise ValidationError(
            "You cannot remove your own admin role or deactivate yourself."
        )
    with transaction.atomic():
        save_changes(actor, user, "user.updated", fields)
        if teams is not None:
            set_teams(actor, user, teams)
    return user


def set_password(actor: Actor, user: User, password: str) -> None:
    """Set a password; admins for anyone, everyone for themselves."""
    if actor.user != user:
        require_admin(actor.user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        action = "user.password_changed" if actor.user == user else "user.password_set"
        record(actor, action, user)


def set_teams(actor: Actor, user: User, teams) -> None:
    require_admin(actor.user)
    wanted = {team.pk: team for team in teams}
    current = {m.team_id: m for m in user.memberships.select_related("team")}
    with transaction.atomic():
        for team_id, membership in current.items():
            if team_id not in wanted:
                _remove_membership(actor, membership)
        for team_id, team in wanted.items():
            if team_id not in current:
                _add_membership(actor, user, team)


def add_member(actor: Actor, team: Team, user: User) -> Membership:
    require_admin(actor.user)
    existing = Membership.objects.filter(team=team, user=user).first()
    if existing:
        return existing
    with transaction.atomic():
        return _add_membership(actor, user, team)


def remove_member(actor: Actor, team: Team, user: User) -> None:
    require_admin(actor.user)
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership:
        with transaction.atomic():
            _remove_membership(actor, membership)


def create_team(actor: Actor, **fields) -> Team:
    require_admin(actor.user)
    with transaction.atomic():
        team = Team.objects.create(**fields)
        record(actor, "team.created", team, name=team.name, slug=team.slug)
    return team


def update_team(actor: Actor, team: Team, **fields) -> Team:
    require_admin(actor.user)
    return save_changes(actor, team, "team.updated", fields)


def delete_team(actor: Actor, team: Team) -> None:
    """Delete a team that owns no projects; its memberships go with it."""
    require_admin(actor.user)
    try:
        with transaction.atomic():
            record(actor, "team.deleted", team, name=team.name, slug=team.slug)
            team.delete()
    except ProtectedError:
        count = team.projects.count()
        raise ValidationError(
            f"{team.name} still owns {count} project(s), archived ones included: "
            "move them to another team first."
        ) from None


def teams_with_counts(user):
    return visible_teams(user).annotate(
        member_count=Count("memberships", distinct=True),
        project_count=Count("projects", distinct=True),
    )


def _add_membership(actor: Actor, user: User, team: Team) -> Membership:
    membership = Membership.objects.create(user=user, team=team)
    record(actor, "membership.added", team, user=user.username, team=team.slug)
    return membership


def _remove_membership(actor: Actor, membership: Membership) -> None:
    user, team = membership.user, membership.team
    membership.delete()
    record(actor, "membership.removed", team, user=user.username, team=team.slug)
