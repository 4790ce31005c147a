"""Vault test data. Secrets are generated at run time and never written in source."""

import secrets
import string

from apps.audit.services import Actor
from apps.projects.tests.factories import EnvironmentFactory
from apps.vault import services
from apps.vault.models import Vendor

ALNUM = string.ascii_letters + string.digits
LOWER = string.ascii_lowercase + string.digits


def _random(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def make_secret(vendor: str = Vendor.OPENAI) -> str:
    """A fresh secret in the vendor's key format."""
    if vendor == Vendor.OPENAI:
        return f"sk-proj-{_random(74)}T3BlbkFJ{_random(74)}"
    if vendor == Vendor.ANTHROPIC:
        return f"sk-ant-api03-{_random(93)}AA"
    if vendor == Vendor.GOOGLE:
        return f"AIza{_random(35)}"
    if vendor == Vendor.DEEPSEEK:
        return f"sk-{_random(32, LOWER)}"
    if vendor == Vendor.ZHIPU:
        return f"{_random(32, LOWER)}.{_random(16)}"
    return f"sk-{_random(48)}"


def make_key(admin, *, environment=None, owner=None, vendor=Vendor.OPENAI, **fields):
    """Register a key through the service, as ``admin``; return (key, secret)."""
    environment = environment or EnvironmentFactory()
    secret = make_secret(vendor)
    key = services.register_key(
        Actor(admin),
        secret=secret,
        name=fields.pop("name", f"key {secret[-6:]}"),
        vendor=vendor,
        project=environment.project,
        environment=environment,
        owner=owner or admin,
        **fields,
    )
    return key, secret
