"""Proof that a connection's admin key never leaves the vault's encryption.

Connections are created, tested and synced through the API, the pages and the
command, with the vendor failing in several ways along the way; then the
database, the logs at DEBUG, every connection page and API response each persona
can reach are searched for every admin key.
"""

import logging
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from apps.connectors.models import Connection
from apps.connectors.simulator.faults import Fault
from apps.usage.services import SyncFailed, sync_connection
from apps.vault.tests.test_no_plaintext_leaks import database_hits, hits
from conftest import PERSONAS

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 16, tzinfo=UTC)
END = datetime(2026, 11, 18, tzinfo=UTC)
VENDORS = ("openai", "anthropic", "deepseek", "moonshot", "openai_compatible")


def connect_everything(api, sim) -> list[int]:
    ids = []
    for vendor in VENDORS:
        base_url = sim.url + ("/api/v1" if vendor == "openai_compatible" else "")
        response = api.post(
            "/api/v1/connections/",
            {
                "name": vendor,
                "vendor": vendor,
                "base_url": base_url,
                "admin_key": sim.admin_keys[vendor],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def test_no_admin_key_outside_the_vault(simulator, admin, people, client, caplog, fast):
    caplog.set_level(logging.DEBUG)
    secrets = dict(simulator.admin_keys)
    api = APIClient()
    api.force_login(admin)

    ids = connect_everything(api, simulator)
    for pk in ids:
        assert api.post(f"/api/v1/connections/{pk}/test/").status_code == 200
    for connection in Connection.objects.all():
        sync_connection(connection, start=START, end=END)
    call_command("sync_usage", "--start", "2026-11-17", "--end", "2026-11-18")
    wrong = {"admin_key": "sk-admin-" + "w" * 48}
    secrets["wrong"] = wrong["admin_key"]
    for pk in ids:
        assert (
            api.patch(f"/api/v1/connections/{pk}/", wrong, format="json").status_code
            == 200
        )
        assert api.post(f"/api/v1/connections/{pk}/test/").json()["status"] == "error"
    for pk, vendor in zip(ids, VENDORS, strict=True):
        restore = {"admin_key": secrets[vendor]}
        assert (
            api.patch(f"/api/v1/connections/{pk}/", restore, format="json").status_code
            == 200
        )
    failures = 0
    for mode in ("429", "500", "malformed", "missing_fields"):
        for connection in Connection.objects.all():
            simulator.faults.clear()
            simulator.faults.add(Fault(mode))
            try:
                sync_connection(connection, start=START, end=END, **fast)
            except SyncFailed:
                failures += 1
    simulator.faults.clear()

    found = database_hits(secrets)
    for record in caplog.records:
        found += hits(secrets, record.getMessage(), f"log {record.name}")
    for persona in PERSONAS:
        client.logout()
        reader = APIClient()
        if people[persona] is not None:
            client.force_login(people[persona])
            reader.force_login(people[persona])
        for pk in ids:
            for name in ("connection-detail", "connection-edit"):
                body = client.get(reverse(name, args=[pk])).content.decode()
                found += hits(secrets, body, f"{name} as {persona}")
            for path in ("", "sync-runs/", "reconciliation/"):
                body = reader.get(f"/api/v1/connections/{pk}/{path}").content.decode()
                found += hits(secrets, body, f"connections/{pk}/{path} as {persona}")
        listing = client.get(reverse("connection-list")).content.decode()
        found += hits(secrets, listing, f"connection list as {persona}")
        body = reader.get("/api/v1/connections/").content.decode()
        found += hits(secrets, body, f"connections API as {persona}")

    assert found == []
    assert failures >= 3 * len(VENDORS)
