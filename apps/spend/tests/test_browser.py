"""Finance explores spend in a real Chromium: group, filter, download."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.spend.tests.conftest import FIRST_DAY

pytestmark = pytest.mark.browser


def test_finance_groups_by_team_filters_to_a_vendor_and_downloads_the_csv(
    browser_as, finance, spend_world, live_server
):
    page = browser_as(finance)
    page.get_by_role("link", name="Spend", exact=True).click()
    page.get_by_role("link", name="Explorer", exact=True).click()

    page.get_by_label("Start").fill(FIRST_DAY.isoformat())
    page.get_by_label("End (exclusive)").fill(
        (FIRST_DAY + timedelta(days=4)).isoformat()
    )
    page.get_by_label("Group by").select_option("team")
    with page.expect_response(lambda r: "/spend/explorer/" in r.url):
        page.get_by_role("button", name="Show").click()
    table = page.locator("#spend-table")
    expect(table).to_contain_text("Payments")
    expect(table).to_contain_text("Search")

    page.get_by_label("Vendor").select_option("anthropic")
    with page.expect_response(lambda r: "/spend/explorer/" in r.url):
        page.get_by_role("button", name="Show").click()
    expect(table.locator("tbody")).not_to_contain_text("Payments")
    expect(table).to_contain_text("$3.38")
    # The whole view is in the address, so it can be bookmarked and shared.
    assert "vendor=anthropic" in page.url and "group_by=team" in page.url
    expect(page.locator("canvas[data-chart]")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text()
    lines = list(csv.DictReader(io.StringIO(text)))
    assert {line["group"] for line in lines} == {"Search", "unattributed"}
    search = next(line for line in lines if line["group"] == "Search")
    assert search["cost_usd"] == "3.383333"
