"""manage.py as an operator meets it: real processes, real environment variables."""

import os
import subprocess
import sys
from pathlib import Path

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"
REAL_KEY = "k3yh0ld-a-real-deployment-key-with-enough-randomness-7f2c9a1e5b"

# Everything the settings read, so each test starts from the defaults it names.
SETTINGS_VARIABLES = [
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_AGE",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_HOURS",
    "EMAIL_BACKEND",
    "DEFAULT_FROM_EMAIL",
    "LOG_LEVEL",
    # Not a setting, but pytest-env sets it for the browser tests, and the deploy
    # check rightly refuses it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
]


def manage(tmp_path, *args, **variables) -> subprocess.CompletedProcess:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_VARIABLES
    }
    env.update(KEYHOLD_DATA_DIR=str(tmp_path), **variables)
    return subprocess.run(  # noqa: S603  (our own manage.py, fixed arguments)
        [sys.executable, str(MANAGE_PY), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_malformed_database_url_stops_manage_py_with_one_line(tmp_path):
    result = manage(tmp_path, "check", DATABASE_URL="mysql2://x", DEBUG="true")

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "keyhold: configuration error: DATABASE_URL has an unsupported scheme 'mysql2'"
    )


def test_missing_secret_key_stops_manage_py_when_debug_is_off(tmp_path):
    # Empty rather than absent, so that a developer's .env cannot fill it in.
    result = manage(tmp_path, "check", DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "configuration error: SECRET_KEY is missing" in result.stderr


def test_deploy_check_passes_with_debug_off_and_default_settings(tmp_path):
    result = manage(tmp_path, "check", "--deploy", DEBUG="false", SECRET_KEY=REAL_KEY)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr
