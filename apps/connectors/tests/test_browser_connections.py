"""Adding and testing a connection in a real Chromium, against the simulator."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_adds_a_connection_and_tests_it(browser_as, live_server, admin):
    from apps.connectors.simulator.server import running_simulator

    with running_simulator() as sim:
        page = browser_as(admin)
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Connections"
        ).click()
        page.get_by_role("link", name="Add a connection").click()
        page.get_by_label("Name").fill("DeepSeek main")
        page.get_by_label("Vendor").select_option("deepseek")
        page.get_by_label("Base URL").fill(sim.url)
        page.get_by_label("Admin key").fill(sim.admin_keys["deepseek"])
        page.get_by_role("button", name="Add connection").click()

        row = page.get_by_role("row", name="DeepSeek main")
        expect(row).to_contain_text("never checked")
        row.get_by_role("button", name="Test connection").click()

        expect(row.get_by_role("status")).to_contain_text("CNY available")
        expect(row).to_contain_text("ok")
        expect(page.locator("body")).not_to_contain_text(sim.admin_keys["deepseek"])
