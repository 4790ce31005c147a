"""Every sensitive vault and key-request action fails when its audit write fails."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.audit.tests.tampering import refuse_audit_inserts
from apps.keyrequests import services as requests
from apps.keyrequests.models import KeyRequest
from apps.vault import services
from apps.vault.models import KeyVersion, Vendor, VendorKey
from apps.vault.tests.factories import make_key, make_secret


@pytest.fixture
def key(admin, engineer, payments_env):
    return make_key(admin, environment=payments_env, owner=engineer)[0]


@pytest.fixture
def pending(engineer, payments_env):
    return requests.create_request(
        Actor(engineer),
        project=payments_env.project,
        environment=payments_env,
        vendor=Vendor.OPENAI,
        monthly_cap_usd=Decimal("20"),
        justification="tests",
    )


def register(admin, key, pending, engineer):
    services.register_key(
        Actor(admin),
        secret=make_secret(Vendor.ANTHROPIC),
        name="new",
        vendor=Vendor.ANTHROPIC,
        project=key.project,
        environment=key.environment,
        owner=engineer,
    )


def rotate(admin, key, pending, engineer):
    services.rotate_key(Actor(admin), key, secret=make_secret(), overlap_hours=1)


def revoke(admin, key, pending, engineer):
    services.revoke_key(Actor(admin), key, reason="leaked")


def reveal(admin, key, pending, engineer):
    until = timezone.now() + timedelta(minutes=1)
    services.reveal_key(Actor(admin), key, elevated_until=until)


def edit(admin, key, pending, engineer):
    services.update_key(Actor(admin), key, name="renamed")


def approve_and_issue(admin, key, pending, engineer):
    requests.approve(Actor(admin), pending, secret=make_secret(), name="issued")


def reject(admin, key, pending, engineer):
    requests.reject(Actor(admin), pending, reason="not needed")


def request(admin, key, pending, engineer):
    requests.create_request(
        Actor(engineer),
        project=key.project,
        environment=key.environment,
        vendor=Vendor.GOOGLE,
        monthly_cap_usd=Decimal("5"),
        justification="more tests",
    )


ACTIONS = [register, rotate, revoke, reveal, edit, approve_and_issue, reject, request]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
def test_action_fails_and_changes_nothing_when_the_audit_write_fails(
    action, admin, engineer, key, pending
):
    before = _state()
    refuse_audit_inserts()

    with pytest.raises(DatabaseError):
        action(admin, key, pending, engineer)

    assert _state() == before


def _state():
    return (
        list(VendorKey.objects.values_list("pk", "name", "status", "hint")),
        list(KeyVersion.objects.values_list("pk", "retired_at", "valid_until")),
        list(KeyRequest.objects.values_list("pk", "state", "key_id")),
        AuditEvent.objects.count(),
    )
