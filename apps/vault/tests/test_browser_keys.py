"""Drive the key pages in a real Chromium: register, see once, rotate, revoke."""

import re

import pytest
from playwright.sync_api import expect

from apps.vault.models import KeyStatus, VendorKey
from apps.vault.tests.conftest import vendor_keys
from apps.vault.tests.factories import make_key, make_secret

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in_page(browser_as, admin):
    return browser_as(admin)


def test_admin_registers_sees_once_rotates_and_revokes(
    signed_in_page, live_server, admin, payments_env
):
    other, _ = make_key(admin, environment=payments_env, name="Old batch key")
    page = signed_in_page
    page.get_by_role("link", name="Keys", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/keys/")
    page.get_by_role("link", name="Register a key").click()

    secret = make_secret()
    page.get_by_label("Vendor", exact=True).select_option("openai")
    page.get_by_label("Name", exact=True).fill("Checkout staging")
    page.get_by_label("Secret").fill(secret)
    page.get_by_label("Vendor key id", exact=True).fill("key_one")
    page.get_by_label("Project").select_option(label="Checkout")
    page.get_by_label("Environment").select_option(label="Checkout / staging")
    page.get_by_label("Owner").select_option(label=admin.username)
    page.get_by_label("Monthly cap").fill("200")
    page.get_by_role("button", name="Register key").click()

    # htmx swapped in the one-time view: the secret is there, and only there.
    expect(
        page.get_by_role("heading", name="Key Checkout staging registered")
    ).to_be_visible()
    expect(page.get_by_label("Secret")).to_have_value(secret)
    page.get_by_role("link", name="Open the key").click()
    expect(
        page.get_by_role("heading", name=re.compile("Checkout staging"))
    ).to_be_visible()
    assert secret not in page.content()

    page.get_by_role("link", name="Rotate").click()
    expect(page.get_by_text("this key is linked to none")).to_be_visible()
    page.get_by_label("New secret", exact=True).fill(make_secret())
    page.get_by_label("Vendor key id of the new secret").fill("key_two")
    page.get_by_label("Overlap").select_option(label="1 day")
    page.get_by_role("button", name="Rotate key").click()

    expect(page.get_by_text("Key Checkout staging rotated: version 2")).to_be_visible()
    versions = page.locator("#version-table tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.first).to_contain_text("key_two")
    key = VendorKey.objects.get(name="Checkout staging")
    old = key.versions.get(number=1)
    assert old.retired_at is None and old.valid_until is not None

    page.goto(f"{live_server.url}/keys/{other.pk}/")
    page.get_by_role("link", name="Revoke").click()
    expect(page.get_by_text("recorded in Keyhold only")).to_be_visible()
    page.get_by_label("Reason").fill("Batch job retired")
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("Key Old batch key revoked in Keyhold.")).to_be_visible()
    expect(page.locator("#key-summary")).to_contain_text("Batch job retired")
    other.refresh_from_db()
    assert other.status == KeyStatus.REVOKED


def test_admin_revokes_a_key_at_openai_and_in_keyhold(
    signed_in_page, live_server, admin, payments_env, openai_org, simulator
):
    vendor_key_id = simulator.org.openai_keys[0].id
    key, _ = make_key(
        admin,
        environment=payments_env,
        name="Leaky key",
        connection=openai_org,
        vendor_key_id=vendor_key_id,
    )
    page = signed_in_page
    page.goto(f"{live_server.url}/keys/{key.pk}/")
    expect(page.locator("#key-summary")).to_contain_text("OpenAI prod")
    page.get_by_role("link", name="Revoke").click()

    also_at_vendor = page.get_by_label("Also revoke at OpenAI")
    expect(also_at_vendor).to_be_checked()
    page.get_by_label("Reason").fill("Pasted in a public issue")
    page.get_by_role("button", name="Revoke key").click()

    expect(
        page.get_by_text("Key Leaky key revoked at OpenAI and in Keyhold.")
    ).to_be_visible()
    expect(page.locator("#key-summary")).to_contain_text("Pasted in a public issue")
    assert vendor_key_id not in vendor_keys(openai_org)
    key.refresh_from_db()
    assert key.status == KeyStatus.REVOKED
