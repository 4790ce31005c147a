"""The billing export page and endpoint, tried by every persona."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audit.services import Actor
from apps.connectors import services
from apps.usage.models import DailySpend
from apps.usage.tests.test_google_billing import EXPORT
from apps.vault.tests.factories import make_secret
from conftest import PERSONAS

pytestmark = pytest.mark.django_db

BAD_EXPORT = EXPORT.replace(",cost,", ",price,")


@pytest.fixture
def google(admin):
    return services.create_connection(
        Actor(admin),
        name="gcp billing",
        vendor="google",
        base_url="https://generativelanguage.googleapis.com",
        admin_key=make_secret("google"),
    )


def page(connection) -> str:
    return f"/connections/{connection.pk}/billing-export/"


def endpoint(connection) -> str:
    return f"/api/v1/connections/{connection.pk}/billing-export/"


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("billing.csv", text.encode(), "text/csv")


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_open_the_upload_page(client_as, google, persona):
    response = client_as(persona).get(page(google))

    expected = {"admin": 200, "anonymous": 302}.get(persona, 403)
    assert response.status_code == expected
    if persona == "admin":
        assert b"Import a billing export into gcp billing" in response.content
        assert b"with the project id as its vendor key id" in response.content
    if persona == "anonymous":
        assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_import_through_the_page(client_as, google, persona):
    response = client_as(persona).post(page(google), {"file": csv_file(EXPORT)})

    expected = {"admin": 302, "anonymous": 302}.get(persona, 403)
    assert response.status_code == expected
    assert DailySpend.objects.exists() == (persona == "admin")


def test_an_import_returns_to_the_connection_with_what_it_did(client_as, google):
    response = client_as("admin").post(
        page(google), {"file": csv_file(EXPORT)}, follow=True
    )

    assert response.redirect_chain == [(f"/connections/{google.pk}/", 302)]
    assert (
        "gcp billing: billing export imported, 3 rows over 2 days "
        "(2025-11-01 to 2025-11-02), 4.83 USD."
    ) in response.content.decode()


def test_a_bad_export_keeps_the_page_and_says_what_to_fix(client_as, google):
    response = client_as("admin").post(page(google), {"file": csv_file(BAD_EXPORT)})

    assert response.status_code == 200
    assert "Line 1: the export has no column cost." in response.content.decode()
    assert not DailySpend.objects.exists()


def test_the_page_asks_for_a_file(client_as, google):
    response = client_as("admin").post(page(google), {})

    assert response.status_code == 200
    assert b"This field is required." in response.content


def test_a_non_google_connection_says_where_exports_go(client_as, admin):
    deepseek = services.create_connection(
        Actor(admin),
        name="deepseek org",
        vendor="deepseek",
        admin_key=make_secret("deepseek"),
    )

    response = client_as("admin").post(page(deepseek), {"file": csv_file(EXPORT)})

    assert response.status_code == 200
    assert "into a Google connection" in response.content.decode()
    assert not DailySpend.objects.exists()


def test_an_unknown_connection_is_not_found(client_as, google):
    response = client_as("admin").get(f"/connections/{google.pk + 1}/billing-export/")

    assert response.status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_admins_import_through_the_api(api_as, google, persona):
    response = api_as(persona).post(
        endpoint(google), {"file": io.BytesIO(EXPORT.encode())}, format="multipart"
    )

    expected = {"admin": 200, "anonymous": 401}.get(persona, 403)
    assert response.status_code == expected
    assert DailySpend.objects.exists() == (persona == "admin")


def test_the_api_answers_with_the_summary(api_as, google):
    response = api_as("admin").post(
        endpoint(google), {"file": csv_file(EXPORT)}, format="multipart"
    )

    assert response.json() == {
        "rows": 3,
        "days": 2,
        "projects": 2,
        "first_day": "2025-11-01",
        "last_day": "2025-11-02",
        "currency": "USD",
        "amount": "4.8300000000",
        "cost_usd": "4.8300000000",
        "skipped_lines": 2,
    }


def test_the_api_refuses_a_bad_export_with_the_reason(api_as, google):
    response = api_as("admin").post(
        endpoint(google), {"file": csv_file(BAD_EXPORT)}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "Line 1: the export has no column cost."
    )
    assert not DailySpend.objects.exists()


def test_the_api_asks_for_the_file_field(api_as, google):
    response = api_as("admin").post(endpoint(google), {}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": "Send the export as the multipart field file."}


def test_the_api_answers_404_for_an_unknown_connection(api_as, google):
    response = api_as("admin").post(
        f"/api/v1/connections/{google.pk + 1}/billing-export/",
        {"file": csv_file(EXPORT)},
        format="multipart",
    )

    assert response.status_code == 404
