"""Shared fixtures: the personas every view and endpoint is tried with.

- admin: platform admin, member of no team (admins see everything anyway);
- finance: reads every team's objects, changes nothing;
- engineer: member of the team "Payments";
- outsider: an engineer of another team, "Search";
- anonymous: nobody signed in.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.accounts.tests.factories import TeamFactory, UserFactory

PERSONAS = ["admin", "finance", "engineer", "outsider", "anonymous"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Production settings hash static names through a manifest that only
    # collectstatic writes; tests serve the files as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher costs a second per persona; tests need no key stretching.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(db):
    return TeamFactory(name="Payments", slug="payments")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Search", slug="search")


@pytest.fixture
def admin(db):
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def finance(db):
    return UserFactory(username="fay", role=Role.FINANCE)


@pytest.fixture
def engineer(team):
    return UserFactory(username="eli", role=Role.ENGINEER, teams=[team])


@pytest.fixture
def outsider(other_team):
    return UserFactory(username="oz", role=Role.ENGINEER, teams=[other_team])


@pytest.fixture
def people(admin, finance, engineer, outsider):
    return {
        "admin": admin,
        "finance": finance,
        "engineer": engineer,
        "outsider": outsider,
        "anonymous": None,
    }


@pytest.fixture
def client_as(client, people):
    """Return the test client signed in as the named persona."""

    def sign_in(name):
        client.logout()
        if people[name] is not None:
            client.force_login(people[name])
        return client

    return sign_in


@pytest.fixture
def api_as(people):
    """Return a DRF client authenticated by token as the named persona."""
    from rest_framework.authtoken.models import Token

    def authenticate(name):
        api = APIClient()
        if people[name] is not None:
            token, _ = Token.objects.get_or_create(user=people[name])
            api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return authenticate


def require_service(available: bool, reason: str):
    """Skip locally when a service is missing; in CI a missing service is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must provide it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            reachable = True
    except OSError:
        reachable = False
    require_service(reachable, "Redis is not reachable at 127.0.0.1:6379")
    return url


@pytest.fixture
def browser_as(browser, live_server):
    """Return ``open_as(user, javascript=True)``: a page signed in as ``user``.

    Each user gets a browser context of their own, so several people can act in one
    test. Any Content-Security-Policy violation on any page fails the test.
    """
    from playwright.sync_api import expect

    from apps.accounts.tests.factories import PASSWORD

    contexts, csp_violations = [], []

    def open_as(user, javascript=True):
        context = browser.new_context(java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and csp_violations.append(message.text)
            ),
        )
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert csp_violations == []


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_service(
        shutil.which(CHROMIUM) is not None,
        f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)",
    )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def child_env(transactional_db):
    """Return the environment for a child process that must see the test database.

    The test's rows are committed (transactional_db), so a manage.py command or a
    Celery worker started with this environment reads what the test wrote.
    """
    return {**os.environ, "DATABASE_URL": database_url()}


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or "localhost"
    port = db["PORT"] or 5432
    return (
        f"postgres://{quote(db['USER'], safe='')}{password}@{host}:{port}/{db['NAME']}"
    )


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()  # a warm shutdown: the current task finishes
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def worker(child_env, redis_url, tmp_path):
    """Run a real Celery worker, on Redis and the test database, for one queue."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **child_env,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "console", "worker",
        "--pool=solo", "--concurrency=1", "-Q", queue, "--loglevel=INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(queue, process, log_path)
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def celery_client(redis_url):
    # A client of its own: console.celery.app keeps the broker pool and result backend
    # it built on first use, so pointing its settings at Redis afterwards is unreliable.
    client = Celery(
        "keyhold-test-client",
        broker=redis_url,
        backend=redis_url,
        set_as_current=False,
    )
    yield client
    client.close()
