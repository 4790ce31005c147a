"""Proof that a vendor key's plaintext stays where it belongs.

Every journey that touches a secret runs through the API and the pages: register,
reveal, rotate, revoke, request, approve and issue, the one-time view, the leak
check, and the rotations and issues whose key the vendor (the simulator) creates.
Then the database (every table, every column), the captured logs, every page each
persona can open and every API list response are searched for each plaintext.
The only places a plaintext may appear are the responses that exist to show it: the
registration's one-time view, the audited reveal, the answers to a rotation the
vendor made and the requester's one-time view; those are checked to contain it, so
the search is known to work.
"""

import logging

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.tests.factories import PASSWORD
from apps.keyrequests.models import KeyRequest
from apps.vault.models import Vendor, VendorKey
from apps.vault.tests.factories import make_secret
from conftest import PERSONAS


def api_for(user):
    api = APIClient()
    api.force_login(user)
    return api


def run_journeys(admin, engineer, payments_env, client, openai_org, simulator):
    """Do everything a secret goes through; return (secrets, allowed responses)."""
    secrets = {name: make_secret(vendor) for name, vendor in SECRETS.items()}
    shown = []  # responses whose purpose is to show a secret
    api = api_for(admin)
    scope_fields = {
        "project": payments_env.project_id,
        "environment": payments_env.pk,
        "owner": engineer.pk,
    }

    ids = {}
    for name in ("openai", "anthropic", "google"):
        response = api.post(
            "/api/v1/keys/",
            {"name": name, "vendor": SECRETS[name], "secret": secrets[name]}
            | scope_fields,
            format="json",
        )
        assert response.status_code == 201, response.content
        ids[name] = response.json()["id"]

    reveal = api.post(
        f"/api/v1/keys/{ids['openai']}/reveal/", {"password": PASSWORD}, format="json"
    )
    assert reveal.json() == {"secret": secrets["openai"]}
    shown.append(reveal)
    denied = api.post(
        f"/api/v1/keys/{ids['openai']}/reveal/", {"password": "wrong"}, format="json"
    )
    assert denied.status_code == 403

    rotated = api.post(
        f"/api/v1/keys/{ids['openai']}/rotate/",
        {"secret": secrets["rotated"], "overlap_hours": 24},
        format="json",
    )
    assert rotated.status_code == 200, rotated.content
    refused = api.post(
        f"/api/v1/keys/{ids['anthropic']}/rotate/",
        {"secret": secrets["rotated"]},  # already in the vault: refused, audited
        format="json",
    )
    assert refused.status_code == 400
    revoked = api.post(
        f"/api/v1/keys/{ids['google']}/revoke/", {"reason": "left in a notebook"}
    )
    assert revoked.status_code == 200, revoked.content

    # Registration in the browser: the answer to the POST shows the secret once.
    client.force_login(admin)
    registered = client.post(
        reverse("key-create"),
        {
            "name": "web",
            "vendor": Vendor.DEEPSEEK,
            "secret": secrets["web"],
            "vendor_key_id": "",
            "allowed_models": "",
            "monthly_cap_usd": "",
            "expires_at": "",
        }
        | scope_fields,
    )
    assert registered.status_code == 200, registered.content
    assert secrets["web"] in registered.content.decode()
    shown.append(registered)

    # An engineer asks, an admin issues, the engineer views the key once.
    requested = api_for(engineer).post(
        "/api/v1/key-requests/",
        {
            "project": payments_env.project_id,
            "environment": payments_env.pk,
            "vendor": Vendor.OPENAI,
            "monthly_cap_usd": "50.00",
            "justification": "Checkout assistant staging tests",
        },
        format="json",
    )
    assert requested.status_code == 201, requested.content
    request_id = requested.json()["id"]
    issued = api.post(
        f"/api/v1/key-requests/{request_id}/approve/",
        {"secret": secrets["issued"], "name": "checkout staging"},
        format="json",
    )
    assert issued.status_code == 200, issued.content
    viewed = api_for(engineer).post(f"/api/v1/key-requests/{request_id}/secret/")
    assert viewed.json() == {"secret": secrets["issued"]}
    shown.append(viewed)
    again = api_for(engineer).post(f"/api/v1/key-requests/{request_id}/secret/")
    assert again.status_code == 410

    # Keys the vendor creates: a rotation through the API, one through the page,
    # and an issue the requester then views once.
    linked = api.post(
        "/api/v1/keys/",
        {
            "name": "linked",
            "vendor": Vendor.OPENAI,
            "secret": secrets["linked"],
            "connection": openai_org.pk,
            "vendor_key_id": simulator.org.openai_keys[0].id,
        }
        | scope_fields,
        format="json",
    )
    assert linked.status_code == 201, linked.content
    linked_id = linked.json()["id"]
    made = api.post(
        f"/api/v1/keys/{linked_id}/rotate/",
        {"create_at_vendor": True, "overlap_hours": 1},
        format="json",
    )
    assert made.status_code == 200, made.content
    secrets["vendor rotated"] = made.json()["secret"]
    shown.append(made)
    made_here = client.post(
        reverse("key-rotate", args=[linked_id]),
        {
            "create_at_vendor": "on",
            "vendor_project_id": simulator.org.projects[0].id,
            "overlap": "0",
        },
    )
    assert made_here.status_code == 200, made_here.content
    version = VendorKey.objects.get(pk=linked_id).versions.order_by("-number")[0]
    secrets["vendor rotated here"] = version.secret.reveal()
    shown.append(made_here)

    asked = api_for(engineer).post(
        "/api/v1/key-requests/",
        {
            "project": payments_env.project_id,
            "environment": payments_env.pk,
            "vendor": Vendor.OPENAI,
            "monthly_cap_usd": "20.00",
            "justification": "Made at the vendor",
        },
        format="json",
    )
    asked_id = asked.json()["id"]
    assert api.post(f"/api/v1/key-requests/{asked_id}/approve/").status_code == 200
    issued_at_vendor = api.post(
        f"/api/v1/key-requests/{asked_id}/issue/",
        {
            "name": "made at vendor",
            "connection": openai_org.pk,
            "vendor_project_id": simulator.org.projects[0].id,
        },
        format="json",
    )
    assert issued_at_vendor.status_code == 200, issued_at_vendor.content
    viewed_vendor_key = api_for(engineer).post(
        f"/api/v1/key-requests/{asked_id}/secret/"
    )
    secrets["vendor issued"] = viewed_vendor_key.json()["secret"]
    shown.append(viewed_vendor_key)

    # The leak check, through the API and the page, with a vault key and a stranger.
    pasted = f"export OPENAI_API_KEY={secrets['rotated']}\nkey={secrets['unknown']}\n"
    checked = api.post("/api/v1/leak-check/", {"text": pasted}, format="json")
    assert checked.status_code == 200, checked.content
    assert len(checked.json()["findings"]) == 2
    page = client.post(reverse("leak-check"), {"text": pasted})
    assert page.status_code == 200
    others = [checked, page, denied, rotated, refused, revoked, linked]
    return secrets, shown, [*others, issued_at_vendor]


SECRETS = {
    "openai": Vendor.OPENAI,
    "anthropic": Vendor.ANTHROPIC,
    "google": Vendor.GOOGLE,
    "rotated": Vendor.OPENAI,
    "web": Vendor.DEEPSEEK,
    "issued": Vendor.OPENAI,
    "unknown": Vendor.ANTHROPIC,
    "linked": Vendor.OPENAI,
}


def hits(secrets, text, where):
    return [f"{name} in {where}" for name, value in secrets.items() if value in text]


def database_hits(secrets):
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 (introspected name)
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    found += hits(secrets, str(value), table)
    return found


def page_urls(keys, key_requests):
    urls = [
        reverse("home"),
        reverse("key-list"),
        reverse("request-list"),
        reverse("audit-list"),
        reverse("leak-check"),
        reverse("project-list"),
        reverse("project-detail", args=["checkout"]),
    ]
    for key in keys:
        for name in (
            "key-detail",
            "key-edit",
            "key-reveal",
            "key-rotate",
            "key-revoke",
        ):
            urls.append(reverse(name, args=[key.pk]))
    for key_request in key_requests:
        urls.append(reverse("request-detail", args=[key_request.pk]))
        urls.append(reverse("request-secret", args=[key_request.pk]))
    return urls


@pytest.mark.django_db
def test_no_plaintext_outside_the_one_time_views(
    admin, engineer, people, payments_env, client, caplog, openai_org, simulator
):
    caplog.set_level(logging.DEBUG)
    secrets, shown, other_responses = run_journeys(
        admin, engineer, payments_env, client, openai_org, simulator
    )
    for response in shown:
        assert hits(secrets, response.content.decode(), "shown"), "search is blind"

    found = database_hits(secrets)
    for record in caplog.records:
        found += hits(secrets, record.getMessage(), f"log {record.name}")
    for response in other_responses:
        found += hits(secrets, response.content.decode(), "journey response")

    urls = page_urls(VendorKey.objects.all(), KeyRequest.objects.all())
    for persona in PERSONAS:
        client.logout()
        if people[persona] is not None:
            client.force_login(people[persona])
        for url in urls:
            body = client.get(url).content.decode()
            found += hits(secrets, body, f"{url} as {persona}")

        api = APIClient()
        if people[persona] is not None:
            api.force_login(people[persona])
        root = api.get("/api/v1/")
        for resource in root.json() if root.status_code == 200 else ():
            for page in (1, 2):
                listing = api.get(f"/api/v1/{resource}/", {"page": page})
                found += hits(secrets, listing.content.decode(), f"{resource} list")
            for key in VendorKey.objects.all():
                detail = api.get(f"/api/v1/keys/{key.pk}/")
                found += hits(secrets, detail.content.decode(), "keys detail")

    assert found == []


def test_the_database_search_finds_a_planted_plaintext(payments_env):
    planted = make_secret(Vendor.ANTHROPIC)
    payments_env.project.description = f"oops {planted}"
    payments_env.project.save()
    assert database_hits({"planted": planted}) == ["planted in projects_project"]
