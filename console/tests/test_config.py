"""The typed readers of console/config.py: usable values or a one-line reason."""

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from console import config

SQLITE_DEFAULT = "sqlite:////srv/keyhold/keyhold.sqlite3"
REAL_KEY = "k3yh0ld-a-real-deployment-key-with-enough-randomness-7f2c9a1e5b"


@pytest.fixture
def env(monkeypatch):
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return environ.Env()


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_database_defaults_to_the_given_sqlite_file(env):
    db = config.database(env, default=SQLITE_DEFAULT)

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/srv/keyhold/keyhold.sqlite3"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_reads_a_postgres_url(env, monkeypatch, scheme):
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://kh:secret@db.internal:6432/keyhold")

    db = config.database(env, default=SQLITE_DEFAULT)

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["HOST"], db["PORT"]) == ("keyhold", "db.internal", 6432)
    assert (db["USER"], db["PASSWORD"]) == ("kh", "secret")


@pytest.mark.parametrize("url", ["mysql2://x", "mysql://root@db/keyhold", "db.sqlite3"])
def test_database_refuses_an_unsupported_scheme(env, monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        config.database(env, default=SQLITE_DEFAULT)

    message = one_line_error(excinfo)
    assert message.startswith("DATABASE_URL has an unsupported scheme")
    assert "postgres://user:password@host:5432/name" in message


def test_database_refuses_a_url_without_a_database_name(env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://kh@db.internal:5432")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        config.database(env, default=SQLITE_DEFAULT)

    assert one_line_error(excinfo).startswith("DATABASE_URL names no database")


def test_database_refuses_a_url_it_cannot_parse(env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://kh@db.internal:port/keyhold")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        config.database(env, default=SQLITE_DEFAULT)

    assert one_line_error(excinfo).startswith("DATABASE_URL cannot be parsed")


def test_broker_defaults_to_the_given_url(env):
    assert config.broker_url(env, default="filesystem://") == "filesystem://"


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://cache.internal:6380/1",
        "amqp://guest:guest@127.0.0.1:5672//",
        "redis+socket:///run/redis.sock",
    ],
)
def test_broker_accepts_the_transports_keyhold_supports(env, monkeypatch, url):
    monkeypatch.setenv("CELERY_BROKER_URL", url)

    assert config.broker_url(env, default="filesystem://") == url


@pytest.mark.parametrize("url", ["rabbit://localhost", "127.0.0.1:6379", "sqs://"])
def test_broker_refuses_an_unsupported_scheme(env, monkeypatch, url):
    monkeypatch.setenv("CELERY_BROKER_URL", url)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        config.broker_url(env, default="filesystem://")

    message = one_line_error(excinfo)
    assert message.startswith("CELERY_BROKER_URL has an unsupported scheme")
    assert "redis://host:6379/0" in message


@pytest.mark.parametrize(
    "key", [None, "", "   ", "change-me", "changeme", "django-insecure-abc123"]
)
def test_secret_key_missing_or_placeholder_is_refused_with_debug_off(
    env, monkeypatch, key
):
    if key is not None:
        monkeypatch.setenv("SECRET_KEY", key)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        config.secret_key(env, debug=False)

    message = one_line_error(excinfo)
    assert message.startswith("SECRET_KEY is missing or a placeholder")
    assert "DEBUG=true" in message


def test_secret_key_is_used_as_given_with_debug_off(env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", REAL_KEY)

    assert config.secret_key(env, debug=False) == REAL_KEY


def test_secret_key_may_be_missing_with_debug_on(env):
    assert config.secret_key(env, debug=True) == "keyhold-local-development-only"


def test_secret_key_placeholder_is_accepted_with_debug_on(env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "change-me")

    assert config.secret_key(env, debug=True) == "change-me"
