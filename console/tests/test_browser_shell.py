"""The console's shell in a real Chromium: sign-in, role navigation, API docs."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NAVIGATION = {
    "admin": [
        "Projects",
        "Teams",
        "Keys",
        "Requests",
        "Spend",
        "Models",
        "Users",
        "Audit",
        "Leak check",
        "Connections",
        "API",
    ],
    "finance": ["Projects", "Teams", "Keys", "Requests", "Spend", "Models", "API"],
    "engineer": ["Projects", "Teams", "Keys", "Requests", "Spend", "Models", "API"],
}


@pytest.mark.parametrize("persona", ["admin", "finance", "engineer"])
def test_navigation_fits_the_role(browser_as, people, persona):
    page = browser_as(people[persona])
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(NAVIGATION[persona])
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Keyhold")).to_be_visible()


def test_wrong_password_says_so_and_keeps_the_username(page, live_server, engineer):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(engineer.username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value(engineer.username)


def test_api_docs_render_offline_under_the_csp(browser_as, live_server, admin):
    page = browser_as(admin)
    # Everything the docs load must come from the console itself.
    page.on("request", lambda r: r.url.startswith("http") and _external(r, live_server))
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_text("Keyhold API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/projects/").first).to_be_visible()


def _external(request, live_server):
    assert request.url.startswith(live_server.url), f"fetched {request.url}"
