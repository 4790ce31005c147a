"""rotate_master_key: every secret moves under the active key, resumably."""

import base64
import io
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.vault import crypto, keyformats, services
from apps.vault.management.commands import rotate_master_key
from apps.vault.models import KeyVersion, Secret, Vendor
from apps.vault.tests.factories import make_key, make_secret
from conftest import database_url

OLD_KEY, NEW_KEY, LOST_KEY = os.urandom(32), os.urandom(32), os.urandom(32)


@pytest.fixture
def old_keys(settings, admin):
    """Two keys sealed under OLD_KEY, the first rotated once: three secrets."""
    settings.KEYHOLD_MASTER_KEYS = [OLD_KEY]
    rotated, first_secret = make_key(admin, vendor=Vendor.ANTHROPIC)
    plain, plain_secret = make_key(admin)
    second_secret = add_version(rotated)
    return {rotated: [first_secret, second_secret], plain: [plain_secret]}


def add_version(key) -> str:
    """Give ``key`` a new current version, as rotation does."""
    plaintext = make_secret(key.vendor)
    sealed = Secret.seal(plaintext)
    KeyVersion.objects.create(
        key=key, number=2, secret=sealed, hint=keyformats.hint(plaintext)
    )
    key.fingerprint = sealed.fingerprint
    key.save(update_fields=["fingerprint"])
    return plaintext


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_master_key", *args, stdout=out)
    return out.getvalue()


def report(rewrapped: int, batches: int, already: int) -> str:
    return (
        f"re-wrapped {rewrapped} secrets in {batches} batches; "
        f"{already} already under the active key\n"
    )


def test_rotation_lets_the_old_master_key_be_removed(old_keys, settings):
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY, OLD_KEY]

    output = rotate()
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY]

    assert output == report(rewrapped=3, batches=1, already=0)
    for key, plaintexts in old_keys.items():
        key.refresh_from_db()
        versions = key.versions.select_related("secret").order_by("number")
        for version, plaintext in zip(versions, plaintexts, strict=True):
            assert version.secret.master_key_id == crypto.master_key_id(NEW_KEY)
            assert version.secret.reveal() == plaintext
            assert version.secret.fingerprint == crypto.fingerprint(plaintext)
            assert services.find_version_by_secret(plaintext) == version
        assert key.fingerprint == versions.last().secret.fingerprint


def test_rotation_is_audited_with_counts(old_keys, settings):
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY, OLD_KEY]

    rotate("--batch-size", "2")

    event = AuditEvent.objects.get(action="vault.master_key_rotated")
    assert event.actor is None
    assert event.details == {
        "active_master_key": crypto.master_key_id(NEW_KEY),
        "rewrapped": 3,
        "batches": 2,
        "already_active": 0,
        "failed": 0,
    }


def test_secrets_already_under_the_active_key_are_counted_and_left_alone(
    old_keys, settings
):
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY, OLD_KEY]
    fresh = Secret.seal(make_secret())

    output = rotate("--batch-size", "2")

    assert output == report(rewrapped=3, batches=2, already=1)
    assert Secret.objects.get(pk=fresh.pk).wrapped_data_key == fresh.wrapped_data_key


def test_a_second_run_has_nothing_to_do(old_keys, settings):
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY, OLD_KEY]
    rotate()

    output = rotate()

    assert output == report(rewrapped=0, batches=0, already=3)
    assert AuditEvent.objects.filter(action="vault.master_key_rotated").count() == 2


def test_an_interrupted_run_is_finished_by_the_next_one(
    old_keys, settings, monkeypatch
):
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY, OLD_KEY]
    real_rewrap = rotate_master_key.rewrap_secret
    calls = []

    def crash_on_second_secret(secret):
        calls.append(secret.pk)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_rewrap(secret)

    monkeypatch.setattr(rotate_master_key, "rewrap_secret", crash_on_second_secret)
    with pytest.raises(RuntimeError):
        rotate("--batch-size", "1")
    monkeypatch.undo()

    # The first batch committed; the second rolled back whole.
    active_id = crypto.master_key_id(NEW_KEY)
    assert Secret.objects.filter(master_key_id=active_id).count() == 1
    output = rotate("--batch-size", "1")

    assert output == report(rewrapped=2, batches=2, already=1)
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY]
    for plaintexts in old_keys.values():
        for plaintext in plaintexts:
            version = services.find_version_by_secret(plaintext)
            assert version.secret.reveal() == plaintext


def test_secrets_under_a_missing_master_key_fail_the_run_but_not_the_others(
    admin, settings
):
    settings.KEYHOLD_MASTER_KEYS = [LOST_KEY]
    lost = [Secret.seal(make_secret()), Secret.seal(make_secret())]
    settings.KEYHOLD_MASTER_KEYS = [OLD_KEY]
    kept_key, kept_plaintext = make_key(admin)
    settings.KEYHOLD_MASTER_KEYS = [NEW_KEY, OLD_KEY]
    out = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("rotate_master_key", "--batch-size", "1", stdout=out)

    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("2 secrets could not be re-wrapped and are unchanged")
    assert f"master key {crypto.master_key_id(LOST_KEY)} is not in " in message
    assert all(str(secret.pk) in message for secret in lost)
    assert out.getvalue().startswith("re-wrapped 1 secrets in 1 batches;")
    kept_key.refresh_from_db()
    assert kept_key.fingerprint == crypto.fingerprint(kept_plaintext)
    event = AuditEvent.objects.get(action="vault.master_key_rotated")
    assert (event.details["rewrapped"], event.details["failed"]) == (1, 2)


def test_manage_py_exits_non_zero_naming_the_missing_master_key(transactional_db):
    secret = Secret.seal(make_secret())
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "KEYHOLD_MASTER_KEYS": base64.b64encode(NEW_KEY).decode(),
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "rotate_master_key"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert str(secret.pk) in result.stderr
    assert f"master key {secret.master_key_id} is not in" in result.stderr
    assert result.stdout.startswith("re-wrapped 0 secrets in 0 batches;")


def test_batch_size_must_be_positive(db):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        rotate("--batch-size", "0")
