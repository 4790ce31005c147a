"""The vault's rules: who sees which key, registering, and finding a key by secret."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record
from apps.vault import crypto, keyformats
from apps.vault.models import KeyVersion, Secret, VendorKey


def visible_keys(user):
    """Keys a user may list: all for admins and finance, their teams' otherwise."""
    keys = VendorKey.objects.select_related("project__team", "environment", "owner")
    if not user.sees_everything:
        keys = keys.filter(project__team__memberships__user=user)
    return keys


def find_version_by_secret(plaintext: str) -> KeyVersion | None:
    """The key version holding this secret, found by fingerprint without decrypting."""
    return (
        KeyVersion.objects.select_related("key")
        .filter(secret__fingerprint__in=crypto.candidate_fingerprints(plaintext))
        .first()
    )


def check_new_secret(vendor: str, secret: str) -> None:
    """Refuse a malformed secret, or one the vault already holds (with a link to it)."""
    keyformats.validate_secret(vendor, secret)
    existing = find_version_by_secret(secret)
    if existing is not None:
        raise ValidationError(
            format_html(
                'This secret is already in the vault as <a href="{}">{}</a> '
                "(version {}).",
                reverse("key-detail", args=[existing.key_id]),
                existing.key.name,
                existing.number,
            ),
            code="duplicate_secret",
        )


def register_key(
    actor: Actor,
    *,
    secret: str,
    name: str,
    vendor: str,
    project,
    environment,
    owner,
    vendor_key_id: str = "",
    allowed_models=(),
    monthly_cap_usd=None,
    expires_at=None,
) -> VendorKey:
    """Seal ``secret`` and record a new key with its first version."""
    require_admin(actor.user)
    check_scope(project, environment)
    check_new_secret(vendor, secret)
    with transaction.atomic():
        sealed = Secret.seal(secret)
        key = VendorKey.objects.create(
            name=name,
            vendor=vendor,
            vendor_key_id=vendor_key_id,
            project=project,
            environment=environment,
            owner=owner,
            allowed_models=list(allowed_models),
            monthly_cap_usd=monthly_cap_usd,
            expires_at=expires_at,
            hint=keyformats.hint(secret),
            fingerprint=sealed.fingerprint,
            created_by=actor.user,
        )
        KeyVersion.objects.create(
            key=key,
            number=1,
            secret=sealed,
            vendor_key_id=vendor_key_id,
            hint=key.hint,
            created_by=actor.user,
        )
        record(
            actor,
            "key.registered",
            key,
            vendor=vendor,
            hint=key.hint,
            project=project.slug,
            environment=environment.name,
            owner=owner.username,
        )
    return key


def check_scope(project, environment) -> None:
    if environment.project_id != project.pk:
        raise ValidationError(
            f"Environment {environment.name} belongs to {environment.project.name}, "
            f"not to {project.name}: choose one of {project.name}'s environments."
        )
    if project.is_archived or environment.is_archived:
        raise ValidationError(
            "Keys cannot be scoped to an archived project or environment."
        )


def require_visible(user, key: VendorKey) -> None:
    if not visible_keys(user).filter(pk=key.pk).exists():
        raise PermissionDenied("This key belongs to a team you are not part of.")
