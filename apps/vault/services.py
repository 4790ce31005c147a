"""The vault's rules: who sees which key, and every change to a key's life."""

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.accounts.services import require_admin
from apps.audit.models import AuditEvent
from apps.audit.services import SYSTEM, Actor, record, save_changes
from apps.connectors.rows import CreatedKey
from apps.connectors.services import open_connector
from apps.connectors.vendors import CONNECTORS, ConnectorError
from apps.projects.models import Project
from apps.usage import rollups
from apps.usage.models import InventoryKey
from apps.vault import crypto, keyformats
from apps.vault.models import KeyStatus, KeyVersion, Secret, Vendor, VendorKey

logger = logging.getLogger(__name__)


def visible_keys(user):
    """Keys a user may list: all for admins and finance, their teams' otherwise."""
    keys = VendorKey.objects.select_related(
        "project__team", "environment", "owner", "connection"
    )
    if not user.sees_everything:
        # A list of project ids rather than a join through the memberships: the
        # planner then reads only those projects' keys, whatever the vault's size.
        projects = Project.objects.filter(team__memberships__user=user)
        keys = keys.filter(project__in=projects.values("pk"))
    return keys


def page_of_keys(keys, start: int, stop: int) -> list[VendorKey]:
    """``keys[start:stop]``, reading the ids first and then only those rows.

    The ids come from an index; sorting whole rows instead would read every key of
    the selection from disk before it could skip to the page.
    """
    ids = list(keys.values_list("pk", flat=True)[start:stop])
    loaded = {key.pk: key for key in keys.filter(pk__in=ids)}
    return [loaded[pk] for pk in ids]


def find_version_by_secret(plaintext: str) -> KeyVersion | None:
    """The key version holding this secret, found by fingerprint without decrypting."""
    return find_versions_by_secrets([plaintext]).get(plaintext)


def find_versions_by_secrets(plaintexts) -> dict:
    """Map each plaintext the vault holds to its key version, in one query.

    Each version comes with its key and ``newest``, the key's highest version number.
    """
    candidates = {
        candidate: plaintext
        for plaintext in plaintexts
        for candidate in crypto.candidate_fingerprints(plaintext)
    }
    versions = (
        KeyVersion.objects.select_related("key", "secret")
        .filter(secret__fingerprint__in=candidates)
        .annotate(newest=Max("key__versions__number"))
    )
    return {candidates[version.secret.fingerprint]: version for version in versions}


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
    connection=None,
) -> VendorKey:
    """Seal ``secret`` and record a new key with its first version."""
    require_admin(actor.user)
    check_scope(project, environment)
    check_connection(vendor, connection)
    check_new_secret(vendor, secret)
    with transaction.atomic():
        sealed = Secret.seal(secret)
        key = VendorKey.objects.create(
            name=name,
            vendor=vendor,
            vendor_key_id=vendor_key_id,
            connection=connection,
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
            **({"connection": connection.name} if connection else {}),
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


def check_connection(vendor: str, connection) -> None:
    """Refuse to link a key to another vendor's connection."""
    if connection is not None and connection.vendor != vendor:
        label = Vendor(vendor).label
        raise ValidationError(
            {
                "connection": f"{connection.name} is a connection to "
                f"{connection.get_vendor_display()}, not to {label}: choose one "
                f"of the {label} connections, or none."
            }
        )


def require_visible(user, key: VendorKey) -> None:
    if not visible_keys(user).filter(pk=key.pk).exists():
        raise PermissionDenied("This key belongs to a team you are not part of.")


# What an admin may change on a key; the secret changes only by rotation.
EDIT_FIELDS = (
    "name",
    "vendor_key_id",
    "connection",
    "project",
    "environment",
    "owner",
    "allowed_models",
    "monthly_cap_usd",
    "expires_at",
)
ELEVATION = timedelta(minutes=5)
REVEAL_COOLOFF = timedelta(minutes=15)
MAX_OVERLAP_HOURS = 30 * 24


def update_key(actor: Actor, key: VendorKey, **fields) -> VendorKey:
    """Change a key's scope, owner or limits; every changed field is audited."""
    require_admin(actor.user)
    unknown = set(fields) - set(EDIT_FIELDS)
    if unknown:
        raise ValidationError(
            f"These fields cannot be edited: {', '.join(sorted(unknown))}. "
            "Rotate the key to change its secret."
        )
    check_scope(
        fields.get("project", key.project), fields.get("environment", key.environment)
    )
    if "connection" in fields:
        check_connection(key.vendor, fields["connection"])
    if "allowed_models" in fields:
        fields["allowed_models"] = list(fields["allowed_models"])
    environment_before = key.environment_id
    with transaction.atomic():
        key = save_changes(actor, key, "key.updated", fields)
        if key.environment_id != environment_before:
            # Spend kept per environment follows the key's whole history there.
            rollups.refresh_key_summaries([key.pk])
    return key


def elevate(actor: Actor, key: VendorKey, password: str) -> datetime:
    """Re-authenticate an admin before a reveal; return when the elevation ends.

    A wrong password is recorded against the key and refused.
    """
    require_admin(actor.user)
    now = timezone.now()
    denied = AuditEvent.objects.filter(
        action="key.reveal_denied", actor=actor.user, at__gte=now - REVEAL_COOLOFF
    )
    if denied.count() >= settings.AXES_FAILURE_LIMIT:
        # The sign-in lockout does not see these checks; without a limit of its own
        # a stolen session could guess the password here.
        with transaction.atomic():
            record(actor, "key.reveal_locked", key)
        minutes = int(REVEAL_COOLOFF.total_seconds() // 60)
        raise PermissionDenied(
            f"Too many wrong passwords: reveals are locked for {minutes} minutes."
        )
    if not password or not actor.user.check_password(password):
        with transaction.atomic():
            record(actor, "key.reveal_denied", key, reason="wrong password")
        raise PermissionDenied("That password is not correct.")
    return now + ELEVATION


def reveal_key(actor: Actor, key: VendorKey, *, elevated_until) -> str:
    """The current secret of ``key``, for an admin who re-authenticated recently."""
    require_admin(actor.user)
    if elevated_until is None or elevated_until <= timezone.now():
        raise PermissionDenied("Confirm your password before revealing a key.")
    version = key.versions.select_related("secret").order_by("-number").first()
    with transaction.atomic():
        record(actor, "key.revealed", key, version=version.number, hint=version.hint)
        return version.secret.reveal()


def rotate_key(
    actor: Actor,
    key: VendorKey,
    *,
    secret: str,
    vendor_key_id: str = "",
    overlap_hours: int = 0,
) -> KeyVersion:
    """Register the replacement secret as a new version; the old one lasts the overlap.

    Every attempt is audited: a refused one as ``key.rotation_failed`` with the reason.
    """
    return _rotate(actor, key, secret, vendor_key_id, overlap_hours, at_vendor=False)


def rotate_key_at_vendor(
    actor: Actor, key: VendorKey, *, vendor_project_id: str = "", overlap_hours: int = 0
) -> tuple[KeyVersion, str]:
    """Have the vendor create the replacement, then rotate to it as ``rotate_key`` does.

    1. A rotation Keyhold would refuse is refused before the vendor is called.
    2. The vendor creates the key in ``vendor_project_id``, or else in the current
       key's project as the connection's inventory knows it, outside any transaction.
    3. Storing it follows; if that fails, the new key's vendor id is reported.

    Return the new version and its secret, which the caller shows once.
    """
    require_admin(actor.user)
    stored = VendorKey.objects.select_related("connection").get(pk=key.pk)
    try:
        _check_rotation(stored, overlap_hours)
        blocker = rotation_create_blocker(stored)
        if blocker:
            raise ValidationError(blocker, code="vendor_unavailable")
        project = vendor_project_id.strip() or known_vendor_project(stored)
        if not project:
            raise ValidationError(
                "Keyhold does not know the current key's project at "
                f"{stored.get_vendor_display()}: sync the connection first, or give "
                "the vendor project to create the new key in."
            )
        name = f"{stored.name} (rotated {timezone.now():%Y-%m-%d})"
        created = create_at_vendor(stored.connection, project, name)
    except ValidationError as exc:
        with transaction.atomic():
            record(actor, "key.rotation_failed", key, reason=_failure_reason(exc))
        raise
    with storing_created_key(actor, stored.connection, created):
        version = _rotate(
            actor,
            key,
            created.secret,
            created.vendor_key_id,
            overlap_hours,
            at_vendor=True,
        )
    return version, created.secret


def _rotate(actor, key, secret, vendor_key_id, overlap_hours, *, at_vendor):
    require_admin(actor.user)
    now = timezone.now()
    try:
        with transaction.atomic():
            # The lock comes before the checks: a revocation committed meanwhile is
            # seen, and two rotations cannot take the same version number.
            key.status = VendorKey.objects.select_for_update().get(pk=key.pk).status
            _check_rotation(key, overlap_hours)
            check_new_secret(key.vendor, secret)
            return _add_version(
                actor, key, secret, vendor_key_id, overlap_hours, now, at_vendor
            )
    except ValidationError as exc:
        with transaction.atomic():
            record(actor, "key.rotation_failed", key, reason=_failure_reason(exc))
        raise


def _add_version(
    actor, key, secret, vendor_key_id, overlap_hours, now, at_vendor
) -> KeyVersion:
    """Seal ``secret`` as the key's next version and start the old one's overlap."""
    previous = key.versions.order_by("-number").first()
    sealed = Secret.seal(secret)
    version = KeyVersion.objects.create(
        key=key,
        number=previous.number + 1,
        secret=sealed,
        vendor_key_id=vendor_key_id,
        hint=keyformats.hint(secret),
        created_by=actor.user,
    )
    previous.valid_until = now + timedelta(hours=overlap_hours)
    if not overlap_hours:
        previous.retired_at = now
    previous.save(update_fields=["valid_until", "retired_at"])

    key.hint, key.fingerprint = version.hint, sealed.fingerprint
    key.vendor_key_id, key.rotated_at = vendor_key_id, now
    key.save(update_fields=["hint", "fingerprint", "vendor_key_id", "rotated_at"])
    record(
        actor,
        "key.rotated",
        key,
        version=version.number,
        hint=version.hint,
        previous_version=previous.number,
        previous_valid_until=previous.valid_until,
        overlap_hours=overlap_hours,
        created_at_vendor=at_vendor,
    )
    return version


def revoke_key(
    actor: Actor, key: VendorKey, *, reason: str, at_vendor: bool = False
) -> VendorKey:
    """Mark a key revoked in Keyhold, at once; every version stops counting as valid.

    With ``at_vendor`` the vendor revokes it first, outside any transaction; if the
    vendor refuses, nothing changes in Keyhold.
    """
    require_admin(actor.user)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why the key is revoked: the reason is required.")
    if at_vendor:
        stored = VendorKey.objects.select_related("connection").get(pk=key.pk)
        _refuse_revoked(stored)
        _revoke_at_vendor(actor, stored)
    with transaction.atomic():
        # Another admin may have revoked the key while the vendor was called: then
        # the key is revoked at both ends anyway, and the first revocation stands.
        _refuse_revoked(VendorKey.objects.select_for_update().get(pk=key.pk))
        now = timezone.now()
        key.status, key.revoked_at, key.revoke_reason = KeyStatus.REVOKED, now, reason
        key.save(update_fields=["status", "revoked_at", "revoke_reason"])
        key.versions.filter(retired_at=None).update(retired_at=now)
        record(
            actor, "key.revoked", key, hint=key.hint, reason=reason, at_vendor=at_vendor
        )
    return key


def _refuse_revoked(stored: VendorKey) -> None:
    if stored.status == KeyStatus.REVOKED:
        raise ValidationError(
            f"{stored.name} was already revoked on "
            f"{stored.revoked_at:%Y-%m-%d %H:%M} UTC."
        )


def _revoke_at_vendor(actor: Actor, key: VendorKey) -> None:
    blocker = vendor_revoke_blocker(key)
    if blocker:
        raise ValidationError(blocker, code="vendor_unavailable")
    # The connection's key list is also the evidence that its organization holds
    # this key id; OpenAI moreover revokes a key only within its project.
    project = _inventory_project(key.connection, key.vendor_key_id)
    if project is None:
        raise ValidationError(
            f"{key.connection.name} has not listed the key {key.vendor_key_id} yet: "
            "sync the connection first so Keyhold knows this key's project."
        )
    label = key.get_vendor_display()
    try:
        with open_connector(key.connection) as vendor:
            vendor.revoke_key(key.vendor_key_id, project)
    except ConnectorError as failure:
        why = _one_line(failure)
        with transaction.atomic():
            record(actor, "key.vendor_revoke_failed", key, reason=why)
        raise ValidationError(
            f"{label} did not revoke the key: {why}. Nothing changed in Keyhold. "
            f"To revoke the key in Keyhold only, untick “Also revoke at {label}” "
            "(at_vendor false in the API).",
            code="vendor_refused",
        ) from None


def vendor_revoke_blocker(key: VendorKey) -> str:
    """Why Keyhold cannot revoke ``key`` at its vendor; empty when it can."""
    label = key.get_vendor_display()
    if key.connection is None:
        return (
            f"Keyhold cannot revoke this key at {label}: it is linked to no "
            f"connection. Edit the key to link one, or delete the key in {label}'s "
            "console."
        )
    if not key.vendor_key_id:
        return (
            f"Keyhold cannot revoke this key at {label}: its vendor key id is not "
            f"known. Edit the key to add it, or delete the key in {label}'s console."
        )
    connector = CONNECTORS.get(key.vendor)
    if connector is None or not connector.revokes_keys:
        return f"{label}'s API cannot revoke keys: delete the key in {label}'s console."
    return ""


def vendor_create_blocker(vendor: str) -> str:
    """Why Keyhold cannot create keys at ``vendor``; empty when it can."""
    connector = CONNECTORS.get(vendor)
    if connector is None:
        label = Vendor(vendor).label
        return (
            f"Keyhold has no API connector for {label}: create the key in its console."
        )
    if not connector.creates_keys:
        reason = connector.no_create_reason
        return f"{reason[:1].upper()}{reason[1:]}."
    return ""


def rotation_create_blocker(key: VendorKey) -> str:
    """Why Keyhold cannot create the replacement of ``key`` at its vendor, or ""."""
    blocker = vendor_create_blocker(key.vendor)
    if not blocker and key.connection is None:
        label = key.get_vendor_display()
        return (
            f"Keyhold creates keys at {label} only through a connection, and this "
            "key is linked to none: edit the key to link one."
        )
    return blocker


def create_at_vendor(connection, vendor_project_id: str, name: str) -> CreatedKey:
    """Have the connection's vendor create a key; a refusal is a ValidationError.

    Call it outside any transaction: the vendor may be slow, and its key exists
    whatever Keyhold does next (see ``storing_created_key``).
    """
    blocker = vendor_create_blocker(connection.vendor)
    if blocker:
        raise ValidationError(blocker, code="vendor_unavailable")
    label = connection.get_vendor_display()
    try:
        with open_connector(connection) as vendor:
            return vendor.create_key(vendor_project_id, name)
    except ConnectorError as failure:
        raise ValidationError(
            f"{label} did not create a key: {_one_line(failure)}. Nothing changed "
            "in Keyhold.",
            code="vendor_refused",
        ) from None


@contextmanager
def storing_created_key(actor: Actor, connection, created: CreatedKey):
    """Report a key the vendor created if storing it in Keyhold then fails.

    The key works at the vendor but is in no vault: the admin is told its id to
    delete it there, and the log and the audit log keep the id too.
    """
    try:
        yield
    except Exception as exc:
        known = isinstance(exc, ValidationError)
        why = _failure_reason(exc) if known else "an internal error"
        logger.warning(
            "connection %s: key %s created at the vendor in project %s was not "
            "stored: %s",
            connection.pk,
            created.vendor_key_id,
            created.vendor_project_id,
            why,
            exc_info=not known,
        )
        with transaction.atomic():
            record(
                actor,
                "connection.created_key_not_stored",
                connection,
                vendor_key_id=created.vendor_key_id,
                vendor_project_id=created.vendor_project_id,
                reason=why,
            )
        label = connection.get_vendor_display()
        raise ValidationError(
            f"{label} created the key {created.vendor_key_id} (project "
            f"{created.vendor_project_id}) but Keyhold could not store it: {why}. "
            f"Delete that key at {label}: it works there but is in no vault.",
            code="created_key_not_stored",
        ) from exc


def known_vendor_project(key: VendorKey) -> str:
    """The vendor project of ``key`` as its connection last listed it, or ""."""
    if key.connection is None or not key.vendor_key_id:
        return ""
    return _inventory_project(key.connection, key.vendor_key_id) or ""


def known_vendor_projects(vendor: str, connection=None) -> list[tuple[str, str]]:
    """(project id, connection name) of each project the vendor's key lists hold."""
    rows = InventoryKey.objects.filter(connection__vendor=vendor, gone_at=None).exclude(
        vendor_project_id=""
    )
    if connection is not None:
        rows = rows.filter(connection=connection)
    pairs = rows.values_list("vendor_project_id", "connection__name").distinct()
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def _inventory_project(connection, vendor_key_id: str) -> str | None:
    """The key's project in the connection's key list; None if it is not listed."""
    return (
        InventoryKey.objects.filter(connection=connection, vendor_key_id=vendor_key_id)
        .values_list("vendor_project_id", flat=True)
        .first()
    )


def _one_line(failure: ConnectorError) -> str:
    return " ".join(str(failure).split()).rstrip(".")


def retire_overlapped_versions(now=None) -> int:
    """Retire the versions whose overlap has ended; return how many were retired."""
    now = now or timezone.now()
    due = KeyVersion.objects.filter(retired_at=None, valid_until__lte=now)
    retired = 0
    for version in due.select_related("key").order_by("valid_until", "pk"):
        with transaction.atomic():
            # A conditional update claims the version: a concurrent run retires it
            # once, and only the run that claimed it records the event.
            claimed = KeyVersion.objects.filter(pk=version.pk, retired_at=None).update(
                retired_at=now
            )
            if claimed:
                record(
                    SYSTEM,
                    "key.version_retired",
                    version.key,
                    version=version.number,
                    hint=version.hint,
                )
                retired += 1
    return retired


def expire_keys(now=None) -> int:
    """Mark active keys past their expiry as expired; return how many."""
    now = now or timezone.now()
    due = VendorKey.objects.filter(status=KeyStatus.ACTIVE, expires_at__lte=now)
    expired = 0
    for key in due.order_by("expires_at", "pk"):
        with transaction.atomic():
            claimed = VendorKey.objects.filter(
                pk=key.pk, status=KeyStatus.ACTIVE
            ).update(status=KeyStatus.EXPIRED)
            if claimed:
                record(SYSTEM, "key.expired", key, expires_at=key.expires_at)
                expired += 1
    return expired


def key_history(key: VendorKey):
    """The audit events whose target is ``key``, newest first."""
    return AuditEvent.objects.filter(
        target_type=VendorKey._meta.model_name, target_id=str(key.pk)
    ).order_by("-id")


def search_keys(keys, text: str):
    """Keys whose name, hint or vendor key id contains ``text``."""
    return keys.filter(
        Q(name__icontains=text)
        | Q(hint__icontains=text)
        | Q(vendor_key_id__icontains=text)
    )


def _failure_reason(exc: ValidationError) -> str:
    # A duplicate's message names the other key, which this key's readers may not
    # be allowed to see; its history keeps only the fact.
    if getattr(exc, "code", None) == "duplicate_secret":
        return "the secret is already in the vault"
    return " ".join(exc.messages)


def _check_rotation(key: VendorKey, overlap_hours: int) -> None:
    if key.status != KeyStatus.ACTIVE:
        raise ValidationError(
            f"{key.name} is {key.get_status_display().lower()}: only active keys "
            "can be rotated. Register the new secret as a new key instead."
        )
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise ValidationError(
            f"The overlap must be between 0 and {MAX_OVERLAP_HOURS} hours."
        )
