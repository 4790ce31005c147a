"""The key lifecycle rules: register, edit, reveal, rotate, revoke, retire, expire."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.tests.factories import PASSWORD
from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.projects.tests.factories import EnvironmentFactory
from apps.vault import services
from apps.vault.models import KeyStatus, Vendor
from apps.vault.tests.factories import make_key, make_secret


@pytest.fixture
def key_and_secret(admin, payments_env, engineer):
    return make_key(admin, environment=payments_env, owner=engineer)


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("details", "target_repr")))


def events(action):
    return AuditEvent.objects.filter(action=action)


def test_registration_records_the_key_without_its_secret(key_and_secret):
    key, secret = key_and_secret
    assert key.hint == f"sk-proj-…{secret[-4:]}"
    assert key.versions.get().secret.reveal() == secret
    assert events("key.registered").get().target_id == str(key.pk)
    assert secret not in audit_text()


def test_engineer_sees_only_their_teams_keys(
    admin, engineer, finance, outsider, payments_env, search_env
):
    mine, _ = make_key(admin, environment=payments_env)
    theirs, _ = make_key(admin, environment=search_env)
    assert list(services.visible_keys(engineer)) == [mine]
    assert list(services.visible_keys(outsider)) == [theirs]
    assert set(services.visible_keys(finance)) == {mine, theirs}


def test_update_key_audits_each_changed_field(admin, key_and_secret, payments_env):
    key, _ = key_and_secret
    other_env = EnvironmentFactory(project=payments_env.project, name="production")
    services.update_key(
        Actor(admin),
        key,
        name="Checkout prod",
        environment=other_env,
        allowed_models=["gpt-4o-mini"],
    )
    key.refresh_from_db()
    assert (key.name, key.environment, key.allowed_models) == (
        "Checkout prod",
        other_env,
        ["gpt-4o-mini"],
    )
    changes = events("key.updated").get().details["changes"]
    assert set(changes) == {"name", "environment", "allowed_models"}


def test_update_key_refuses_an_environment_of_another_project(
    admin, key_and_secret, search_env
):
    key, _ = key_and_secret
    with pytest.raises(ValidationError, match="belongs to Ranking"):
        services.update_key(Actor(admin), key, environment=search_env)
    assert not events("key.updated").exists()


def test_engineer_cannot_update_a_key(engineer, key_and_secret):
    key, _ = key_and_secret
    with pytest.raises(PermissionDenied):
        services.update_key(Actor(engineer), key, name="mine now")


def test_reveal_after_reauthentication_returns_the_secret_and_is_audited(
    admin, key_and_secret
):
    key, secret = key_and_secret
    until = services.elevate(Actor(admin), key, PASSWORD)
    assert services.reveal_key(Actor(admin), key, elevated_until=until) == secret
    assert events("key.revealed").get().details == {"version": 1, "hint": key.hint}
    assert secret not in audit_text()


def test_wrong_password_is_refused_and_audited(admin, key_and_secret):
    key, _ = key_and_secret
    with pytest.raises(PermissionDenied):
        services.elevate(Actor(admin), key, "not the password")
    assert events("key.reveal_denied").get().target_id == str(key.pk)


def test_reveal_without_elevation_is_refused(admin, key_and_secret):
    key, _ = key_and_secret
    expired = timezone.now() - timedelta(seconds=1)
    for until in (None, expired):
        with pytest.raises(PermissionDenied):
            services.reveal_key(Actor(admin), key, elevated_until=until)
    assert not events("key.revealed").exists()


@pytest.mark.parametrize("persona", ["finance", "engineer"])
def test_non_admins_cannot_reveal_even_with_their_password(
    people, persona, key_and_secret
):
    key, _ = key_and_secret
    with pytest.raises(PermissionDenied):
        services.elevate(Actor(people[persona]), key, PASSWORD)


def test_rotation_adds_a_version_and_keeps_the_old_one_for_the_overlap(
    admin, key_and_secret
):
    key, old_secret = key_and_secret
    new_secret = make_secret()
    version = services.rotate_key(
        Actor(admin), key, secret=new_secret, vendor_key_id="key_2", overlap_hours=24
    )
    key.refresh_from_db()
    old = key.versions.get(number=1)
    assert version.number == 2
    assert (key.hint, key.vendor_key_id) == (version.hint, "key_2")
    assert key.fingerprint == version.secret.fingerprint
    assert key.rotated_at is not None
    assert old.retired_at is None
    assert old.valid_until - key.rotated_at == timedelta(hours=24)
    assert events("key.rotated").get().details["overlap_hours"] == 24
    assert new_secret not in audit_text() and old_secret not in audit_text()


def test_rotation_without_overlap_retires_the_old_version_at_once(
    admin, key_and_secret
):
    key, _ = key_and_secret
    services.rotate_key(Actor(admin), key, secret=make_secret(), overlap_hours=0)
    old = key.versions.get(number=1)
    assert old.retired_at is not None
    assert old.valid_until == old.retired_at


def test_rotation_to_a_secret_already_in_the_vault_is_refused_and_audited(
    admin, key_and_secret, payments_env
):
    key, _ = key_and_secret
    _, other_secret = make_key(admin, environment=payments_env)
    with pytest.raises(ValidationError, match="already in the vault"):
        services.rotate_key(Actor(admin), key, secret=other_secret)
    failed = events("key.rotation_failed").get()
    assert "already in the vault" in failed.details["reason"]
    assert other_secret not in audit_text()
    assert key.versions.count() == 1


def test_rotation_to_a_malformed_secret_is_refused_and_audited(admin, key_and_secret):
    key, _ = key_and_secret
    wrong_vendor = make_secret(Vendor.ANTHROPIC)
    with pytest.raises(ValidationError, match="not in the format of OpenAI keys"):
        services.rotate_key(Actor(admin), key, secret=wrong_vendor)
    assert events("key.rotation_failed").count() == 1
    assert wrong_vendor not in audit_text()


def test_revoked_key_cannot_be_rotated(admin, key_and_secret):
    key, _ = key_and_secret
    services.revoke_key(Actor(admin), key, reason="leaked")
    with pytest.raises(ValidationError, match="only active keys"):
        services.rotate_key(Actor(admin), key, secret=make_secret())
    assert events("key.rotation_failed").count() == 1


def test_revoke_records_the_reason_and_retires_every_version(admin, key_and_secret):
    key, _ = key_and_secret
    services.revoke_key(Actor(admin), key, reason="  leaked in a gist ")
    key.refresh_from_db()
    assert key.status == KeyStatus.REVOKED
    assert key.revoke_reason == "leaked in a gist"
    assert key.revoked_at is not None
    assert not key.versions.filter(retired_at=None).exists()
    assert events("key.revoked").get().details["reason"] == "leaked in a gist"


def test_revoking_twice_is_refused_with_the_first_date(admin, key_and_secret):
    key, _ = key_and_secret
    services.revoke_key(Actor(admin), key, reason="leaked")
    with pytest.raises(ValidationError, match="already revoked on"):
        services.revoke_key(Actor(admin), key, reason="again")
    assert events("key.revoked").count() == 1


def test_revoke_needs_a_reason(admin, key_and_secret):
    key, _ = key_and_secret
    with pytest.raises(ValidationError, match="reason is required"):
        services.revoke_key(Actor(admin), key, reason="   ")
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE


def test_engineer_cannot_rotate_or_revoke(engineer, key_and_secret):
    key, _ = key_and_secret
    with pytest.raises(PermissionDenied):
        services.rotate_key(Actor(engineer), key, secret=make_secret())
    with pytest.raises(PermissionDenied):
        services.revoke_key(Actor(engineer), key, reason="mine")


def test_versions_past_their_overlap_are_retired_once(admin, key_and_secret):
    key, _ = key_and_secret
    services.rotate_key(Actor(admin), key, secret=make_secret(), overlap_hours=1)
    assert services.retire_overlapped_versions() == 0

    later = timezone.now() + timedelta(hours=2)
    assert services.retire_overlapped_versions(now=later) == 1
    assert services.retire_overlapped_versions(now=later) == 0
    assert key.versions.get(number=1).retired_at == later
    assert key.versions.get(number=2).retired_at is None
    assert events("key.version_retired").get().details["version"] == 1


def test_keys_past_their_expiry_are_expired_once(admin, payments_env):
    soon = timezone.now() + timedelta(days=1)
    key, _ = make_key(admin, environment=payments_env, expires_at=soon)
    never, _ = make_key(admin, environment=payments_env)
    assert services.expire_keys() == 0

    later = soon + timedelta(minutes=1)
    assert services.expire_keys(now=later) == 1
    assert services.expire_keys(now=later) == 0
    key.refresh_from_db()
    never.refresh_from_db()
    assert (key.status, never.status) == (KeyStatus.EXPIRED, KeyStatus.ACTIVE)
    assert events("key.expired").get().target_id == str(key.pk)


def test_search_finds_keys_by_name_hint_and_vendor_key_id(admin, payments_env):
    key, secret = make_key(
        admin, environment=payments_env, name="Checkout", vendor_key_id="key_abc"
    )
    keys = services.visible_keys(admin)
    for text in ("check", secret[-4:], "KEY_ABC"):
        assert list(services.search_keys(keys, text)) == [key]
    assert not services.search_keys(keys, "nothing like it").exists()
