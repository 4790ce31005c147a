"""Re-wrap every data key under the active master key, in resumable batches.

Put the new master key first in KEYHOLD_MASTER_KEYS, keep the old ones after it, run
this command, and remove the old keys once it reports no failures.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F, OuterRef, Subquery

from apps.audit.services import SYSTEM, record
from apps.vault import crypto
from apps.vault.models import KeyVersion, Secret, VendorKey

logger = logging.getLogger(__name__)


@dataclass
class Rotation:
    active_id: str
    already_active: int
    rewrapped: int = 0
    batches: int = 0
    # secret id -> the id of the master key that did not open it
    failed: dict = field(default_factory=dict)


class Command(BaseCommand):
    help = "Re-wrap every data key under the active master key, in batches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Secrets per transaction (default 500).",
        )

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        active_id = crypto.active_master_key()[0]
        already = Secret.objects.filter(master_key_id=active_id).count()
        rotation = Rotation(active_id=active_id, already_active=already)

        last_id = None
        while (last_id := rewrap_batch(rotation, last_id, batch_size)) is not None:
            pass
        left = Secret.objects.exclude(master_key_id=active_id).count()
        left -= len(rotation.failed)

        with transaction.atomic():
            record(
                SYSTEM,
                "vault.master_key_rotated",
                active_master_key=active_id,
                rewrapped=rotation.rewrapped,
                batches=rotation.batches,
                already_active=rotation.already_active,
                failed=len(rotation.failed),
            )
        self.stdout.write(
            f"re-wrapped {rotation.rewrapped} secrets in {rotation.batches} batches; "
            f"{rotation.already_active} already under the active key"
        )
        if left:
            self.stdout.write(
                f"{left} secrets were locked by another run and are still under an "
                "old key: run the command again"
            )
        if rotation.failed:
            raise CommandError(describe_failures(rotation.failed))


def rewrap_batch(rotation: Rotation, after, size: int):
    """Re-wrap the next ``size`` secrets after id ``after``; return the last id seen.

    Returns None when no secret is left. Rows another process holds locked are
    skipped and left for the next run, which finds them still under an old key.
    """
    with transaction.atomic():
        pending = Secret.objects.exclude(master_key_id=rotation.active_id)
        if after is not None:
            pending = pending.filter(pk__gt=after)
        batch = list(pending.order_by("pk").select_for_update(skip_locked=True)[:size])
        if not batch:
            return None
        fingerprints = {}
        for secret in batch:
            try:
                fingerprints[secret.pk] = rewrap_secret(secret)
            except crypto.SecretUnavailable:
                rotation.failed[secret.pk] = secret.master_key_id
        update_key_fingerprints(fingerprints)
    if fingerprints:
        rotation.rewrapped += len(fingerprints)
        rotation.batches += 1
        logger.info(
            "re-wrapped %d secrets under master key %s (batch %d)",
            len(fingerprints),
            rotation.active_id,
            rotation.batches,
        )
    return batch[-1].pk


def rewrap_secret(secret: Secret) -> str:
    """Wrap one secret's data key under the active key; return its new fingerprint.

    The fingerprint's HMAC key derives from the master key, so it is recomputed
    from the plaintext, which stays in this function's memory.
    """
    new_fingerprint = crypto.fingerprint(secret.reveal())
    secret.master_key_id, secret.wrapped_data_key = crypto.rewrap(
        secret.pk, secret.master_key_id, secret.wrapped_data_key
    )
    secret.fingerprint = new_fingerprint
    secret.save(update_fields=["master_key_id", "wrapped_data_key", "fingerprint"])
    return new_fingerprint


def update_key_fingerprints(fingerprints: dict) -> None:
    """Copy new fingerprints onto the keys whose current version holds those secrets."""
    newest = KeyVersion.objects.filter(key=OuterRef("key")).order_by("-number")
    current = (
        KeyVersion.objects.filter(secret__in=fingerprints)
        .annotate(newest_secret=Subquery(newest.values("secret")[:1]))
        .filter(secret=F("newest_secret"))
        .values_list("key_id", "secret_id")
    )
    for key_id, secret_id in current:
        VendorKey.objects.filter(pk=key_id).update(fingerprint=fingerprints[secret_id])


def describe_failures(failed: dict) -> str:
    """One line naming every secret left under an old key, grouped by that key."""
    by_key = defaultdict(list)
    for secret_id, key_id in failed.items():
        by_key[key_id].append(str(secret_id))
    reasons = []
    for key_id, secret_ids in by_key.items():
        if crypto.master_key_by_id(key_id) is None:
            problem = "is not in KEYHOLD_MASTER_KEYS: add it after the active one"
        else:
            problem = "does not open them: the rows were altered, restore them"
        reasons.append(f"master key {key_id} {problem} ({', '.join(secret_ids)})")
    return (
        f"{len(failed)} secrets could not be re-wrapped and are unchanged; "
        f"{'; '.join(reasons)}; then run the command again"
    )
