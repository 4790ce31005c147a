"""The connection page's health, history and reconciliation, and syncing on demand."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.usage.models import ReportedCost, SyncOutcome
from apps.usage.services import sync_connection
from conftest import PERSONAS
from console.celery import app

pytestmark = pytest.mark.django_db

READ_STATUS = {"admin": 200, "finance": 200, "anonymous": 302}
START = datetime(2026, 11, 16, tzinfo=UTC)
END = datetime(2026, 11, 18, tzinfo=UTC)


@pytest.fixture
def eager_tasks():
    """Run queued tasks where they are queued, instead of on a worker."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def synced(simulator, connect):
    connection = connect(simulator, "openai")
    sync_connection(connection, start=START, end=END)
    return connection


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_connection_page_is_for_admins_and_finance(client_as, synced, persona):
    url = reverse("connection-detail", args=[synced.pk])

    response = client_as(persona).get(url)

    assert response.status_code == READ_STATUS.get(persona, 403)
    if response.status_code == 200:
        page = response.content.decode()
        assert "Sync history" in page
        assert "2026-11-16 to 2026-11-18" in page
        assert "Reconciliation" in page
        assert "Keys at the vendor" in page


def test_the_page_shows_a_failed_run_in_one_line(client_as, simulator, connect):
    connection = connect(
        simulator, "openai", admin_key="sk-admin-" + "w" * 40, name="wrong"
    )
    with pytest.raises(Exception, match="401"):
        sync_connection(connection, start=START, end=END)

    response = client_as("admin").get(
        reverse("connection-detail", args=[connection.pk])
    )

    assert "rejected by vendor (401): check the admin key" in response.content.decode()


def test_reconciliation_shows_reported_computed_and_drift(client_as, synced, admin):
    ReportedCost.objects.filter(connection=synced).delete()
    ReportedCost.objects.create(
        connection=synced,
        day=START.date(),
        amount=Decimal("1.00"),
        currency="USD",
    )

    response = client_as("finance").get(
        reverse("api:connection-reconciliation", args=[synced.pk]),
        {"start": "2026-11-16", "end": "2026-11-18"},
    )

    days = {row["day"]: row for row in response.json()}
    first = days["2026-11-16"]
    assert Decimal(first["reported_usd"]) == Decimal("1.00")
    computed = Decimal(first["computed_usd"])
    assert Decimal(first["drift_usd"]) == computed - Decimal("1.00")
    assert days["2026-11-17"]["reported_usd"] is None


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_sync_from_the_page(client_as, simulator, connect, persona):
    connection = connect(simulator, "anthropic")
    connection.synced_through = END
    connection.save()
    url = reverse("connection-sync", args=[connection.pk])

    response = client_as(persona).post(url)

    assert response.status_code == {"admin": 302, "anonymous": 302}.get(persona, 403)
    assert connection.sync_runs.exists() is False


def test_syncing_from_the_page_runs_and_lands_in_the_history(
    client_as, simulator, connect, eager_tasks, django_capture_on_commit_callbacks
):
    connection = connect(simulator, "anthropic")
    client = client_as("admin")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("connection-sync", args=[connection.pk]))

    assert response.status_code == 302
    run = connection.sync_runs.get()
    assert run.trigger == "manual"
    assert run.outcome == SyncOutcome.OK


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_sync_through_the_api(api_as, simulator, connect, persona):
    connection = connect(simulator, "deepseek")
    url = reverse("api:connection-sync", args=[connection.pk])

    response = api_as(persona).post(url)

    expected = {"admin": 202, "finance": 403, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected


def test_the_api_lists_sync_runs_newest_first(api_as, synced):
    sync_connection(synced, start=START, end=END, trigger="command")

    response = api_as("finance").get(
        reverse("api:connection-sync-runs", args=[synced.pk])
    )

    runs = response.json()
    assert [run["trigger"] for run in runs] == ["command", "schedule"]
    assert runs[0]["outcome"] == "ok"
    assert runs[0]["rows"] > 0
    assert runs[0]["duration_seconds"] >= 0
