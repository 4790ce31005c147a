"""The leak check: which key-shaped strings in a pasted text the vault knows.

The text and the values found in it stay in memory: findings carry only a hint,
and the audit log only counts.
"""

from dataclasses import dataclass

from django.db import transaction

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record
from apps.vault import keyformats, services
from apps.vault.models import KeyVersion, Vendor

# Pasted text or an uploaded file; larger logs are better grepped first.
MAX_TEXT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Finding:
    vendor: str
    hint: str
    line: int
    version: KeyVersion | None = None
    version_current: bool | None = None

    @property
    def vendor_label(self) -> str:
        return Vendor(self.vendor).label

    @property
    def in_vault(self) -> bool:
        return self.version is not None

    @property
    def key(self):
        return self.version.key if self.version else None


def check_text(actor: Actor, text: str) -> list[Finding]:
    """Find key-shaped strings in ``text`` and say which vault key each one is."""
    require_admin(actor.user)
    leaks = keyformats.find_leaks(text)
    versions = services.find_versions_by_secrets([leak.value for leak in leaks])
    findings = [
        _classify(leak, text.count("\n", 0, leak.start) + 1, versions.get(leak.value))
        for leak in leaks
    ]
    in_vault = sum(finding.in_vault for finding in findings)
    with transaction.atomic():
        record(
            actor,
            "vault.leak_check",
            found=len(findings),
            in_vault=in_vault,
            unknown=len(findings) - in_vault,
        )
    return findings


def _classify(leak: keyformats.Leak, line: int, version) -> Finding:
    current = None
    if version is not None:
        current = version.retired_at is None and version.number == version.newest
    return Finding(leak.vendor, keyformats.hint(leak.value), line, version, current)
