"""Serve the vendors' documented admin APIs locally, with synthetic data."""

from django.core.management.base import BaseCommand, CommandError

from apps.connectors.simulator import Simulator
from apps.connectors.simulator.faults import MODES, Fault


class Command(BaseCommand):
    help = (
        "Serve OpenAI, Anthropic, DeepSeek and Moonshot admin endpoints on one "
        "local port with a deterministic synthetic organization. Admin keys not "
        "given are generated at start and printed. Faults can also be switched "
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
        self.stdout.write(f"Vendor simulator listening on {simulator.url}")
        for vendor, key in simulator.admin_keys.items():
            self.stdout.write(f"  {vendor} key: {key}")
        self.stdout.flush()
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            simulator.stop()


def _fault(spec: str) -> Fault:
    mode, _, count = spec.partition(":")
    try:
        return Fault.parse({"mode": mode, "count": count or None})
    except ValueError as error:
        raise CommandError(f"--fault {spec}: {error}") from None
