"""An admin connects a vendor, tests it, syncs it and reads the history, in Chromium."""

import pytest
from playwright.sync_api import expect

from apps.connectors.simulator.server import running_simulator
from console.celery import app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tasks_run_in_the_request():
    # The live server has no worker: a queued sync runs as soon as it is queued.
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_admin_adds_tests_and_syncs_a_connection(
    browser_as, live_server, admin, tasks_run_in_the_request
):
    with running_simulator() as sim:
        page = browser_as(admin)
        page.goto(f"{live_server.url}/connections/new/")
        page.get_by_label("Name").fill("OpenAI org")
        page.get_by_label("Vendor").select_option("openai")
        page.get_by_label("Base URL").fill(sim.url)
        page.get_by_label("Admin key").fill(sim.admin_keys["openai"])
        page.get_by_role("button", name="Add connection").click()

        row = page.get_by_role("row", name="OpenAI org")
        row.get_by_role("button", name="Test connection").click()
        expect(row.get_by_role("status")).to_contain_text("organization reachable")

        row.get_by_role("link", name="OpenAI org").click()
        expect(page.get_by_role("heading", name="OpenAI org")).to_be_visible()
        expect(page.locator("#sync-history")).to_contain_text("No syncs yet")
        page.get_by_role("button", name="Sync now").click()

        expect(
            page.get_by_role("alert").or_(page.locator(".messages"))
        ).to_contain_text("Sync of OpenAI org queued")
        history = page.locator("#sync-history tbody tr").first
        expect(history).to_contain_text("manual")
        expect(history).to_contain_text("OK")
        expect(page.locator("#health")).to_contain_text("complete up to")
        expect(page.locator("#inventory")).to_contain_text("not in the vault")
        expect(page.locator("body")).not_to_contain_text(sim.admin_keys["openai"])
