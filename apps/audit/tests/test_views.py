import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import SYSTEM, Actor, record
from conftest import PERSONAS

URL = reverse("audit-list")
STATUS = {"admin": 200, "finance": 403, "engineer": 403, "outsider": 403}


def actions(response):
    return [event.action for event, _ in response.context["rows"]]


@pytest.mark.parametrize("persona", PERSONAS)
def test_audit_list_by_persona(client_as, persona, log):
    response = client_as(persona).get(URL)

    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
        return
    assert response.status_code == STATUS[persona]
    if persona == "admin":
        assert "mallory" in response.content.decode()
    else:
        assert "mallory" not in response.content.decode()


def test_events_are_listed_newest_first_with_who_and_where(client_as, log):
    response = client_as("admin").get(URL)

    # Signing the admin in for the test is itself an audited event.
    assert actions(response) == [
        "auth.login",
        "auth.login_failed",
        "user.password_changed",
        "team.updated",
        "team.created",
    ]
    html = response.content.decode()
    row = _row(html, AuditEvent.objects.get(action="auth.login_failed"))
    assert '<span class="muted">system</span>' in row
    assert "2026-03-03 00:00:00" in row
    row = _row(html, AuditEvent.objects.get(action="user.password_changed"))
    assert "fay" in row and "2001:db8::7" in row and "user</span> fay" in row


def test_details_are_shown_compactly(client_as, log):
    html = client_as("admin").get(URL).content.decode()

    row = _row(html, AuditEvent.objects.get(action="team.updated"))
    assert '<span class="muted">name</span> Payments → Pay' in row
    row = _row(html, AuditEvent.objects.get(action="auth.login_failed"))
    assert '<span class="muted">username</span> mallory' in row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "FAY"}, ["user.password_changed"]),
        ({"actor": "system"}, ["auth.login_failed"]),
        ({"action": "team."}, ["team.updated", "team.created"]),
        ({"target_type": "user"}, ["auth.login", "user.password_changed"]),
        (
            {"date_from": "2026-03-02", "date_to": "2026-03-02"},
            ["user.password_changed", "team.updated"],
        ),
        ({"date_to": "2026-03-01"}, ["team.created"]),
        ({"ip": "2001:DB8::7"}, ["user.password_changed"]),
        ({"actor": "ada", "action": "team.c"}, ["team.created"]),
    ],
)
def test_filters(client_as, log, query, expected):
    response = client_as("admin").get(URL, query)

    assert response.status_code == 200
    assert actions(response) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"ip": "10.0.0"}, "Enter a valid IPv4 or IPv6 address."),
        ({"date_from": "2026-03-03", "date_to": "2026-03-01"}, "“To” is before “From”"),
        ({"target_type": "spaceship"}, "Select a valid choice."),
    ],
)
def test_an_invalid_filter_is_explained_and_lists_nothing(
    client_as, log, query, message
):
    response = client_as("admin").get(URL, query)

    assert response.status_code == 200
    assert actions(response) == []
    html = response.content.decode()
    assert message in html
    assert "Correct the filters above to see events." in html


def test_htmx_filter_returns_only_the_panel(client_as, log):
    response = client_as("admin").get(
        URL, {"action": "team."}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="audit-panel">')
    assert "<html" not in html
    assert "Payments → Pay" in html and "mallory" not in html
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(client_as, log):
    response = client_as("admin").get(
        URL, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )

    assert "<html" in response.content.decode()


def test_page_has_a_filter_form_that_works_without_htmx_and_no_inline_code(
    client_as, log
):
    html = client_as("admin").get(URL, {"actor": "ada"}).content.decode()

    assert f'<form class="toolbar" method="get" action="{URL}"' in html
    assert 'hx-target="#audit-panel"' in html and 'hx-push-url="true"' in html
    assert 'name="actor" value="ada"' in html
    # The CSP allows neither inline scripts nor style attributes.
    assert " style=" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None


def test_pages_hold_fifty_events_and_keep_the_filters(client_as):
    for number in range(60):
        record(SYSTEM, "usage.synced", run=number)

    client = client_as("admin")
    first = client.get(URL, {"action": "usage."})
    second = client.get(URL, {"action": "usage.", "page": 2})

    assert len(actions(first)) == 50
    assert len(actions(second)) == 10
    assert "action=usage.&amp;page=2" in first.content.decode()
    assert "Page 2 of 2 · 60 in all" in second.content.decode()


def test_query_count_does_not_grow_with_the_rows(
    client_as, admin, team, django_assert_num_queries
):
    for number in range(30):
        record(Actor(user=admin, ip="10.0.0.1"), "team.updated", team, run=number)
    client = client_as("admin")

    # Session, user, count, one page of events.
    with django_assert_num_queries(4):
        response = client.get(URL, {"actor": "ada"})

    assert len(actions(response)) == 31


def _row(html, event):
    match = re.search(rf'<tr id="event-{event.pk}">(.*?)</tr>', html, re.S)
    assert match, f"no row for event {event.pk}"
    return match.group(1)
