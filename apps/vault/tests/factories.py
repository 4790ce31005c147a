"""Vault test data. Secrets are generated at run time and never written in source."""

from apps.audit.services import Actor
from apps.projects.tests.factories import EnvironmentFactory
from apps.vault import keyformats, services
from apps.vault.models import Vendor

# The alphabets key formats use, for tests that build near-misses by hand.
ALNUM, LOWER = keyformats.ALNUM, keyformats.LOWER_ALNUM


def make_secret(vendor: str = Vendor.OPENAI) -> str:
    """A fresh secret in the vendor's key format."""
    return keyformats.sample_secret(vendor)


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
