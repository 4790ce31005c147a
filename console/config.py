"""Typed readers for Keyhold's environment variables.

Each reader either returns a value Django can use or raises ``ImproperlyConfigured``
with a one-line reason, so a mistyped variable stops start-up instead of surfacing
later as a confusing connection error.
"""

import base64
import binascii
import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "psql"}
BROKER_SCHEMES = {"filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp", "memory"}

# Values that ship in examples and must never run a real deployment.
PLACEHOLDER_SECRET_KEYS = {"", "change-me", "changeme", "django-insecure"}


def database(env: environ.Env, default: str) -> dict:
    """Parse DATABASE_URL into Django's DATABASES entry."""
    url = env.str("DATABASE_URL", default=default)
    scheme = urlsplit(url).scheme
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL has an unsupported scheme {scheme!r}: use "
            "postgres://user:password@host:5432/name or sqlite:////absolute/path"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types here
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from exc
    if not config.get("NAME"):
        raise ImproperlyConfigured(
            "DATABASE_URL names no database: add /name at the end"
        )
    return config


def broker_url(env: environ.Env, default: str) -> str:
    """Return CELERY_BROKER_URL after checking that Celery can use its scheme."""
    url = env.str("CELERY_BROKER_URL", default=default)
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme not in BROKER_SCHEMES:
        raise ImproperlyConfigured(
            f"CELERY_BROKER_URL has an unsupported scheme {scheme!r}: use "
            "redis://host:6379/0, amqp://user:password@host// or filesystem://"
        )
    return url


def secret_key(env: environ.Env, debug: bool) -> str:
    """Return SECRET_KEY; outside DEBUG a missing or placeholder key is refused."""
    key = env.str("SECRET_KEY", default="")
    if debug:
        return key or "keyhold-local-development-only"
    if key.strip() in PLACEHOLDER_SECRET_KEYS or key.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY is missing or a placeholder while DEBUG is off: set it to 50 "
            "random characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), or set DEBUG=true for local use"
        )
    return key


def master_keys(env: environ.Env, debug: bool, data_dir: Path) -> list[bytes]:
    """Return the vault's master keys, the active one first.

    Without KEYHOLD_MASTER_KEYS, local use (DEBUG on) gets a key generated once into
    the data folder; anything else is refused, since secrets sealed under a key that
    is later lost can never be opened again.
    """
    entries = env.list("KEYHOLD_MASTER_KEYS", default=[])
    if not entries:
        if not debug:
            raise ImproperlyConfigured(
                "KEYHOLD_MASTER_KEYS is not set while DEBUG is off: generate one with "
                "python -c 'import base64, os; "
                "print(base64.b64encode(os.urandom(32)).decode())' and keep it safe"
            )
        entries = [_local_master_key(data_dir)]
    keys = []
    for position, entry in enumerate(entries, start=1):
        try:
            key = base64.b64decode(entry.strip(), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != 32:
            raise ImproperlyConfigured(
                f"KEYHOLD_MASTER_KEYS entry {position} is not the base64 of 32 bytes"
            )
        keys.append(key)
    return keys


def _local_master_key(data_dir: Path) -> str:
    path = data_dir / "master.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Write a whole file aside, then link it into place: a process starting at
        # the same moment sees either no key or a complete one, and only one wins.
        draft = data_dir / f"master.key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(base64.b64encode(os.urandom(32)).decode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
