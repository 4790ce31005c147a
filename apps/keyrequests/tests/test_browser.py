"""An engineer asks for a key, an admin issues it, the engineer views it once."""

import pytest
from playwright.sync_api import expect

from apps.keyrequests.models import KeyRequest
from apps.vault.tests.factories import make_secret

pytestmark = pytest.mark.browser


def test_engineer_requests_admin_issues_engineer_views_once(
    browser_as, live_server, engineer, admin, staging
):
    engineer_page = browser_as(engineer)
    engineer_page.get_by_role("link", name="Requests", exact=True).click()
    engineer_page.get_by_role("link", name="Request a key").click()
    form = engineer_page.get_by_role("region", name="Request a key")
    form.get_by_label("Project").select_option(label="Checkout")
    form.get_by_label("Environment").select_option(label="Checkout / staging")
    form.get_by_label("Vendor").select_option("openai")
    form.get_by_label("Allowed models").fill("gpt-4o-mini")
    form.get_by_label("Monthly cap (USD)").fill("30")
    form.get_by_label("Justification").fill("Fraud scoring experiments")
    form.get_by_role("button", name="Send request").click()
    expect(engineer_page.locator("#request-state")).to_have_text("Pending")
    key_request = KeyRequest.objects.get()

    admin_page = browser_as(admin)
    admin_page.goto(f"{live_server.url}/requests/")
    admin_page.get_by_role("link", name=f"#{key_request.pk}").click()
    approve = admin_page.get_by_role("region", name="Approve")
    secret = make_secret("openai")
    approve.get_by_label("Secret").fill(secret)
    approve.get_by_label("Key name").fill("fraud-staging")
    approve.get_by_role("button", name="Approve").click()
    # htmx swapped the request in place.
    expect(admin_page.locator("#request-state")).to_have_text("Issued")
    expect(admin_page.get_by_text("Request approved.")).to_be_visible()
    assert secret not in admin_page.content()

    engineer_page.reload()
    expect(engineer_page.locator("#request-state")).to_have_text("Issued")
    engineer_page.get_by_role("button", name="View your key once").click()
    expect(engineer_page.locator("#issued-secret")).to_have_text(secret)

    engineer_page.reload()
    expect(engineer_page.get_by_text("already viewed")).to_be_visible()
    assert secret not in engineer_page.content()
    key_request.refresh_from_db()
    assert key_request.viewed_by == engineer
