"""seed_demo: a demo organization in one command, once, and never by accident."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.accounts.management.commands.seed_demo import DEMO_PASSWORD
from apps.accounts.models import Role, Team, User
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditEvent
from apps.audit.services import verify_chain
from apps.projects.models import Environment, Project, Tier

pytestmark = pytest.mark.django_db

TIER_ORDER = list(Tier)


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def database_state() -> tuple:
    return (
        sorted(User.objects.values_list("username", "role", "password")),
        sorted(Team.objects.values_list("slug", flat=True)),
        sorted(Environment.objects.values_list("project__slug", "name", "max_tier")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_seed_demo_refuses_to_run_with_debug_off():
    with pytest.raises(CommandError, match=r"DEBUG is off.*--force"):
        seed()

    assert not User.objects.exists()


def test_seed_demo_runs_with_debug_off_when_forced():
    seed(force=True)

    assert User.objects.filter(username="admin", role=Role.ADMIN).exists()


def test_seed_demo_twice_changes_nothing_the_second_time(debug):
    first = seed()
    state = database_state()

    second = seed()

    assert "Created the demo organization" in first
    assert "already exists; nothing changed" in second
    assert database_state() == state


def test_seed_demo_prints_every_login_with_its_role(debug):
    output = seed()

    for user in User.objects.all():
        line = next(
            line for line in output.splitlines() if f" {user.username} " in line
        )
        assert DEMO_PASSWORD in line
        assert user.role in line


def test_seed_demo_creates_every_role_and_engineers_in_teams(debug):
    seed()

    roles = set(User.objects.values_list("role", flat=True))
    assert roles == {Role.ADMIN, Role.FINANCE, Role.ENGINEER}
    for engineer in User.objects.filter(role=Role.ENGINEER):
        assert engineer.teams.exists()
    assert set(Team.objects.values_list("name", flat=True)) == {
        "Payments",
        "Search",
        "Growth",
    }


def test_seed_demo_gives_each_project_three_environments_capped_below_production(
    debug,
):
    seed()

    for project in Project.objects.all():
        tiers = {env.kind: env.max_tier for env in project.environments.all()}
        assert set(tiers) == {"production", "staging", "development"}
        production = TIER_ORDER.index(tiers["production"])
        assert TIER_ORDER.index(tiers["staging"]) <= production
        assert tiers["development"] == Tier.ECONOMY


def test_the_demo_admin_can_sign_in(client, debug):
    seed()

    response = client.post(
        reverse("login"), {"username": "admin", "password": DEMO_PASSWORD}
    )

    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_seed_demo_leaves_its_history_in_the_audit_log(debug):
    seed()

    events = list(AuditEvent.objects.order_by("id"))
    assert events[0].action == "user.created"
    assert events[0].actor_name == ""
    assert {event.actor_name for event in events[1:]} == {"admin"}
    actions = {event.action for event in events}
    assert {"team.created", "project.created", "environment.created"} <= actions
    assert AuditEvent.objects.filter(action="user.created").count() == (
        User.objects.count()
    )
    assert verify_chain().ok


def test_seed_demo_refuses_a_database_that_uses_its_names(debug):
    UserFactory(username="priya")

    with pytest.raises(CommandError, match=r"\(priya\)"):
        seed()

    assert User.objects.count() == 1
    assert not Team.objects.exists()
