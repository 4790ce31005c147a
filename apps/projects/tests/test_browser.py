"""Drive the projects pages in a real Chromium, through the htmx forms."""

import pytest
from playwright.sync_api import expect

from apps.projects.models import Environment, Project

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in_page(browser_as, admin, team):
    return browser_as(admin)


def test_admin_creates_a_project_and_an_environment_with_htmx(
    signed_in_page, live_server
):
    page = signed_in_page
    page.get_by_role("link", name="Projects", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/projects/")
    assert page.evaluate("typeof htmx") == "object"

    new_project = page.get_by_role("region", name="New project")
    new_project.get_by_label("Name").fill("Fraud scoring")
    new_project.get_by_label("Team").select_option(label="Payments")
    new_project.get_by_role("button", name="Create project").click()

    # htmx swapped the panel in place: same URL, the new row listed, the form reset.
    table = page.locator("#project-table")
    expect(table.get_by_role("link", name="Fraud scoring")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/projects/")
    expect(new_project.get_by_label("Name")).to_have_value("")
    assert Project.objects.filter(slug="fraud-scoring").exists()

    table.get_by_role("link", name="Fraud scoring").click()
    expect(page.get_by_role("heading", name="Fraud scoring")).to_be_visible()
    page.get_by_label("Name").fill("staging")
    page.get_by_label("Kind").select_option("staging")
    page.get_by_role("button", name="Add environment").click()

    row = page.locator("#environment-table tbody tr", has_text="staging")
    expect(row).to_contain_text("Standard")
    expect(page.get_by_text("Environment staging added.")).to_be_visible()
    assert Environment.objects.get(name="staging").max_tier == "standard"


def test_invalid_project_keeps_what_was_typed_in_the_browser(
    signed_in_page, live_server, team
):
    Project.objects.create(team=team, name="Checkout", slug="checkout")
    page = signed_in_page
    page.goto(f"{live_server.url}/projects/")
    new_project = page.get_by_role("region", name="New project")
    new_project.get_by_label("Name").fill("Checkout two")
    new_project.get_by_label("Slug").fill("checkout")
    new_project.get_by_label("Team").select_option(label="Payments")
    new_project.get_by_role("button", name="Create project").click()

    expect(page.get_by_text("is taken by another project")).to_be_visible()
    expect(new_project.get_by_label("Name")).to_have_value("Checkout two")
    expect(new_project.get_by_label("Team")).to_have_value(str(team.pk))


def test_inline_policy_edit_swaps_the_row(signed_in_page, live_server, team):
    project = Project.objects.create(team=team, name="Checkout", slug="checkout")
    env = Environment.objects.create(
        project=project, name="dev", kind="development", max_tier="economy"
    )
    page = signed_in_page
    page.goto(f"{live_server.url}/projects/checkout/")
    row = page.locator(f"#environment-{env.pk}")
    row.get_by_role("link", name="Edit").click()
    row.get_by_label("Highest model tier").select_option("standard")
    row.get_by_role("button", name="Save").click()

    expect(page.locator(f"#environment-{env.pk} .badge")).to_have_text("Standard")
    expect(page).to_have_url(f"{live_server.url}/projects/checkout/")
    env.refresh_from_db()
    assert env.max_tier == "standard"


def test_projects_work_without_javascript(browser_as, live_server, admin, team):
    page = browser_as(admin, javascript=False)

    page.goto(f"{live_server.url}/projects/")
    new_project = page.get_by_role("region", name="New project")
    new_project.get_by_label("Name").fill("Plain forms")
    new_project.get_by_label("Team").select_option(label="Payments")
    new_project.get_by_role("button", name="Create project").click()

    # Without htmx the form posts and the browser follows the redirect.
    expect(page).to_have_url(f"{live_server.url}/projects/plain-forms/")
    expect(page.get_by_text("Project Plain forms created.")).to_be_visible()
    page.get_by_label("Name").fill("qa")
    page.get_by_label("Kind").select_option("staging")
    page.get_by_role("button", name="Add environment").click()
    expect(page.locator("#environment-table")).to_contain_text("qa")
    page.get_by_role("button", name="Archive").first.click()
    expect(page.get_by_text("Project Plain forms archived.")).to_be_visible()
