"""How fast the spend pages and API answer as the usage history grows.

Builds one large organization (8 teams, 40 projects, 120 environments, 2,000 keys
on an OpenAI and an Anthropic connection, 30 models, each key using two of its
project's models) whose traffic makes 10,000,000 hourly usage buckets a year. It
stores first 100,000 buckets of it (the last three and a half days) and then
10,000,000 (the whole year up to now), refreshing the rollups as a sync would.
After each fill it times the overview, the explorer grouped each way, a team page
and GET /api/v1/spend/, as finance (who sees everything) and as an engineer of one
team, and prints both sizes side by side: a page that reads only rollups answers
as fast with a year of history as with a few days.

    createdb -h 127.0.0.1 -U postgres keyhold_bench_spend
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keyhold_bench_spend \
        .venv/bin/python benchmarks/spend_pages.py

Buckets are written by PostgreSQL itself (INSERT ... SELECT over generate_series)
with a cost computed from a fixed price per model: the pages read the rollups, so
how a bucket was priced does not change what is measured. Which hours a key and
model are busy is a hash of the two. Each project settles on four models of each
vendor and its keys use two of them.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import django_setup  # noqa: F401  (sets up Django before the imports below)
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Membership, Role, Team, User
from apps.connectors.models import Connection
from apps.connectors.simulator.server import generate_admin_keys
from apps.projects.models import Environment, Project
from apps.usage import rollups
from apps.usage.ingest import days_between
from apps.usage.models import DailySpend, UsageBucket
from apps.vault.models import KeyStatus, Secret, Vendor, VendorKey

TEAMS, PROJECTS_PER_TEAM = 8, 5
KEYS = {Vendor.OPENAI: 1200, Vendor.ANTHROPIC: 800}
MODELS = {
    # model: USD per million tokens, one blended figure; 18 + 12 = 30 models.
    Vendor.OPENAI: [(f"gpt-bench-{n}", 0.15 + n * 0.6) for n in range(18)],
    Vendor.ANTHROPIC: [(f"claude-bench-{n}", 0.8 + n * 1.1) for n in range(12)],
}
MODELS_PER_KEY = 2
PROJECT_MODELS = 4
HOURS = 365 * 24
YEAR_BUCKETS = 10_000_000
SIZES = (100_000, 10_000_000)
PREFIX = "bench-spend"

FILL_SQL = f"""
INSERT INTO {UsageBucket._meta.db_table} (
    connection_id, start, width, vendor_key_id, vendor_project_id, vendor_model,
    model, service_tier, batch, context_band, uncached_input, cache_read,
    cache_write_5m, cache_write_1h, output, requests, cost_usd
)
SELECT
    p.connection_id, %(first)s::timestamptz + h * interval '1 hour', 3600,
    p.vendor_key_id, '', p.model, p.model, '', false, '',
    t.uncached, t.cached, 0, 0, t.output, 1 + t.output / 400,
    round((t.uncached + t.cached / 10 + t.output * 4) * p.rate / 1e6, 6)
FROM bench_pairs p
CROSS JOIN generate_series(0, %(hours)s - 1) AS h
CROSS JOIN LATERAL (
    SELECT
        1000 + (hashint8(p.n * 100003 + h) & 65535) AS uncached,
        (hashint8(p.n * 100019 + h) & 32767) AS cached,
        100 + (hashint8(p.n * 100043 + h) & 8191) AS output
) AS t
WHERE (hashint8(p.n * 1000003 + h) & 1048575) < %(threshold)s
"""  # noqa: S608


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="bucket counts, in order"
    )
    parser.add_argument(
        "--only",
        help="time only the cases whose label contains this, on the stored usage",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database")

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    finance, engineer, team = _organization()
    connections = list(Connection.objects.filter(name__startswith=PREFIX))
    cases = _cases(team)
    if args.only:
        _time_stored(finance, engineer, cases, args)
        return
    results = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        stored = _fill(size, connections)
        results[size] = {}
        for who, user in (("finance", finance), ("engineer", engineer)):
            client = Client()
            client.force_login(user)
            for label, url, params in cases:
                results[size][label, who] = _time(client, url, params, args.repeat)
        print(f"measured at {stored:,} buckets", file=sys.stderr)
    _table(results, cases)


def _cases(team):
    cases = [("overview", "/spend/", {})]
    for group in ("team", "project", "environment", "vendor", "model", "key", "day"):
        cases.append((f"explorer, by {group}", "/spend/explorer/", {"group_by": group}))
    cases += [
        ("explorer, by team, 30 days", "/spend/explorer/", {"group_by": "team"}),
        ("explorer, by key, 30 days", "/spend/explorer/", {"group_by": "key"}),
        ("explorer, by model, 90 days", "/spend/explorer/", {"group_by": "model"}),
        (f"team page ({team.name})", f"/spend/teams/{team.pk}/", {}),
        ("api, by team", "/api/v1/spend/", {"group_by": "team"}),
        ("api, by key", "/api/v1/spend/", {"group_by": "key"}),
        ("api, by day, csv", "/api/v1/spend/", {"group_by": "day", "format": "csv"}),
    ]
    today = timezone.now().date()
    since = {
        days: {"start": (today - timedelta(days=days - 1)).isoformat()}
        for days in (30, 90)
    }
    return [
        (label, url, params | since[int(label.split()[-2])])
        if label.endswith(" days")
        else (label, url, params)
        for label, url, params in cases
    ]


def _time_stored(finance, engineer, cases, args):
    print(f"stored: {UsageBucket.objects.count():,} buckets")
    for who, user in (("finance", finance), ("engineer", engineer)):
        client = Client()
        client.force_login(user)
        for label, url, params in cases:
            if args.only in label:
                timing = _time(client, url, params, args.repeat)
                print(
                    f"{label:32} {who:9} p50 {timing['p50']:6.0f} "
                    f"p95 {timing['p95']:6.0f} queries {timing['queries']}"
                )


def _time(client, url, params, repeat):
    client.get(url, params)  # the first request warms caches; it is not counted
    timings = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url, params)
            timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
    timings.sort()
    return {
        "p50": statistics.median(timings),
        "p95": timings[max(0, int(len(timings) * 0.95) - 1)],
        "queries": len(ctx.captured_queries),
    }


def _organization():
    finance, _ = User.objects.get_or_create(
        username=f"{PREFIX}-finance", defaults={"role": Role.FINANCE}
    )
    engineer, _ = User.objects.get_or_create(
        username=f"{PREFIX}-engineer", defaults={"role": Role.ENGINEER}
    )
    if not Team.objects.filter(slug=f"{PREFIX}-0").exists():
        _build(engineer)
    return finance, engineer, engineer.teams.first()


def _build(engineer):
    teams = Team.objects.bulk_create(
        Team(name=f"Team {i}", slug=f"{PREFIX}-{i}") for i in range(TEAMS)
    )
    projects = Project.objects.bulk_create(
        Project(team=team, name=f"{team.name} p{j}", slug=f"{team.slug}-p{j}")
        for team in teams
        for j in range(PROJECTS_PER_TEAM)
    )
    environments = Environment.objects.bulk_create(
        Environment(project=project, name=kind, kind=kind, max_tier="premium")
        for project in projects
        for kind in ("production", "staging", "development")
    )
    Membership.objects.create(user=engineer, team=teams[0])
    admin_keys = generate_admin_keys()
    n = 0
    for vendor, count in KEYS.items():
        conn = Connection.objects.create(
            name=f"{PREFIX} {vendor}",
            vendor=vendor,
            base_url="http://127.0.0.1:9",
            admin_key=Secret.seal(admin_keys[vendor]),
            admin_key_hint=admin_keys[vendor][-4:],
            last_synced_at=timezone.now(),
        )
        keys = []
        for _ in range(count):
            environment = environments[n % len(environments)]
            keys.append(
                VendorKey(
                    name=f"bench key {n}",
                    vendor=vendor,
                    vendor_key_id=f"{vendor}_key_{n:05d}",
                    connection=conn,
                    project=environment.project,
                    environment=environment,
                    owner=engineer,
                    status=KeyStatus.ACTIVE,
                    hint=f"…{n:04x}",
                    fingerprint=f"{n:064x}",
                )
            )
            n += 1
        VendorKey.objects.bulk_create(keys)


def _fill(size, connections) -> int:
    """Replace the stored usage with ``size`` buckets of history up to today.

    The organization's traffic is the same at every size, the one that makes
    YEAR_BUCKETS buckets a year; a smaller size is a shorter history.
    """
    started = time.perf_counter()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = max(1, round(HOURS * size / YEAR_BUCKETS))
    first = now - timedelta(hours=hours - 1)
    pairs = _pairs(connections)
    # Each (key, model, hour) slot is busy with this probability, out of 2**20.
    threshold = round(YEAR_BUCKETS / (len(pairs) * HOURS) * 1048576)
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {UsageBucket._meta.db_table}, {DailySpend._meta.db_table}"
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS bench_pairs (n bigint, "
            "connection_id bigint, vendor_key_id text, model text, rate numeric)"
        )
        cursor.execute("TRUNCATE bench_pairs")
        cursor.executemany("INSERT INTO bench_pairs VALUES (%s, %s, %s, %s, %s)", pairs)
        cursor.execute(
            FILL_SQL, {"first": first, "hours": hours, "threshold": threshold}
        )
        stored = cursor.rowcount
    days = days_between(first, now + timedelta(hours=1))
    for conn in connections:
        with transaction.atomic():
            rollups.refresh(conn, days)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"stored {stored:,} buckets in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return stored


def _pairs(connections):
    """(n, connection, vendor key id, model, rate) for each key's models.

    Each project settles on four models of each vendor, as teams do, and each of
    its keys uses two of them.
    """
    by_vendor = {conn.vendor: conn for conn in connections}
    pairs = []
    keys = VendorKey.objects.filter(name__startswith="bench key").order_by("pk")
    for key in keys:
        models = MODELS[key.vendor]
        chosen = [
            models[(key.project_id * 7 + i * 5) % len(models)]
            for i in range(PROJECT_MODELS)
        ]
        for j in range(MODELS_PER_KEY):
            model, rate = chosen[(key.pk + j) % PROJECT_MODELS]
            pairs.append(
                (len(pairs), by_vendor[key.vendor].pk, key.vendor_key_id, model, rate)
            )
    return pairs


def _table(results, cases):
    small, large = sorted(results)
    print(
        f"| case | who | p50 ms at {small:,} | p95 ms | p50 ms at {large:,} | p95 ms "
        "| p95 ratio | queries |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for who in ("finance", "engineer"):
        for label, _, _ in cases:
            a, b = results[small][label, who], results[large][label, who]
            print(
                f"| {label} | {who} | {a['p50']:.0f} | {a['p95']:.0f} "
                f"| {b['p50']:.0f} | {b['p95']:.0f} | {b['p95'] / a['p95']:.2f} "
                f"| {b['queries']} |"
            )


if __name__ == "__main__":
    main()
