"""Key formats: what the leak scanner finds, what registration accepts, hints.

Every key here is generated at run time; none is written in the source.
"""

import secrets

import pytest
from django.core.exceptions import ValidationError

from apps.vault import keyformats
from apps.vault.models import Vendor
from apps.vault.tests.factories import ALNUM, LOWER, make_secret

URLSAFE = ALNUM + "_-"
MARKER = "T3BlbkFJ"  # base64 of "OpenAI", inside every OpenAI key


def chars(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def openai_key(kind: str = "proj", length: int = 74) -> str:
    return f"sk-{kind}-{chars(length, URLSAFE)}{MARKER}{chars(length, URLSAFE)}"


def found(text: str) -> list[tuple[str, str]]:
    return [(leak.vendor, leak.value) for leak in keyformats.find_leaks(text)]


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(openai_key("proj"), id="openai-project"),
        pytest.param(openai_key("svcacct"), id="openai-service-account"),
        pytest.param(openai_key("admin", 58), id="openai-admin"),
        pytest.param(f"sk-{chars(20)}{MARKER}{chars(20)}", id="openai-legacy"),
    ],
)
def test_every_documented_openai_format_is_found(secret):
    assert found(f'OPENAI_API_KEY="{secret}"') == [(Vendor.OPENAI, secret)]


@pytest.mark.parametrize("kind", ["api03", "admin01"])
def test_anthropic_api_and_admin_keys_are_found(kind):
    secret = f"sk-ant-{kind}-{chars(93, URLSAFE)}AA"

    assert found(f"x-api-key: {secret}\n") == [(Vendor.ANTHROPIC, secret)]


def test_google_key_is_found():
    secret = make_secret(Vendor.GOOGLE)

    assert found(f"?key={secret}'") == [(Vendor.GOOGLE, secret)]


def test_deepseek_key_is_found_with_the_word_deepseek_nearby():
    secret = make_secret(Vendor.DEEPSEEK)

    assert found(f"DEEPSEEK_API_KEY={secret}") == [(Vendor.DEEPSEEK, secret)]
    assert found(f"provider: DeepSeek\ntoken: {secret}") == [(Vendor.DEEPSEEK, secret)]


def test_deepseek_shaped_key_without_the_word_is_not_found():
    secret = make_secret(Vendor.DEEPSEEK)

    assert found(f"API_KEY={secret}") == []
    assert found(f"deepseek {'.' * 60} {secret}") == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(openai_key()[:-1], id="openai-one-character-short"),
        pytest.param(openai_key().replace(MARKER, "T3BlbkFK"), id="openai-no-marker"),
        pytest.param(f"{openai_key()},", id="openai-followed-by-comma"),
        pytest.param(f"x{openai_key()}", id="openai-glued-to-a-word"),
        pytest.param(f"sk-ant-api03-{chars(93, URLSAFE)}AB", id="anthropic-bad-end"),
        pytest.param(f"sk-ant-api04-{chars(93, URLSAFE)}AA", id="anthropic-api04"),
        pytest.param(f"AIza{chars(34)}", id="google-too-short"),
        pytest.param(f"AIza{'é' * 35}", id="google-non-ascii"),
        pytest.param(f"deepseek sk-{chars(32, LOWER)}X", id="deepseek-uppercase"),
        pytest.param(f"deepseek sk-{chars(33, LOWER)}", id="deepseek-too-long"),
    ],
)
def test_near_misses_are_not_found(text):
    assert found(f"{text} ") == []


def test_a_key_is_reported_once_at_its_first_appearance_in_order():
    google, anthropic = make_secret(Vendor.GOOGLE), make_secret(Vendor.ANTHROPIC)
    text = f"a {anthropic}\nb {google}\nc {anthropic}\nd {google}\n"

    leaks = keyformats.find_leaks(text)

    assert [leak.value for leak in leaks] == [anthropic, google]
    assert leaks[0].start == text.index(anthropic)
    assert text[leaks[1].start : leaks[1].end] == google


@pytest.mark.parametrize("vendor", [v for v in Vendor if v != Vendor.OPENAI_COMPATIBLE])
def test_generated_secrets_pass_their_vendors_entry_format(vendor):
    keyformats.validate_secret(vendor, make_secret(vendor))


def test_entry_format_refusal_says_what_a_key_looks_like():
    with pytest.raises(ValidationError) as refused:
        keyformats.validate_secret(Vendor.GOOGLE, f"AIza{chars(30)}")

    assert "AIza followed by 35 letters" in refused.value.messages[0]
    assert refused.value.code == "key_format"


def test_entry_format_refuses_non_ascii_google_key():
    with pytest.raises(ValidationError):
        keyformats.validate_secret(Vendor.GOOGLE, f"AIza{'ü' * 35}")


@pytest.mark.parametrize(
    ("vendor", "prefix"),
    [
        (Vendor.OPENAI, "sk-proj-"),
        (Vendor.ANTHROPIC, "sk-ant-api03-"),
        (Vendor.GOOGLE, "AIza"),
        (Vendor.DEEPSEEK, "sk-"),
    ],
)
def test_hint_keeps_the_prefix_and_last_four_characters(vendor, prefix):
    secret = make_secret(vendor)

    assert keyformats.hint(secret) == f"{prefix}…{secret[-4:]}"
