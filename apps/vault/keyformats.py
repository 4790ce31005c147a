"""What each vendor's keys look like: validation on entry, hints, leak scanning.

The patterns follow the public secret-scanning rules (gitleaks and trufflehog) for
the vendors they cover. Where no public rule exists (Moonshot, Qwen, Zhipu,
gateways), validation only checks a plausible shape and leak scanning does not look
for that vendor's keys, since a loose pattern would flag random text.
"""

import re
import secrets
import string
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from apps.vault.models import Vendor

# The end of a key as the scanners define it: a quote, space, semicolon, escaped
# newline or the end of the text.
_END = r"(?=[`'\"\s;]|\\[nr]|$)"

OPENAI = (
    r"sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
    r"(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})"
    r"|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}"
)
ANTHROPIC = r"sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA"
# Spelled out, not [\w-]: Python's \w also matches non-ASCII letters, RE2's does not.
GOOGLE = r"AIza[A-Za-z0-9_-]{35}"
DEEPSEEK = r"sk-[a-z0-9]{32}"

# What a vendor accepts when a key is registered, anchored to the whole secret.
ENTRY_FORMATS = {
    Vendor.OPENAI: (OPENAI, "sk-proj-…, sk-svcacct-… or sk-admin-… with T3BlbkFJ"),
    Vendor.ANTHROPIC: (ANTHROPIC, "sk-ant-api03-… or sk-ant-admin01-…, 108 characters"),
    Vendor.GOOGLE: (GOOGLE, "AIza followed by 35 letters, digits, - or _"),
    Vendor.DEEPSEEK: (DEEPSEEK, "sk- followed by 32 lowercase letters or digits"),
    Vendor.MOONSHOT: (r"sk-[A-Za-z0-9]{20,}", "sk- followed by letters and digits"),
    Vendor.QWEN: (r"sk-(?:sp-)?[A-Za-z0-9]{20,}", "sk- or sk-sp- and letters/digits"),
    Vendor.ZHIPU: (r"[A-Za-z0-9]{16,}\.[A-Za-z0-9]{8,}", "an id, a dot and a secret"),
    Vendor.OPENAI_COMPATIBLE: (r"[\x21-\x7e]{16,}", "16 or more printable characters"),
}

# Prefixes a hint keeps, longest first.
PREFIXES = [
    "sk-ant-admin01-",
    "sk-ant-api03-",
    "sk-svcacct-",
    "sk-admin-",
    "sk-proj-",
    "sk-or-v1-",
    "sk-sp-",
    "AIza",
    "sk-",
]


@dataclass(frozen=True)
class Leak:
    """A key-shaped string found in pasted text (the value stays in memory only)."""

    vendor: str
    value: str
    start: int
    end: int


# Scanner patterns: (vendor, compiled pattern). DeepSeek keys look like many other
# `sk-` strings, so they count only with the word "deepseek" shortly before them.
# ASCII: the rules come from Go's RE2, where \b and \s know only ASCII.
SCAN_PATTERNS = [
    (Vendor.OPENAI, re.compile(rf"\b({OPENAI}){_END}", re.ASCII)),
    (Vendor.ANTHROPIC, re.compile(rf"\b({ANTHROPIC}){_END}", re.ASCII)),
    (Vendor.GOOGLE, re.compile(rf"\b({GOOGLE}){_END}", re.ASCII)),
    (
        Vendor.DEEPSEEK,
        re.compile(rf"(?i:deepseek)[\s\S]{{0,40}}?\b({DEEPSEEK})\b", re.ASCII),
    ),
]


def validate_secret(vendor: str, secret: str) -> None:
    """Refuse a secret that cannot be a ``vendor`` key, saying what one looks like."""
    pattern, description = ENTRY_FORMATS[vendor]
    if not re.fullmatch(pattern, secret):
        label = Vendor(vendor).label
        raise ValidationError(
            f"This is not in the format of {label} keys: expected {description}. "
            "Check that you pasted the whole key, without spaces or quotes.",
            code="key_format",
        )


def hint(secret: str) -> str:
    """The vendor prefix and the last four characters, e.g. ``sk-proj-…abcd``."""
    prefix = next((p for p in PREFIXES if secret.startswith(p)), secret[:3])
    return f"{prefix}…{secret[-4:]}"


def find_leaks(text: str) -> list[Leak]:
    """Every key-shaped string in ``text``, once each, in order of appearance."""
    found = {}
    for vendor, pattern in SCAN_PATTERNS:
        for match in pattern.finditer(text):
            value = match.group(1)
            found.setdefault(value, Leak(vendor, value, match.start(1), match.end(1)))
    return sorted(found.values(), key=lambda leak: leak.start)


ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits


def sample_secret(vendor: str) -> str:
    """A random string in ``vendor``'s key format, for demos and tests.

    It passes ``validate_secret`` and opens nothing at the vendor.
    """
    if vendor == Vendor.OPENAI:
        return f"sk-proj-{_random(74)}T3BlbkFJ{_random(74)}"
    if vendor == Vendor.ANTHROPIC:
        return f"sk-ant-api03-{_random(93)}AA"
    if vendor == Vendor.GOOGLE:
        return f"AIza{_random(35)}"
    if vendor == Vendor.DEEPSEEK:
        return f"sk-{_random(32, LOWER_ALNUM)}"
    if vendor == Vendor.ZHIPU:
        return f"{_random(32, LOWER_ALNUM)}.{_random(16)}"
    return f"sk-{_random(48)}"


def _random(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))
