"""The leak check: admins only, findings by hint and line, the text kept nowhere."""

import logging
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import Actor
from apps.vault import keyformats, leaks
from apps.vault.models import KeyStatus, KeyVersion, Secret, Vendor
from apps.vault.tests.factories import make_key, make_secret
from conftest import PERSONAS

URL = reverse("leak-check")
API_URL = "/api/v1/leak-check/"
# A line no key pattern matches, to find the pasted text wherever it might land.
MARKER = "leak-check-marker-7f3a9c shows where this paste went"

PAGE_STATUS = {"admin": 200, "anonymous": 302}
API_STATUS = {"admin": 200, "anonymous": 401}


@pytest.fixture
def vault_key(admin):
    key, secret = make_key(admin, name="Checkout prod", vendor=Vendor.ANTHROPIC)
    return key, secret


@pytest.fixture
def pasted(vault_key):
    """A log with one vault key on line 2 and one unknown key on line 4."""
    unknown = make_secret(Vendor.GOOGLE)
    text = (
        f"{MARKER}\n"
        f"INFO calling anthropic with x-api-key: {vault_key[1]}\n"
        "INFO done\n"
        f"WARN retry url=https://example.test/v1?key={unknown} \n"
    )
    return {"text": text, "vault": vault_key[1], "unknown": unknown}


def add_version(key, *, retire_previous: bool) -> str:
    plaintext = make_secret(key.vendor)
    previous = key.versions.get()
    if retire_previous:
        previous.retired_at = timezone.now()
        previous.save(update_fields=["retired_at"])
    sealed = Secret.seal(plaintext)
    KeyVersion.objects.create(
        key=key, number=2, secret=sealed, hint=keyformats.hint(plaintext)
    )
    return plaintext


def everything_stored() -> str:
    """Every row of every table, as text."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 (a known table)
            dump.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(dump)


def assert_kept_nowhere(pasted, *places):
    for place in (*places, everything_stored()):
        assert MARKER not in place
        assert pasted["vault"] not in place
        assert pasted["unknown"] not in place
        assert pasted["unknown"][4:-4] not in place


# The page, by persona.


@pytest.mark.parametrize("persona", PERSONAS)
def test_leak_check_page_by_persona(client_as, persona):
    response = client_as(persona).get(URL)

    assert response.status_code == PAGE_STATUS.get(persona, 403)
    if persona == "anonymous":
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_leak_check_post_by_persona(client_as, persona, pasted):
    response = client_as(persona).post(URL, {"text": pasted["text"]})

    assert response.status_code == PAGE_STATUS.get(persona, 403)
    checks = AuditEvent.objects.filter(action="vault.leak_check").count()
    assert checks == (1 if persona == "admin" else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_leak_check_api_by_persona(api_as, persona, pasted):
    response = api_as(persona).post(API_URL, {"text": pasted["text"]}, format="json")

    assert response.status_code == API_STATUS.get(persona, 403)


def test_leak_check_is_in_the_nav_of_admins_only(client_as):
    assert URL.encode() in client_as("admin").get(reverse("home")).content
    assert URL.encode() not in client_as("engineer").get(reverse("home")).content


# What the admin sees.


def test_page_classifies_vault_and_unknown_keys_by_hint_and_line(
    client_as, pasted, vault_key
):
    response = client_as("admin").post(URL, {"text": pasted["text"]})

    findings = response.context["findings"]
    assert [(f.vendor, f.line, f.in_vault) for f in findings] == [
        (Vendor.ANTHROPIC, 2, True),
        (Vendor.GOOGLE, 4, False),
    ]
    page = response.content.decode()
    assert "Found 2 key-shaped strings: 1 in the vault, 1 unknown." in page
    assert keyformats.hint(pasted["vault"]) in page
    assert keyformats.hint(pasted["unknown"]) in page
    assert f'href="{reverse("key-detail", args=[vault_key[0].pk])}"' in page
    assert "version 1, current" in page
    assert "<strong>Unknown</strong>: not in the vault" in page


def test_response_never_echoes_the_text_and_is_never_cached(client_as, pasted):
    response = client_as("admin").post(URL, {"text": pasted["text"]})

    page = response.content.decode()
    assert_kept_nowhere(pasted, page)
    assert re.search(r'<textarea name="text"[^>]*>\s*</textarea>', page)
    assert "no-store" in response["Cache-Control"]


def test_invalid_form_comes_back_without_the_text(client_as, pasted):
    upload = SimpleUploadedFile("app.log", b"anything")

    response = client_as("admin").post(URL, {"text": pasted["text"], "file": upload})

    assert response.status_code == 200
    assert "Paste a text or choose a file, not both." in response.content.decode()
    assert_kept_nowhere(pasted, response.content.decode())
    assert not AuditEvent.objects.filter(action="vault.leak_check").exists()


def test_empty_form_asks_for_text(client_as):
    response = client_as("admin").post(URL, {"text": ""})

    assert "Paste a text or choose a file to check." in response.content.decode()
    assert response.context["findings"] is None


def test_a_get_with_text_in_the_url_checks_nothing(client_as, pasted):
    response = client_as("admin").get(URL, {"text": pasted["vault"]})

    assert response.status_code == 200
    assert response.context["findings"] is None
    assert not AuditEvent.objects.filter(action="vault.leak_check").exists()


def test_text_without_keys_says_so(client_as):
    response = client_as("admin").post(URL, {"text": "INFO all quiet\n"})

    assert "No key-shaped strings found." in response.content.decode()


def test_uploaded_file_is_checked(client_as, pasted):
    upload = SimpleUploadedFile("app.log", pasted["text"].encode())

    response = client_as("admin").post(URL, {"file": upload})

    assert [f.line for f in response.context["findings"]] == [2, 4]
    assert_kept_nowhere(pasted, response.content.decode())


def test_uploads_stay_in_memory_even_when_django_would_spill_them(
    client_as, pasted, settings
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100
    upload = SimpleUploadedFile("app.log", pasted["text"].encode())

    response = client_as("admin").post(URL, {"file": upload})

    assert isinstance(response.wsgi_request.FILES["file"], InMemoryUploadedFile)
    assert len(response.context["findings"]) == 2


def test_file_over_one_megabyte_is_refused_with_its_size(client_as, pasted):
    # Past Django's 2.5 MB, where its own handlers would write a temporary file.
    body = pasted["text"].encode() + b"x" * 3 * leaks.MAX_TEXT_BYTES
    upload = SimpleUploadedFile("huge.log", body)

    response = client_as("admin").post(URL, {"file": upload})

    page = response.content.decode()
    assert "This file is 3.0\xa0MB and the leak check reads at most 1.0\xa0MB" in page
    assert response.context["findings"] is None
    assert_kept_nowhere(pasted, page)
    assert isinstance(response.wsgi_request.FILES["file"], InMemoryUploadedFile)


def test_pasted_text_over_one_megabyte_is_refused(client_as):
    response = client_as("admin").post(URL, {"text": "x" * (leaks.MAX_TEXT_BYTES + 1)})

    assert "paste a shorter excerpt" in response.content.decode()


def test_htmx_post_swaps_only_the_panel(client_as, pasted):
    response = client_as("admin").post(
        URL, {"text": pasted["text"]}, headers={"HX-Request": "true"}
    )

    page = response.content.decode()
    assert page.lstrip().startswith('<div id="leak-check-panel">')
    assert "<h1>" not in page
    assert "1 in the vault, 1 unknown" in page


# The service: vault, unknown, retired and revoked keys.


def test_check_reports_key_status_and_version_state(admin, vault_key):
    current_key, first_secret = vault_key
    rotated_key, old_secret = make_key(admin, name="Search batch")
    new_secret = add_version(rotated_key, retire_previous=True)
    revoked_key, revoked_secret = make_key(admin, vendor=Vendor.GOOGLE)
    revoked_key.status = KeyStatus.REVOKED
    revoked_key.save(update_fields=["status"])
    unknown = make_secret(Vendor.OPENAI)
    text = "\n".join(
        [first_secret, old_secret, new_secret, revoked_secret, unknown, ""]
    )

    findings = leaks.check_text(Actor(admin), text)

    summary = [
        (
            f.line,
            f.key,
            f.key and f.key.status,
            f.version and f.version.number,
            f.version_current,
        )
        for f in findings
    ]
    assert summary == [
        (1, current_key, "active", 1, True),
        (2, rotated_key, "active", 1, False),
        (3, rotated_key, "active", 2, True),
        (4, revoked_key, "revoked", 1, True),
        (5, None, None, None, None),
    ]


def test_superseded_version_in_its_overlap_is_not_current(admin, vault_key):
    key, old_secret = vault_key
    add_version(key, retire_previous=False)

    (finding,) = leaks.check_text(Actor(admin), f"{old_secret}\n")

    assert (finding.version.number, finding.version_current) == (1, False)


def test_check_is_audited_with_counts_only(admin, pasted):
    leaks.check_text(Actor(admin, ip="10.0.0.9"), pasted["text"])

    event = AuditEvent.objects.get(action="vault.leak_check")
    assert event.details == {"found": 2, "in_vault": 1, "unknown": 1}
    assert (event.actor, event.ip) == (admin, "10.0.0.9")


@pytest.mark.parametrize("persona", ["finance", "engineer", "outsider"])
def test_only_admins_may_run_the_check(people, persona, pasted):
    with pytest.raises(PermissionDenied):
        leaks.check_text(Actor(people[persona]), pasted["text"])

    assert not AuditEvent.objects.filter(action="vault.leak_check").exists()


def test_text_and_keys_reach_no_log_and_no_table(client_as, api_as, pasted, caplog):
    caplog.set_level(logging.DEBUG)

    page = client_as("admin").post(URL, {"text": pasted["text"]})
    api = api_as("admin").post(API_URL, {"text": pasted["text"]}, format="json")

    logged = "\n".join(
        f"{record.getMessage()} {record.args!r}" for record in caplog.records
    )
    assert_kept_nowhere(pasted, logged, page.content.decode(), api.content.decode())


# The API.


def test_api_returns_findings_in_the_documented_shape(api_as, pasted, vault_key):
    response = api_as("admin").post(API_URL, {"text": pasted["text"]}, format="json")

    assert response.json() == {
        "findings": [
            {
                "vendor": "anthropic",
                "hint": keyformats.hint(pasted["vault"]),
                "line": 2,
                "in_vault": True,
                "key": vault_key[0].pk,
                "key_status": "active",
                "version": 1,
                "version_current": True,
            },
            {
                "vendor": "google",
                "hint": keyformats.hint(pasted["unknown"]),
                "line": 4,
                "in_vault": False,
                "key": None,
                "key_status": None,
                "version": None,
                "version_current": None,
            },
        ]
    }


def test_api_refuses_a_missing_text(api_as):
    response = api_as("admin").post(API_URL, {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"text": ["This field is required."]}


def test_api_refuses_reading_by_get(api_as):
    assert api_as("admin").get(API_URL).status_code == 405


def test_api_root_and_schema_list_the_leak_check(api_as):
    root = api_as("admin").get("/api/v1/").json()
    schema = api_as("admin").get("/api/schema/", {"format": "json"})

    assert root["leak-check"].endswith(API_URL)
    assert API_URL in schema.json()["paths"]


def test_leak_check_query_count_does_not_grow_with_findings(admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.audit.services import Actor
    from apps.vault.leaks import check_text
    from apps.vault.tests.factories import make_key

    def queries_for(count):
        pasted = "\n".join(make_key(admin)[1] for _ in range(count))
        with CaptureQueriesContext(connection) as captured:
            findings = check_text(Actor(admin), pasted)
        assert [finding.version_current for finding in findings] == [True] * count
        return len(captured)

    assert queries_for(2) == queries_for(12)
