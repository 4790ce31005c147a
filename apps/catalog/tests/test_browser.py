"""Drive the models page in a real Chromium, through the htmx forms."""

import pytest
from playwright.sync_api import expect

from apps.catalog.models import ModelTier, PriceOverride

pytestmark = pytest.mark.browser


def test_admin_reclassifies_and_adds_an_override_with_htmx(
    browser_as, admin, live_server
):
    page = browser_as(admin)
    page.get_by_role("link", name="Models", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/models/")

    # Straight to the filtered URL: typing would race the search's debounced swap.
    page.goto(f"{live_server.url}/models/?q=gpt-5.4-mini")
    tier = page.get_by_label("Tier of gpt-5.4-mini", exact=True)
    expect(tier).to_have_value("standard")
    with page.expect_response(lambda response: "/models/tiers/" in response.url):
        tier.select_option("economy")
    expect(page.get_by_label("Tier of gpt-5.4-mini", exact=True)).to_have_value(
        "economy"
    )
    assert ModelTier.objects.get(model="gpt-5.4-mini").tier == "economy"

    form = page.get_by_role("region", name="New price override")
    form.get_by_label("Vendor").select_option("qwen")
    form.get_by_label("Model", exact=True).fill("qwen-max")
    form.get_by_label("Input $/MTok", exact=True).fill("2")
    form.get_by_label("Output $/MTok").fill("6")
    form.get_by_role("button", name="Add override").click()
    expect(form.get_by_text("Override for qwen-max added.")).to_be_visible()
    assert PriceOverride.objects.filter(model="qwen-max").exists()


def test_engineer_sees_tiers_without_forms(browser_as, engineer, live_server):
    page = browser_as(engineer)
    page.goto(f"{live_server.url}/models/?q=claude-haiku-4-5")
    expect(page.locator("#model-table")).to_contain_text("claude-haiku-4-5")
    expect(page.get_by_role("region", name="New price override")).to_have_count(0)
    expect(page.locator("#model-table select")).to_have_count(0)
