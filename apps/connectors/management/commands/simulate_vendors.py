"""Serve the vendors' documented admin APIs locally, with synthetic data."""

import signal
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from apps.connectors.models import Connection
from apps.connectors.simulator import Simulator
from apps.connectors.simulator.faults import MODES, Fault

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Command(BaseCommand):
    help = (
        "Serve OpenAI, Anthropic, DeepSeek, Moonshot and OpenAI-compatible gateway "
        "admin endpoints on one local port with a deterministic synthetic "
        "organization. Admin keys not given are generated at start and printed; "
        "with --demo-connections, the stored keys of the connections pointing here "
        "are accepted and only their hints printed. Faults can also be switched "
        "on while running: POST /_simulator/faults "
        '{"mode": "429", "count": 3}, or per request with ?_fault=MODE.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--seed", type=int, default=1, help="Same seed, same organization."
        )
        for vendor in ("openai", "anthropic", "deepseek", "moonshot"):
            parser.add_argument(
                f"--{vendor}-key",
                help=f"The {vendor} key to accept (default: generated at start).",
            )
        parser.add_argument(
            "--demo-connections",
            action="store_true",
            help="Accept the admin keys of the connections whose base URL is this "
            "simulator's (a key given above wins).",
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="MODE[:COUNT]",
            help=f"Misbehave on every request, or the next COUNT: {', '.join(MODES)}.",
        )

    def handle(self, *args, **options):
        keys = {
            vendor: options[f"{vendor}_key"]
            for vendor in ("openai", "anthropic", "deepseek", "moonshot")
            if options[f"{vendor}_key"]
        }
        simulator = Simulator(
            options["host"],
            options["port"],
            seed=options["seed"],
            admin_keys=keys,
            faults=[_fault(spec) for spec in options["fault"]],
        )
        # The port is known once bound, and connections are found by their URL.
        connections = {}
        if options["demo_connections"]:
            connections = self._demo_connections(simulator, given=keys)
        for vendor, connection in connections.items():
            simulator.admin_keys[vendor] = connection.admin_key.reveal()

        self.stdout.write(f"Vendor simulator listening on {simulator.url}")
        for vendor, key in simulator.admin_keys.items():
            if vendor in connections:
                connection = connections[vendor]
                shown = f"{connection.admin_key_hint} (connection {connection.name})"
            else:
                shown = key
            self.stdout.write(f"  {vendor} key: {shown}")
        self.stdout.flush()
        # A TERM, as `make run` sends on its way out, ends it as quietly as Ctrl-C.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            simulator.stop()
            signal.signal(signal.SIGTERM, previous)

    def _demo_connections(self, simulator, given: dict) -> dict[str, Connection]:
        """The connections pointing here whose keys to accept, by vendor."""
        chosen = {}
        for connection in Connection.objects.select_related("admin_key"):
            vendor = connection.vendor
            if vendor not in simulator.admin_keys or not _points_at(
                connection.base_url, simulator.url
            ):
                continue
            # The simulator accepts one key per vendor.
            holder = f"--{vendor}-key" if vendor in given else chosen.get(vendor)
            if holder:
                self.stderr.write(
                    f"{connection.name}: its key is refused, the simulator "
                    f"accepts {holder}'s for {vendor}"
                )
                continue
            chosen[vendor] = connection
        return chosen


def _points_at(base_url: str, simulator_url: str) -> bool:
    """Whether ``base_url`` is the simulator's address, or a path under it."""
    ours, theirs = urlsplit(simulator_url), urlsplit(base_url)
    try:
        same_port = theirs.port == ours.port
    except ValueError:
        return False
    same_host = theirs.hostname == ours.hostname or (
        {theirs.hostname, ours.hostname} <= LOOPBACK
    )
    return theirs.scheme == ours.scheme and same_port and same_host


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _fault(spec: str) -> Fault:
    mode, _, count = spec.partition(":")
    try:
        return Fault.parse({"mode": mode, "count": count or None})
    except ValueError as error:
        raise CommandError(f"--fault {spec}: {error}") from None
