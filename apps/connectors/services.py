"""Vendor connections: who may see and change them, and testing one."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.services import require_admin
from apps.audit.services import Actor, record, save_changes, snapshot
from apps.connectors.models import Connection, ConnectionStatus
from apps.connectors.vendors import CONNECTORS, Connector, ConnectorError
from apps.usage import derived
from apps.vault.keyformats import hint
from apps.vault.models import Secret, Vendor

CONNECTION_FIELDS = (
    "name",
    "vendor",
    "base_url",
    "enabled",
    "sync_interval_minutes",
    "usd_per_unit",
)


def visible_connections(user):
    """All connections for admins and finance; nobody else may read them."""
    if not (user and user.is_authenticated and user.sees_everything):
        raise PermissionDenied("Only admins and finance can see vendor connections.")
    return Connection.objects.all()


def default_base_url(vendor: str) -> str:
    connector = CONNECTORS.get(vendor)
    return connector.default_base_url if connector else ""


def create_connection(actor: Actor, *, admin_key: str, **fields) -> Connection:
    require_admin(actor.user)
    fields["base_url"] = _base_url(fields["vendor"], fields.get("base_url"))
    with transaction.atomic():
        connection = Connection.objects.create(
            admin_key=Secret.seal(admin_key), admin_key_hint=hint(admin_key), **fields
        )
        record(
            actor,
            "connection.created",
            connection,
            admin_key_hint=connection.admin_key_hint,
            **snapshot(connection, CONNECTION_FIELDS),
        )
    return connection


def update_connection(
    actor: Actor, connection: Connection, *, admin_key: str = "", **fields
) -> Connection:
    """Save changed fields; the admin key is replaced only when a new one is given."""
    require_admin(actor.user)
    if "vendor" in fields or "base_url" in fields:
        vendor = fields.get("vendor", connection.vendor)
        fields["base_url"] = _base_url(vendor, fields.get("base_url"))
    rate_before = connection.usd_per_unit
    with transaction.atomic():
        save_changes(actor, connection, "connection.updated", fields)
        if admin_key:
            _replace_admin_key(actor, connection, admin_key)
        if connection.usd_per_unit != rate_before:
            # Derived spend already stored was converted at the old rate.
            derived.rederive(connection, derived.derived_days(connection))
    return connection


def delete_connection(actor: Actor, connection: Connection) -> None:
    require_admin(actor.user)
    with transaction.atomic():
        record(actor, "connection.deleted", connection, vendor=connection.vendor)
        secret = connection.admin_key
        connection.delete()
        secret.delete()


def test_connection(actor: Actor, connection: Connection, **client_options) -> str:
    """Make the vendor's cheap authenticated call; record and return the outcome.

    The call happens outside any transaction: a slow vendor must not hold a lock.
    ``client_options`` reach the HTTP client (tests shorten timeouts and sleeps).
    """
    require_admin(actor.user)
    try:
        answer, error = _check(connection, client_options), ""
    except ConnectorError as failure:
        answer, error = "", " ".join(str(failure).split())[:300]

    now = timezone.now()
    connection.last_checked_at = now
    connection.status = ConnectionStatus.ERROR if error else ConnectionStatus.OK
    connection.last_error = error
    if not error:
        connection.last_success_at = now
    with transaction.atomic():
        connection.save(
            update_fields=["last_checked_at", "status", "last_error", "last_success_at"]
        )
        record(
            actor,
            "connection.tested",
            connection,
            outcome=connection.status,
            answer=answer,
            error=error,
        )
    return answer or error


def open_connector(connection: Connection, **client_options) -> Connector:
    """The connector of ``connection``'s vendor, holding its admin key in memory.

    Use it as a context manager. ``client_options`` reach the HTTP client (tests
    shorten timeouts and sleeps).
    """
    connector_class = CONNECTORS.get(connection.vendor)
    if connector_class is None:
        label = Vendor(connection.vendor).label
        raise ConnectorError(f"Keyhold has no API connector for {label}")
    admin_key = connection.admin_key.reveal()
    return connector_class(connection.base_url, admin_key, **client_options)


def _check(connection: Connection, client_options: dict) -> str:
    if connection.vendor not in CONNECTORS:
        label = Vendor(connection.vendor).label
        raise ConnectorError(f"no API connector yet for {label}")
    with open_connector(connection, **client_options) as vendor:
        return vendor.check()


def _replace_admin_key(actor: Actor, connection: Connection, admin_key: str) -> None:
    old_secret, old_hint = connection.admin_key, connection.admin_key_hint
    connection.admin_key = Secret.seal(admin_key)
    connection.admin_key_hint = hint(admin_key)
    connection.save(update_fields=["admin_key", "admin_key_hint"])
    old_secret.delete()
    record(
        actor,
        "connection.admin_key_replaced",
        connection,
        admin_key_hint=[old_hint, connection.admin_key_hint],
    )


def _base_url(vendor: str, base_url: str | None) -> str:
    base_url = (base_url or "").strip() or default_base_url(vendor)
    if not base_url:
        label = Vendor(vendor).label
        raise ValidationError(
            f"Keyhold has no default API address for {label}: give its base URL."
        )
    return base_url.rstrip("/")
