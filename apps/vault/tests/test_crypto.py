"""Envelope encryption of secrets, and the master keys it is configured with."""

import base64
import os
import stat

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from apps.vault import crypto
from apps.vault.models import Secret, Vendor
from apps.vault.tests.factories import make_secret
from console import config


def new_master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def old_key(settings):
    key = new_master_key()
    settings.KEYHOLD_MASTER_KEYS = [key]
    return key


def test_sealed_secret_opens_to_the_same_text(db):
    plaintext = make_secret(Vendor.ANTHROPIC)

    secret = Secret.seal(plaintext)

    assert Secret.objects.get(pk=secret.pk).reveal() == plaintext


def test_every_seal_uses_a_fresh_data_key_and_nonce(db):
    plaintext = make_secret()

    first, second = Secret.seal(plaintext), Secret.seal(plaintext)

    assert first.ciphertext != second.ciphertext
    assert first.wrapped_data_key != second.wrapped_data_key
    nonce = crypto.NONCE_BYTES
    assert first.ciphertext[:nonce] != second.ciphertext[:nonce]
    assert first.fingerprint == second.fingerprint


def test_ciphertext_copied_to_another_row_does_not_open(db):
    original, other = Secret.seal(make_secret()), Secret.seal(make_secret())
    other.wrapped_data_key = original.wrapped_data_key
    other.ciphertext = original.ciphertext
    other.save()

    with pytest.raises(crypto.SecretUnavailable) as refused:
        Secret.objects.get(pk=other.pk).reveal()

    assert str(other.pk) in str(refused.value)


def test_ciphertext_swapped_under_the_right_data_key_does_not_open(db):
    original, other = Secret.seal(make_secret()), Secret.seal(make_secret())
    other.ciphertext = original.ciphertext
    other.save()

    with pytest.raises(crypto.SecretUnavailable) as refused:
        Secret.objects.get(pk=other.pk).reveal()

    assert f"secret {other.pk}: its ciphertext does not match" in str(refused.value)


def test_missing_master_key_names_the_key_and_the_secret(db, old_key, settings):
    secret = Secret.seal(make_secret())
    settings.KEYHOLD_MASTER_KEYS = [new_master_key()]

    with pytest.raises(crypto.SecretUnavailable) as refused:
        secret.reveal()

    message = str(refused.value)
    assert crypto.master_key_id(old_key) in message
    assert str(secret.pk) in message
    assert "not in KEYHOLD_MASTER_KEYS" in message


def test_wrong_master_key_under_the_same_id_names_the_key_and_the_secret(
    db, old_key, monkeypatch
):
    secret = Secret.seal(make_secret())
    wrong = new_master_key()
    monkeypatch.setattr(crypto, "master_key_by_id", lambda key_id: wrong)

    with pytest.raises(crypto.SecretUnavailable) as refused:
        secret.reveal()

    assert str(refused.value) == (
        f"secret {secret.pk}: master key {secret.master_key_id} does not open "
        "its data key"
    )


def test_older_master_key_still_opens_after_a_new_active_key(db, old_key, settings):
    plaintext = make_secret()
    secret = Secret.seal(plaintext)
    new_key = new_master_key()
    settings.KEYHOLD_MASTER_KEYS = [new_key, old_key]

    assert Secret.objects.get(pk=secret.pk).reveal() == plaintext
    assert Secret.seal(make_secret()).master_key_id == crypto.master_key_id(new_key)


def test_rewrap_moves_the_data_key_under_the_active_master_key(db, old_key, settings):
    plaintext = make_secret()
    secret = Secret.seal(plaintext)
    new_key = new_master_key()
    settings.KEYHOLD_MASTER_KEYS = [new_key, old_key]

    key_id, wrapped = crypto.rewrap(
        secret.pk, secret.master_key_id, secret.wrapped_data_key
    )
    settings.KEYHOLD_MASTER_KEYS = [new_key]

    assert key_id == crypto.master_key_id(new_key)
    assert crypto.unseal(secret.pk, key_id, wrapped, secret.ciphertext) == plaintext


def test_fingerprint_is_stable_and_differs_per_master_key(old_key):
    plaintext = make_secret()
    other_key = new_master_key()

    assert crypto.fingerprint(plaintext) == crypto.fingerprint(plaintext)
    assert crypto.fingerprint(plaintext) == crypto.fingerprint(plaintext, old_key)
    assert crypto.fingerprint(plaintext, other_key) != crypto.fingerprint(plaintext)
    assert crypto.fingerprint(make_secret()) != crypto.fingerprint(plaintext)


def test_candidate_fingerprints_cover_every_configured_master_key(settings):
    keys = [new_master_key() for _ in range(3)]
    settings.KEYHOLD_MASTER_KEYS = keys
    plaintext = make_secret()

    candidates = crypto.candidate_fingerprints(plaintext)

    assert candidates == [crypto.fingerprint(plaintext, key) for key in keys]
    assert len(set(candidates)) == 3


def test_database_row_never_holds_the_plaintext(db):
    plaintext = make_secret()
    secret = Secret.seal(plaintext)

    table = connection.ops.quote_name(Secret._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (a model's table)
        rows = cursor.fetchall()

    assert len(rows) == 1
    stored = b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for value in rows[0]
    )
    assert secret.fingerprint.encode() in stored
    assert plaintext.encode() not in stored
    assert plaintext[-8:].encode() not in stored


# console/config.master_keys: how KEYHOLD_MASTER_KEYS is read.


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("KEYHOLD_MASTER_KEYS", raising=False)
    return environ.Env()


def encoded(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_master_keys_are_read_in_order_the_first_active(env, monkeypatch, tmp_path):
    keys = [new_master_key(), new_master_key()]
    monkeypatch.setenv("KEYHOLD_MASTER_KEYS", ",".join(map(encoded, keys)))

    assert config.master_keys(env, debug=False, data_dir=tmp_path) == keys


@pytest.mark.parametrize(
    ("second_entry", "why"),
    [
        ("not*base64!", "not base64"),
        (encoded(os.urandom(16)), "16 bytes"),
        (encoded(os.urandom(33)), "33 bytes"),
    ],
)
def test_bad_master_key_entry_is_refused_naming_its_position(
    env, monkeypatch, tmp_path, second_entry, why
):
    value = f"{encoded(new_master_key())},{second_entry}"
    monkeypatch.setenv("KEYHOLD_MASTER_KEYS", value)

    with pytest.raises(ImproperlyConfigured) as refused:
        config.master_keys(env, debug=False, data_dir=tmp_path)

    assert str(refused.value) == (
        "KEYHOLD_MASTER_KEYS entry 2 is not the base64 of 32 bytes"
    ), why


def test_unset_master_keys_are_refused_with_debug_off(env, tmp_path):
    with pytest.raises(ImproperlyConfigured) as refused:
        config.master_keys(env, debug=False, data_dir=tmp_path)

    message = str(refused.value)
    assert message.startswith("KEYHOLD_MASTER_KEYS is not set while DEBUG is off")
    assert "base64.b64encode(os.urandom(32))" in message
    assert "\n" not in message
    assert not (tmp_path / "master.key").exists()


def test_unset_master_keys_with_debug_on_generate_one_local_key(env, tmp_path):
    data_dir = tmp_path / "data"

    first = config.master_keys(env, debug=True, data_dir=data_dir)
    second = config.master_keys(env, debug=True, data_dir=data_dir)

    key_file = data_dir / "master.key"
    assert len(first) == 1
    assert len(first[0]) == 32
    assert second == first
    assert base64.b64decode(key_file.read_text()) == first[0]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
