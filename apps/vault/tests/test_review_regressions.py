"""Rotation, reveal and the one-time view where they meet revocation and guessing."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.tests.factories import PASSWORD
from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.keyrequests import services as requests
from apps.keyrequests.services import SecretViewRefused
from apps.vault import services
from apps.vault.models import KeyStatus, Vendor, VendorKey
from apps.vault.tests.factories import make_key, make_secret


@pytest.fixture
def issued(admin, engineer, payments_env):
    """A request issued to the engineer, whose one-time view is not opened yet."""
    pending = requests.create_request(
        Actor(engineer),
        project=payments_env.project,
        environment=payments_env,
        vendor=Vendor.OPENAI,
        monthly_cap_usd=Decimal("20"),
        justification="tests",
    )
    return requests.approve(Actor(admin), pending, secret=make_secret(), name="k")


def test_a_key_revoked_meanwhile_cannot_be_rotated(admin, payments_env):
    key, _ = make_key(admin, environment=payments_env)
    stale = VendorKey.objects.get(pk=key.pk)  # loaded before the revocation
    services.revoke_key(Actor(admin), key, reason="leaked")

    with pytest.raises(ValidationError, match="only active keys"):
        services.rotate_key(Actor(admin), stale, secret=make_secret())

    key.refresh_from_db()
    assert key.status == KeyStatus.REVOKED
    assert key.versions.count() == 1
    assert key.versions.get().retired_at is not None


def test_a_refused_rotation_does_not_name_the_other_key(admin, payments_env):
    key, _ = make_key(admin, environment=payments_env)
    _, other_secret = make_key(admin, name="Search team's key")

    with pytest.raises(ValidationError):
        services.rotate_key(Actor(admin), key, secret=other_secret)

    event = AuditEvent.objects.get(action="key.rotation_failed")
    assert event.details == {"reason": "the secret is already in the vault"}


def test_the_one_time_view_refuses_a_revoked_key(admin, engineer, issued):
    key_request = issued
    services.revoke_key(Actor(admin), key_request.key, reason="issued by mistake")

    with pytest.raises(SecretViewRefused, match="no longer shown here"):
        requests.reveal_once(Actor(engineer), key_request)

    key_request.refresh_from_db()
    assert key_request.viewed_at is None
    refused = AuditEvent.objects.get(action="key_request.secret_view_refused")
    assert refused.details == {"why": "key_changed"}


def test_the_one_time_view_never_hands_out_a_rotated_in_secret(admin, engineer, issued):
    key_request = issued
    replacement = make_secret()
    services.rotate_key(
        Actor(admin), key_request.key, secret=replacement, overlap_hours=24
    )

    with pytest.raises(SecretViewRefused):
        requests.reveal_once(Actor(engineer), key_request)


def test_reveal_locks_after_repeated_wrong_passwords(admin, payments_env, settings):
    key, _ = make_key(admin, environment=payments_env)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        with pytest.raises(PermissionDenied, match="not correct"):
            services.elevate(Actor(admin), key, "guess")

    # Even the right password is refused until the cool-off has passed.
    with pytest.raises(PermissionDenied, match="locked for 15 minutes"):
        services.elevate(Actor(admin), key, PASSWORD)
    assert AuditEvent.objects.filter(action="key.reveal_locked").count() == 1
