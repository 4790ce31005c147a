"""Write and verify the append-only, hash-chained audit log."""

import ipaddress
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.models import GENESIS_HASH, AuditEvent

# Any constant works; it only has to be the same for every writer of the chain.
CHAIN_LOCK_ID = 0x6B6579686F6C64


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where; services take one and pass it to the log."""

    user: object = None
    ip: str | None = None

    @classmethod
    def from_request(cls, request) -> "Actor":
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            user = None
        return cls(user=user, ip=request.META.get("REMOTE_ADDR"))

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user else ""


SYSTEM = Actor()


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head: str
    broken_event_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_event_id is None


def record(actor: Actor, action: str, target=None, **details) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    Run it inside the transaction that makes the change: if the change rolls back the
    event goes with it, and if the event cannot be written the change fails too.
    """
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True)
        event = AuditEvent(
            at=timezone.now(),
            actor=actor.user,
            actor_name=actor.name,
            action=action,
            target_type=target._meta.model_name if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            target_repr=str(target)[:200] if target is not None else "",
            ip=_normalize_ip(actor.ip),
            # A JSON round trip gives the hash the same values the database returns.
            details=json.loads(
                json.dumps(details, default=str), parse_float=_number_as_stored
            ),
            prev_hash=last.first() or GENESIS_HASH,
        )
        event.hash = event.compute_hash()
        event.save()
    return event


def verify_chain(batch_size: int = 2000) -> ChainReport:
    """Walk the chain from the first event and report the first broken link."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != expected_prev:
            reason = "its link to the previous event does not match"
            return ChainReport(checked, expected_prev, event.id, reason)
        if event.compute_hash() != event.hash:
            reason = "its content does not match its hash"
            return ChainReport(checked, expected_prev, event.id, reason)
        expected_prev = event.hash
        checked += 1
    return ChainReport(checked, expected_prev)


def save_changes(actor: Actor, obj, action: str, fields: dict):
    """Apply ``fields`` to ``obj``, save it and record what changed, atomically.

    The comparison is with the stored row, not with ``obj``: a bound ModelForm has
    already copied the new values onto the instance it was given.
    """
    with transaction.atomic():
        stored = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        before = snapshot(stored, fields)
        for name, value in fields.items():
            setattr(obj, name, value)
        obj.save()
        changes = field_changes(before, snapshot(obj, fields))
        if changes:
            record(actor, action, obj, changes=changes)
    return obj


def snapshot(obj, names) -> dict:
    """Field values as the audit log shows them: related objects by their name."""
    return {
        name: str(value) if hasattr(value, "pk") else value
        for name in names
        for value in [getattr(obj, name)]
    }


def field_changes(before: dict, after: dict) -> dict:
    """Return {field: [old, new]} for the fields whose value changed."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def _lock_chain():
    # PostgreSQL: serialize writers until commit so two events never share a parent.
    # SQLite needs nothing here: Keyhold opens its transactions IMMEDIATE, which
    # already holds the database's single write lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_ID])


def _number_as_stored(text: str) -> float | int:
    # PostgreSQL's jsonb gives 1e+20 back as 100000000000000000000, which JSON reads
    # as an int; read it that way here too. Python writes every float of 1e16 and more
    # with an exponent, and all of them are whole numbers.
    number = Decimal(text)
    if "e" in text.lower() and number == number.to_integral_value():
        return int(number)
    return float(text)


def _normalize_ip(ip: str | None) -> str | None:
    # The database keeps no zone index (fe80::1%eth0), so the hash must not cover it.
    try:
        return ipaddress.ip_address(ip.split("%", 1)[0]).compressed if ip else None
    except ValueError:
        return None
