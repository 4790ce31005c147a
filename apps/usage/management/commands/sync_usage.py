from argparse import ArgumentTypeError
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from apps.connectors.models import Connection
from apps.usage.services import SyncFailed, sync_connection


class Command(BaseCommand):
    help = (
        "Pull usage, reported costs and the key inventory of one or all enabled "
        "connections; idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connection", help="a connection's name (default: all)")
        parser.add_argument(
            "--start", type=_moment, help="ISO date or time (default: the last sync)"
        )
        parser.add_argument(
            "--end", type=_moment, help="ISO date or time (default: now)"
        )

    def handle(self, *args, connection=None, start=None, end=None, **options):
        connections = _chosen(connection)
        failures = []
        for conn in connections:
            try:
                run = sync_connection(conn, start=start, end=end, trigger="command")
            except SyncFailed as failure:
                failures.append(f"{conn.name}: {failure}")
                self.stderr.write(f"{conn.name}: failed: {failure}")
                continue
            self.stdout.write(
                f"{conn.name}: {run.window_start:%Y-%m-%d} to "
                f"{run.window_end:%Y-%m-%d}, {run.pages} pages, {run.rows} rows"
            )
        if failures:
            raise CommandError("; ".join(failures))


def _chosen(name: str | None) -> list[Connection]:
    if name is None:
        return list(Connection.objects.filter(enabled=True))
    connection = Connection.objects.filter(name=name).first()
    if connection is None:
        known = ", ".join(Connection.objects.values_list("name", flat=True)) or "none"
        raise CommandError(f"no connection named {name!r} (known: {known})")
    return [connection]


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not an ISO date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
