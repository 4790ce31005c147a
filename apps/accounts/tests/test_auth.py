import pytest
from django.conf import settings
from django.urls import reverse

from apps.accounts.tests.factories import PASSWORD
from apps.audit.models import AuditEvent

WRONG = "not the right passphrase at all"
NEW_PASSWORD = "correct horse battery staple, again"


def sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_page_opens_for_anyone(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert b"Sign in to Keyhold" in response.content


def test_sign_in_goes_home_and_is_audited(client, engineer):
    response = sign_in(client, "eli", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == engineer
    assert event.ip == "127.0.0.1"


def test_sign_in_returns_to_the_page_asked_for(client, engineer):
    response = client.post(
        reverse("login"),
        {"username": "eli", "password": PASSWORD, "next": "/teams/"},
    )

    assert response["Location"] == "/teams/"


def test_wrong_password_shows_a_clear_message_and_is_audited(client, engineer):
    response = sign_in(client, "eli", WRONG)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Please enter a correct username and password." in html
    assert 'value="eli"' in html  # the username stays typed
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.details == {"username": "eli"}
    assert event.actor is None


def test_failed_sign_in_never_records_the_password(client, engineer):
    sign_in(client, "eli", WRONG)

    for event in AuditEvent.objects.all():
        assert WRONG not in str(event.details)
        assert WRONG not in event.target_repr


def test_unknown_username_is_refused_like_a_wrong_password(client, db):
    response = sign_in(client, "nobody", WRONG)

    assert b"Please enter a correct username and password." in response.content
    assert AuditEvent.objects.get(action="auth.login_failed").details == {
        "username": "nobody"
    }


def test_sign_out_is_a_post_and_is_audited(client_as, engineer):
    client = client_as("engineer")

    response = client.post(reverse("logout"))

    assert response["Location"] == reverse("login")
    assert AuditEvent.objects.get(action="auth.logout").actor == engineer
    assert client.get(reverse("team-list")).status_code == 302


def test_sign_out_refuses_get(client_as):
    assert client_as("engineer").get(reverse("logout")).status_code == 405


def test_repeated_failures_lock_the_account_out(client, engineer):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5

    responses = [sign_in(client, "eli", WRONG) for _ in range(limit)]

    assert [r.status_code for r in responses[:-1]] == [200] * (limit - 1)
    assert responses[-1].status_code == 429
    assert b"Too many failed sign-ins" in responses[-1].content
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()


def test_locked_out_account_is_refused_even_with_the_right_password(client, engineer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "eli", WRONG)

    response = sign_in(client, "eli", PASSWORD)

    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_lockout_of_one_account_leaves_others_signing_in(client, engineer, outsider):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "eli", WRONG)

    assert sign_in(client, "oz", PASSWORD).status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, engineer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "eli", WRONG)
    sign_in(client, "eli", PASSWORD)
    client.post(reverse("logout"))

    assert sign_in(client, "eli", WRONG).status_code == 200


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 200),
        ("finance", 200),
        ("engineer", 200),
        ("outsider", 200),
        ("anonymous", 302),
    ],
)
def test_every_signed_in_persona_can_open_the_password_page(client_as, persona, status):
    response = client_as(persona).get(reverse("password-change"))

    assert response.status_code == status


def test_password_change_works_and_is_audited(client_as, engineer, client):
    data = {
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }

    response = client_as("engineer").post(reverse("password-change"), data, follow=True)

    assert response.redirect_chain == [(reverse("home"), 302)]
    assert b"Your password was changed." in response.content
    engineer.refresh_from_db()
    assert engineer.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(action="user.password_changed")
    assert event.actor == engineer
    assert NEW_PASSWORD not in str(event.details)


def test_password_change_keeps_the_session(client_as):
    client = client_as("engineer")
    data = {
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }

    client.post(reverse("password-change"), data)

    assert client.get(reverse("team-list")).status_code == 200


def test_password_change_needs_the_old_password(client_as, engineer):
    data = {
        "old_password": WRONG,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }

    response = client_as("engineer").post(reverse("password-change"), data)

    assert response.status_code == 200
    assert b"Your old password was entered incorrectly." in response.content
    engineer.refresh_from_db()
    assert engineer.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="user.password_changed").exists()


def test_new_password_must_pass_the_validators(client_as, engineer):
    data = {
        "old_password": PASSWORD,
        "new_password1": "password123",
        "new_password2": "password123",
    }

    response = client_as("engineer").post(reverse("password-change"), data)

    assert b"This password is too common." in response.content
    engineer.refresh_from_db()
    assert engineer.check_password(PASSWORD)
