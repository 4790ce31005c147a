"""Drive the leak check in a real Chromium, with htmx and without JavaScript."""

import pytest
from playwright.sync_api import expect

from apps.vault import keyformats
from apps.vault.models import Vendor
from apps.vault.tests.factories import make_key, make_secret

pytestmark = pytest.mark.browser


@pytest.fixture
def log_excerpt(admin):
    key, secret = make_key(admin, name="Checkout prod", vendor=Vendor.ANTHROPIC)
    unknown = make_secret(Vendor.GOOGLE)
    text = (
        "2026-03-02 10:00:01 INFO starting worker\n"
        f"2026-03-02 10:00:02 DEBUG headers x-api-key: {secret}\n"
        f"2026-03-02 10:00:03 DEBUG url ?key={unknown} \n"
    )
    return {"text": text, "key": key, "vault": secret, "unknown": unknown}


def test_admin_pastes_a_log_and_sees_both_keys_classified(
    browser_as, live_server, admin, log_excerpt
):
    page = browser_as(admin)
    page.get_by_role("link", name="Leak check").click()
    assert page.evaluate("typeof htmx") == "object"

    page.get_by_label("Text to check").fill(log_excerpt["text"])
    page.get_by_role("button", name="Check for keys").click()

    rows = page.locator("#leak-findings tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(keyformats.hint(log_excerpt["vault"]))
    expect(rows.nth(0).get_by_role("link", name="Checkout prod")).to_be_visible()
    expect(rows.nth(0)).to_contain_text("version 1, current")
    expect(rows.nth(1)).to_contain_text(keyformats.hint(log_excerpt["unknown"]))
    expect(rows.nth(1)).to_contain_text("Unknown: not in the vault")
    expect(page.get_by_label("Text to check")).to_have_value("")
    expect(page).to_have_url(f"{live_server.url}/keys/leak-check/")
    assert log_excerpt["vault"] not in page.content()


def test_leak_check_works_without_javascript(
    browser_as, live_server, admin, log_excerpt
):
    page = browser_as(admin, javascript=False)

    page.goto(f"{live_server.url}/keys/leak-check/")
    page.get_by_label("Text to check").fill(log_excerpt["text"])
    page.get_by_role("button", name="Check for keys").click()

    expect(page.get_by_text("1 in the vault, 1 unknown")).to_be_visible()
    expect(page.get_by_label("Text to check")).to_have_value("")
