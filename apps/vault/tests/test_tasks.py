"""The periodic tasks that retire rotated-out versions and expire keys."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.projects.tests.factories import EnvironmentFactory
from apps.vault import services, tasks
from apps.vault.models import KeyStatus, VendorKey
from apps.vault.tests.factories import make_key, make_secret
from console.celery import app

# What the lead adds to CELERY_BEAT_SCHEDULE; the tests check the names resolve.
BEAT_ENTRIES = {
    "retire-overlapped-key-versions": "apps.vault.tasks.retire_overlapped_versions",
    "expire-keys": "apps.vault.tasks.expire_keys",
}


@pytest.fixture
def key(admin):
    return make_key(admin, environment=EnvironmentFactory())[0]


@pytest.mark.parametrize("name", BEAT_ENTRIES.values())
def test_beat_entries_name_registered_tasks(name):
    assert name in app.tasks


def test_retire_task_retires_versions_whose_overlap_ended(admin, key):
    services.rotate_key(Actor(admin), key, secret=make_secret(), overlap_hours=1)
    old = key.versions.get(number=1)
    old.valid_until = timezone.now() - timedelta(minutes=1)
    old.save(update_fields=["valid_until"])

    assert tasks.retire_overlapped_versions.apply().get() == 1
    assert tasks.retire_overlapped_versions.apply().get() == 0
    old.refresh_from_db()
    assert old.retired_at is not None
    event = AuditEvent.objects.get(action="key.version_retired")
    assert (event.actor_name, event.target_id) == ("", str(key.pk))


def test_retire_task_leaves_versions_still_in_their_overlap(admin, key):
    services.rotate_key(Actor(admin), key, secret=make_secret(), overlap_hours=24)
    assert tasks.retire_overlapped_versions.apply().get() == 0
    assert not key.versions.exclude(retired_at=None).exists()


def test_expire_task_expires_active_keys_past_their_expiry(admin, key):
    VendorKey.objects.filter(pk=key.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert tasks.expire_keys.apply().get() == 1
    assert tasks.expire_keys.apply().get() == 0
    key.refresh_from_db()
    assert key.status == KeyStatus.EXPIRED
    assert AuditEvent.objects.filter(action="key.expired").count() == 1


def test_expire_task_leaves_revoked_keys_revoked(admin, key):
    services.revoke_key(Actor(admin), key, reason="leaked")
    VendorKey.objects.filter(pk=key.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert tasks.expire_keys.apply().get() == 0
    key.refresh_from_db()
    assert key.status == KeyStatus.REVOKED
