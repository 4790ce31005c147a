"""seed_demo: a demo organization in one command, once, and never by accident."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.accounts.management.commands.seed_demo import DEMO_PASSWORD
from apps.accounts.models import Role, Team, User
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditEvent
from apps.audit.services import verify_chain
from apps.keyrequests.models import KeyRequest, RequestState
from apps.projects.models import Environment, Project, Tier
from apps.vault import keyformats
from apps.vault.keyformats import sample_secret
from apps.vault.models import KeyStatus, KeyVersion, Secret, Vendor, VendorKey

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
        sorted(
            Environment.objects.values_list(
                "project__slug", "name", "max_tier", "max_key_age_days"
            )
        ),
        sorted(VendorKey.objects.values_list("name", "status", "fingerprint")),
        sorted(KeyVersion.objects.values_list("key__name", "number", "retired_at")),
        Secret.objects.count(),
        sorted(KeyRequest.objects.values_list("requester__username", "state")),
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
    # Engineers make their own key requests; the admin does everything else.
    requesters = set(KeyRequest.objects.values_list("requester__username", flat=True))
    for event in events[1:]:
        if event.action == "key_request.created":
            assert event.actor_name in requesters
        else:
            assert event.actor_name == "admin"
    actions = {event.action for event in events}
    assert {
        "team.created",
        "project.created",
        "environment.created",
        "key.registered",
        "key.rotated",
        "key.revoked",
        "key_request.created",
        "key_request.rejected",
        "key_request.issued",
    } <= actions
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


def test_seed_demo_fills_the_vault_with_active_and_revoked_keys_of_four_vendors(debug):
    output = seed()

    statuses = Counter(VendorKey.objects.values_list("status", flat=True))
    assert statuses == {KeyStatus.ACTIVE: 9, KeyStatus.REVOKED: 1}
    assert "10 keys (9 active, 1 revoked)" in output
    assert set(VendorKey.objects.values_list("vendor", flat=True)) == {
        Vendor.OPENAI,
        Vendor.ANTHROPIC,
        Vendor.GOOGLE,
        Vendor.DEEPSEEK,
    }
    assert set(VendorKey.objects.values_list("owner__role", flat=True)) == {
        Role.ENGINEER
    }
    revoked = VendorKey.objects.get(status=KeyStatus.REVOKED)
    assert revoked.revoke_reason


def test_seed_demo_keys_have_limits_and_one_rotation_with_a_week_of_overlap(debug):
    seed()

    assert VendorKey.objects.exclude(allowed_models=[]).exists()
    assert VendorKey.objects.exclude(monthly_cap_usd=None).exists()
    rotated = VendorKey.objects.get(rotated_at__isnull=False)
    old, new = rotated.versions.order_by("number")
    assert old.retired_at is None and new.retired_at is None
    assert old.valid_until - rotated.rotated_at == timedelta(days=7)
    assert rotated.hint == new.hint
    assert (
        Environment.objects.filter(
            kind="production", max_key_age_days__isnull=False
        ).count()
        == 2
    )


def test_seed_demo_secrets_match_their_vendors_format():
    for vendor in (Vendor.OPENAI, Vendor.ANTHROPIC, Vendor.GOOGLE, Vendor.DEEPSEEK):
        keyformats.validate_secret(vendor, sample_secret(vendor))
    assert sample_secret(Vendor.OPENAI) != sample_secret(Vendor.OPENAI)


def test_seed_demo_leaves_a_pending_a_rejected_and_an_unopened_issued_request(debug):
    output = seed()

    requests = {request.state: request for request in KeyRequest.objects.all()}
    assert set(requests) == {
        RequestState.PENDING,
        RequestState.REJECTED,
        RequestState.ISSUED,
    }
    assert "3 key requests (1 pending, 1 rejected, 1 issued)" in output
    assert requests[RequestState.PENDING].requester.role == Role.ENGINEER
    assert requests[RequestState.REJECTED].reason
    issued = requests[RequestState.ISSUED]
    assert issued.key.owner == issued.requester
    assert issued.viewed_at is None
    assert issued.view_deadline > timezone.now()


def test_the_demo_admin_sees_the_expiring_key_on_the_dashboard(client, debug):
    seed()
    client.force_login(User.objects.get(username="admin"))

    response = client.get(reverse("home"))

    warnings = response.context["key_warnings"]
    assert [(w.key.name, w.reason, w.level) for w in warnings] == [
        ("checkout-dev-anthropic", "expires", "3 days")
    ]
    assert '<span class="badge level-3-days">3 days</span>' in response.content.decode()


def test_seed_demo_never_prints_a_secret(debug):
    output = seed() + seed()

    versions = KeyVersion.objects.select_related("secret")
    plaintexts = [version.secret.reveal() for version in versions]
    assert len(plaintexts) == 11  # ten keys, one of them rotated
    for plaintext in plaintexts:
        assert plaintext not in output
        assert plaintext[-12:] not in output
